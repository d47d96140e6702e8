/**
 * A lease stream: the engine side of one remote streaming consumer (the server runs one per
 * WebSocket connection; nothing here knows the transport).
 *
 * Flow control is by credit, as in AMQP 1.0 links and reactive streams: the consumer grants N,
 * each delivered message uses one, and the stream never leases more than the credit left. The
 * consumer's acks come back in batches and join the stream's next round, which commits them and
 * leases the next messages in ONE store write (`ackAndClaim`) — the same group commit an
 * in-process consumer gets, so a busy remote consumer costs one commit per round, not one per ack.
 *
 * Messages delivered and not settled when the stream closes are released untried: the consumer
 * went away, it did not fail them (RabbitMQ requeues a closed channel's unacked messages the
 * same way). Their attempt count does not rise.
 */
import { backoffDelay } from '../core/backoff.js';
import { InvalidArgumentError, QueueNotFoundError, StaleReceiptError } from '../core/errors.js';
import type { ClaimedMessage, ReleaseOutcome } from '../store/port.js';
import type { Closeable, EngineContext } from './context.js';
import type { ConsumedQueue } from './queue-consumer.js';
import { Message } from './received-message.js';
import type { WakeSignal } from './wake-signal.js';

/** Options of {@link Queue.openLeaseStream}. */
export interface LeaseStreamOptions<T> {
  /** Lease of each delivered message. @defaultValue the queue's `visibilityTimeoutMs` */
  visibilityTimeoutMs?: number;
  /** Most messages leased by one store write. @defaultValue 500 */
  maxBatch?: number;
  /** Credit plus unsettled messages may not exceed this. @defaultValue 10000 */
  maxOutstanding?: number;
  /** Receives each round's leased messages, in order; never more than the credit granted. */
  deliver(messages: Message<T>[]): void;
  /** Errors the stream handles itself (a failed round is retried after a second). */
  onError?(error: unknown): void;
  /** Called once when the stream has ended (closed, or its queue was deleted). */
  onEnd?(reason: LeaseStreamEnd): void;
}

/** Why a lease stream ended. */
export type LeaseStreamEnd = 'closed' | 'queue-deleted' | 'engine-closed';

/** One receipt's outcome in a batched settle. */
export type SettleOutcome<R = object> = ({ ok: true } & R) | { ok: false; error: unknown };

interface PendingAcks {
  readonly receipts: readonly string[];
  resolve(outcomes: SettleOutcome[]): void;
  reject(error: unknown): void;
}

interface HeldMessage<T> {
  readonly message: Message<T>;
  /** performance.now() at delivery: what the processing-time metric measures from. */
  readonly deliveredAt: number;
}

export class LeaseStream<T> implements Closeable {
  readonly #visibilityTimeoutMs: number;
  readonly #maxBatch: number;
  readonly #maxOutstanding: number;
  readonly #stop = new AbortController();
  /** Delivered and not yet settled, by receipt. */
  readonly #held = new Map<string, HeldMessage<T>>();
  #credit = 0;
  #settled = 0;
  #pendingAcks: PendingAcks[] = [];
  /** Aborted to wake the loop when credit or acks arrive while it sleeps. */
  #kick = new AbortController();
  #loop: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #ended = false;

