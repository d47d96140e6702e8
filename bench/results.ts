/** The shape of `--json` output: everything the markdown and the charts are made from. */
import type { SystemInfo } from './types.js';
import type { Counts } from './counts.js';

export type ScenarioId =
  'send-single' | 'send-concurrent' | 'send-batch' | 'send-batch-100' | 'process' | 'latency' | 'flash-sale';

/** One repetition of one scenario on one system. */
export interface Run {
  /** The scenario's headline figure (see the scenario's unit and direction). */
  readonly value: number;
  /** Secondary figures, e.g. `publishSeconds`, `lost`, `ackP99Ms`. */
  readonly metrics: Record<string, number>;
  /** Something a reader must know about this run, e.g. a time cap that cut it short. */
  readonly note?: string;
}

export interface ScenarioOutcome {
  readonly scenario: ScenarioId;
  readonly runs: Run[];
  /** Set when the system cannot do this scenario, with the reason ("n/a"). */
  unsupported?: string;
  /** Set when a repetition failed; runs holds the ones that completed. */
  error?: string;
}

export interface SystemOutcome {
  readonly id: string;
  readonly label: string;
  readonly spool: boolean;
  /** Filled in by the system's setup; missing when it was skipped before connecting. */
  info?: SystemInfo;
  /** Why the whole system was not measured. */
  skipped?: string;
  readonly scenarios: ScenarioOutcome[];
}

export interface Machine {
  readonly node: string;
  readonly os: string;
  readonly cpus: string;
  readonly memoryGiB: number;
  readonly loadAverage: readonly number[];
}

export interface BenchResults {
  readonly startedAt: string;
  finishedAt: string;
  readonly mode: 'full' | 'quick';
  readonly counts: Counts;
  readonly payloadBytes: number;
  readonly machine: Machine;
  /** Services the harness started, checked or could not start. */
  readonly services: string[];
  readonly systems: SystemOutcome[];
}
