/**
 * The markdown report: targets, systems with their versions and durability, then one table and
 * chart per scenario. Written to `--markdown FILE` (docs/benchmarks-results.md for the docs) and
 * printed to the console.
 */
import type { BenchResults, Run, ScenarioId, SystemOutcome } from '../results.js';
import { scenarioById, scenarios } from '../scenarios/index.js';
import { advantage, bestAnchor, checkTargets } from './compare.js';
import { formatNumber } from './format.js';
import { median, spread } from './stats.js';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}

function metricMedian(runs: readonly Run[], metric: string): number {
  return median(runs.map((run) => run.metrics[metric] ?? Number.NaN));
}

/** Columns besides the headline figure, per scenario. */
const extraColumns: Partial<Record<ScenarioId, { header: string; metric: string; unit: string }[]>> = {
  'send-single': [{ header: 'messages sent', metric: 'sent', unit: 'count' }],
  'send-concurrent': [{ header: 'messages sent', metric: 'sent', unit: 'count' }],
  'send-batch': [{ header: 'messages sent', metric: 'sent', unit: 'count' }],
  'send-batch-100': [{ header: 'messages sent', metric: 'sent', unit: 'count' }],
  process: [
    { header: 'lost', metric: 'lost', unit: 'count' },
    { header: 'duplicated', metric: 'duplicated', unit: 'count' },
  ],
  latency: [
    { header: 'send→start p50', metric: 'startP50Ms', unit: 'ms' },
    { header: 'send→start max', metric: 'startMaxMs', unit: 'ms' },
    { header: 'send-ack p50', metric: 'ackP50Ms', unit: 'ms' },
    { header: 'send-ack p99', metric: 'ackP99Ms', unit: 'ms' },
    { header: 'send-ack max', metric: 'ackMaxMs', unit: 'ms' },
    { header: 'lost', metric: 'lost', unit: 'count' },
  ],
  'flash-sale': [
    { header: 'time to publish', metric: 'publishSeconds', unit: 's' },
    { header: 'lost', metric: 'lost', unit: 'count' },
    { header: 'duplicated', metric: 'duplicated', unit: 'count' },
  ],
};

function formatMetric(value: number, unit: string): string {
  if (unit === 'count') return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '—';
  return `${formatNumber(value, unit)} ${unit}`;
}

function scenarioSection(
  results: BenchResults,
  id: ScenarioId,
  chartPath: string | undefined,
): string | undefined {
  const scenario = scenarioById(id)!;
  const measured = results.systems.filter(
    (system) => system.skipped === undefined && system.scenarios.some((s) => s.scenario === id),
  );
  if (measured.length === 0) return undefined;
  const extras = extraColumns[id] ?? [];
  const best = bestAnchor(results, id);
  const header = [
    'system',
    `median (${scenario.unit})`,
    'min – max',
    ...extras.map((e) => e.header),
    'vs best anchor (above 1× = Spool better)',
    'notes',
  ];
  const rows = measured.map((system) => {
    const outcome = system.scenarios.find((s) => s.scenario === id)!;
    if (outcome.runs.length === 0) {
      const why =
        outcome.unsupported !== undefined
          ? `n/a: ${outcome.unsupported}`
          : `failed: ${outcome.error ?? 'no run completed'}`;
      return [system.label, 'n/a', '', ...extras.map(() => ''), '', why];
    }
    const s = spread(outcome.runs.map((run) => run.value));
    const ratio =
      system.spool && best
        ? `${advantage(id, s.median, best.value).toFixed(2)}× vs ${best.system.label}`
        : system === best?.system
          ? 'best anchor'
          : '';
    // Older result files name the count in the note; the "messages sent" column has it.
    const notes = [
      ...new Set(
        outcome.runs
          .map((run) => run.note?.replace(/ after [\d,]+ messages$/, ''))
          .filter((n): n is string => n !== undefined),
      ),
    ];
    if (outcome.error !== undefined) notes.push(`a later repetition failed: ${outcome.error}`);
    return [
      system.label,
      formatNumber(s.median, scenario.unit),
      `${formatNumber(s.min, scenario.unit)} – ${formatNumber(s.max, scenario.unit)}`,
      ...extras.map((e) => formatMetric(metricMedian(outcome.runs, e.metric), e.unit)),
      ratio,
      notes.join('; '),
    ];
  });
  const lines = [`### ${scenario.title}`, '', table(header, rows)];
  if (chartPath !== undefined) lines.push('', `![${scenario.title}](${chartPath})`);
  return lines.join('\n');
}

function systemsTable(systems: readonly SystemOutcome[]): string {
  return table(
    ['system', 'version', 'durability', 'client settings'],
    systems.map((system) =>
      system.skipped !== undefined
        ? [system.label, '', '', `**skipped**: ${system.skipped}`]
        : [
            system.label,
            system.info?.version ?? '',
            system.info?.durability ?? '',
            system.info?.settings ?? '',
          ],
    ),
  );
}

/**
 * The whole report. `chartPaths` maps a scenario to its chart, relative to where the markdown is
 * written (omit charts that were not written).
 */
export function markdownReport(
  results: BenchResults,
  chartPaths: Partial<Record<ScenarioId, string>> = {},
): string {
  const { machine, counts } = results;
  const targets = checkTargets(results);
  const mark = (met: boolean | undefined) =>
    met === undefined ? 'not checked' : met ? '**met**' : '**not met**';
  const sections = scenarios
    .map((scenario) => scenarioSection(results, scenario.id, chartPaths[scenario.id]))
    .filter((section): section is string => section !== undefined);
  return [
    `<!-- generated by \`npm run bench\` on ${results.finishedAt}; do not edit by hand -->`,
    `## Results (${results.mode} mode, ${results.finishedAt.slice(0, 10)})`,
    '',
    `Machine: ${machine.cpus}, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}; ` +
      `load average at the start ${machine.loadAverage.map((l) => l.toFixed(2)).join(' / ')}.`,
    `Counts: ${counts.messages.toLocaleString('en-US')} messages per send/process/flash-sale measurement ` +
      `(one at a time: at most ${counts.singleMax.toLocaleString('en-US')} or ${counts.singleCapSeconds} s); latency ` +
      `${counts.latencyRate.toLocaleString('en-US')} msg/s for ${counts.latencySeconds} s after ${counts.latencyWarmupSeconds} s of warm-up; ` +
      `${counts.repetitions} repetition(s) per figure, median with min – max; payload ${results.payloadBytes} bytes of JSON.`,
    '',
    '### Targets (Spool embedded, durability full, against the best anchor of the same run)',
    '',
    table(
      ['target', 'Spool', 'best anchor', 'result'],
      targets.map((t) => [t.target, t.spool, t.anchor, mark(t.met)]),
    ),
    '',
    '### Systems',
    '',
    systemsTable(results.systems),
    '',
    'Services: ' + (results.services.length > 0 ? results.services.join('; ') : 'none needed') + '.',
    '',
    sections.join('\n\n'),
    '',
  ].join('\n');
}