  /** @internal Use `queue.openLeaseStream()`. */
  constructor(
    private readonly context: EngineContext,
    private readonly queue: ConsumedQueue,
    private readonly options: LeaseStreamOptions<T>,
  ) {
    this.#visibilityTimeoutMs = options.visibilityTimeoutMs ?? queue.config.visibilityTimeoutMs;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#maxOutstanding = options.maxOutstanding ?? 10_000;
    if (!Number.isInteger(this.#visibilityTimeoutMs) || this.#visibilityTimeoutMs < 1) {
      throw new InvalidArgumentError('visibilityTimeoutMs must be a whole number of milliseconds >= 1', {
        field: 'visibilityTimeoutMs',
      });
    }
  }

  /** Credit left: how many more messages the stream may deliver. */
  get credit(): number {
    return this.#credit;
  }

  /** Messages delivered and not yet settled. */
  get held(): number {
    return this.#held.size;
  }

  /** Messages delivered and then settled (acked, nacked, released or dead-lettered) so far. */
  get settled(): number {
    return this.#settled;
  }

  /** The lease each delivery gets. */
  get visibilityTimeoutMs(): number {
    return this.#visibilityTimeoutMs;
  }

  /** @internal */
  start(onStopped: () => void): void {
    this.#loop = this.#run()
      .catch((error: unknown) => this.options.onError?.(error))
      .finally(onStopped);
  }

  /**
   * Allows `n` more deliveries. Throws `InvalidArgumentError` when credit plus unsettled
   * messages would pass `maxOutstanding` (nothing is granted then).
   */
  grant(n: number): void {
    if (!Number.isInteger(n) || n < 0) {
      throw new InvalidArgumentError('credit must be a whole number >= 0', { field: 'n' });
    }
    if (this.#credit + this.#held.size + n > this.#maxOutstanding) {
      throw new InvalidArgumentError(
        `credit: at most ${this.#maxOutstanding} messages may be granted or unsettled at once ` +
          `(${this.#held.size} unsettled, ${this.#credit} credit left); settle some first`,
        { field: 'n' },
      );
    }
    if (n === 0) return;
    this.#credit += n;
    this.#kick.abort();
  }

  /**
   * Acks `receipts`: they join the next round, committed with its claim. Resolves, once that is
   * durable, with one outcome per receipt (a lost lease is `StaleReceiptError`).
   */
  ack(receipts: readonly string[]): Promise<SettleOutcome[]> {
    if (receipts.length === 0) return Promise.resolve([]);
    if (this.#ended) return this.#ackAlone(receipts);
    return new Promise((resolve, reject) => {
      this.#pendingAcks.push({ receipts, resolve, reject });
      this.#kick.abort();
    });
  }

  /**
   * The delivery failed: retried after `delayMs` — by default the queue's backoff for the
   * message's attempt, as an in-process consumer does — or dead-lettered after its last attempt.
   */
  nack(receipt: string, options: { delayMs?: number; error?: unknown } = {}): Promise<ReleaseOutcome> {
    const held = this.#settling(receipt);
    const delayMs =
      options.delayMs ??
      (held === undefined ? 0 : backoffDelay(held.message.attempt, this.queue.config.backoff));
    return this.queue.nack(receipt, { ...options, delayMs }, held?.message.id);
  }

  /** Hands a message back untried (its attempt does not count). */
  release(receipt: string, options: { delayMs?: number } = {}): Promise<void> {
    this.#settling(receipt);
    return this.queue.release(receipt, options);
  }

  /** Moves a message to the dead-letter queue with `reason`. */
  deadLetter(receipt: string, reason: unknown): Promise<void> {
    const held = this.#settling(receipt);
    return this.queue.deadLetter(receipt, reason, held?.message.id);
  }

  /** Extends a lease; resolves with the new expiry (ms since epoch). */
  extend(receipt: string, visibilityTimeoutMs = this.#visibilityTimeoutMs): Promise<number> {
    return this.queue.extend(receipt, visibilityTimeoutMs);
  }

  /**
   * Stops leasing, commits acks already given, and releases the messages still unsettled
   * (untried). Resolves when all of that is done.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stop.abort();
    this.#kick.abort();
    await this.#loop;
  }

  /** Forgets a message being settled by a call other than ack; returns what was held. */
  #settling(receipt: string): HeldMessage<T> | undefined {
    const held = this.#held.get(receipt);
    if (held !== undefined) {
      this.#held.delete(receipt);
      this.#measure(held);
    }
    return held;
  }

  #measure(held: HeldMessage<T>): void {
    this.#settled++;
    this.context.instrumentation.messageProcessed(
      this.queue.name,
      (performance.now() - held.deliveredAt) / 1000,
    );
  }

