import type { Clock } from '../core/clock.js';
import { ClosedError, TopicNotFoundError } from '../core/errors.js';
import type { SpoolLogger } from '../telemetry/logging.js';
import type { Store } from '../store/port.js';
import { EventsLog } from './events-log.js';
import { InstrumentationHub } from './instrumentation.js';
import { Partitioner } from './outgoing.js';
import { PolledMembers } from './polled-members.js';
import { WakeSignals } from './wake-signal.js';
import { Workers } from './workers.js';

/** Something that must be stopped before the store closes: a consumer or a subscription. */
export interface Closeable {
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * What the queues, topics and consumers of one Spool instance share: the store, the clock, the
 * wake-up signals, and the set of running consumers that `Spool.close()` stops first.
 */
export class EngineContext {
  readonly clock: Clock;
  readonly queueSignals: WakeSignals;
  readonly topicSignals: WakeSignals;
  /** Notified (by `topic\ngroup`) when this process pauses or resumes a consumer group. */
  readonly groupPauses: WakeSignals;
  /** Where queue events are recorded (see events-log.ts). */
  readonly events: EventsLog;
  /** Where queues, consumers and the store report what they do (metrics; see instrumentation.ts). */
  readonly instrumentation = new InstrumentationHub();
  /** Group members in other processes that poll (`Topic.poll`; see polled-members.ts). */
  readonly polledMembers: PolledMembers;
  /** Who consumes what, heartbeated to the store (see workers.ts). */
  readonly workers: Workers;
  readonly #running = new Set<Closeable>();
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Long polls in progress: they keep the process alive like running consumers. */
  #holds = 0;
  #partitioners = new Map<string, Partitioner>();
  #closed = false;

  constructor(
    readonly store: Store,
    /** How often idle consumers look for writes made by other processes (ms). */
    readonly safetyPollMs: number,
    /** Where consumers and upkeep log (JSON lines; see telemetry/logging.ts). */
    readonly logger: SpoolLogger,
    /** How often the workers registry heartbeats (ms). */
    workerHeartbeatMs = 5_000,
  ) {
    this.clock = store.clock;
    this.queueSignals = new WakeSignals(this.clock);
    this.topicSignals = new WakeSignals(this.clock);
    this.groupPauses = new WakeSignals(this.clock);
    this.events = new EventsLog(store, this.topicSignals);
    this.workers = new Workers(store, logger, workerHeartbeatMs);
    this.polledMembers = new PolledMembers(store, this.topicSignals, safetyPollMs, this.workers);
  }

  /**
   * The partitioner of a topic, shared by every handle of it in this instance so that
   * round-robin placement of keyless events spreads across all partitions.
   */
  async partitionerFor(
    topic: string,
    partitions?: number,
    reader: Pick<Store, 'getTopic'> = this.store,
  ): Promise<Partitioner> {
    let partitioner = this.#partitioners.get(topic);
    if (!partitioner) {
      const count = partitions ?? (await reader.getTopic(topic))?.partitions;
      if (count === undefined) throw new TopicNotFoundError(topic);
      partitioner = this.#partitioners.get(topic) ?? new Partitioner(count);
      this.#partitioners.set(topic, partitioner);
    }
    return partitioner;
  }

  forgetTopic(topic: string): void {
    this.#partitioners.delete(topic);
    this.polledMembers.topicDeleted(topic);
    this.topicSignals.delete(topic);
  }

  /**
   * Registers a running consumer or subscription. While any runs, the process stays alive, as it
   * would with an open socket; the clock's own timers are unref'd so an idle Spool never does.
   */
  register(closeable: Closeable): void {
    this.#running.add(closeable);
    this.#updateKeepAlive();
  }

  unregister(closeable: Closeable): void {
    this.#running.delete(closeable);
    this.#updateKeepAlive();
  }

  /**
   * Keeps the process alive until `wait` settles: a caller awaiting a long poll must not see
   * Node exit under it just because the poll's timer is unref'd.
   */
  async hold<T>(wait: Promise<T>): Promise<T> {
    this.#holds++;
    this.#updateKeepAlive();
    try {
      return await wait;
    } finally {
      this.#holds--;
      this.#updateKeepAlive();
    }
  }

  #updateKeepAlive(): void {
    if (this.#running.size > 0 || this.#holds > 0) {
      // eslint-disable-next-line no-restricted-globals -- a real timer whose only job is to keep Node's event loop alive while work runs; no clock time is measured
      this.#keepAlive ??= setInterval(() => {}, 1 << 30);
    } else if (this.#keepAlive) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }

  /** The consumers and subscriptions running now. */
  get running(): Closeable[] {
    return [...this.#running];
  }

  get closed(): boolean {
    return this.#closed;
  }

  assertOpen(): void {
    if (this.#closed) throw new ClosedError();
  }

  markClosed(): void {
    this.#closed = true;
  }
}
