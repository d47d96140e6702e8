/**
 * A point-to-point queue: producers send, competing consumers receive under leases and settle.
 * This class is the low-level API (send, receive, ack, nack, release, extend, dead letters, stats);
 * {@link Queue.process} starts a managed consumer loop on top of it.
 */
import {
  describeError,
  decodeBody,
  type AttemptError,
  type Headers,
  type MessageBody,
} from '../core/message.js';
import { InvalidArgumentError, QueueNotFoundError } from '../core/errors.js';
import { LeaseTimes } from './lease-times.js';
import type { QueueConfig } from '../core/options.js';
import type {
  DeadLetter,
  DeadLetterSelection,
  EnqueueResult,
  QueuedMessage,
  QueueStats,
  ReleaseOutcome,
} from '../store/port.js';
import { nackedError } from '../store/port.js';
import type { EngineContext } from './context.js';
import type { QueueEvent } from './events-log.js';
import { toEnqueueMessage, type OutgoingMessage, type SendOptions } from './outgoing.js';
import { traceMessageHandler } from './traced-handlers.js';
import { sentAttributes, traceProducer, tracingEnabled } from '../telemetry/tracing.js';
import { LeaseStream, type LeaseStreamOptions } from './lease-stream.js';
import { QueueConsumer, type MessageHandler, type ProcessOptions } from './queue-consumer.js';
import { Message, type LeaseSettler } from './received-message.js';
import { assertNotReserved } from './reserved-names.js';

/** What a send resolves with. */
export type SendResult = EnqueueResult;

export interface ReceiveOptions {
  /** At most this many messages. @defaultValue 1 */
  max?: number;
  /** Lease length. @defaultValue the queue's `visibilityTimeoutMs` */
  visibilityTimeoutMs?: number;
  /** Long poll: wait up to this long for a message when none is ready. @defaultValue 0 */
  waitMs?: number;
  /** Stops a long poll early. */
  signal?: AbortSignal;
}

/** A message as the queue browser shows it (no lease is taken). */
export interface QueuedMessageView<T = MessageBody> {
  readonly id: string;
  readonly body: T;
  readonly headers: Readonly<Headers>;
  readonly key: string | null;
  readonly priority: number;
  readonly enqueuedAt: Date;
  readonly availableAt: Date;
  /** When it expires (never delivered after that); null for never. */
  readonly expiresAt: Date | null;
  readonly attempts: number;
  readonly state: QueuedMessage['state'];
  readonly errors: readonly AttemptError[];
}

/** A dead-lettered message with its history. */
export interface DeadLetterView<T = MessageBody> {
  readonly id: string;
  readonly body: T;
  readonly headers: Readonly<Headers>;
  readonly key: string | null;
  readonly priority: number;
  readonly enqueuedAt: Date;
  readonly deadLetteredAt: Date;
  readonly attempts: number;
  readonly errors: readonly AttemptError[];
}

export interface ListPage<T> {
  readonly items: T[];
  /** Pass as `after` to get the next page; null on the last page. */
  readonly next: string | null;
}

export class Queue<T = MessageBody> implements LeaseSettler {
  readonly #leaseTimes = new LeaseTimes();

  /** @internal Use `spool.queue(name)`. */
  constructor(
    private readonly context: EngineContext,
    /** The configuration in force (frozen). */
    readonly config: Readonly<QueueConfig>,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** Sends one message; resolves once it is durably stored. */
  async send(body: T, options: SendOptions = {}): Promise<SendResult> {
    const [result] = await this.sendBatch([{ ...options, body }]);
    return result!;
  }

  /**
   * Sends messages together, all or nothing, keeping their order. Resolves once they are
   * durably stored; a duplicate (by dedup id) resolves with the original id and `duplicate: true`.
   */
  async sendBatch(messages: readonly OutgoingMessage<T>[]): Promise<SendResult[]> {
    this.context.assertOpen();
    if (messages.length === 0) return [];
    if (!tracingEnabled()) return this.#enqueue(messages);
    return traceProducer(
      { operation: 'send', destination: this.name, count: messages.length },
      (traceHeaders) => this.#enqueue(messages, traceHeaders),
      sentAttributes,
    );
  }

  /** Stores a send; `traceHeaders` carry the producer span's context into every message. */
  async #enqueue(
    messages: readonly OutgoingMessage<T>[],
    traceHeaders?: Record<string, string>,
  ): Promise<SendResult[]> {
    const now = this.context.clock.now();
    const items = messages.map((message) => toEnqueueMessage(message.body, message, now, traceHeaders));
    const results = await this.context.store.enqueue(this.name, items);
    this.#signal().notify();
    let stored = 0;
    for (const result of results) if (!result.duplicate) stored++;
    if (stored > 0) this.context.instrumentation.messagesSent(this.name, stored);
    return results;
  }

