/**
 * A consumer-group member: the engine side of the rebalance protocol described on
 * `GroupMembership` in the store port.
 *
 * States: joining → running → closing → closed. While running, a heartbeat every
 * `heartbeatIntervalMs` tells the member which partitions it is assigned and which it owns. It
 * runs one partition worker per partition that is both; a worker whose partition is no longer
 * assigned finishes its current event, commits and stops, and only then is the partition released
 * to its new owner. That ordering — stop, commit, release, and only then acquire elsewhere — is
 * what keeps two members off one partition. A member that cannot heartbeat for a whole session
 * pauses its workers (its partitions may be given away); a member the group has dropped rejoins.
 *
 * Heartbeats and commits go through one serial chain, so a heartbeat answer (which may reveal a
 * seek, or a lost partition) is applied before the next commit is sent. A seek frees every
 * partition in the store, so a commit from a pre-seek position is refused rather than undoing
 * the seek; the member drops such workers without committing and restarts from the new offsets.
 *
 * Within a partition events are handled one at a time in offset order; offsets are committed
 * after each fetched batch (at-least-once: a crash repeats at most the uncommitted batch). A
 * handler that throws is retried in place with backoff (keeping order) up to `maxAttempts`, after
 * which the event goes to `deadLetterQueue` — which is why a finite `maxAttempts` needs one.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { newId } from '../core/ids.js';
import { backoffDelay, defaultBackoff, type BackoffOptions } from '../core/backoff.js';
import {
  InvalidArgumentError,
  NonRetryableError,
  NotPartitionOwnerError,
  RetryAfterError,
  UnknownMemberError,
} from '../core/errors.js';
import { describeError, type MessageBody } from '../core/message.js';
import { groupMemberDefaults, resolveQueueConfig } from '../core/options.js';
import type { GroupMembership, LogEvent } from '../store/port.js';
import { eventFields } from '../telemetry/logging.js';
import type { Closeable, EngineContext } from './context.js';
import { toTopicEvent, type TopicEvent } from './topic-event.js';
import { runTransaction, type SpoolTransaction } from './transaction.js';
import type { WakeSignal } from './wake-signal.js';
import type { WorkerHandle } from './workers.js';

/** How often members look whether their group was paused in another process. */
const pauseLookMs = 1_000;

export interface EventContext {
  /** Aborted when the member loses the partition or closes past its timeout. */
  readonly signal: AbortSignal;
  /** This event's attempt (1 on first delivery; rises while a failing event is retried). */
  readonly attempt: number;
  /** In transactional mode: writes here commit atomically with the event's offset. */
  readonly tx?: SpoolTransaction;
}

export type EventHandler<T = MessageBody> = (event: TopicEvent<T>, context: EventContext) => unknown;

export interface SubscribeOptions<T = MessageBody> {
  /** Where a group that does not exist yet starts. @defaultValue 'earliest' */
  startFrom?: 'earliest' | 'latest';
  /** A member silent for this long is dropped and its partitions reassigned. @defaultValue 10000 */
  sessionTimeoutMs?: number;
  /** @defaultValue a third of `sessionTimeoutMs` */
  heartbeatIntervalMs?: number;
  /** Events fetched per read; offsets are committed after each batch. @defaultValue 100 */
  batchSize?: number;
  /** @defaultValue `${hostname}-${pid}-${random}` */
  memberId?: string;
  /** Commit each event's offset in one store transaction with the writes made through `context.tx`. */
  transactional?: boolean;
  /** Attempts per event before it goes to `deadLetterQueue`. @defaultValue Infinity (retry until it succeeds) */
  maxAttempts?: number;
  /** Delay between attempts of a failing event. @defaultValue `{ baseMs: 1000, capMs: 300000, jitter: 'full' }` */
  backoff?: Partial<BackoffOptions>;
  /** A queue that receives events that failed `maxAttempts` times (created if missing). */
  deadLetterQueue?: string;
  /** Called for handler failures and for membership or store errors. */
  onError?: (error: unknown, event?: TopicEvent<T>) => void;
}

