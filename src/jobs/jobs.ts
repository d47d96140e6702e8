/**
 * The jobs layer: named job types with handlers and options, jobs added with one call that
 * returns an id at once, and everything needed to follow them — get, search, wait, cancel,
 * retry, live events — plus schedules and remote (HTTP) workers. Built on the engine: a job's
 * ticket is a queue message, its record a store record, its events a topic.
 *
 * States and transitions: see job-states.ts. One attempt's transitions: job-attempts.ts.
 */
import {
  ClosedError,
  errorCatalogue,
  InvalidArgumentError,
  SpoolError,
  WaitTimeoutError,
} from '../core/errors.js';
import { validateName } from '../core/names.js';
import { encodeJson, type JsonValue } from '../core/message.js';
import type { Spool } from '../engine/spool.js';
import { currentTransaction, joinTransaction, type SpoolTransaction } from '../engine/transaction.js';
import { jobDefaults } from '../core/options.js';
import type {
  JobLogLine,
  JobQuery,
  JobRecord,
  JobStatus,
  Leadership,
  Page,
  ScheduleRecord,
} from '../store/port.js';
import {
  type AddJobOptions,
  type BatchJob,
  hashRequest,
  newJobRecord,
  resolveRunAt,
  validateRecord,
  withItemIndex,
} from './add-request.js';
import {
  type ActiveAttempt,
  type FinishHook,
  JobAttempts,
  type JobTicket,
  jobQueueName,
  leaseReceipt,
  transitionTransaction,
} from './job-attempts.js';
import {
  IdempotencyConflictError,
  JobNotFoundError,
  JobStateError,
  remoteFailure,
  ScheduleNotFoundError,
} from './job-errors.js';
import {
  type BulkJobAction,
  type BulkJobFilter,
  type BulkJobOptions,
  type BulkJobResult,
  runBulkAction,
} from './bulk-actions.js';
import { ensureCallbackQueue, sendJobCallback } from './job-callbacks.js';
import { JobAddWrites } from './job-add-writes.js';
import { AddCoalescer } from './add-coalescer.js';
import { JobEvents } from './job-events.js';
import { cancellableStatuses, isFinished, retryableStatuses } from './job-states.js';
import { type JobTypeOptions, type ResolvedJobType, resolveJobType } from './job-types.js';
import { type JobHandler, JobCancelledError, JobWorker } from './job-worker.js';
import { type AddedJob, type AddOutcome, type Job, toJob } from './job.js';
import { type CreateJob, passGate, resolveAddControl } from './add-gates.js';
import { SpoolAttributes, traceProducer } from '../telemetry/tracing.js';
import { RateLimiter } from './rate-limiter.js';
import { type ClaimOptions, claimJobs, type LeasedJob } from './remote-claims.js';
import { type RateBudgetOptions, type RateLimitBudget, readRateBudget } from './start-limits.js';
import { type Breakers, breakersOf } from '../breakers/breakers.js';
import { JobRetention } from './job-retention.js';
import { ticketGroup } from './job-group.js';
import {
  requireSchedule,
  Scheduler,
  type ScheduleOptions,
  setSchedulePaused,
  toScheduleRecord,
} from './scheduler.js';

export interface JobsOptions {
  /** Finished jobs are deleted this long after they finish. @defaultValue 7 days */
  retentionMs?: number;
  /**
   * Keep at most this many finished jobs per type (by `finishedAt`, newest kept); older ones are
   * deleted by the same background sweep as `retentionMs` (every minute), whichever limit is
   * reached first. Jobs that finished in the same millisecond as the oldest kept one are kept
   * too. A type over the limit has its finished jobs scanned on each sweep, so this suits limits
   * up to some tens of thousands. @defaultValue no limit
   */
  retainFinished?: number;
  /** How often running jobs check for a cancel made by another process. @defaultValue 2000 */
  cancelCheckMs?: number;
  /**
   * Longest pause between scheduler looks: how soon a schedule saved by another process is
   * seen. A slot found up to this late still fires (late); older ones count as missed.
   * @defaultValue 1000
   */
  schedulerPollMs?: number;
}

interface TypeEntry {
  readonly type: ResolvedJobType;
  readonly handler: JobHandler | null;
  worker: JobWorker | null;
}

