/**
 * The entry point of the engine: one `Spool` per store. It hands out {@link Queue} and
 * {@link Topic} handles, runs atomic transactions across them, performs background upkeep, and
 * shuts everything down in order on `close()`: consumers first (so in-flight work settles),
 * then the store (so every acknowledged write is flushed).
 */
import { InvalidArgumentError, QueueNotFoundError, TopicNotFoundError } from '../core/errors.js';
import {
  resolveQueueConfig,
  resolveTopicConfig,
  type QueueOptions,
  type TopicOptions,
} from '../core/options.js';
import type { QueueConfig, TopicConfig } from '../core/options.js';
import type { Leadership, QueueStats, Store, TransactionOptions } from '../store/port.js';
import { defaultLogger, type SpoolLogger } from '../telemetry/logging.js';
import { EngineContext } from './context.js';
import type { Instrumentation, InstrumentationHub } from './instrumentation.js';
import { WakeSignal } from './wake-signal.js';
import type { Workers } from './workers.js';
import { Queue } from './queue.js';
import { Topic } from './topic.js';
import { runTransaction, type SpoolTransaction } from './transaction.js';
import { assertNotReserved } from './reserved-names.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { MessageBody } from '../core/message.js';

export interface SpoolOptions {
  /** Where messages live, e.g. `await openSqliteStore({ path })`. Spool closes it on `close()`. */
  store: Store;
  /**
   * How often idle consumers check for writes made by other processes sharing the store.
   * In-process sends wake consumers at once; this is only the safety net.
   * @defaultValue 1000
   */
  safetyPollMs?: number;
  /** How often dedup ids, processed markers and topic retention are swept. @defaultValue 60000 */
  maintenanceIntervalMs?: number;
  /** How long {@link Spool.once} remembers a processed message id. @defaultValue 604800000 (7 days) */
  processedRetentionMs?: number;
  /**
   * How often this process heartbeats its workers to the store (one write for all of them; see
   * {@link Spool.workers}). A worker unseen for three intervals is listed as stale.
   * @defaultValue 5000
   */
  workerHeartbeatMs?: number;
  /** How long a stale worker's record is kept before upkeep deletes it. @defaultValue 3600000 (1 hour) */
  workerRetentionMs?: number;
  /**
   * Receives counts and timings as the engine works (sends, acks, retries, dead letters,
   * handler durations, store commits): e.g. `new SpoolMetrics()` from the observability module.
   * More can be attached later with {@link Spool.instrument}. @defaultValue none
   */
  instrumentation?: Instrumentation;
  /**
   * Where the engine logs, as JSON lines: consumer and store errors, dead letters, and (at
   * `debug`) each message processed or retried, with its queue, message id and trace id. A pino
   * logger, e.g. `createLogger({ level: 'debug' })` or your application's. @defaultValue stderr at
   * `SPOOL_LOG_LEVEL`, else `info`
   */
  logger?: SpoolLogger;
}

/** The result of {@link Spool.once}. */
export type OnceResult<T> = { readonly ran: true; readonly result: T } | { readonly ran: false };

