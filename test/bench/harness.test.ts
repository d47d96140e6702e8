// The benchmark harness's own logic: statistics, the best-anchor comparison and targets, the
// reports, and the scenario drivers run for real against Spool on a temporary SQLite file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fullCounts, type Counts } from '../../bench/counts.js';
import { bestAnchor, checkTargets } from '../../bench/report/compare.js';
import { markdownReport } from '../../bench/report/markdown.js';
import { median, percentile, sortedSamples } from '../../bench/report/stats.js';
import { scenarioChart } from '../../bench/report/svg.js';
import type { BenchResults, Run, ScenarioId, SystemOutcome } from '../../bench/results.js';
import { flashSale } from '../../bench/scenarios/flash-sale.js';
import { latency } from '../../bench/scenarios/latency.js';
import { processQueue } from '../../bench/scenarios/process.js';
import { sendBatches, sendConcurrent } from '../../bench/scenarios/send.js';
import { SpoolSqliteSystem } from '../../bench/systems/spool-engine.js';
import type { SystemContext } from '../../bench/types.js';
import { endpoints } from '../../bench/services.js';

const run = (value: number, metrics: Record<string, number> = {}): Run => ({ value, metrics });

function system(
  id: string,
  spool: boolean,
  scenarios: Partial<Record<ScenarioId, number[]>>,
  network = true,
): SystemOutcome {
  return {
    id,
    label: id,
    spool,
    info: { id, label: id, version: '1', durability: 'd', settings: 's', spool, network },
    scenarios: Object.entries(scenarios).map(([scenario, values]) => ({
      scenario: scenario as ScenarioId,
      runs: values.map((v) => run(v, { lost: 0 })),
    })),
  };
}

function results(systems: SystemOutcome[]): BenchResults {
  return {
    startedAt: '2026-11-22T00:00:00.000Z',
    finishedAt: '2026-11-22T00:10:00.000Z',
    mode: 'full',
    counts: fullCounts,
    payloadBytes: 231,
    machine: { node: 'v20', os: 'Linux', cpus: '2 × test', memoryGiB: 4, loadAverage: [0, 0, 0] },
    services: [],
    systems,
  };
}

describe('bench statistics', () => {
  it('takes the median of odd and even counts', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it('reports nearest-rank percentiles: always a sample that happened', () => {
    const samples = sortedSamples(Array.from({ length: 100 }, (_, i) => 100 - i));
    assert.equal(percentile(samples, 50), 50);
    assert.equal(percentile(samples, 99), 99);
    assert.equal(percentile(samples, 100), 100);
    assert.equal(percentile(sortedSamples([7]), 99), 7);
  });
});

describe('bench comparison', () => {
  const data = results([
    system('spool-full', true, {
      'send-concurrent': [200, 210, 190],
      latency: [2, 3, 2.5],
      'flash-sale': [1],
    }),
    system('spool-http', true, { 'send-batch-100': [150_000] }),
    system('fast', false, { 'send-concurrent': [90, 100, 80], latency: [1, 1, 1], 'flash-sale': [5] }),
    system('slow', false, { 'send-concurrent': [10], latency: [500], 'send-batch-100': [60_000] }),
    system('in-process', false, { 'send-batch-100': [500_000] }, false),
  ]);

  it('picks the best anchor by direction, never a Spool system', () => {
    assert.equal(bestAnchor(data, 'send-concurrent')?.system.id, 'fast');
    assert.equal(bestAnchor(data, 'send-concurrent')?.value, 90);
    assert.equal(bestAnchor(data, 'latency')?.system.id, 'fast');
    assert.equal(bestAnchor(data, 'process'), undefined);
  });

  it('does not count an anchor that lost flash-sale events as the best', () => {
    const lossy = results([
      system('a', false, { 'flash-sale': [2] }),
      { ...system('b', false, {}), scenarios: [{ scenario: 'flash-sale', runs: [run(0.5, { lost: 10 })] }] },
    ]);
    assert.equal(bestAnchor(lossy, 'flash-sale')?.system.id, 'a');
  });

  it('checks the targets against the best anchor of the same run', () => {
    const checks = checkTargets(data);
    const byName = (prefix: string) => checks.find((check) => check.target.startsWith(prefix))!;
    assert.equal(byName('send, 100 concurrent').met, true); // 200 ≥ 2 × 90
    assert.equal(byName('latency').met, false); // 2.5 ms against 1 ms
    assert.equal(byName('flash sale').met, true); // 1 s ≤ 5 s / 4, 0 lost
    assert.equal(byName('process').met, undefined); // not measured
    // Only network clients count for the HTTP target: 150k ≥ 100k and ≥ 2 × 60k.
    assert.equal(byName('over HTTP').met, true);
    assert.match(byName('over HTTP').anchor, /slow/);
  });

  it('writes every scenario table with n/a reasons and skipped systems', () => {
    const withGaps = results([
      ...data.systems,
      {
        id: 'gone',
        label: 'Gone MQ',
        spool: false,
        skipped: 'service gone unavailable: refused',
        scenarios: [],
      },
      {
        ...system('nobatch', false, {}),
        scenarios: [{ scenario: 'send-batch', runs: [], unsupported: 'no batch API' }],
      },
    ]);
    const markdown = markdownReport(withGaps, { latency: 'images/bench-latency.svg' });
    assert.match(markdown, /\*\*skipped\*\*: service gone unavailable: refused/);
    assert.match(markdown, /n\/a: no batch API/);
    assert.match(markdown, /!\[latency[^\]]*\]\(images\/bench-latency\.svg\)/);
    assert.match(
      markdown,
      /\| send, 100 concurrent: ≥ 2× the best anchor \| 200 msg\/s \(2\.22×\) \| 90 msg\/s \(fast\) \| \*\*met\*\* \|/,
    );
  });

  it('draws a labelled SVG bar per system, on a log scale when values span decades', () => {
    const svg = scenarioChart(data, 'latency')!;
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal((svg.match(/<rect x="250"/g) ?? []).length, 3);
    assert.match(svg, /logarithmic scale/);
    assert.match(svg, />spool-full</);
    const linear = scenarioChart(data, 'send-concurrent')!;
    assert.doesNotMatch(linear, /logarithmic/);
    assert.equal(scenarioChart(data, 'process'), undefined);
  });
});