interface ResolvedOptions {
  startFrom: 'earliest' | 'latest';
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  batchSize: number;
  transactional: boolean;
  maxAttempts: number;
  backoff: BackoffOptions;
  deadLetterQueue: string | null;
}

/** The topic a subscription reads, as the subscription needs it. */
export interface SubscribedTopic {
  readonly name: string;
}

export class Subscription<T = MessageBody> implements Closeable {
  readonly memberId: string;
  readonly #options: ResolvedOptions;
  readonly #workers = new Map<number, PartitionWorker<T>>();
  readonly #stopping = new Map<number, Promise<void>>();
  /** Every worker that has not ended yet, running or stopping: what a close timeout abandons. */
  readonly #live = new Set<PartitionWorker<T>>();
  readonly #closed = new AbortController();
  #serial: Promise<unknown> = Promise.resolve();
  #seekEpoch: number | undefined;
  #lastHeartbeatOkAt = -Infinity;
  #heartbeatTimer: ReturnType<EngineContext['clock']['setTimer']> | undefined;
  #started: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #onStopped: () => void = () => {};
  #processed = 0;
  /** Events whose handler runs now (one per partition at most). */
  #handling = 0;
  #registration: WorkerHandle | undefined;

  constructor(
    readonly context: EngineContext,
    readonly topic: SubscribedTopic,
    readonly group: string,
    readonly handler: EventHandler<T>,
    private readonly userOptions: SubscribeOptions<T>,
  ) {
    this.memberId = userOptions.memberId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.#options = resolveSubscribeOptions(userOptions);
  }

  /** Events whose handler resolved in this member. */
  get processed(): number {
    return this.#processed;
  }

