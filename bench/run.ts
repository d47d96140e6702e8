/**
 * The benchmark harness: Spool and the systems users pick instead, measured in one run on one
 * machine, with the same payload, counts and scenario code for all of them.
 *
 *   npm run bench                                   everything, full counts, 3 repetitions
 *   npm run bench -- --quick --only spool           Spool only, small counts, 1 repetition (CI)
 *   npm run bench -- --only spool-full,nats --scenarios process,latency
 *   npm run bench -- --json bench-results/latest.json --markdown docs/benchmarks-results.md --charts docs/images
 *
 * Each system runs in its own child process (system-run.ts), one after another, so no two
 * systems ever compete for the CPU. Services the anchors need are checked and started if down
 * (services.ts); a system whose service cannot be had is skipped with the reason.
 */
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as prettier from 'prettier';
import { fullCounts, quickCounts, type Counts } from './counts.js';
import { payloadBytes } from './payload.js';
import { markdownReport } from './report/markdown.js';
import { scenarioChart } from './report/svg.js';
import type { BenchResults, ScenarioId, SystemOutcome } from './results.js';
import { scenarios } from './scenarios/index.js';
import { endpoints, Services } from './services.js';
import type { SystemJob, SystemMessage } from './system-run.js';
import { systems } from './systems/index.js';
import type { SystemEntry } from './types.js';

const usage = `usage: npm run bench -- [options]

  --quick              small counts (${quickCounts.messages.toLocaleString('en-US')} messages), 1 repetition; Spool systems only unless --only says otherwise
  --only LIST          systems to run, comma-separated ids or prefixes ("spool", "nats", "rabbitmq-quorum", "all")
  --scenarios LIST     scenarios to run (default all): ${scenarios.map((s) => s.id).join(', ')}
  --repeat N           repetitions per figure (default ${fullCounts.repetitions}, quick 1)
  --count N            messages per send/process/flash-sale measurement (default ${fullCounts.messages.toLocaleString('en-US')})
  --json FILE          write the raw results
  --markdown FILE      write the markdown report (charts are linked relative to it)
  --charts DIR         write one SVG chart per scenario (bench-<scenario>.svg)
  --from-json FILE     measure nothing: rewrite the markdown and charts from an earlier --json file
  --list               list the systems and scenarios, then exit
  --help               this text

Systems: ${systems.map((s) => s.id).join(', ')}`;

function fail(message: string): never {
  console.error(`bench: ${message}\n\n${usage}`);
  process.exit(2);
}

function parseOptions() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        scenarios: { type: 'string' },
        repeat: { type: 'string' },
        count: { type: 'string' },
        json: { type: 'string' },
        markdown: { type: 'string' },
        charts: { type: 'string' },
        'from-json': { type: 'string' },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (parsed.help) {
    console.log(usage);
    process.exit(0);
  }
  if (parsed.list) {
    console.log(`systems:\n${systems.map((s) => `  ${s.id.padEnd(22)} ${s.label}`).join('\n')}`);
    console.log(`scenarios:\n${scenarios.map((s) => `  ${s.id.padEnd(22)} ${s.title}`).join('\n')}`);
    process.exit(0);
  }
  const positive = (value: string | undefined, flag: string) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      fail(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
    return n;
  };
  const base = parsed.quick ? quickCounts : fullCounts;
  const count = positive(parsed.count, '--count');
  const counts: Counts = {
    ...base,
    repetitions: positive(parsed.repeat, '--repeat') ?? base.repetitions,
    ...(count !== undefined && { messages: count, singleMax: count }),
  };

  const only = (parsed.only ?? (parsed.quick ? 'spool' : 'all'))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const selected: SystemEntry[] = only.includes('all')
    ? [...systems]
    : systems.filter((s) =>
        only.some((name) => s.id === name || s.id.startsWith(`${name}-`) || s.id.startsWith(name)),
      );
  const unknown = only.filter((name) => name !== 'all' && !systems.some((s) => s.id.startsWith(name)));
  if (unknown.length > 0) fail(`unknown system(s): ${unknown.join(', ')}`);

  const scenarioIds = (parsed.scenarios ?? scenarios.map((s) => s.id).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const badScenario = scenarioIds.filter((id) => !scenarios.some((s) => s.id === id));
  if (badScenario.length > 0) fail(`unknown scenario(s): ${badScenario.join(', ')}`);
  return {
    quick: parsed.quick,
    counts,
    selected,
    scenarioIds: scenarioIds as ScenarioId[],
    json: parsed.json,
    fromJson: parsed['from-json'],
    markdown: parsed.markdown,
    charts: parsed.charts,
  };
}

/** Generous ceiling for one system's whole run; a hung client must not hang the harness. */
function systemTimeoutMs(counts: Counts, scenarioCount: number): number {
  const perMeasurement = counts.drainTimeoutSeconds + counts.singleCapSeconds + counts.latencySeconds + 120;
  return (perMeasurement * scenarioCount * counts.repetitions + 120) * 1000;
}

