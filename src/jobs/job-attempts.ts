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
import { InvalidArgumentError, NonRetryableError, RetryAfterError } from '../core/errors.js';
import { LimitReachedError, NotDueError } from '../core/wait-errors.js';
import { describeFailure, encodeJson, type FailureInfo, type JsonValue } from '../core/message.js';
import { JobNotFoundError, JobStateError } from './job-errors.js';
import type { Message } from '../engine/received-message.js';
import { jobQueuePrefix } from '../engine/reserved-names.js';
import type { Spool } from '../engine/spool.js';
import type { SpoolTransaction } from '../engine/transaction.js';
import type { JobAttempt, JobLogLine, JobPatch, JobRecord } from '../store/port.js';
import { appendLogLines } from './job.js';
import type { JobEvents } from './job-events.js';
import { sendJobCallback } from './job-callbacks.js';
import { isFinished } from './job-states.js';
import { ticketGroup } from './job-group.js';
import { traceHeadersToContinue } from '../telemetry/tracing.js';

/**
 * How the jobs layer runs its own transitions: without a savepoint per write (two PostgreSQL
 * round trips fewer each), since none of them catches a write's error and goes on.
 */
export const transitionTransaction = Object.freeze({ savepoints: false });

/**
 * A start may resolve before it is durable: a start lost to a power cut leaves the job queued
 * and its ticket's claim undone, so the job runs again, as at-least-once allows (the claim
 * itself settles the same way). The attempt's end is durable, and covers its start.
 */
const startTransaction = Object.freeze({ ...transitionTransaction, synchronousCommit: false });

/** Limits across every process on the store, checked as a job starts (see `JobTypeOptions`). */
export interface StartLimits {
  readonly globalConcurrency: number | null;
  readonly keyConcurrency: number | null;
}
const noLimits: StartLimits = Object.freeze({ globalConcurrency: null, keyConcurrency: null });

/** How long a job held back by a concurrency limit waits before it looks again (plus jitter). */
const limitRecheckMs = 200;

/**
 * Throws `LimitReachedError` when `job` may not start: it takes a slot of its type's limits in
 * the transaction that makes it active, so two processes cannot both take the last one.
 */
async function checkLimits(tx: SpoolTransaction, job: JobRecord, limits: StartLimits): Promise<void> {
  const { globalConcurrency, keyConcurrency } = limits;
  const wait = () => limitRecheckMs + Math.floor(Math.random() * limitRecheckMs);
  if (
    globalConcurrency !== null &&
    !(await tx.records.takeJobSlot(job.type, null, job.id, globalConcurrency))
  ) {
    throw new LimitReachedError(
      `job type "${job.type}" has ${globalConcurrency} running (globalConcurrency)`,
      wait(),
      {
        jobType: job.type,
        option: 'globalConcurrency',
        limit: globalConcurrency,
        intervalMs: null,
        key: null,
      },
    );
  }
  if (
    keyConcurrency !== null &&
    job.key !== null &&
    !(await tx.records.takeJobSlot(job.type, job.key, job.id, keyConcurrency))
  ) {
    throw new LimitReachedError(
      `job type "${job.type}" has ${keyConcurrency} running for key "${job.key}" (keyConcurrency)`,
      wait(),
      { jobType: job.type, option: 'keyConcurrency', limit: keyConcurrency, intervalMs: null, key: job.key },
    );
  }
}

/** The body of a job's queue message. */
export interface JobTicket {
  readonly jobId: string;
}

/** Per-type settings the attempts need. */
export interface AttemptPolicy {
  readonly backoff: BackoffOptions;
}

/** A new state of a job, and the delay of its next ticket when it will run again. */
interface Settlement {
  readonly patch: JobPatch;
  readonly retryDelayMs?: number;
}

/**
 * Thrown by a handler of Spool's own (the workflow runner) to put its job back to wait without
 * counting the attempt; see {@link JobAttempts.suspend}.
 */
