import type { FailureInfo, JsonValue } from '../core/message.js';
import type { JobAttempt, JobLogLine, JobRecord, JobStatus } from '../store/port.js';

export type { JobLogLine } from '../store/port.js';

/**
 * How much a job keeps of what its handler logs: the last `lines` lines, each cut at `chars`.
 * Enough to see what a run did; a log that grows for ever belongs in the application's logs.
 */
export const jobLogLimits = Object.freeze({ lines: 200, chars: 2_000 });

/** Appends `lines` to `logs`, keeping the last {@link jobLogLimits}.lines, each bounded. */
export function appendLogLines(
  logs: readonly JobLogLine[],
  lines: readonly JobLogLine[],
): readonly JobLogLine[] {
  const bounded = lines.map((line) =>
    line.message.length > jobLogLimits.chars
      ? { ...line, message: `${line.message.slice(0, jobLogLimits.chars - 1)}…` }
      : line,
  );
  return [...logs, ...bounded].slice(-jobLogLimits.lines);
}

/** A job as the jobs API shows it: JSON fields decoded, times as Dates. */
export interface Job<P = JsonValue, R = JsonValue> {
  readonly id: string;
  readonly type: string;
  readonly status: JobStatus;
  readonly payload: P;
  readonly key: string | null;
  readonly priority: number;
  readonly metadata: Record<string, JsonValue>;
  readonly maxAttempts: number;
  readonly attempts: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** When it may run next (its delay, or the time of its next retry). */
  readonly runAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  /** 0–100, set by the handler. */
  readonly progress: number;
  readonly progressData: JsonValue | null;
  readonly result: R | null;
  /** The last attempt's failure: name, message and where it was thrown (bounded stack). */
  readonly error: FailureInfo | null;
  readonly history: readonly JobAttempt[];
  readonly parentId: string | null;
  readonly pendingChildren: number;
  readonly callbackUrl: string | null;
  /** What the handler logged with `context.log`, oldest first (the last {@link jobLogLimits}.lines). */
  readonly logs: readonly JobLogLine[];
}

/**
 * What an add did:
 * - `created`: a new job;
 * - `existing`: a repeat of an add with the same `idempotencyKey`: its job;
 * - `duplicate`: `unique` — an add with the same key or payload within the window: its job;
 * - `singleton`: a job with the same key is queued, scheduled, waiting or running: that job;
 * - `debounced`: folded into the burst's job — trailing: its payload replaced and its run time
 *   moved; leading: the add was dropped, the job that ran at the burst's start is answered;
 * - `throttled`: within the interval of the last start — a job that runs when the interval
 *   ends, new or with its payload replaced by this add's.
 */
export type AddOutcome = 'created' | 'existing' | 'duplicate' | 'singleton' | 'debounced' | 'throttled';

/** A job as an add answers it: the job, and what the add did ({@link AddOutcome}). */
export type AddedJob<P = JsonValue, R = JsonValue> = Job<P, R> & { readonly outcome: AddOutcome };

export function toJob<P = JsonValue, R = JsonValue>(record: JobRecord): Job<P, R> {
  return {
    id: record.id,
    type: record.type,
    status: record.status,
    payload: JSON.parse(record.payload) as P,
    key: record.key,
    priority: record.priority,
    metadata: JSON.parse(record.metadata) as Record<string, JsonValue>,
    maxAttempts: record.maxAttempts,
    attempts: record.attempts,
    createdAt: new Date(record.createdAt),
    updatedAt: new Date(record.updatedAt),
    runAt: new Date(record.runAt),
    startedAt: record.startedAt === null ? null : new Date(record.startedAt),
    finishedAt: record.finishedAt === null ? null : new Date(record.finishedAt),
    progress: record.progress,
    progressData: record.progressData === null ? null : (JSON.parse(record.progressData) as JsonValue),
    result: record.result === null ? null : (JSON.parse(record.result) as R),
    error: record.lastError,
    history: record.history,
    logs: record.logs,
    parentId: record.parentId,
    pendingChildren: record.pendingChildren,
    callbackUrl: record.callbackUrl,
  };
}