/** Runs one system in a child process and returns its outcome. */
function runSystem(entry: SystemEntry, job: SystemJob, timeoutMs: number): Promise<SystemOutcome> {
  const here = dirname(fileURLToPath(import.meta.url));
  return new Promise((resolvePromise) => {
    const child = fork(join(here, 'system-run.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let outcome: SystemOutcome | undefined;
    const timer = setTimeout(() => {
      console.log(`  ${entry.id}: no outcome after ${Math.round(timeoutMs / 60_000)} min, stopping it`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('message', (message: SystemMessage) => {
      if (message.type === 'log') console.log(`  ${message.line}`);
      else outcome = message.outcome;
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolvePromise(
        outcome ?? {
          id: entry.id,
          label: entry.label,
          spool: entry.spool,
          skipped: `its benchmark process ended without a result (${signal ?? `exit code ${code}`})`,
          scenarios: [],
        },
      );
    });
    child.send(job);
  });
}

/** Measures the selected systems one after another; the results, ready for the reports. */
async function measure(options: ReturnType<typeof parseOptions>): Promise<BenchResults> {
  const cpu = cpus();
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    mode: options.quick ? 'quick' : 'full',
    counts: options.counts,
    payloadBytes: payloadBytes(),
    machine: {
      node: process.version,
      os: `${type()} ${release()}`,
      cpus: `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}`,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      loadAverage: loadavg(),
    },
    services: [],
    systems: [],
  };
  console.log(
    `Spool benchmark — ${results.mode} mode, ${options.counts.repetitions} repetition(s), ` +
      `${options.selected.length} system(s), ${options.scenarioIds.length} scenario(s); ${results.machine.cpus}, Node ${process.version}`,
  );

  const services = new Services();
  const stopServices = () => void services.stop();
  process.once('SIGINT', () => {
    stopServices();
    process.exit(130);
  });
  try {
    await services.ensure(new Set(options.selected.flatMap((entry) => entry.services)));
    for (const note of services.notes) console.log(`  service ${note}`);
    const timeoutMs = systemTimeoutMs(options.counts, options.scenarioIds.length);
    for (const entry of options.selected) {
      const missing = entry.services
        .map((name) => [name, services.unavailable(name)] as const)
        .find(([, why]) => why);
      if (missing) {
        const skipped = `service ${missing[0]} unavailable: ${missing[1]}`;
        console.log(`${entry.label}: skipped (${skipped})`);
        results.systems.push({
          id: entry.id,
          label: entry.label,
          spool: entry.spool,
          skipped,
          scenarios: [],
        });
        continue;
      }
      console.log(`${entry.label}:`);
      const outcome = await runSystem(
        entry,
        { system: entry.id, scenarios: options.scenarioIds, counts: options.counts, endpoints },
        timeoutMs,
      );
      if (outcome.skipped !== undefined) console.log(`  skipped: ${outcome.skipped}`);
      results.systems.push(outcome);
    }
  } finally {
    results.services.push(...services.notes);
    await services.stop();
  }
  results.finishedAt = new Date().toISOString();
  return results;
}

/**
 * Writes a generated file formatted as the repository's prettier config says, so that a
 * regenerated report passes `npm run lint` without a manual format step.
 */
async function writeFormatted(file: string, text: string): Promise<void> {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  const config = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(file, await prettier.format(text, { ...config, filepath: file }));
}

/** Writes the charts, the markdown and the JSON where the options say, and prints the markdown. */
async function report(results: BenchResults, options: ReturnType<typeof parseOptions>): Promise<void> {
  const chartPaths: Partial<Record<ScenarioId, string>> = {};
  if (options.charts !== undefined) {
    mkdirSync(options.charts, { recursive: true });
    const from = options.markdown !== undefined ? dirname(resolve(options.markdown)) : process.cwd();
    for (const scenario of scenarios) {
      const svg = scenarioChart(results, scenario.id);
      if (svg === undefined) continue;
      const file = join(options.charts, `bench-${scenario.id}.svg`);
      writeFileSync(file, svg);
      chartPaths[scenario.id] = relative(from, resolve(file)).split('\\').join('/');
    }
  }
  const markdown = markdownReport(results, chartPaths);
  console.log(`\n${markdown}`);
  if (options.json !== undefined && options.fromJson === undefined) {
    await writeFormatted(options.json, JSON.stringify(results));
  }
  if (options.markdown !== undefined) await writeFormatted(options.markdown, markdown);
}

async function main(): Promise<void> {
  const options = parseOptions();
  const results =
    options.fromJson !== undefined
      ? (JSON.parse(readFileSync(options.fromJson, 'utf8')) as BenchResults)
      : await measure(options);
  await report(results, options);
  const failed = results.systems.filter(
    (s) => s.spool && (s.skipped !== undefined || s.scenarios.some((o) => o.error)),
  );
  // A Spool system that cannot run its scenarios means the harness (or Spool) is broken: CI must notice.
  if (failed.length > 0) {
    console.error(`bench: Spool system(s) failed: ${failed.map((s) => s.id).join(', ')}`);
    process.exitCode = 1;
  }
}

await main();