export class JobSuspension extends Error {
  constructor(
    readonly wakeAt: number | null,
    readonly wakeNow: (tx: SpoolTransaction) => Promise<boolean>,
  ) {
    super('the job waits for a timer or an event');
    this.name = 'JobSuspension';
  }
}

/** Thrown by a handler of Spool's own to end its job `dead` or `cancelled`, with a result. */
export class JobOutcome extends Error {
  constructor(
    readonly status: 'dead' | 'cancelled',
    readonly error: FailureInfo,
    readonly result: JsonValue,
  ) {
    super(error.message);
    this.name = 'JobOutcome';
  }
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
  return `${jobQueuePrefix}${type}`;
}

/**
 * The ticket receipt a remote lease (`<queue>/<receipt>`, as its claim returned it) stands for;
 * a lease of another job's queue is refused.
 */
export function leaseReceipt(job: JobRecord, lease: string): string {
  const prefix = `${jobQueueName(job.type)}/`;
  if (!lease.startsWith(prefix)) {
    throw new InvalidArgumentError(
      `lease does not belong to job ${job.id}; pass the lease its claim returned`,
      {
        field: 'lease',
      },
    );
  }
  return lease.slice(prefix.length);
}

/** Runs in the transaction that finished a job (see {@link JobAttempts.onFinished}). */
export type FinishHook = (tx: SpoolTransaction, job: JobRecord) => Promise<void>;

export class JobAttempts {
  readonly #finishHooks: FinishHook[] = [];

  constructor(
    private readonly spool: Spool,
    private readonly events: JobEvents,
  ) {}

  /**
   * Adds `hook` to the transaction of every attempt that ends a job (completed, dead or
   * cancelled by its handler): a layer on jobs that must hear of it atomically (a parent workflow
   * run waiting for its child) does its writes there.
   */
  onFinished(hook: FinishHook): void {
    this.#finishHooks.push(hook);
  }