  /** Partitions this member is reading now. */
  get partitions(): number[] {
    return [...this.#workers.keys()].sort((a, b) => a - b);
  }

  get options(): Readonly<ResolvedOptions> {
    return this.#options;
  }

  /** @internal */
  start(onStopped: () => void): void {
    this.#onStopped = onStopped;
    this.#registration = this.context.workers.register({
      kind: 'subscription',
      serves: { topic: this.topic.name, group: this.group, member: this.memberId },
      concurrency: 0,
      // One event at a time per partition read: its concurrency is the partitions it owns.
      stats: () => ({
        inFlight: this.#handling,
        processed: this.#processed,
        concurrency: this.#workers.size,
      }),
    });
    this.#started = this.#join().catch((error: unknown) => this.report(error));
  }

  /** Resolves once the member has joined and started its first partitions. */
  ready(): Promise<void> {
    return this.#started;
  }

  /**
   * Finishes the events being handled, commits, and leaves the group so the partitions move to
   * other members at once. After `timeoutMs` (default 30 s) it stops waiting: the handlers still
   * running get their AbortSignals fired, what was finished before them is committed, their
   * events are not (another member, or the next subscription, gets them again: at-least-once),
   * and the member leaves the group all the same.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeoutMs ?? 30_000);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#closed.abort();
    if (this.#heartbeatTimer) this.context.clock.clearTimer(this.#heartbeatTimer);
    await this.#started;
    const stops = [...this.#workers.keys()].map((partition) =>
      this.#stopWorker(partition, { release: false }),
    );
    const drained = Promise.all([...stops, ...this.#stopping.values()]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      // eslint-disable-next-line no-restricted-globals -- close({ timeoutMs }) bounds how long the caller's process waits: real time, even under a TestClock
      timer = setTimeout(() => resolve(true), timeoutMs);
      timer.unref();
    });
    if (await Promise.race([drained.then(() => false), timedOut])) {
      // Handlers that outlived the timeout: abort them and stop waiting for them.
      await Promise.all([...this.#live].map((worker) => worker.abandon()));
    }
    clearTimeout(timer);
    try {
      await this.serial(() => this.context.store.leaveGroup(this.topic.name, this.group, this.memberId));
    } catch (error) {
      if (!this.context.closed) this.report(error);
    }
    await this.#registration?.close();
    this.#onStopped();
  }

  /** Runs store calls that must not overlap (heartbeats and commits) one after another. */
  serial<R>(work: () => Promise<R>): Promise<R> {
    const next = this.#serial.then(work, work);
    this.#serial = next.catch(() => undefined);
    return next;
  }

  #pausedAt: number | null = null;
  #pauseLookedAt = Number.NEGATIVE_INFINITY;
  #pauseVersion = -1;
  #pauseLookup: Promise<void> | undefined;

  /** Notified when this process pauses or resumes the group. */
  get pauseSignal(): WakeSignal {
    return this.context.groupPauses.for(`${this.topic.name}\n${this.group}`);
  }

  /**
   * Whether an operator paused the group: looked up in the store at most once a second (shared
   * by this member's partition workers, so other processes' pauses are seen within a second) and
   * at once after a pause or resume in this process. A failed look keeps the last answer.
   */
  async paused(): Promise<boolean> {
    const signal = this.pauseSignal;
    const stale =
      signal.version !== this.#pauseVersion || this.context.clock.now() - this.#pauseLookedAt >= pauseLookMs;
    if (stale) {
      this.#pauseLookup ??= (async () => {
        const version = signal.version;
        try {
          this.#pausedAt = await this.context.store.groupPausedAt(this.topic.name, this.group);
          this.#pauseVersion = version;
        } catch (error) {
          if (!this.context.closed) this.report(error);
        } finally {
          this.#pauseLookedAt = this.context.clock.now();
          this.#pauseLookup = undefined;
        }
      })();
      await this.#pauseLookup;
    }
    return this.#pausedAt !== null;
  }

  /** True while the last successful heartbeat is recent enough that our ownership still holds. */
  ownershipFresh(): boolean {
    return this.context.clock.now() - this.#lastHeartbeatOkAt < this.#options.sessionTimeoutMs;
  }

  countProcessed(): void {
    this.#processed++;
  }

  /** Counts a handler starting (+1) or ending (-1), for the workers registry. */
  countHandling(delta: 1 | -1): void {
    this.#handling += delta;
  }

  report(error: unknown, event?: TopicEvent<T>): void {
    if (this.userOptions.onError) this.userOptions.onError(error, event);
    else if (!this.context.closed && !this.#closed.signal.aborted) {
      this.context.logger.error(
        {
          ...(event ? eventFields(event, this.group) : { topic: this.topic.name, group: this.group }),
          memberId: this.memberId,
          err: error,
        },
        'consumer group member error',
      );
    }
  }

  async #join(): Promise<void> {
    const { store } = this.context;
    if (this.#options.deadLetterQueue && !(await store.getQueue(this.#options.deadLetterQueue))) {
      await store.saveQueue(resolveQueueConfig(this.#options.deadLetterQueue));
    }
    const requestedAt = this.context.clock.now();
    const membership = await this.serial(() =>
      store.joinGroup(this.topic.name, this.group, {
        memberId: this.memberId,
        sessionTimeoutMs: this.#options.sessionTimeoutMs,
        startFrom: this.#options.startFrom,
      }),
    );
    this.#lastHeartbeatOkAt = requestedAt;
    await this.#apply(membership);
    this.#scheduleHeartbeat();
  }

  #scheduleHeartbeat(): void {
    if (this.#closed.signal.aborted) return;
    this.#heartbeatTimer = this.context.clock.setTimer(() => {
      void this.#heartbeat().finally(() => this.#scheduleHeartbeat());
    }, this.#options.heartbeatIntervalMs);
  }

  async #heartbeat(): Promise<void> {
    if (this.#closed.signal.aborted || this.context.closed) return;
    const requestedAt = this.context.clock.now();
    try {
      const membership = await this.serial(() =>
        this.context.store.heartbeat(this.topic.name, this.group, this.memberId),
      );
      this.#lastHeartbeatOkAt = requestedAt;
      await this.#apply(membership);
    } catch (error) {
      if (this.#closed.signal.aborted || this.context.closed) return;
      if (error instanceof UnknownMemberError) {
        // The group dropped us (we were silent too long): our partitions may already be elsewhere.
        this.#fenceAll();
        await Promise.all(this.#stopping.values());
        await this.#join();
        return;
      }
      this.report(error);
      if (!this.ownershipFresh()) this.#fenceAll();
    }
  }

  async #apply(membership: GroupMembership): Promise<void> {
    if (this.#closed.signal.aborted) return;
    if (this.#seekEpoch !== undefined && membership.seekEpoch !== this.#seekEpoch) {
      // A seek freed our partitions in the store: drop progress that is older than the seek.
      this.#fenceAll();
    }
    this.#seekEpoch = membership.seekEpoch;
    const owned = new Set(membership.owned);
    const keep = new Set(membership.assigned.filter((partition) => owned.has(partition)));
    for (const partition of [...this.#workers.keys()]) {
      if (!keep.has(partition)) void this.#stopWorker(partition, { release: owned.has(partition) });
    }
    const starting: Promise<void>[] = [];
    for (const partition of keep) {
      if (!this.#workers.has(partition)) starting.push(this.#startWorker(partition));
    }
    // Partitions we own but are not assigned, without a worker (e.g. after a fence): hand them over.
    const idle = membership.owned.filter(
      (partition) => !keep.has(partition) && !this.#workers.has(partition),
    );
    if (idle.length > 0) {
      await Promise.all(idle.map((partition) => this.#stopping.get(partition) ?? Promise.resolve()));
      await this.serial(() =>
        this.context.store.releasePartitions(this.topic.name, this.group, this.memberId, idle),
      );
    }
    await Promise.all(starting);
  }

  async #startWorker(partition: number): Promise<void> {
    const worker = new PartitionWorker<T>(this, partition);
    this.#workers.set(partition, worker);
    this.#live.add(worker);
    await this.#stopping.get(partition);
    const state = await this.context.store.groupState(this.topic.name, this.group);
    const committed = state?.committed.find((c) => c.partition === partition)?.offset ?? 0;
    if (this.#workers.get(partition) !== worker) return;
    worker.run(committed);
  }

  #stopWorker(partition: number, options: { release: boolean }): Promise<void> {
    const worker = this.#workers.get(partition);
    if (!worker) return Promise.resolve();
    this.#workers.delete(partition);
    const stopped = worker
      .stop()
      .then(async () => {
        if (options.release && !worker.fenced) {
          await this.serial(() =>
            this.context.store.releasePartitions(this.topic.name, this.group, this.memberId, [partition]),
          );
        }
      })
      .catch((error: unknown) => this.report(error))
      .finally(() => {
        this.#live.delete(worker);
        if (this.#stopping.get(partition) === stopped) this.#stopping.delete(partition);
      });
    this.#stopping.set(partition, stopped);
    return stopped;
  }

  /** Stops every worker without a final commit: their positions may predate a seek or a takeover. */
  #fenceAll(): void {
    for (const [partition, worker] of [...this.#workers]) {
      worker.fence();
      void this.#stopWorker(partition, { release: false });
    }
  }
}

/** Reads one partition in offset order and commits progress; one per owned partition. */
class PartitionWorker<T> {
  #position = 0;
  #committed = 0;
  #fenced = false;
  /** Set by a close timeout: the worker is left behind, and commits nothing more. */
  #abandoned = false;
  readonly #stop = new AbortController();
  readonly #handlerAbort = new AbortController();
  #done: Promise<void> = Promise.resolve();

  constructor(
    private readonly member: Subscription<T>,
    readonly partition: number,
  ) {}

  get fenced(): boolean {
    return this.#fenced;
  }

  run(committed: number): void {
    this.#position = committed;
    this.#committed = committed;
    this.#done = this.#loop().catch((error: unknown) => this.member.report(error));
  }

  /** Finishes the current event, commits, and resolves when the worker has ended. */
  stop(): Promise<void> {
    this.#stop.abort();
    return this.#done;
  }

  /** From now on nothing is committed: the partition's ownership or offsets changed under us. */
  fence(): void {
    this.#fenced = true;
    this.#stop.abort();
  }

  /**
   * The close timeout ran out: aborts the running handler and stops, commits the events
   * finished before it (its own event is not: it is delivered again), and from then on commits
   * nothing, whenever the handler settles. Resolves without waiting for the handler.
   */
  async abandon(): Promise<void> {
    if (this.#abandoned) return;
    const finished = this.#position;
    this.#abandoned = true;
    this.#stop.abort();
    this.#handlerAbort.abort();
    if (!this.member.options.transactional) await this.#commit(finished);
  }

  async #loop(): Promise<void> {
    const { context, topic, options } = this.member;
    const signal = context.topicSignals.for(topic.name);
    while (!this.#stop.signal.aborted) {
      if (!this.member.ownershipFresh()) {
        // Heartbeats are failing: stop reading until one succeeds rather than risk a second owner.
        await signal.wait(options.heartbeatIntervalMs, this.#stop.signal);
        continue;
      }
      if (await this.member.paused()) {
        // Paused by an operator: keep the partition and its position, look again within a second.
        await this.member.pauseSignal.wait(pauseLookMs, this.#stop.signal);
        continue;
      }
      const version = signal.version;
      const result = await context.store.read(topic.name, this.partition, this.#position, options.batchSize);
      // Retention may have trimmed past our position: continue at the first kept event.
      this.#position = Math.max(this.#position, result.startOffset);
      if (result.events.length === 0) {
        await signal.wait(context.safetyPollMs, this.#stop.signal, version);
        continue;
      }
      for (const event of result.events) {
        if (this.#stop.signal.aborted) break;
        if (!(await this.#handle(event))) break;
        this.#position = event.offset + 1;
      }
      if (!options.transactional) await this.#commit();
    }
    if (!options.transactional) await this.#commit();
  }

  /** Commits `offset` (by default the position reached); an abandoned worker's loop commits nothing. */
  async #commit(offset = this.#abandoned ? this.#committed : this.#position): Promise<void> {
    if (this.#fenced || offset <= this.#committed) return;
    const { context, topic, group, memberId } = this.member;
    try {
      await this.member.serial(() => {
        // A heartbeat answer applied while we queued may have fenced us.
        if (this.#fenced) return Promise.resolve();
        return context.store.commitOffset(topic.name, group, memberId, this.partition, offset);
      });
      if (!this.#fenced) this.#committed = offset;
    } catch (error) {
      if (error instanceof NotPartitionOwnerError || error instanceof UnknownMemberError) this.fence();
      else throw error;
    }
  }

  /** Handles one event with in-place retries. Resolves false if the worker stopped before it succeeded. */
  async #handle(record: LogEvent): Promise<boolean> {
    const { context, topic, group, memberId, options, handler } = this.member;
    const event = toTopicEvent<T>(record);
    for (let attempt = 1; ; attempt++) {
      this.member.countHandling(1);
      try {
        if (options.transactional) {
          if (this.#fenced) return false;
          await runTransaction(context, async (tx) => {
            await handler(event, { signal: this.#handlerAbort.signal, attempt, tx });
            // Abandoned at close: roll the handler's writes back with its offset.
            if (this.#abandoned) throw new AbandonedError();
            await tx.commitOffset(topic.name, group, memberId, this.partition, event.offset + 1);
          });
          this.#committed = event.offset + 1;
        } else {
          await handler(event, { signal: this.#handlerAbort.signal, attempt });
        }
        this.member.countHandling(-1);
        this.member.countProcessed();
        return true;
      } catch (error) {
        this.member.countHandling(-1);
        if (error instanceof NotPartitionOwnerError || error instanceof UnknownMemberError) {
          this.fence();
          return false;
        }
        // Aborted by the close timeout: the event is delivered again, not retried or dead-lettered here.
        if (this.#abandoned) return false;
        this.member.report(error, event);
        const giveUp = error instanceof NonRetryableError || attempt >= options.maxAttempts;
        if (giveUp && options.deadLetterQueue) {
          await this.#deadLetter(record, error, attempt);
          context.logger.warn(
            { ...eventFields(event, group), deadLetterQueue: options.deadLetterQueue, err: error },
            'event dead-lettered',
          );
          return true;
        }
        const delayMs =
          error instanceof RetryAfterError ? error.retryAfterMs : backoffDelay(attempt, options.backoff);
        await sleep(context, delayMs, this.#stop.signal);
        if (this.#stop.signal.aborted) return false;
      }
    }
  }

  async #deadLetter(record: LogEvent, error: unknown, attempts: number): Promise<void> {
    const { context, topic, group, options } = this.member;
    const failure = describeError(error);
    await context.store.enqueue(options.deadLetterQueue!, [
      {
        id: newId(),
        payload: record.payload,
        key: null,
        priority: 0,
        availableAt: context.clock.now(),
        // A retry of this dead-lettering after a crash must not store the event twice.
        dedupId: `${topic.name}/${group}/${this.partition}/${record.offset}`,
        headers: {
          ...record.headers,
          'spool-topic': topic.name,
          'spool-group': group,
          'spool-partition': String(this.partition),
          'spool-offset': String(record.offset),
          'spool-event-id': record.id,
          'spool-attempts': String(attempts),
          'spool-error': `${failure.name}: ${failure.message}`.slice(0, 1000),
        },
      },
    ]);
    context.queueSignals.for(options.deadLetterQueue!).notify();
  }
}

/** Rolls back the transaction of a handler that settled after its worker was abandoned. */
class AbandonedError extends Error {
  override readonly name = 'AbandonedError';
}

function resolveSubscribeOptions<T>(options: SubscribeOptions<T>): ResolvedOptions {
  const sessionTimeoutMs = options.sessionTimeoutMs ?? groupMemberDefaults.subscriberSessionTimeoutMs;
  const resolved: ResolvedOptions = {
    startFrom: options.startFrom ?? groupMemberDefaults.startFrom,
    sessionTimeoutMs,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? Math.max(1, Math.floor(sessionTimeoutMs / 3)),
    batchSize: options.batchSize ?? groupMemberDefaults.batchSize,
    transactional: options.transactional ?? false,
    maxAttempts: options.maxAttempts ?? Infinity,
    backoff: { ...defaultBackoff, ...options.backoff },
    deadLetterQueue: options.deadLetterQueue ?? null,
  };
  if (!Number.isInteger(sessionTimeoutMs) || sessionTimeoutMs < 10) {
    throw new InvalidArgumentError('subscribe: sessionTimeoutMs must be an integer >= 10', {
      field: 'sessionTimeoutMs',
    });
  }
  if (resolved.heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new InvalidArgumentError('subscribe: heartbeatIntervalMs must be below sessionTimeoutMs', {
      field: 'heartbeatIntervalMs',
    });
  }
  if (!Number.isInteger(resolved.batchSize) || resolved.batchSize < 1 || resolved.batchSize > 10_000) {
    throw new InvalidArgumentError('subscribe: batchSize must be an integer from 1 to 10000', {
      field: 'batchSize',
    });
  }
  if (!(resolved.maxAttempts >= 1)) {
    throw new InvalidArgumentError('subscribe: maxAttempts must be >= 1', { field: 'maxAttempts' });
  }
  if (Number.isFinite(resolved.maxAttempts) && !resolved.deadLetterQueue) {
    throw new InvalidArgumentError(
      'subscribe: a finite maxAttempts needs a deadLetterQueue, or events that keep failing would be dropped',
      { field: 'deadLetterQueue' },
    );
  }
  return resolved;
}

/** Waits `ms` of clock time, or less if `signal` aborts. */
function sleep(context: EngineContext, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = context.clock.setTimer(finish, Math.max(0, ms));
    function finish() {
      context.clock.clearTimer(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    }
    signal.addEventListener('abort', finish, { once: true });
  });
}
