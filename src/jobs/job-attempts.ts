/**
 * One attempt of a job, from start to settlement: the state transitions of job-states.ts as
 * store transactions. In-process workers and remote (HTTP) workers both go through here, so a
 * job behaves the same wherever it runs.
 *
 * A runnable job is a message `{ jobId }` on the queue `jobs.<type>`; the job record is the
 * source of truth and the message is only the ticket to run it. So every transition that settles
 * the message (ack, or nack with the retry delay) commits in one transaction with the job update
 * and the job event: a crash leaves either the old state with the message still leased (it is
 * delivered again) or the new state with the message settled — never a job that is done but
 * runs again, or one that failed but never retries.
 */
import { backoffDelay, type BackoffOptions } from '../core/backoff.js';
import { NonRetryableError, RetryAfterError } from '../core/errors.js';
import { describeError, type JsonValue } from '../core/message.js';
import type { Message } from '../engine/received-message.js';
import type { Spool } from '../engine/spool.js';
import type { SpoolTransaction } from '../engine/transaction.js';
import type { JobAttempt, JobPatch, JobRecord } from '../store/port.js';
import type { JobEvents } from './job-events.js';
import { sendJobCallback } from './job-callbacks.js';
import { isFinished } from './job-states.js';
import { traceHeadersToContinue } from '../observability/tracing.js';

/** The body of a job's queue message. */
export interface JobTicket {
  readonly jobId: string;
}

/** Per-type settings the attempts need. */
export interface AttemptPolicy {
  readonly backoff: BackoffOptions;
}

/** The leased ticket of a running job: what settling it needs. */
export interface TicketLease {
  readonly queue: string;
  readonly receipt: string;
  /** The ticket's headers when known (in-process workers): they carry the job's trace context. */
  readonly headers?: Readonly<Record<string, string>>;
  ack(): Promise<void>;
}

/** A job that has started: its record as of the start, and the leased ticket. */
export interface ActiveAttempt {
  readonly job: JobRecord;
  readonly message: TicketLease;
}

/** The queue that carries the tickets of a job type. */
export function jobQueueName(type: string): string {
  return `jobs.${type}`;
}

export class JobAttempts {
  constructor(
    private readonly spool: Spool,
    private readonly events: JobEvents,
  ) {}