export class Spool {
  readonly #context: EngineContext;
  readonly #processedRetentionMs: number;
  readonly #workerRetentionMs: number;
  readonly #maintenanceIntervalMs: number;
  readonly #leadership: Leadership;
  /** Leaderships taken with {@link Spool.compete}, given up on close. */
  readonly #roles = new Set<Leadership>();
  #maintenanceTimer: TimerHandle | undefined;
  /** Resolves with the function that stops listening to the store's cross-process notices. */
  readonly #listening: Promise<(() => void) | undefined>;
  #stopObservingCommits: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link createSpool}. */
  constructor(options: SpoolOptions) {
    const safetyPollMs = options.safetyPollMs ?? 1000;
    this.#maintenanceIntervalMs = options.maintenanceIntervalMs ?? 60_000;
    this.#processedRetentionMs = options.processedRetentionMs ?? 7 * 24 * 3_600_000;
    this.#workerRetentionMs = options.workerRetentionMs ?? 3_600_000;
    const workerHeartbeatMs = options.workerHeartbeatMs ?? 5_000;
    for (const [field, value] of Object.entries({
      safetyPollMs,
      maintenanceIntervalMs: this.#maintenanceIntervalMs,
      processedRetentionMs: this.#processedRetentionMs,
      workerHeartbeatMs,
      workerRetentionMs: this.#workerRetentionMs,
    })) {
      if (!Number.isInteger(value) || value < 1) {
        throw new InvalidArgumentError(`${field} must be a whole number of milliseconds >= 1`, { field });
      }
    }
    this.#context = new EngineContext(
      options.store,
      safetyPollMs,
      options.logger ?? defaultLogger(),
      workerHeartbeatMs,
    );
    if (options.instrumentation) this.instrument(options.instrumentation);
    this.#leadership = options.store.leadership?.('spool') ?? soleLeadership;
    this.#listening = this.#listenToOtherProcesses();
    this.#scheduleMaintenance();
  }

  /** The store this instance runs on. */
  get store(): Store {
    return this.#context.store;
  }

  /**
   * The workers registry: every consumer, subscription, job worker and polled group member of
   * every process sharing the store, with its host, pid, what it serves, concurrency, in-flight
   * and processed counts and when it was last seen (`list()`); `remove(id)` deletes a stale one;
   * `register(…)` adds a worker this process serves remotely (see {@link Workers}).
   */
  get workers(): Workers {
    return this.#context.workers;
  }

  /**
   * Opens queue `name`, creating it if needed. With `options`, the queue's configuration is set
   * to them (unspecified fields take their defaults); without, a stored configuration is kept.
   */
  async queue<T = MessageBody>(name: string, options?: QueueOptions): Promise<Queue<T>> {
    this.#context.assertOpen();
    const { store } = this.#context;
    let config: QueueConfig | null = options === undefined ? await store.getQueue(name) : null;
    config ??= await store.saveQueue(resolveQueueConfig(name, options));
    return new Queue<T>(this.#context, Object.freeze(config));
  }

  /**
   * Opens topic `name`, creating it if needed. With `options`, retention is updated; a different
   * partition count than the stored one is refused (`ConfigConflictError`).
   */
  async topic<T = MessageBody>(name: string, options?: TopicOptions): Promise<Topic<T>> {
    this.#context.assertOpen();
    const { store } = this.#context;
    let config: TopicConfig | null = options === undefined ? await store.getTopic(name) : null;
    config ??= await store.saveTopic(resolveTopicConfig(name, options));
    return new Topic<T>(this.#context, Object.freeze(config));
  }

  /**
   * Creates queue `name` with `options` (unspecified fields take their defaults), or replaces
   * the whole configuration of the existing one; `created` says which (an HTTP PUT answers 201
   * or 200 from it). Two callers creating the same queue at the same moment may both be told
   * `created`; the configuration stored is the last one written either way.
   */
  async putQueue<T = MessageBody>(
    name: string,
    options: QueueOptions = {},
  ): Promise<{ queue: Queue<T>; created: boolean }> {
    this.#context.assertOpen();
    const created = (await this.#context.store.getQueue(name)) === null;
    return { queue: await this.queue<T>(name, options), created };
  }

  /**
   * Creates topic `name` with `options`, or updates the retention of the existing one (a
   * different partition count is refused, `ConfigConflictError`); `created` says which, as for
   * {@link Spool.putQueue}.
   */
  async putTopic<T = MessageBody>(
    name: string,
    options: TopicOptions = {},
  ): Promise<{ topic: Topic<T>; created: boolean }> {
    this.#context.assertOpen();
    const created = (await this.#context.store.getTopic(name)) === null;
    return { topic: await this.topic<T>(name, options), created };
  }

  /**
   * A queue's depths and counts without opening it, so a listing never re-creates a queue
   * deleted meanwhile: `QueueNotFoundError` then.
   */
  queueStats(name: string): Promise<QueueStats> {
    this.#context.assertOpen();
    return this.#context.store.queueStats(name);
  }

  /**
   * Opens queue `name` only if it exists: `QueueNotFoundError` otherwise. For callers that must
   * not create queues by accident (an HTTP API, where a typo in a URL is a 404).
   */
  async openQueue<T = MessageBody>(name: string): Promise<Queue<T>> {
    this.#context.assertOpen();
    const config = await this.#context.store.getQueue(name);
    if (!config) throw new QueueNotFoundError(name);
    return new Queue<T>(this.#context, Object.freeze(config));
  }

  /** Opens topic `name` only if it exists: `TopicNotFoundError` otherwise. */
  async openTopic<T = MessageBody>(name: string): Promise<Topic<T>> {
    this.#context.assertOpen();
    const config = await this.#context.store.getTopic(name);
    if (!config) throw new TopicNotFoundError(name);
    return new Topic<T>(this.#context, Object.freeze(config));
  }

  listQueues(): Promise<QueueConfig[]> {
    return this.#context.store.listQueues();
  }

  listTopics(): Promise<TopicConfig[]> {
    return this.#context.store.listTopics();
  }

  /**
   * Deletes a queue with its messages and dead letters. Spool's own queues (names under `spool.`
   * and `jobs.`) are refused with `ReservedNameError`.
   */
  async deleteQueue(name: string): Promise<boolean> {
    assertNotReserved('queue', name, 'deleting');
    const deleted = await this.#context.store.deleteQueue(name);
    this.#context.queueSignals.delete(name);
    return deleted;
  }

  /**
   * Deletes a topic with its events and consumer groups. Spool's own topics (names under `spool.`
   * and `jobs.`) are refused with `ReservedNameError`.
   */
  async deleteTopic(name: string): Promise<boolean> {
    assertNotReserved('topic', name, 'deleting');
    const deleted = await this.#context.store.deleteTopic(name);
    this.#context.forgetTopic(name);
    return deleted;
  }

  /**
   * Runs `work` in one store transaction: the sends, publishes and acks it makes through `tx`
   * commit together or not at all. Keep it short — it holds the store's write lock.
   *
   * With `options.connection` (stores with `capabilities.externalTransactions`, e.g. PostgreSQL),
   * the writes join the transaction you opened on your own connection: they exist if and only if
   * `work` resolves and your transaction commits. When `work` throws, its writes are rolled back
   * (to a savepoint taken before it ran) and the error comes back to you; what else you did in
   * your transaction is untouched, yours to commit or roll back.
   */
  transaction<T>(work: (tx: SpoolTransaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return runTransaction(this.#context, work, options);
  }

  /**
   * The idempotent-consumer helper: runs `work` unless `consumer` has already completed it for
   * `messageId`, and records the completion in the same transaction as the writes `work` makes
   * through `tx`. Redeliveries after a success are skipped (`ran: false`), so the combination is
   * effectively-once for Spool writes. Side effects outside Spool made by `work` can still repeat
   * if the process dies between them and the commit: key them by `messageId` too.
   */
  once<T>(
    consumer: string,
    messageId: string,
    work: (tx: SpoolTransaction) => Promise<T>,
  ): Promise<OnceResult<T>> {
    return runTransaction(this.#context, async (tx): Promise<OnceResult<T>> => {
      if (!(await tx.markProcessed(consumer, messageId))) return { ran: false };
      return { ran: true, result: await work(tx) };
    });
  }

  /**
   * Resolves when any of `queues` may have new deliverable messages or any of `topics` new events
   * (written by this process), after `timeoutMs`, or when `signal` aborts — whichever is first.
   * Resolves true when woken by a write. For consumers of several queues or topics at once (remote
   * job workers, live event streams); single-queue consumers get this from `receive({ waitMs })`.
   */
  waitForWrites(
    targets: { queues?: readonly string[]; topics?: readonly string[] },
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const waiter = new AbortController();
    const stop = () => waiter.abort();
    signal?.addEventListener('abort', stop, { once: true });
    const signals = [
      ...(targets.queues ?? []).map((queue) => this.#context.queueSignals.for(queue)),
      ...(targets.topics ?? []).map((topic) => this.#context.topicSignals.for(topic)),
    ];
    // Nothing to watch: just the timeout (or the abort), without registering a named signal.
    if (signals.length === 0) signals.push(new WakeSignal(this.#context.clock));
    const woken = Promise.race(signals.map((wake) => wake.wait(timeoutMs, waiter.signal))).finally(() => {
      waiter.abort();
      signal?.removeEventListener('abort', stop);
    });
    return this.#context.hold(woken);
  }

  /**
   * Attaches an instrumentation sink (metrics): from now on it sees this instance's sends, acks,
   * retries, dead letters, handler durations and store commits. Returns the function that
   * detaches it. Attaching the same sink twice attaches it once.
   */
  instrument(sink: Instrumentation): () => void {
    const hub = this.#context.instrumentation;
    const detach = hub.attach(sink);
    // The store times its commits only while someone looks.
    this.#stopObservingCommits ??= this.#context.store.observeCommits?.((seconds, operations) =>
      hub.storeCommitted(seconds, operations),
    );
    return () => {
      detach();
      if (!hub.active) {
        this.#stopObservingCommits?.();
        this.#stopObservingCommits = undefined;
      }
    };
  }

  /** @internal Where layers on the engine (webhooks) report to the attached sinks. */
  get instrumentation(): InstrumentationHub {
    return this.#context.instrumentation;
  }

  /** Where this instance logs (see {@link SpoolOptions.logger}); layers on the engine log here too. */
  get logger(): SpoolLogger {
    return this.#context.logger;
  }

  /** The clock this instance (and its store) runs on. */
  get clock(): Clock {
    return this.#context.clock;
  }

  /**
   * Whether this process leads the store's upkeep, which runs once across every process sharing
   * the store (dedup and marker sweeps, topic retention). On a store of one process
   * (SQLite) it always leads; on PostgreSQL one process at a time does, and another takes over
   * within seconds when it dies.
   */
  get leadership(): Leadership {
    return this.#leadership;
  }

  /**
   * Competes for leadership of `role` among every process sharing the store, for background work
   * of a layer on the engine that must run somewhere only while that layer runs (the job
   * scheduler and job retention compete only in processes that started `Jobs`: a producer-only
   * process that leads the store's upkeep must not hold them back). Close it when the layer
   * stops; closing the Spool closes it too. On a store of one process it is always held.
   */
  compete(role: string): Leadership {
    const leadership = this.#context.store.leadership?.(role) ?? soleLeadership;
    this.#roles.add(leadership);
    return leadership;
  }

  /**
   * @internal Creates Spool's events log (`spool.events`) if needed, once: for a layer that
   * publishes to it inside a transaction, where the topic must already exist.
   */
  openEventsLog(): Promise<void> {
    return this.#context.events.open();
  }

  /** Sweeps expired dedup ids and processed markers, stale workers, and applies topic retention now. */
  maintain(): Promise<void> {
    return this.#context.store.maintain({
      processedRetentionMs: this.#processedRetentionMs,
      workerRetentionMs: this.#workerRetentionMs,
    });
  }

  /**
   * Stops every consumer and subscription (letting in-flight handlers finish, at most
   * `timeoutMs`), then closes the store. Safe to call more than once.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeoutMs ?? 30_000);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    if (this.#maintenanceTimer) this.#context.clock.clearTimer(this.#maintenanceTimer);
    const running = this.#context.running;
    await Promise.all(running.map((closeable) => closeable.close({ timeoutMs })));
    // Before the store closes: removes what is still registered (remote workers of a server).
    await this.#context.workers.close();
    this.#context.markClosed();
    this.#context.queueSignals.notifyAll();
    this.#context.topicSignals.notifyAll();
    (await this.#listening)?.();
    await Promise.all([this.#leadership, ...this.#roles].map((leadership) => leadership.close()));
    await this.#context.store.close();
  }

  /**
   * With a store shared by several processes (PostgreSQL), writes made elsewhere wake this
   * process's idle consumers at once instead of at their next safety poll.
   */
  async #listenToOtherProcesses(): Promise<(() => void) | undefined> {
    const { store } = this.#context;
    if (!store.capabilities.notifications || !store.onNotify) return undefined;
    try {
      return await store.onNotify((notice) => {
        if (notice.kind === 'queue') this.#context.queueSignals.for(notice.name).notify();
        else if (notice.kind === 'topic') this.#context.topicSignals.for(notice.name).notify();
        else {
          this.#context.queueSignals.notifyAll();
          this.#context.topicSignals.notifyAll();
        }
      });
    } catch (error) {
      // Not fatal: consumers still find other processes' writes at their safety poll.
      this.#context.logger.error({ err: error }, "cannot listen for other processes' writes");
      return undefined;
    }
  }

  #scheduleMaintenance(): void {
    this.#maintenanceTimer = this.#context.clock.setTimer(() => {
      if (this.#context.closed) return;
      // Followers skip the round: the leader sweeps for everyone.
      (this.#leadership.held ? this.maintain() : Promise.resolve())
        .catch((error: unknown) => {
          if (!this.#context.closed) this.#context.logger.error({ err: error }, 'maintenance failed');
        })
        .finally(() => {
          if (!this.#closing) this.#scheduleMaintenance();
        });
    }, this.#maintenanceIntervalMs);
  }
}

/** The leadership of a store owned by one process: that process always leads. */
const soleLeadership: Leadership = Object.freeze({
  held: true,
  onChange: () => () => {},
  close: () => Promise.resolve(),
});

/** Creates a Spool on `options.store`. */
export function createSpool(options: SpoolOptions): Spool {
  return new Spool(options);
}
