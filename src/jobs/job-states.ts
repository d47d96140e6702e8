/**
 * The job state machine.
 *
 * ```
 *             add (delayed)          runAt reached
 *   add ──► scheduled ───────────────────┐
 *    │                                   ▼
 *    ├──────────────────────────────► queued ──► active ──► completed
 *    │                                   ▲          │
 *    └─► waiting (children running) ─────┘          ├──► retrying ──(runAt)──► active …
 *                │                                  │
 *                └──► dead (a child died)           └──► dead (last attempt, or NonRetryableError)
 *
 *   scheduled | queued | retrying | waiting ──cancel──► cancelled
 *   active ──cancel──► cancelled (its AbortSignal fires; the attempt's outcome is discarded)
 *   dead | cancelled ──retry──► queued (attempts start over)
 * ```
 *
 * A failed attempt is recorded in the job's history; the job itself moves on to `retrying` (with
 * the time of the next attempt in `runAt`) or, after the last allowed attempt, to `dead`.
 */
import type { JobStatus } from '../store/port.js';

/** Statuses a job never leaves by itself. */
export const finishedStatuses: ReadonlySet<JobStatus> = new Set(['completed', 'dead', 'cancelled']);

/** Statuses from which `cancel` applies. */
export const cancellableStatuses: ReadonlySet<JobStatus> = new Set([
  'waiting',
  'scheduled',
  'queued',
  'retrying',
  'active',
]);

/** Statuses from which `retry` starts a job over. */
export const retryableStatuses: ReadonlySet<JobStatus> = new Set(['dead', 'cancelled']);

export function isFinished(status: JobStatus): boolean {
  return finishedStatuses.has(status);
}

export const jobStatuses: readonly JobStatus[] = [
  'waiting',
  'scheduled',
  'queued',
  'active',
  'retrying',
  'completed',
  'dead',
  'cancelled',
];