  /**
   * Starts the job a ticket points to: `active`, one more attempt, a history entry. Resolves
   * null (and acks the ticket) when there is nothing to run: the job is gone, finished, or
   * cancelled. A job found `active` had a worker that vanished: its attempt is recorded as lost.
   */
  async begin(message: Message<JobTicket>): Promise<ActiveAttempt | null> {
    const { store } = this.spool;
    for (;;) {
      const job = await store.getJob(message.body.jobId);
      if (!job || isFinished(job.status) || job.status === 'waiting') {
        await message.ack();
        return null;
      }
      const now = this.spool.clock.now();
      const history = closeLostAttempt(job.history, now);
      if (job.attempts >= job.maxAttempts) {
        // The last allowed attempt's worker vanished (lease expired): give up instead of running again.
        const dead = await this.#settle(job, message, {
          status: 'dead',
          finishedAt: now,
          history,
          lastError: { name: 'LeaseExpired', message: 'the worker of the last attempt stopped responding' },
        });
        if (dead) return null;
        continue;
      }
      const attempt: JobAttempt = {
        attempt: job.attempts + 1,
        startedAt: now,
        finishedAt: null,
        error: null,
      };
      const started = await this.spool.transaction(async (tx) => {
        const updated = await tx.records.updateJob(
          job.id,
          { status: 'active', attempts: attempt.attempt, startedAt: now, history: [...history, attempt] },
          job.version,
        );
        if (updated) await this.events.record(tx, updated);
        return updated;
      });
      if (started) return { job: started, message };
      // Somebody changed the job meanwhile (a cancel): look again.
    }
  }

  /** Records the result: `completed`; a parent waiting for this child may become runnable. */
  async succeed(attempt: ActiveAttempt, result: unknown): Promise<JobRecord | null> {
    const now = this.spool.clock.now();
    return this.#settle(attempt.job, attempt.message, {
      status: 'completed',
      finishedAt: now,
      progress: 100,
      result: JSON.stringify(result ?? null),
      history: finishAttempt(attempt.job.history, now, null),
    });
  }

  /**
   * Records a failure: `retrying` with the backoff delay (or a `RetryAfterError`'s), or `dead`
   * after the last attempt, for a `NonRetryableError`, or when `retryable` is false.
   */
  async fail(
    attempt: ActiveAttempt,
    error: unknown,
    policy: AttemptPolicy,
    retryable = true,
  ): Promise<JobRecord | null> {
    const { job } = attempt;
    const now = this.spool.clock.now();
    const failure = describeError(error);
    const history = finishAttempt(job.history, now, failure);
    const giveUp = !retryable || error instanceof NonRetryableError || job.attempts >= job.maxAttempts;
    if (giveUp) {
      return this.#settle(job, attempt.message, {
        status: 'dead',
        finishedAt: now,
        lastError: failure,
        history,
      });
    }
    const delayMs =
      error instanceof RetryAfterError
        ? Math.max(0, error.retryAfterMs)
        : backoffDelay(job.attempts, policy.backoff);
    return this.#settle(
      job,
      attempt.message,
      { status: 'retrying', runAt: now + delayMs, lastError: failure, history },
      delayMs,
    );
  }

  /** Records progress (0–100) and optional details; ignored once the job has finished. */
  async progress(jobId: string, progress: number, data?: JsonValue): Promise<JobRecord | null> {
    const value = Math.max(0, Math.min(100, progress));
    return this.spool.transaction(async (tx) => {
      const patch: JobPatch = {
        progress: value,
        ...(data === undefined ? {} : { progressData: JSON.stringify(data) }),
      };
      const updated = await tx.records.updateJob(jobId, patch);
      if (updated) await this.events.record(tx, updated, 'job.progress');
      return updated;
    });
  }

  /**
   * Writes the job's new state and settles its ticket in one transaction: the ticket is acked,
   * and when the job will run again a new ticket due at its `runAt` is sent with it. Resolves
   * null when the job changed under us (e.g. it was cancelled while running): then only the
   * ticket is settled.
   */
  async #settle(
    job: JobRecord,
    message: TicketLease,
    patch: JobPatch,
    retryDelayMs?: number,
  ): Promise<JobRecord | null> {
    // A retry's ticket keeps the job's trace (taken here: the transaction may run in another context).
    const traceHeaders = retryDelayMs === undefined ? undefined : traceHeadersToContinue(message.headers);
    const updated = await this.spool.transaction(async (tx) => {
      const next = await tx.records.updateJob(job.id, patch, job.version);
      if (!next) return null;
      await this.events.record(tx, next);
      if (isFinished(next.status)) await sendJobCallback(this.spool, tx, next);
      await tx.ack(message);
      if (retryDelayMs !== undefined) {
        await tx.send(jobQueueName(next.type), { jobId: next.id } satisfies JobTicket, {
          priority: next.priority,
          delayMs: retryDelayMs,
          ...(traceHeaders ? { headers: traceHeaders } : {}),
        });
      } else if (next.parentId && (next.status === 'completed' || next.status === 'dead')) {
        await this.#childFinished(tx, next);
      }
      return next;
    });
    if (!updated) {
      const current = await this.spool.store.getJob(job.id);
      if (!current || isFinished(current.status)) await message.ack().catch(() => undefined);
    }
    return updated;
  }

  /** A child finished: the parent runs when no child is pending, and dies with its first dead child. */
  async #childFinished(tx: SpoolTransaction, child: JobRecord): Promise<void> {
    const parent = await this.spool.store.getJob(child.parentId!);
    if (!parent || parent.status !== 'waiting') return;
    if (child.status === 'dead') {
      const now = this.spool.clock.now();
      const dead = await tx.records.updateJob(parent.id, {
        status: 'dead',
        finishedAt: now,
        lastError: {
          name: 'ChildJobDied',
          message: `child job ${child.id} (${child.type}) died: ${child.lastError?.message ?? ''}`,
        },
      });
      if (dead) {
        await this.events.record(tx, dead);
        await sendJobCallback(this.spool, tx, dead);
      }
      return;
    }
    const pendingChildren = parent.pendingChildren - 1;
    const now = this.spool.clock.now();
    const updated = await tx.records.updateJob(parent.id, {
      pendingChildren,
      ...(pendingChildren === 0 ? { status: parent.runAt > now ? 'scheduled' : 'queued' } : {}),
    });
    if (!updated) return;
    if (pendingChildren === 0) {
      await tx.send(jobQueueName(parent.type), { jobId: parent.id } satisfies JobTicket, {
        priority: parent.priority,
        notBefore: parent.runAt,
      });
      await this.events.record(tx, updated);
    }
  }
}

/** An attempt still open in the history belonged to a worker that vanished. */
function closeLostAttempt(history: readonly JobAttempt[], now: number): JobAttempt[] {
  const last = history.at(-1);
  if (!last || last.finishedAt !== null) return [...history];
  return [
    ...history.slice(0, -1),
    { ...last, finishedAt: now, error: { name: 'LeaseExpired', message: 'the worker stopped responding' } },
  ];
}

function finishAttempt(
  history: readonly JobAttempt[],
  now: number,
  error: { name: string; message: string } | null,
): JobAttempt[] {
  const last = history.at(-1);
  if (!last) return [];
  return [...history.slice(0, -1), { ...last, finishedAt: now, error }];
}