  /**
   * Starts the job a ticket points to: `active`, one more attempt, a history entry. Resolves
   * null (and acks the ticket) when there is nothing to run: the job is gone, finished, or
   * cancelled. A job found `active` had a worker that vanished: its attempt is recorded as lost.
   */
  async begin(message: Message<JobTicket>, limits: StartLimits = noLimits): Promise<ActiveAttempt | null> {
    const started = await this.spool.transaction(async (tx) => {
      const job = await tx.records.lockJob(message.body.jobId);
      // A job found `active` by a ticket on its first delivery is run by another ticket: this one
      // is left over (sent before a cancel, then the job was retried with a ticket of its own).
      // A ticket whose worker vanished comes back on a later delivery, after its lease.
      const duplicate = job?.status === 'active' && message.attempt === 1;
      if (!job || isFinished(job.status) || job.status === 'waiting' || duplicate) {
        await tx.ack(message);
        return null;
      }
      const now = this.spool.clock.now();
      // A debounced or throttled add moved the job's time later after this ticket was sent: the
      // ticket waits for it (it is the job's only one, so it must not be acked).
      if (job.status === 'scheduled' && job.runAt > now) throw new NotDueError(job.id, job.runAt - now);
      const history = closeLostAttempt(job.history, now);
      if (job.attempts >= job.maxAttempts) {
        // The last allowed attempt's worker vanished (lease expired): give up instead of running again.
        await this.#apply(tx, job, message, {
          status: 'dead',
          finishedAt: now,
          history,
          lastError: { name: 'LeaseExpired', message: 'the worker of the last attempt stopped responding' },
        });
        return null;
      }
      await checkLimits(tx, job, limits);
      const attempt: JobAttempt = {
        attempt: job.attempts + 1,
        startedAt: now,
        finishedAt: null,
        error: null,
      };
      // The locked record as the expected one: the store answers from it instead of a read-back.
      const updated = await tx.records.updateJob(
        job.id,
        { status: 'active', attempts: attempt.attempt, startedAt: now, history: [...history, attempt] },
        job,
      );
      if (updated) await this.events.record(tx, updated);
      return updated;
    }, startTransaction);
    return started ? { job: started, message } : null;
  }

  /** Records the result: `completed`; a parent waiting for this child may become runnable. */
  async succeed(attempt: ActiveAttempt, result: unknown): Promise<JobRecord | null> {
    const encoded = JSON.stringify(result ?? null);
    return this.#settle(attempt, (job, now) => ({
      patch: {
        status: 'completed',
        finishedAt: now,
        progress: 100,
        result: encoded,
        history: finishAttempt(job.history, now, null),
      },
    }));
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
    const failure = describeFailure(error);
    return this.#settle(attempt, (job, now) => {
      const history = finishAttempt(job.history, now, failure);
      const giveUp = !retryable || error instanceof NonRetryableError || job.attempts >= job.maxAttempts;
      if (giveUp) return { patch: { status: 'dead', finishedAt: now, lastError: failure, history } };
      const retryDelayMs =
        error instanceof RetryAfterError
          ? Math.max(0, error.retryAfterMs)
          : backoffDelay(job.attempts, policy.backoff);
      return {
        patch: { status: 'retrying', runAt: now + retryDelayMs, lastError: failure, history },
        retryDelayMs,
      };
    });
  }

  /**
   * Puts a running job back to wait without counting the attempt — a workflow run that waits
   * for a timer or an event: `scheduled` until `wakeAt` (with a ticket due then), or `waiting`
   * without a ticket until {@link promote}. `wakeNow`, asked under the job's lock, queues it again
   * at once instead (an event came while it ran).
   */
  async suspend(attempt: ActiveAttempt, suspension: JobSuspension): Promise<JobRecord | null> {
    return this.#settle(
      attempt,
      async (job, now, tx) => {
        const uncounted = { attempts: job.attempts - 1, history: job.history.slice(0, -1) };
        if (await suspension.wakeNow(tx)) {
          return { patch: { ...uncounted, status: 'queued', runAt: now }, retryDelayMs: 0 };
        }
        const { wakeAt } = suspension;
        if (wakeAt === null) return { patch: { ...uncounted, status: 'waiting' } };
        return {
          patch: { ...uncounted, status: 'scheduled', runAt: wakeAt },
          retryDelayMs: Math.max(0, wakeAt - now),
        };
      },
      // Not optimistic: `wakeNow` reads under the job's lock, so the job must be locked first.
      false,
    );
  }

  /** Ends a running job as its handler decided: `dead` or `cancelled`, with an error and a result. */
  async end(attempt: ActiveAttempt, outcome: JobOutcome): Promise<JobRecord | null> {
    return this.#settle(attempt, (job, now) => ({
      patch: {
        status: outcome.status,
        finishedAt: now,
        lastError: outcome.error,
        result: encodeJson(outcome.result, 'result'),
        history: finishAttempt(job.history, now, outcome.error),
      },
    }));
  }

  /**
   * Queues job `jobId` (locked by `tx`) to run now: one waiting for its time (`scheduled`,
   * `retrying`), or a suspended workflow run (`waiting` with no children pending).
   */
  async promote(tx: SpoolTransaction, jobId: string): Promise<JobRecord> {
    const job = await tx.records.lockJob(jobId);
    if (!job) throw new JobNotFoundError(jobId);
    const promotable =
      job.status === 'scheduled' ||
      job.status === 'retrying' ||
      (job.status === 'waiting' && job.pendingChildren === 0);
    if (!promotable) throw new JobStateError(jobId, job.status, 'promoted');
    const updated = await tx.records.updateJob(job.id, { status: 'queued', runAt: this.spool.clock.now() });
    if (!updated) throw new JobNotFoundError(jobId);
    await this.events.record(tx, updated);
    // The ticket sent for the old time stays: it finds the job started (or waiting again) and is acked.
    await tx.send(jobQueueName(job.type), { jobId } satisfies JobTicket, {
      priority: job.priority,
      ...ticketGroup(job),
    });
    return updated;
  }

  /**
   * Records progress (0–100) and optional details of a running job. Progress of a job that is
   * not running (finished, cancelled, or not yet started) is ignored: the job is returned as it
   * is. Resolves null for an unknown job.
   */
  async progress(jobId: string, progress: number, data?: JsonValue): Promise<JobRecord | null> {
    const value = Math.max(0, Math.min(100, progress));
    return this.spool.transaction(async (tx) => {
      const job = await tx.records.lockJob(jobId);
      if (!job || job.status !== 'active') return job;
      const patch: JobPatch = {
        progress: value,
        ...(data === undefined ? {} : { progressData: encodeJson(data, 'progress data') }),
      };
      const updated = await tx.records.updateJob(jobId, patch, job);
      if (updated) await this.events.record(tx, updated, 'job.progress');
      return updated;
    }, transitionTransaction);
  }

  /**
   * Appends lines to the log of a running job (bounded: see `jobLogLimits`), stamped with the
   * current attempt. Lines for a job that is not running are ignored, as progress is. Resolves
   * null for an unknown job.
   */
  async log(
    jobId: string,
    lines: readonly { message: string; level?: JobLogLine['level'] }[],
  ): Promise<JobRecord | null> {
    return this.spool.transaction(async (tx) => {
      const job = await tx.records.lockJob(jobId);
      if (!job || job.status !== 'active' || lines.length === 0) return job;
      const at = this.spool.clock.now();
      const stamped = lines.map((line) => ({
        at,
        attempt: job.attempts,
        level: line.level ?? 'info',
        message: line.message,
      }));
      return tx.records.updateJob(jobId, { logs: appendLogLines(job.logs, stamped) }, job);
    }, transitionTransaction);
  }

  /**
   * Settles a running attempt: in one transaction, reads the job (locked), checks that this
   * attempt is still the job's current one, writes the new state, and settles the ticket — acked,
   * and when the job will run again a new ticket due at its `runAt` is sent with it. Resolves
   * null when the attempt is no longer current (the job was cancelled, or its lease was lost
   * and another worker started it): then the outcome is discarded, and the ticket is acked if the
   * job is finished.
   *
   * Everything the new state depends on is read inside the transaction, so nothing done to the
   * job meanwhile (progress, a cancel) is overwritten or makes the write miss.
   */
  async #settle(
    attempt: ActiveAttempt,
    next: (job: JobRecord, now: number, tx: SpoolTransaction) => Settlement | Promise<Settlement>,
    /** `next` only computes (no reads or writes through `tx`): it may be tried on the job as it started. */
    optimistic = true,
  ): Promise<JobRecord | null> {
    const { message } = attempt;
    // A retry's ticket keeps the job's trace (taken here: the transaction may run in another context).
    const traceHeaders = traceHeadersToContinue(message.headers);
    let finishedElsewhere = false;
    const updated = await this.spool.transaction(async (tx) => {
      if (optimistic && attempt.job.status === 'active') {
        // Usually the job is still as it started: then updating it where its version still
        // matches is the lock and the check at once, and saves reading it again (a round trip
        // on PostgreSQL). Anything that changed it meanwhile — progress, a log line, a cancel —
        // moved its version, and the read below decides as it always did.
        const { patch, retryDelayMs } = await next(attempt.job, this.spool.clock.now(), tx);
        const applied = await this.#apply(tx, attempt.job, message, patch, retryDelayMs, traceHeaders);
        if (applied) return applied;
      }
      const job = await tx.records.lockJob(attempt.job.id);
      if (!job || !isCurrentAttempt(job, attempt.job)) {
        finishedElsewhere = !job || isFinished(job.status);
        return null;
      }
      const { patch, retryDelayMs } = await next(job, this.spool.clock.now(), tx);
      return this.#apply(tx, job, message, patch, retryDelayMs, traceHeaders);
    }, transitionTransaction);
    if (!updated && finishedElsewhere) await message.ack().catch(() => undefined);
    return updated;
  }

  /**
   * Writes a transition of `job`, with its event, webhook, ticket and parent, if the job is still
   * at `job`'s version (null otherwise, with nothing written): `tx` has it locked, or the
   * versioned update takes the lock and makes the check at once.
   */
  async #apply(
    tx: SpoolTransaction,
    job: JobRecord,
    message: TicketLease,
    patch: JobPatch,
    retryDelayMs?: number,
    traceHeaders?: Record<string, string>,
  ): Promise<JobRecord | null> {
    const next = await tx.records.updateJob(job.id, patch, job);
    if (!next) return null;
    // Hooks lock other jobs (a parent run): before the events log's append, which every job
    // transition takes, so that no transaction holds the log while it waits for a job's row.
    if (isFinished(next.status)) for (const hook of this.#finishHooks) await hook(tx, next);
    await this.events.record(tx, next);
    if (isFinished(next.status)) await sendJobCallback(this.spool, tx, next);
    await tx.ack(message);
    if (retryDelayMs !== undefined) {
      await tx.send(jobQueueName(next.type), { jobId: next.id } satisfies JobTicket, {
        priority: next.priority,
        ...ticketGroup(next),
        delayMs: retryDelayMs,
        ...(traceHeaders ? { headers: traceHeaders } : {}),
      });
    } else if (next.parentId && (next.status === 'completed' || next.status === 'dead')) {
      await this.childFinished(tx, next);
    }
    return next;
  }

  /**
   * A child finished: the parent runs when no child is pending, and dies with its first dead or
   * cancelled child (a parent can never have all its children done once one of them will never
   * run; `retry` of the parent starts that child over). A parent that dies so ends its own
   * waiting parent in turn.
   *
   * Lock order: `tx` holds the child and locks the parent after it. Every transaction that locks
   * a parent and its children does so children first (cancel and retry lock the descendants
   * before the job), so two of them never wait for each other — on PostgreSQL, a retry of a
   * parent racing the completion of its child was a deadlock when the parent was locked first.
   */
  async childFinished(tx: SpoolTransaction, child: JobRecord): Promise<void> {
    // Locked: children of one parent finishing at once take turns, so no decrement is lost.
    const parent = await tx.records.lockJob(child.parentId!);
    if (!parent) return;
    const now = this.spool.clock.now();
    if (parent.status !== 'waiting') {
      // The parent died or was cancelled meanwhile: still count the completion, so that a retry
      // of the parent waits for exactly the children that are not completed.
      if (child.status === 'completed') {
        await tx.records.updateJob(parent.id, { pendingChildren: parent.pendingChildren - 1 }, parent);
      }
      return;
    }
    if (child.status === 'dead' || child.status === 'cancelled') {
      const dead = await tx.records.updateJob(
        parent.id,
        {
          status: 'dead',
          finishedAt: now,
          lastError:
            child.status === 'dead'
              ? {
                  name: 'ChildJobDied',
                  message: `child job ${child.id} (${child.type}) died: ${child.lastError?.message ?? ''}`,
                }
              : {
                  name: 'ChildJobCancelled',
                  message: `child job ${child.id} (${child.type}) was cancelled`,
                },
        },
        parent,
      );
      if (dead) {
        await this.events.record(tx, dead);
        await sendJobCallback(this.spool, tx, dead);
        if (dead.parentId) await this.childFinished(tx, dead);
      }
      return;
    }
    const pendingChildren = parent.pendingChildren - 1;
    const updated = await tx.records.updateJob(
      parent.id,
      {
        pendingChildren,
        ...(pendingChildren === 0 ? { status: parent.runAt > now ? 'scheduled' : 'queued' } : {}),
      },
      parent,
    );
    if (!updated) return;
    if (pendingChildren === 0) {
      await tx.send(jobQueueName(parent.type), { jobId: parent.id } satisfies JobTicket, {
        priority: parent.priority,
        ...ticketGroup(parent),
        notBefore: parent.runAt,
      });
      await this.events.record(tx, updated);
    }
  }
}

/**
 * Whether `job` (as stored now) is still in the attempt that `started` began: a cancel, a retry,
 * or a new attempt after a lost lease each make an attempt stale.
 */
function isCurrentAttempt(job: JobRecord, started: JobRecord): boolean {
  return job.status === 'active' && job.attempts === started.attempts && job.startedAt === started.startedAt;
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