export class Jobs {
  readonly events: JobEvents;
  /** Circuit breakers shared through the store; a job type names one with its `breaker` option. */
  readonly breakers: Breakers;
  readonly #attempts: JobAttempts;
  readonly #adds: AddCoalescer;
  readonly #types = new Map<string, TypeEntry>();
  /** The types defined here, whose limits apply to remote workers' claims too. */
  readonly #typeOf = (type: string) => this.#types.get(type)?.type ?? null;
  readonly #scheduler: Scheduler;
  readonly #options: Required<Omit<JobsOptions, 'retainFinished'>> & { retainFinished: number | null };
  #opened: Promise<void> | undefined;
  readonly #ticketQueues = new Set<string>();
  #started = false;
  #closed = false;
  #retention: JobRetention | undefined;
  /** Leadership of the scheduler and retention among the processes that run `Jobs`. */
  #leadership: Leadership | undefined;

  constructor(
    readonly spool: Spool,
    options: JobsOptions = {},
  ) {
    const { retainFinished } = options;
    if (retainFinished !== undefined && (!Number.isSafeInteger(retainFinished) || retainFinished < 1)) {
      throw new InvalidArgumentError('retainFinished must be a whole number >= 1', {
        field: 'retainFinished',
      });
    }
    this.#options = {
      retentionMs: options.retentionMs ?? 7 * 86_400_000,
      retainFinished: options.retainFinished ?? null,
      cancelCheckMs: options.cancelCheckMs ?? 2_000,
      schedulerPollMs: options.schedulerPollMs ?? 1_000,
    };
    this.events = new JobEvents(spool);
    this.breakers = breakersOf(spool);
    this.#attempts = new JobAttempts(spool, this.events);
    this.#adds = new AddCoalescer(spool, this.events);
    this.#scheduler = new Scheduler(
      spool,
      (schedule, slot, tx) => this.#fireSchedule(schedule, slot, tx),
      this.#options.schedulerPollMs,
    );
  }

  /**
   * Declares a job type: its options, and the handler that runs its jobs in this process (omit
   * it for types run by remote workers). Define before {@link Jobs.start}.
   */
  define<P = JsonValue, R = JsonValue>(
    type: string,
    handler: JobHandler<P, R> | null,
    options: JobTypeOptions = {},
  ): void {
    if (this.#started && handler) throw new InvalidArgumentError(`define "${type}" before jobs.start()`);
    this.#types.set(type, {
      type: resolveJobType(type, options),
      handler: handler as JobHandler | null,
      worker: null,
    });
  }

  /** Starts the workers of the defined handlers, the scheduler and the retention sweep. */
  async start(): Promise<void> {
    await this.#open();
    if (this.#started) return;
    this.#started = true;
    await this.#ensureTicketQueues([...this.#types.keys()]);
    for (const entry of this.#types.values()) {
      if (!entry.handler) continue;
      const limiter = entry.type.rateLimit ? new RateLimiter(entry.type.rateLimit, this.spool.clock) : null;
      entry.worker = new JobWorker(
        this.spool,
        this.#attempts,
        entry.type,
        entry.handler,
        limiter,
        this.#options.cancelCheckMs,
        entry.type.breaker === null ? null : this.breakers.get(entry.type.breaker),
      );
      await entry.worker.start();
    }
    // Its own role, not the store's upkeep leadership: that may be held by a process that never
    // starts Jobs (a producer-only app), and then no schedule would ever fire.
    this.#leadership = this.spool.compete('spool.jobs');
    this.#scheduler.start(this.#leadership);
    this.#retention = new JobRetention(
      this.spool,
      this.#leadership,
      this.#options.retentionMs,
      this.#options.retainFinished,
    );
    this.#retention.start();
  }

  /**
   * Adds a job; resolves with it (status `queued`, `scheduled` or `waiting`) once stored. Called
   * inside `spool.transaction(work)` (or a transactional handler), the add is part of that
   * transaction: the job exists if and only if it commits.
   */
  async add<P extends JsonValue = JsonValue>(
    type: string,
    payload: P,
    options: AddJobOptions = {},
  ): Promise<AddedJob<P>> {
    await this.#open();
    validateName('job type', type);
    await this.#ensureTicketQueues([type, ...(options.children ?? []).map((child) => child.type)]);
    const requestHash = hashRequest(type, payload, options);
    // The add's span context rides on the job's ticket (and its children's) to the worker.
    const created = await traceProducer(
      {
        operation: 'add',
        destination: jobQueueName(type),
        count: 1,
        attributes: { [SpoolAttributes.jobType]: type },
      },
      (traceHeaders) => {
        // Inside `spool.transaction(work)` the add joins that transaction (the outbox): the job
        // exists if and only if the work commits. Outside one, it shares a transaction with the
        // adds made at the same time (add-coalescer.ts).
        const joined = currentTransaction();
        if (joined) return this.#add(joined, type, payload, options, requestHash, traceHeaders);
        return this.#adds.add((tx, writes) =>
          this.#add(tx, type, payload, options, requestHash, traceHeaders, writes),
        );
      },
      (result) => ({ [SpoolAttributes.jobId]: result.job.id }),
    );
    if (created.outcome === 'existing' && created.job.requestHash !== requestHash) {
      throw new IdempotencyConflictError(options.idempotencyKey!);
    }
    return { ...toJob<P>(created.job), outcome: created.outcome };
  }

  /**
   * Adds several jobs in one transaction — all of them or none: a bad item (its index is in the
   * error's `field`, `jobs.3.type`) or an idempotency conflict adds nothing. Each item has its
   * own options, idempotency key included; an item whose key was used before with the same
   * request answers that job again. Resolves with one job per item, in order. One producer span
   * covers the batch; every job's ticket carries it.
   */
  async addBatch(items: readonly BatchJob[]): Promise<AddedJob[]> {
    await this.#open();
    if (items.length === 0) return [];
    for (const [index, item] of items.entries()) {
      await withItemIndex(index, () => Promise.resolve(validateName('job type', item.type)));
    }
    await this.#ensureTicketQueues([
      ...new Set(
        items.flatMap((item) => [item.type, ...(item.options?.children ?? []).map((child) => child.type)]),
      ),
    ]);
    const hashes = items.map((item) => hashRequest(item.type, item.payload ?? null, item.options ?? {}));
    const created = await traceProducer(
      {
        operation: 'add',
        destination: jobQueueName(items[0]!.type),
        count: items.length,
        attributes: { [SpoolAttributes.jobType]: items[0]!.type },
      },
      (traceHeaders) => {
        const work = async (tx: SpoolTransaction) => {
          const writes = new JobAddWrites(tx, this.events);
          const results: { job: JobRecord; outcome: AddOutcome }[] = [];
          for (const [index, item] of items.entries()) {
            const options = item.options ?? {};
            const added = await withItemIndex(index, () =>
              this.#add(tx, item.type, item.payload ?? null, options, hashes[index]!, traceHeaders, writes),
            );
            // Thrown inside the transaction, so nothing of the batch stays.
            if (added.outcome === 'existing' && added.job.requestHash !== hashes[index]) {
              throw new IdempotencyConflictError(options.idempotencyKey!);
            }
            results.push(added);
          }
          await writes.flush();
          return results;
        };
        return joinTransaction(this.spool, work, transitionTransaction);
      },
    );
    return created.map(({ job, outcome }) => ({ ...toJob(job), outcome }));
  }

  async get(id: string): Promise<Job> {
    const record = await this.spool.store.getJob(id);
    if (!record) throw new JobNotFoundError(id);
    return toJob(record);
  }

  /** Jobs matching `query`, newest first, a page at a time. */
  async list(
    query: JobQuery = {},
    page: { limit?: number; after?: string | null } = {},
  ): Promise<{ items: Job[]; next: string | null }> {
    const result = await this.spool.store.listJobs(query, {
      limit: page.limit ?? 50,
      after: page.after ?? null,
    });
    return { items: result.items.map((record) => toJob(record)), next: result.next };
  }

  /** How many jobs there are of each type in each status. */
  counts(): Promise<{ type: string; status: JobStatus; count: number }[]> {
    return this.spool.store.countJobs();
  }

  /**
   * Cancels a job: a waiting one never runs; a running one has its signal aborted and its outcome
   * discarded. A parent's unfinished children (and theirs) are cancelled with it: they only ran
   * for it. A child cancelled on its own ends its waiting parent as `dead` (`ChildJobCancelled`),
   * as a dead child does; retrying the parent starts the child over. Finished jobs cannot be
   * cancelled (`JobStateError`).
   */
  async cancel(id: string): Promise<Job> {
    const descendants = await this.#descendants(id);
    const aborted: string[] = [];
    const cancelled = await this.spool.transaction(async (tx) => {
      // Children before their parent, deepest first (see childFinished in job-attempts.ts).
      const locked: JobRecord[] = [];
      for (const childId of [...descendants].reverse()) {
        const child = await tx.records.lockJob(childId);
        if (child) locked.push(child);
      }
      const record = await tx.records.lockJob(id);
      if (!record) throw new JobNotFoundError(id);
      // A workflow run (src/workflows) cancelled as a plain job would skip its compensations.
      if (record.type.startsWith('spool.workflow.')) {
        throw new SpoolError(
          errorCatalogue.JOB_STATE_CONFLICT,
          `job ${id} is a workflow run: cancel it with workflows.cancel (POST /v1/workflow-runs/${id}/cancel, spool workflows cancel ${id}) so that its compensations run`,
          { jobId: id, status: record.status, operation: 'cancelled' },
        );
      }
      if (!cancellableStatuses.has(record.status)) throw new JobStateError(id, record.status, 'cancelled');
      const updated = await this.#cancelLocked(tx, record);
      aborted.push(id);
      // A child cancelled on its own: its parent can no longer run with all its children done.
      if (updated.parentId) await this.#attempts.childFinished(tx, updated);
      for (const child of locked.reverse()) {
        if (cancellableStatuses.has(child.status)) {
          await this.#cancelLocked(tx, child);
          aborted.push(child.id);
        }
      }
      return updated;
    });
    for (const jobId of aborted) for (const entry of this.#types.values()) entry.worker?.abort(jobId);
    return toJob(cancelled);
  }

  /**
   * Starts a dead or cancelled job over: queued again, attempts from zero. A parent whose
   * children are not all completed waits for them again, and those of its children that died or
   * were cancelled are started over with it. Inside `spool.transaction(work)` it joins that
   * transaction.
   */
  async retry(id: string): Promise<Job> {
    const record = await this.#require(id);
    const children = record.pendingChildren > 0 ? await this.#descendants(id, 1) : [];
    const work = async (tx: SpoolTransaction, traceHeaders: Record<string, string> | undefined) => {
      // Children before their parent (see childFinished in job-attempts.ts).
      const locked: JobRecord[] = [];
      for (const childId of children) {
        const child = await tx.records.lockJob(childId);
        if (child) locked.push(child);
      }
      const current = await tx.records.lockJob(id);
      if (!current) throw new JobNotFoundError(id);
      if (!retryableStatuses.has(current.status)) throw new JobStateError(id, current.status, 'retried');
      const waiting = current.pendingChildren > 0;
      const next = await this.#startOver(tx, current, waiting, traceHeaders);
      if (waiting) {
        for (const child of locked) {
          if (retryableStatuses.has(child.status)) await this.#startOver(tx, child, false, traceHeaders);
        }
      }
      return next;
    };
    const retried = (traceHeaders: Record<string, string> | undefined) =>
      joinTransaction(this.spool, (tx) => work(tx, traceHeaders));
    const updated = await traceProducer(
      {
        operation: 'retry',
        destination: jobQueueName(record.type),
        count: 1,
        attributes: { [SpoolAttributes.jobId]: id, [SpoolAttributes.jobType]: record.type },
      },
      retried,
    );
    return toJob(updated);
  }

  /** Cancels a job locked by `tx`, with its event and webhook. */
  async #cancelLocked(tx: SpoolTransaction, job: JobRecord): Promise<JobRecord> {
    const updated = await tx.records.updateJob(job.id, {
      status: 'cancelled',
      finishedAt: this.spool.clock.now(),
    });
    if (!updated) throw new JobNotFoundError(job.id);
    await this.events.record(tx, updated);
    await sendJobCallback(this.spool, tx, updated);
    return updated;
  }

  /** Puts a job locked by `tx` back to run (or, with `waiting`, to wait for its children). */
  async #startOver(
    tx: SpoolTransaction,
    job: JobRecord,
    waiting: boolean,
    traceHeaders: Record<string, string> | undefined,
  ): Promise<JobRecord> {
    const next = await tx.records.updateJob(job.id, {
      status: waiting ? 'waiting' : 'queued',
      attempts: 0,
      finishedAt: null,
      lastError: null,
      runAt: this.spool.clock.now(),
      progress: 0,
    });
    if (!next) throw new JobNotFoundError(job.id);
    if (!waiting) {
      await tx.send(jobQueueName(next.type), { jobId: next.id } satisfies JobTicket, {
        priority: next.priority,
        ...ticketGroup(next),
        ...(traceHeaders ? { headers: traceHeaders } : {}),
      });
    }
    await this.events.record(tx, next);
    return next;
  }

  /** The ids of a job's children, their children, … down to `depth` levels. */
  async #descendants(id: string, depth = 8): Promise<string[]> {
    const found: string[] = [];
    let level = [id];
    for (let d = 0; d < depth && level.length > 0; d++) {
      const next: string[] = [];
      for (const parentId of level) {
        let after: string | null = null;
        do {
          const page: Page<JobRecord> = await this.spool.store.listJobs(
            { parentId },
            { limit: 1_000, after },
          );
          next.push(...page.items.map((child) => child.id));
          after = page.next;
        } while (after !== null);
      }
      found.push(...next);
      level = next;
    }
    return found;
  }

  /**
   * Resolves with the job once it is finished (completed, dead or cancelled), or rejects with
   * {@link WaitTimeoutError} (`SPOOL_WAIT_TIMEOUT`) after `timeoutMs` (default 60,000).
   */
  async wait(id: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Job> {
    const deadline = this.spool.clock.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const record = await this.#require(id);
      if (isFinished(record.status)) return toJob(record);
      const left = deadline - this.spool.clock.now();
      if (left <= 0 || options.signal?.aborted) {
        throw new WaitTimeoutError(
          `job ${id} is still ${record.status} after waiting ${options.timeoutMs ?? 60_000} ms`,
          { jobId: id, status: record.status },
        );
      }
      // Woken by any job event of this process; the cap catches events of other processes.
      await this.events.waitForNew(Math.min(left, 1_000), options.signal);
    }
  }

  /**
   * Pauses job type `type` in every process on the store: its jobs stay queued (adds still land)
   * and no worker, in process or remote, is handed one until {@link Jobs.resumeType}. Running jobs
   * finish. Persisted and idempotent; a type never used before can be paused ahead of time.
   * Resolves with the time it was paused.
   */
  async pauseType(type: string): Promise<Date> {
    validateName('job type', type);
    await this.#ensureTicketQueues([type]);
    const queue = await this.spool.queue(jobQueueName(type));
    await queue.pause();
    return (await this.typePausedAt(type))!;
  }

  /** Resumes job type `type`: its workers here take jobs at once, other processes' within a second. */
  async resumeType(type: string): Promise<void> {
    validateName('job type', type);
    await this.#ensureTicketQueues([type]);
    await (await this.spool.queue(jobQueueName(type))).resume();
  }

  /** When job type `type` was paused, or null while it runs (or was never used). */
  async typePausedAt(type: string): Promise<Date | null> {
    const queue = await this.spool.openQueue(jobQueueName(type)).catch(() => null);
    const pausedAt = queue ? (await queue.stats()).pausedAt : null;
    return pausedAt === null ? null : new Date(pausedAt);
  }

  // --- schedules ----------------------------------------------------------------------------

  /** Creates or replaces schedule `name`. */
  async schedule(name: string, options: ScheduleOptions): Promise<ScheduleRecord> {
    const record = toScheduleRecord(name, options, this.spool.clock.now());
    await this.#ensureTicketQueues([record.jobType]);
    const saved = await this.spool.transaction((tx) => tx.records.saveSchedule(record));
    if (this.#started) void this.#scheduler.tick();
    return saved;
  }

  schedules(): Promise<ScheduleRecord[]> {
    return this.spool.store.listSchedules();
  }

  /**
   * Adds the job of schedule `name` now, as its next slot would (its type and payload), without
   * moving the schedule: the slots fire as before. Throws `ScheduleNotFoundError` for an unknown
   * schedule (`SPOOL_SCHEDULE_NOT_FOUND`, 404).
   */
  async runScheduleNow(name: string): Promise<Job> {
    const schedule = await this.spool.store.getSchedule(name);
    if (!schedule) throw new ScheduleNotFoundError(name);
    return this.add(schedule.jobType, JSON.parse(schedule.payload) as JsonValue, {
      metadata: { schedule: name, runNow: true },
    });
  }

  /** Schedule `name`, or `ScheduleNotFoundError`. */
  getSchedule(name: string): Promise<ScheduleRecord> {
    return requireSchedule(this.spool, name);
  }

  /**
   * Pauses schedule `name`: it fires nothing until resumed, in every process on the store. Saving
   * it again keeps it paused, so a deployment re-registering its schedules does not undo an
   * operator's pause. Idempotent; `ScheduleNotFoundError` for an unknown name.
   */
  pauseSchedule(name: string): Promise<ScheduleRecord> {
    return setSchedulePaused(this.spool, name, true);
  }

  /**
   * Resumes schedule `name` from its first slot after now; the slots that passed while it was
   * paused are skipped, whatever its missed policy (a pause is on purpose). Idempotent.
   */
  async resumeSchedule(name: string): Promise<ScheduleRecord> {
    const resumed = await setSchedulePaused(this.spool, name, false);
    if (this.#started) void this.#scheduler.tick();
    return resumed;
  }

  unschedule(name: string): Promise<boolean> {
    return this.spool.store.deleteSchedule(name);
  }

  // --- remote workers -------------------------------------------------------------------------

  /**
   * Leases up to `max` runnable jobs of `types` to a remote worker, waiting up to `waitMs` for one.
   * Each is `active` until the worker completes or fails it, or its lease (`leaseMs`) runs out
   * without a heartbeat — then it is run again.
   */
  async claim(types: readonly string[], options: ClaimOptions = {}): Promise<LeasedJob[]> {
    await this.#open();
    await this.#ensureTicketQueues(types);
    return claimJobs(this.spool, this.#attempts, types, options, () => this.#closed, this.#typeOf);
  }

  /**
   * The budget of job type `type`'s `globalRateLimit`, in every process together: how many of
   * its jobs (of job key `key`, with `perKey`) may start now, and when more may. Takes nothing.
   * The limit is the type's as defined here, or `globalRateLimit` for a type this process does
   * not define; without either, `RateLimitNotFoundError`.
   */
  rateBudget(type: string, options: RateBudgetOptions = {}): Promise<RateLimitBudget> {
    const rate = this.#types.get(type)?.type.globalRateLimit ?? options.globalRateLimit;
    return readRateBudget(this.spool, type, rate, options.key ?? null);
  }

  /** A remote worker finished job `id` with `result`. */
  async complete(id: string, lease: string, result: JsonValue): Promise<Job> {
    const attempt = await this.#leased(id, lease);
    const settled = await this.#attempts.succeed(attempt, result);
    if (!settled) throw new JobStateError(id, (await this.#require(id)).status, 'completed');
    return toJob(settled);
  }

  /** A remote worker failed job `id`; it is retried unless `retryable` is false or attempts are used up. */
  async fail(
    id: string,
    lease: string,
    error: { name?: string; message: string; stack?: string },
    retryable = true,
  ): Promise<Job> {
    const attempt = await this.#leased(id, lease);
    const failure = remoteFailure(error);
    const type = this.#types.get(attempt.job.type)?.type ?? resolveJobType(attempt.job.type);
    const settled = await this.#attempts.fail(attempt, failure, type, retryable);
    if (!settled) throw new JobStateError(id, (await this.#require(id)).status, 'failed');
    return toJob(settled);
  }

  /** Extends a remote lease; rejects with `JobStateError` if the job was cancelled meanwhile. */
  async heartbeat(id: string, lease: string, leaseMs = jobDefaults.leaseMs): Promise<Date> {
    const attempt = await this.#leased(id, lease);
    const queue = await this.spool.queue(attempt.message.queue);
    return new Date(await queue.extend(attempt.message.receipt, leaseMs));
  }

  /**
   * Runs a job that waits for its time (`scheduled`, or `retrying` after a failure) now, or a
   * suspended workflow run. Other states are a `JobStateError`. Inside `spool.transaction(work)`
   * it joins that transaction.
   */
  async promote(id: string): Promise<Job> {
    return toJob(await joinTransaction(this.spool, (tx) => this.#attempts.promote(tx, id)));
  }

  /** @internal Spool's own layers (workflows): see `JobAttempts.onFinished`. */
  onFinished(hook: FinishHook): void {
    this.#attempts.onFinished(hook);
  }

  /** Records progress of a job (a remote worker's, or any caller's). */
  async progress(id: string, progress: number, data?: JsonValue): Promise<Job> {
    if (!Number.isFinite(progress))
      throw new InvalidArgumentError('progress must be a number from 0 to 100', { field: 'progress' });
    const updated = await this.#attempts.progress(id, progress, data);
    if (!updated) throw new JobNotFoundError(id);
    return toJob(updated);
  }

  /**
   * Deletes a finished job's record (`completed`, `dead` or `cancelled`): its payload, result,
   * history and logs are gone, and its idempotency key may be used again. A job still in flight is
   * a `JobStateError` (cancel it first); an unknown id is a `JobNotFoundError`.
   */
  async delete(id: string): Promise<void> {
    const [deleted] = await this.deleteMany([id]);
    if (deleted === undefined) throw new JobStateError(id, (await this.#require(id)).status, 'deleted');
  }

  /** Deletes those of `ids` that are finished jobs, in one write; resolves with the ids deleted. */
  deleteMany(ids: readonly string[]): Promise<string[]> {
    return ids.length === 0 ? Promise.resolve([]) : this.spool.store.deleteJobs(ids);
  }

  /**
   * Retries, cancels or deletes every job matching `filter` (`dryRun`: only counts them), each as
   * `retry(id)`, `cancel(id)` or `delete(id)` would; see bulk-actions.ts.
   */
  bulk(action: BulkJobAction, filter: BulkJobFilter, options: BulkJobOptions = {}): Promise<BulkJobResult> {
    return runBulkAction(this, action, filter, options);
  }

  /**
   * Appends lines to the log of a running job (what a remote worker's handler logs; in process,
   * `context.log`). Ignored for a job that is not running; `JobNotFoundError` for an unknown one.
   */
  async log(id: string, lines: readonly { message: string; level?: JobLogLine['level'] }[]): Promise<Job> {
    const updated = await this.#attempts.log(id, lines);
    if (!updated) throw new JobNotFoundError(id);
    return toJob(updated);
  }

  /** Stops workers (letting running jobs finish, at most `timeoutMs`), the scheduler and pruning. */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closed = true;
    // Adds called before the close still reach the store.
    await this.#adds.settled();
    this.#retention?.stop();
    await this.#scheduler.stop();
    await Promise.all(
      [...this.#types.values()].map((entry) => entry.worker?.close(options) ?? Promise.resolve()),
    );
    await this.#leadership?.close();
  }

  // --- internals ----------------------------------------------------------------------------

  #open(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('jobs'));
    this.#opened ??= this.events.open().then(() => ensureCallbackQueue(this.spool));
    return this.#opened;
  }

  /** Adds a job, through the gate of its add control if it has one (src/jobs/add-gates.ts). */
  async #add(
    tx: SpoolTransaction,
    type: string,
    payload: JsonValue,
    options: AddJobOptions,
    requestHash: string | null,
    traceHeaders?: Record<string, string>,
    batched?: JobAddWrites,
  ): Promise<{ job: JobRecord; outcome: AddOutcome }> {
    const control = resolveAddControl(payload ?? null, options);
    const create: CreateJob = (runAt) =>
      this.#insert(
        tx,
        type,
        payload,
        runAt === null ? options : { ...options, runAt },
        requestHash,
        null,
        traceHeaders,
        batched,
      );
    if (!control) {
      const inserted = await create(null);
      return { job: inserted.job, outcome: inserted.created ? 'created' : 'existing' };
    }
    const stored = encodeJson(payload ?? null, 'job payload');
    return passGate(tx, type, control, stored, this.spool.clock.now(), create);
  }

  async #insert(
    tx: SpoolTransaction,
    type: string,
    payload: JsonValue,
    options: AddJobOptions,
    requestHash: string | null,
    parentId: string | null,
    traceHeaders?: Record<string, string>,
    /** Gathers the event and ticket for a batch's single write instead of writing them now. */
    batched?: JobAddWrites,
  ): Promise<{ job: JobRecord; created: boolean }> {
    const typeOptions = this.#types.get(type)?.type ?? resolveJobType(type);
    const now = this.spool.clock.now();
    const runAt = resolveRunAt(options, now);
    const children = options.children ?? [];
    const record = newJobRecord({
      type,
      payload,
      options,
      defaults: typeOptions,
      now,
      runAt,
      parentId,
      requestHash,
    });
    validateRecord(record);
    const inserted = await tx.records.insertJob(record);
    if (!inserted.created) return inserted;
    if (batched) batched.created(record);
    else await this.events.record(tx, record);
    if (record.status !== 'waiting') {
      const ticket = {
        body: { jobId: record.id } satisfies JobTicket,
        priority: record.priority,
        ...ticketGroup(record),
        notBefore: runAt,
        ...(traceHeaders ? { headers: traceHeaders } : {}),
      };
      if (batched) batched.ticket(jobQueueName(type), ticket);
      else await tx.sendBatch(jobQueueName(type), [ticket]);
    }
    for (const child of children) {
      await this.#insert(
        tx,
        child.type,
        child.payload ?? null,
        child.options ?? {},
        null,
        record.id,
        traceHeaders,
        batched,
      );
    }
    return inserted;
  }

  async #fireSchedule(schedule: ScheduleRecord, slot: number, tx: SpoolTransaction): Promise<void> {
    await this.#insert(
      tx,
      schedule.jobType,
      JSON.parse(schedule.payload) as JsonValue,
      { metadata: { schedule: schedule.name, slot: new Date(slot).toISOString() } },
      null,
      null,
    );
  }

  /**
   * Creates the ticket queues of `types` if needed. Attempts are counted and limited on the job,
   * so the queue itself never dead-letters a ticket (a rate-limited ticket may go back many times).
   */
  async #ensureTicketQueues(types: readonly string[]): Promise<void> {
    for (const type of types) {
      if (this.#ticketQueues.has(type)) continue;
      const name = jobQueueName(type);
      resolveJobType(type);
      if (!(await this.spool.store.getQueue(name))) {
        await this.spool.queue(name, { maxAttempts: 1_000_000, visibilityTimeoutMs: 30_000 });
      }
      this.#ticketQueues.add(type);
    }
  }

  async #require(id: string): Promise<JobRecord> {
    const record = await this.spool.store.getJob(id);
    if (!record) throw new JobNotFoundError(id);
    return record;
  }

  /**
   * The attempt a remote lease stands for. Leases are `<queue>/<receipt>` and checked by the
   * store when settled (a lost lease fails with `StaleReceiptError`), so any server process on
   * the store can take a remote worker's calls.
   */
  async #leased(id: string, lease: string): Promise<ActiveAttempt> {
    const job = await this.#require(id);
    const receipt = leaseReceipt(job, lease);
    const queue = await this.spool.queue(jobQueueName(job.type));
    if (job.status !== 'active') {
      // Let a remote worker of a cancelled job stop: settle the ticket, then say why.
      if (job.status === 'cancelled') await queue.ack(receipt).catch(() => undefined);
      throw new JobStateError(id, job.status, 'settled with this lease');
    }
    return { job, message: { queue: queue.name, receipt, ack: () => queue.ack(receipt) } };
  }
}

export { JobCancelledError };
export {
  IdempotencyConflictError,
  JobNotFoundError,
  JobStateError,
  ScheduleNotFoundError,
} from './job-errors.js';
export type { AddJobOptions, BatchJob } from './add-request.js';
export type { LeasedJob } from './remote-claims.js';