  async #run(): Promise<void> {
    const signal = this.context.queueSignals.for(this.queue.name);
    let end: LeaseStreamEnd = 'closed';
    try {
      while (!this.#stop.signal.aborted) {
        const want = Math.min(this.#credit, this.#maxBatch);
        const acks = this.#pendingAcks.splice(0);
        if (want === 0 && acks.length === 0) {
          await this.#idle(signal, undefined);
          continue;
        }
        const version = signal.version;
        let claimed: ClaimedMessage[];
        try {
          claimed = await this.#round(acks, want);
        } catch (error) {
          for (const pending of acks) pending.reject(error);
          if (error instanceof QueueNotFoundError) {
            end = 'queue-deleted';
            return;
          }
          if (this.context.closed) {
            end = 'engine-closed';
            return;
          }
          this.options.onError?.(error);
          await signal.wait(1000, this.#stop.signal);
          continue;
        }
        if (claimed.length > 0) this.#deliver(claimed);
        else if (want > 0 && this.#pendingAcks.length === 0) await this.#idle(signal, version);
      }
    } finally {
      this.#ended = true;
      await this.#drain();
      this.options.onEnd?.(end);
    }
  }

  /** Commits `acks` and leases up to `want` messages in one store write. */
  async #round(acks: readonly PendingAcks[], want: number): Promise<ClaimedMessage[]> {
    const request = { max: want, visibilityTimeoutMs: this.#visibilityTimeoutMs };
    if (acks.length === 0) return this.context.store.claim(this.queue.name, request);
    const receipts = acks.flatMap((pending) => pending.receipts);
    const { stale, claimed, durable } = await this.context.store.ackAndClaim(
      this.queue.name,
      receipts,
      request,
    );
    // The claimed messages may come before the acks are durable: the acks are answered when they are.
    if (durable) {
      durable.then(
        () => this.#settleAcks(acks, stale),
        (error: unknown) => {
          for (const pending of acks) pending.reject(error);
        },
      );
    } else {
      this.#settleAcks(acks, stale);
    }
    return claimed;
  }

  #settleAcks(acks: readonly PendingAcks[], stale: readonly string[]): void {
    const staleReceipts = new Set(stale);
    let keyed = false;
    for (const pending of acks) {
      pending.resolve(
        pending.receipts.map((receipt) => {
          const held = this.#held.get(receipt);
          this.#held.delete(receipt);
          if (staleReceipts.has(receipt)) {
            return { ok: false, error: new StaleReceiptError(this.queue.name, receipt) };
          }
          if (held !== undefined) {
            this.#measure(held);
            this.queue.acked(held.message.enqueuedAt.getTime());
            keyed ||= held.message.key !== null;
          } else {
            this.queue.acked();
          }
          return { ok: true };
        }),
      );
    }
    // Other consumers of this queue may wait for the next message of an acked key.
    if (keyed) this.queue.wake();
  }

  #deliver(claimed: readonly ClaimedMessage[]): void {
    const now = performance.now();
    const messages = claimed.map((record) => new Message<T>(record, this.queue));
    for (const message of messages) this.#held.set(message.receipt, { message, deliveredAt: now });
    this.#credit -= messages.length;
    // Leased during close: held, and released by the drain below rather than delivered.
    if (!this.#stop.signal.aborted) this.options.deliver(messages);
  }

  /**
   * Sleeps until credit or acks arrive (a kick), the stream stops, or — when `version` is given
   * (there is credit but nothing was deliverable) — a send wakes the queue, the next delayed
   * message or lease expiry is due, or the safety poll for other processes' writes.
   */
  async #idle(signal: WakeSignal, version: number | undefined): Promise<void> {
    if (this.#kick.signal.aborted) this.#kick = new AbortController();
    if (this.#pendingAcks.length > 0 || this.#stop.signal.aborted) return;
    if (version === undefined) {
      if (this.#credit > 0) return;
      const kicked = this.#kick.signal;
      await new Promise<void>((resolve) => kicked.addEventListener('abort', () => resolve(), { once: true }));
      return;
    }
    const waitMs = await this.queue.idleWaitMs().catch(() => this.context.safetyPollMs);
    await this.context.hold(signal.wait(waitMs, this.#kick.signal, version));
  }

  /** After the loop: commits acks still pending, then releases every unsettled message. */
  async #drain(): Promise<void> {
    // Acks first: releasing a message whose ack is still pending would make that ack stale.
    const acks = this.#pendingAcks.splice(0);
    await Promise.all(
      acks.map(async (pending) => {
        for (const receipt of pending.receipts) this.#held.delete(receipt);
        await this.#ackAlone(pending.receipts).then(
          (outcomes) => pending.resolve(outcomes),
          (error: unknown) => pending.reject(error),
        );
      }),
    );
    const held = [...this.#held.values()];
    this.#held.clear();
    if (held.length === 0 || this.context.closed) return;
    await Promise.allSettled(held.map(({ message }) => message.release()));
  }

  /** Acks without a round (the stream has ended): one store write for the batch. */
  async #ackAlone(receipts: readonly string[]): Promise<SettleOutcome[]> {
    const stale = new Set(await this.queue.ackMany(receipts));
    return receipts.map((receipt) =>
      stale.has(receipt)
        ? { ok: false, error: new StaleReceiptError(this.queue.name, receipt) }
        : { ok: true },
    );
  }
}
