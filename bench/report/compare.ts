/**
 * Ratios of Spool's figures against the best anchor (a non-Spool system) of the same scenario in
 * the same run, and the issue's targets checked against them.
 */
import type { BenchResults, ScenarioId, SystemOutcome } from '../results.js';
import { scenarioById } from '../scenarios/index.js';
import { median } from './stats.js';

/** The median of a system's runs of a scenario, or undefined when it has none. */
export function medianOf(system: SystemOutcome, scenario: ScenarioId, metric?: string): number | undefined {
  const outcome = system.scenarios.find((s) => s.scenario === scenario);
  if (!outcome || outcome.runs.length === 0) return undefined;
  return median(
    outcome.runs.map((run) => (metric === undefined ? run.value : (run.metrics[metric] ?? Number.NaN))),
  );
}

export interface BestAnchor {
  readonly system: SystemOutcome;
  readonly value: number;
}

/** The anchor with the best median of the scenario (highest throughput, lowest time or latency). */
export function bestAnchor(
  results: BenchResults,
  scenario: ScenarioId,
  filter: (system: SystemOutcome) => boolean = () => true,
): BestAnchor | undefined {
  const higher = scenarioById(scenario)!.better === 'higher';
  let best: BestAnchor | undefined;
  for (const system of results.systems) {
    if (system.spool || system.info?.reference || !filter(system)) continue;
    const value = medianOf(system, scenario);
    if (value === undefined || Number.isNaN(value)) continue;
    if (scenario === 'flash-sale' && (medianOf(system, scenario, 'lost') ?? 0) > 0) continue;
    if (!best || (higher ? value > best.value : value < best.value)) best = { system, value };
  }
  return best;
}

/**
 * How many times better Spool is than the anchor: for throughput spool/anchor, for times and
 * latencies anchor/spool — so above 1 is always "Spool is better".
 */
export function advantage(scenario: ScenarioId, spool: number, anchor: number): number {
  return scenarioById(scenario)!.better === 'higher' ? spool / anchor : anchor / spool;
}

export interface TargetCheck {
  readonly target: string;
  readonly spool: string;
  readonly anchor: string;
  /** undefined when it could not be checked (a system or scenario missing from the run). */
  readonly met: boolean | undefined;
}

const fmtRate = (v: number) => `${Math.round(v).toLocaleString('en-US')} msg/s`;

/** The issue's targets for Spool embedded (`full`) and Spool over HTTP. */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const full = results.systems.find((s) => s.id === 'spool-full');
  const http = results.systems.find((s) => s.id === 'spool-http');
  const checks: TargetCheck[] = [];
  const ratioTarget = (
    target: string,
    scenario: ScenarioId,
    spoolSystem: SystemOutcome | undefined,
    needed: number,
    format: (v: number) => string,
  ) => {
    const value = spoolSystem && medianOf(spoolSystem, scenario);
    const anchor = bestAnchor(results, scenario);
    if (value === undefined || !anchor) {
      checks.push({
        target,
        spool: value === undefined ? 'not measured' : format(value),
        anchor: anchor ? `${format(anchor.value)} (${anchor.system.label})` : 'no anchor measured',
        met: undefined,
      });
      return;
    }
    const ratio = advantage(scenario, value, anchor.value);
    checks.push({
      target,
      spool: `${format(value)} (${ratio.toFixed(2)}×)`,
      anchor: `${format(anchor.value)} (${anchor.system.label})`,
      met: ratio >= needed,
    });
  };
  ratioTarget('send, 100 concurrent: ≥ 2× the best anchor', 'send-concurrent', full, 2, fmtRate);
  ratioTarget('process, concurrency 50: ≥ 1.2× the best anchor', 'process', full, 1.2, fmtRate);

  // Process: ≥ 80% of the raw SQLite loop's rate in the same run (the limit row).
  {
    const value = full && medianOf(full, 'process');
    const limitSystem = results.systems.find((s) => s.info?.reference);
    const limit = limitSystem && medianOf(limitSystem, 'process');
    checks.push({
      target: 'process, concurrency 50: ≥ 80% of the SQLite limit row',
      spool:
        value === undefined
          ? 'not measured'
          : `${fmtRate(value)}${limit ? ` (${Math.round((value / limit) * 100)}%)` : ''}`,
      anchor: limit === undefined ? 'limit not measured' : `${fmtRate(limit)} (${limitSystem!.label})`,
      met: value === undefined || limit === undefined ? undefined : value >= 0.8 * limit,
    });
  }

  // Flash sale: ≤ 1/4 of the best anchor's time, and nothing lost.
  {
    const value = full && medianOf(full, 'flash-sale');
    const lost = full && medianOf(full, 'flash-sale', 'lost');
    const anchor = bestAnchor(results, 'flash-sale');
    const fmt = (v: number) => `${v.toFixed(2)} s`;
    checks.push({
      target: 'flash sale, all 3 groups done: ≤ 1/4 of the best anchor’s time, 0 lost',
      spool: value === undefined ? 'not measured' : `${fmt(value)}, ${lost} lost`,
      anchor: anchor ? `${fmt(anchor.value)} (${anchor.system.label})` : 'no anchor measured',
      met: value === undefined || !anchor ? undefined : value * 4 <= anchor.value && lost === 0,
    });
  }
  ratioTarget(
    'latency at 1,000 msg/s, send→start p99: no worse than the best anchor',
    'latency',
    full,
    1,
    (v) => `${v.toFixed(2)} ms`,
  );

  // HTTP: batched sends of 100 ≥ 100,000 msg/s and ≥ 2× the best anchor's network client.
  {
    const value = http && medianOf(http, 'send-batch-100');
    const anchor = bestAnchor(results, 'send-batch-100', (s) => s.info?.network ?? false);
    const ratio = value !== undefined && anchor ? value / anchor.value : undefined;
    checks.push({
      target: 'over HTTP, batches of 100: ≥ 100,000 msg/s and ≥ 2× the best anchor’s network client',
      spool:
        value === undefined
          ? 'not measured'
          : `${fmtRate(value)}${ratio === undefined ? '' : ` (${ratio.toFixed(2)}×)`}`,
      anchor: anchor ? `${fmtRate(anchor.value)} (${anchor.system.label})` : 'no anchor measured',
      met: value === undefined || ratio === undefined ? undefined : value >= 100_000 && ratio >= 2,
    });
  }
  return checks;
}