  /**
   * Leases up to `max` messages. With `waitMs`, waits that long for one to become ready
   * (woken by sends, not by polling).
   */
  async receive(options: ReceiveOptions = {}): Promise<Message<T>[]> {
    this.context.assertOpen();
    const max = options.max ?? 1;
    const visibilityTimeoutMs = options.visibilityTimeoutMs ?? this.config.visibilityTimeoutMs;
    const waitMs = options.waitMs ?? 0;
    if (!Number.isInteger(max) || max < 1 || max > 10_000) {
      throw new InvalidArgumentError('receive: max must be an integer from 1 to 10000', { field: 'max' });
    }
    assertPositiveMs(visibilityTimeoutMs, 'visibilityTimeoutMs');
    const { clock } = this.context;
    const deadline = clock.now() + Math.max(0, waitMs);
    const signal = this.#signal();
    for (;;) {
      const version = signal.version;
      const claimed = await this.context.store.claim(this.name, { max, visibilityTimeoutMs });
      if (claimed.length > 0) {
        this.#leaseTimes.leased(
          claimed.map((message) => message.receipt),
          performance.now(),
        );
        return claimed.map((message) => new Message<T>(message, this));
      }
      const now = clock.now();
      if (now >= deadline || options.signal?.aborted || this.context.closed) return [];
      await this.context.hold(signal.wait(await this.idleWaitMs(deadline), options.signal, version));
    }
  }

  /**
   * @internal How long an idle consumer may sleep: until the next delayed message or lease
   * expiry, the caller's deadline, or the safety poll for other processes' writes.
   */
  async idleWaitMs(deadline = Infinity): Promise<number> {
    const now = this.context.clock.now();
    const next = await this.context.store.nextDeliveryAt(this.name);
    return Math.max(0, Math.min(deadline, next ?? Infinity, now + this.context.safetyPollMs) - now);
  }

  /** @internal Wakes idle consumers of this queue in this process. */
  wake(): void {
    this.#signal().notify();
  }

  /**
   * Deletes a received message: its work is done. Rejects with `StaleReceiptError` if the lease
   * was lost. `enqueuedAt` (ms since epoch, the message's first send), when known, feeds the
   * end-to-end latency metric; `message.ack()` passes it.
   */
  async ack(receipt: string, enqueuedAt?: number): Promise<void> {
    await this.context.store.ack(this.name, receipt);
    this.#processed(receipt);
    this.acked(enqueuedAt);
  }

  /** Records the processing time of a received message that was just settled. */
  #processed(receipt: string): void {
    const seconds = this.#leaseTimes.settled(receipt, performance.now());
    if (seconds !== undefined) this.context.instrumentation.messageProcessed(this.name, seconds);
  }

  /** @internal Accounts for an ack made durable here or by a consumer's combined ack-and-claim. */
  acked(enqueuedAt?: number): void {
    this.context.instrumentation.messageAcked(
      this.name,
      enqueuedAt === undefined ? undefined : Math.max(0, this.context.clock.now() - enqueuedAt) / 1000,
    );
  }

  /**
   * The delivery failed: ends the lease, recording `error`, and the delivery counts as an
   * attempt. The message is delivered again after `delayMs` (default 0) with `attempt + 1` —
   * or, when this was its last allowed attempt (`maxAttempts`), it is dead-lettered with
   * `error` as its last error. Resolves with which of the two happened. `messageId`, when
   * known, names the message in the events log; `message.nack()` passes it.
   */
  async nack(
    receipt: string,
    options: { delayMs?: number; error?: unknown } = {},
    messageId?: string,
  ): Promise<ReleaseOutcome> {
    const delayMs = checkedDelayMs('nack', options.delayMs);
    const error = options.error === undefined ? undefined : describeError(options.error);
    const outcome = await this.context.store.release(this.name, receipt, {
      delayMs,
      ...(error === undefined ? {} : { error }),
    });
    this.#processed(receipt); // a failed delivery was worked on too
    // Either way something became deliverable: the message itself, or the next of its key.
    this.#signal().notify();
    if (outcome === 'dead-lettered') {
      this.context.instrumentation.messageDeadLettered(this.name);
      await this.#record('queue.dead-lettered', 1, messageId ?? null, error ?? nackedError);
    } else {
      this.context.instrumentation.messageRetried(this.name);
    }
    return outcome;
  }

  /**
   * Hands a message back without trying it: ends the lease, and the delivery does not count as
   * an attempt, so the message is delivered again after `delayMs` (default 0) with the same
   * `attempt` and is never dead-lettered by this. For a consumer that took more than it can do
   * (shutting down, overloaded); a failed delivery is a {@link Queue.nack}.
   */
  async release(receipt: string, options: { delayMs?: number } = {}): Promise<void> {
    const delayMs = checkedDelayMs('release', options.delayMs);
    await this.context.store.release(this.name, receipt, { delayMs, countAttempt: false });
    this.#leaseTimes.forget(receipt); // handed back untried: no processing to record
    this.#signal().notify();
  }

  /** Extends a lease; resolves with the new expiry (ms since epoch). */
  extend(receipt: string, visibilityTimeoutMs = this.config.visibilityTimeoutMs): Promise<number> {
    assertPositiveMs(visibilityTimeoutMs, 'visibilityTimeoutMs');
    return this.context.store.extend(this.name, receipt, visibilityTimeoutMs);
  }

  /** Moves a received message to the dead-letter queue with `reason` as its last error. */
  async deadLetter(receipt: string, reason: unknown, messageId?: string): Promise<void> {
    const error = describeError(reason);
    await this.context.store.deadLetter(this.name, receipt, error);
    this.#processed(receipt);
    // The next message of the same key may now be deliverable.
    this.#signal().notify();
    this.context.instrumentation.messageDeadLettered(this.name);
    await this.#record('queue.dead-lettered', 1, messageId ?? null, error);
  }

  /**
   * Starts a consumer: it leases messages as handler slots free up, acks after the handler
   * resolves, retries with backoff or dead-letters when it throws, and extends leases while a
   * handler runs. Stop it with `close()`.
   */
  process(handler: MessageHandler<T>, options: ProcessOptions<T> = {}): QueueConsumer<T> {
    this.context.assertOpen();
    const consumer = new QueueConsumer<T>(this.context, this, traceMessageHandler(handler), options);
    this.context.register(consumer);
    consumer.start(() => this.context.unregister(consumer));
    return consumer;
  }

  /**
   * Opens a lease stream for a remote consumer: it leases messages as the consumer grants
   * credit and hands them to `options.deliver`, takes acks back in batches (committed with the
   * next claim), and releases what is unsettled when it closes. The server runs one per
   * streaming-consume connection; see {@link LeaseStream}.
   */
  openLeaseStream(options: LeaseStreamOptions<T>): LeaseStream<T> {
    this.context.assertOpen();
    const stream = new LeaseStream<T>(this.context, this, options);
    this.context.register(stream);
    stream.start(() => this.context.unregister(stream));
    return stream;
  }

  /**
   * Acks a batch of receipts in one store write. Each receipt is its own lease: resolves with
   * the receipts whose lease was lost (the others are acked).
   */
  async ackMany(receipts: readonly string[]): Promise<string[]> {
    if (receipts.length === 0) return [];
    const { stale } = await this.context.store.ackAndClaim(this.name, receipts, {
      max: 0,
      visibilityTimeoutMs: this.config.visibilityTimeoutMs,
    });
    for (let i = stale.length; i < receipts.length; i++) this.acked();
    const lost = new Set(stale);
    for (const receipt of receipts) if (!lost.has(receipt)) this.#processed(receipt);
    if (stale.length < receipts.length) this.#signal().notify();
    return [...stale];
  }

  /**
   * Pauses the queue: sends still land, but no consumer in any process on the store gets a
   * message until {@link Queue.resume} (each claim reads the pause; in-flight messages finish
   * and settle as usual). Persisted: a restart keeps it, and saving the queue's configuration
   * does too. Pausing a paused queue changes nothing. `QueueNotFoundError` if it was deleted.
   */
  async pause(): Promise<void> {
    if (!(await this.context.store.pauseQueue(this.name, this.context.clock.now())))
      throw new QueueNotFoundError(this.name);
  }

  /**
   * Resumes a paused queue: consumers in this process wake at once, those of other processes at
   * their next look (within the safety poll, 1 s by default).
   */
  async resume(): Promise<void> {
    if (!(await this.context.store.pauseQueue(this.name, null))) throw new QueueNotFoundError(this.name);
    this.#signal().notify();
  }

  /** Message counts by state, the oldest message's age, and whether the queue is paused. */
  stats(): Promise<QueueStats> {
    return this.context.store.queueStats(this.name);
  }

  /** Browses the queue in delivery order without leasing anything. */
  async listMessages(
    page: { limit?: number; after?: string | null } = {},
  ): Promise<ListPage<QueuedMessageView<T>>> {
    const result = await this.context.store.listMessages(this.name, {
      limit: page.limit ?? 100,
      after: page.after ?? null,
    });
    return {
      next: result.next,
      items: result.items.map((message) => ({
        id: message.id,
        body: decodeBody<T>(message.payload),
        headers: message.headers,
        key: message.key,
        priority: message.priority,
        enqueuedAt: new Date(message.enqueuedAt),
        availableAt: new Date(message.availableAt),
        expiresAt: message.expiresAt === null ? null : new Date(message.expiresAt),
        attempts: message.attempts,
        state: message.state,
        errors: message.errors,
      })),
    };
  }

  /**
   * Deletes every message in the queue (not the dead letters). Resolves with the count. Spool's
   * own queues (names under `spool.` and `jobs.`) are refused with `ReservedNameError`: purging
   * `jobs.<type>` would leave its jobs queued for ever.
   */
  async purge(): Promise<number> {
    assertNotReserved('queue', this.name, 'purging');
    const purged = await this.context.store.purge(this.name);
    if (purged > 0) await this.#record('queue.purged', purged);
    return purged;
  }

  /** The dead-letter queue, oldest first. */
  async listDeadLetters(
    page: { limit?: number; after?: string | null } = {},
  ): Promise<ListPage<DeadLetterView<T>>> {
    const result = await this.context.store.listDeadLetters(this.name, {
      limit: page.limit ?? 100,
      after: page.after ?? null,
    });
    return { next: result.next, items: result.items.map((letter) => toDeadLetterView<T>(letter)) };
  }

  /** Moves dead letters (all, or those with `ids`) back to the queue with attempts reset. */
  async redrive(selection: DeadLetterSelection = {}): Promise<number> {
    const moved = await this.context.store.redrive(this.name, selection);
    if (moved > 0) {
      this.#signal().notify();
      await this.#record('queue.redriven', moved);
    }
    return moved;
  }

  /** Deletes dead letters (all, or those with `ids`) for good. */
  async purgeDeadLetters(selection: DeadLetterSelection = {}): Promise<number> {
    const purged = await this.context.store.purgeDeadLetters(this.name, selection);
    if (purged > 0) await this.#record('queue.dead-letters-purged', purged);
    return purged;
  }

  /** Records an operator-visible change in the events log (see events-log.ts). */
  #record(
    event: QueueEvent['event'],
    count: number,
    messageId: string | null = null,
    error: QueueEvent['error'] = null,
  ): Promise<void> {
    return this.context.events.record({
      event,
      queue: this.name,
      messageId,
      count,
      at: this.context.clock.now(),
      error,
    });
  }

  #signal() {
    return this.context.queueSignals.for(this.name);
  }
}

function toDeadLetterView<T>(letter: DeadLetter): DeadLetterView<T> {
  return {
    id: letter.id,
    body: decodeBody<T>(letter.payload),
    headers: letter.headers,
    key: letter.key,
    priority: letter.priority,
    enqueuedAt: new Date(letter.enqueuedAt),
    deadLetteredAt: new Date(letter.deadLetteredAt),
    attempts: letter.attempts,
    errors: letter.errors,
  };
}

/** A settle's `delayMs` (default 0), whole milliseconds; throws for a negative or non-number. */
function checkedDelayMs(operation: string, value: number | undefined): number {
  const delayMs = value ?? 0;
  if (!Number.isFinite(delayMs) || delayMs < 0) {
    throw new InvalidArgumentError(`${operation}: delayMs must be a number >= 0`, { field: 'delayMs' });
  }
  return Math.trunc(delayMs);
}

function assertPositiveMs(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${field} must be a whole number of milliseconds >= 1`, { field });
  }
}
