/**
 * Measures ONE system in its own process (started by run.ts), so that one system's garbage,
 * JIT state, sockets or crash never affect another's numbers. Runs every selected scenario the
 * given number of times, after an unmeasured warm-up, and reports over IPC.
 *
 * Not meant to be run by hand; `npm run bench -- --only <id>` runs one system.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Counts } from './counts.js';
import { orders } from './payload.js';
import type { ScenarioOutcome, SystemOutcome } from './results.js';
import { scenarioById } from './scenarios/index.js';
import { preload } from './scenarios/process.js';
import { Countdown } from './scenarios/support.js';
import { systemById } from './systems/index.js';
import { NotSupported, type BenchSystem, type Endpoints, type SystemContext } from './types.js';

/** The job run.ts hands to this process. */
export interface SystemJob {
  readonly system: string;
  readonly scenarios: readonly string[];
  readonly counts: Counts;
  readonly endpoints: Endpoints;
}

/** What this process sends back: progress lines, then exactly one outcome. */
export type SystemMessage = { type: 'log'; line: string } | { type: 'outcome'; outcome: SystemOutcome };

function send(message: SystemMessage): void {
  process.send!(message);
}

function describe(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(describe).join('; ');
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** A short run that is not measured: connections, JIT and the system's caches get warm. */
async function warmUp(system: BenchSystem, messages: number): Promise<void> {
  const queue = await system.openQueue();
  try {
    await preload(queue, messages);
    const done = new Countdown(messages);
    const consumer = await queue.consume(() => done.tick(), { concurrency: 50 });
    await done.wait(60);
    await consumer.stop();
    if (queue.sendBatch) await queue.sendBatch(orders(0, 100));
  } finally {
    await queue.close();
  }
}

async function measure(job: SystemJob): Promise<SystemOutcome> {
  const entry = systemById(job.system);
  if (!entry) throw new Error(`unknown system ${job.system}`);
  const workDir = mkdtempSync(join(tmpdir(), `spool-bench-${entry.id}-`));
  let names = 0;
  const context: SystemContext = {
    workDir,
    endpoints: job.endpoints,
    uniqueName: (prefix) => `${prefix}_${process.pid}_${Date.now().toString(36)}_${names++}`,
    log: (line) => send({ type: 'log', line: `${entry.id}: ${line}` }),
  };
  const outcome: SystemOutcome = { id: entry.id, label: entry.label, spool: entry.spool, scenarios: [] };
  let system: BenchSystem;
  try {
    system = await entry.create(context);
  } catch (error) {
    outcome.skipped = describe(error);
    rmSync(workDir, { recursive: true, force: true });
    return outcome;
  }
  try {
    try {
      outcome.info = await system.setup();
    } catch (error) {
      outcome.skipped = describe(error);
      return outcome;
    }
    await warmUp(system, job.counts.warmupMessages);
    for (const id of job.scenarios) {
      const scenario = scenarioById(id)!;
      const result: ScenarioOutcome = { scenario: scenario.id, runs: [] };
      outcome.scenarios.push(result);
      for (let repetition = 1; repetition <= job.counts.repetitions; repetition++) {
        try {
          const run = await scenario.run(system, job.counts);
          result.runs.push(run);
          context.log(
            `${scenario.id} #${repetition}: ${formatValue(run.value, scenario.unit)}${run.note ? ` (${run.note})` : ''}`,
          );
        } catch (error) {
          if (error instanceof NotSupported) {
            result.unsupported = error.message;
            context.log(`${scenario.id}: n/a (${error.message})`);
          } else {
            result.error = describe(error);
            context.log(`${scenario.id} #${repetition} failed: ${result.error}`);
          }
          break;
        }
      }
    }
    return outcome;
  } finally {
    await system.teardown().catch((error: unknown) => context.log(`teardown failed: ${describe(error)}`));
    rmSync(workDir, { recursive: true, force: true });
  }
}

function formatValue(value: number, unit: string): string {
  return unit === 'msg/s'
    ? `${Math.round(value).toLocaleString('en-US')} msg/s`
    : `${value.toFixed(unit === 's' ? 2 : 1)} ${unit}`;
}

process.once('message', (job: SystemJob) => {
  measure(job).then(
    (outcome) => {
      send({ type: 'outcome', outcome });
      process.disconnect();
    },
    (error: unknown) => {
      send({ type: 'log', line: `${job.system}: ${describe(error)}` });
      process.exitCode = 1;
      process.disconnect();
    },
  );
});