describe('bench scenarios on Spool embedded', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'spool-bench-test-'));
  after(() => rmSync(workDir, { recursive: true, force: true }));
  let names = 0;
  const context: SystemContext = {
    workDir,
    endpoints,
    uniqueName: (prefix) => `${prefix}_${names++}`,
    log: () => undefined,
  };
  const counts: Counts = {
    ...fullCounts,
    messages: 300,
    sendCapSeconds: 30,
    latencyRate: 500,
    latencySeconds: 0.4,
    latencyWarmupSeconds: 0.1,
    drainTimeoutSeconds: 30,
  };
  const spool = new SpoolSqliteSystem(context, 'process');

  it('sends every message, concurrently and in batches', async () => {
    const concurrent = await sendConcurrent(spool, counts);
    assert.equal(concurrent.metrics.sent, 300);
    assert.ok(concurrent.value > 0);
    const batched = await sendBatches(spool, counts, 100, 2);
    assert.equal(batched.metrics.sent, 300);
  });

  it('processes every pre-enqueued message exactly once', async () => {
    const result = await processQueue(spool, counts);
    assert.equal(result.metrics.lost, 0);
    assert.equal(result.metrics.duplicated, 0);
    assert.equal(result.note, undefined);
  });

  it('delivers every flash-sale event to each of the three groups', async () => {
    const result = await flashSale(spool, counts);
    assert.equal(result.metrics.lost, 0);
    assert.equal(result.metrics.duplicated, 0);
    assert.ok(result.metrics.publishSeconds! <= result.metrics.allDoneSeconds!);
  });

  it('measures latency percentiles under a steady offered rate', async () => {
    const result = await latency(spool, counts);
    assert.equal(result.metrics.lost, 0);
    const { startP50Ms, startP99Ms, startMaxMs, ackP50Ms } = result.metrics;
    assert.ok(startP50Ms! > 0 && startP50Ms! <= startP99Ms! && startP99Ms! <= startMaxMs!);
    assert.ok(ackP50Ms! > 0);
    // 250 messages offered over ~0.5 s: the producer kept to the schedule.
    assert.ok(result.metrics.offeredRate! > 250, `offered ${result.metrics.offeredRate}`);
  });
});
