/**
 * The managed consumer loop behind `queue.process()`.
 *
 * States: running → stopping → stopped. While running, the loop claims as many messages as it
 * has free handler slots (so prefetch never exceeds `concurrency`), starts a handler for each,
 * and when nothing is deliverable sleeps on the queue's wake signal until a send, the next
 * delayed message or lease expiry, or the slow safety poll. `close()` moves to stopping: no new
 * claims; in-flight handlers finish (bounded by `timeoutMs`, after which their AbortSignals fire
 * and their leases are left to expire, so the messages are delivered again — never lost).
 *
 * Settlement per message (at-least-once, the default): handler resolves → ack. Handler throws
 * `NonRetryableError`, or the attempt was the last allowed → dead-letter. `RetryAfterError(ms)`
 * → nacked with that delay; the errors of src/core/wait-errors.ts (an open breaker, a limit
 * reached, a job not due yet: the work did not start) → released uncounted for their
 * `retryAfterMs`. Anything else → nacked with exponential backoff + jitter. A nack
 * counts the delivery as an attempt, as the dead-lettering rule does: each failure is one
 * retry or one dead letter, never both.
 * While a handler runs its lease is extended every half visibility timeout; if an extension
 * finds the lease lost, the handler's AbortSignal fires.
 *
 * At-most-once acks before the handler runs: a crash or a throw loses that message, by choice.
 * Transactional mode runs the handler inside a store transaction with the ack, so the messages
 * it sends or publishes through `context.tx` exist if and only if the ack commits.
 */
import { backoffDelay } from '../core/backoff.js';
import {
  InvalidArgumentError,
  NonRetryableError,
  RetryAfterError,
  StaleReceiptError,
} from '../core/errors.js';
import { isUncountedWait } from '../core/wait-errors.js';
import type { MessageBody } from '../core/message.js';
import type { QueueConfig } from '../core/options.js';
import type { TimerHandle } from '../core/clock.js';
import type { ClaimedMessage } from '../store/port.js';
import { messageFields } from '../telemetry/logging.js';
import type { Closeable, EngineContext } from './context.js';
import { type LeaseSettler, Message } from './received-message.js';
import { runTransaction, type SpoolTransaction } from './transaction.js';
import type { WakeSignal } from './wake-signal.js';
import type { WorkerHandle, WorkerKind, WorkerServes } from './workers.js';

export interface HandlerContext {
  /** Aborted when the lease is lost or the consumer's close timeout runs out. */
  readonly signal: AbortSignal;
  /** In transactional mode: writes here commit atomically with the ack. */
  readonly tx?: SpoolTransaction;
}

export type MessageHandler<T = MessageBody> = (message: Message<T>, context: HandlerContext) => unknown;

export interface ProcessOptions<T = MessageBody> {
  /** Handlers running at once. @defaultValue 1 */
  concurrency?: number;
  /**
   * `at-least-once` (default): ack after the handler resolves. `at-most-once`: ack before the
   * handler runs; a failure or crash loses the message.
   */
  delivery?: 'at-least-once' | 'at-most-once';
  /**
   * Run the handler and the ack in one store transaction; the handler gets `context.tx` to send
   * and publish atomically with the ack. Keep such handlers short: the transaction holds the
   * store's write lock while it runs.
   * @defaultValue false
   */
  transactional?: boolean;
  /**
   * `auto` (default): the consumer acks when the handler resolves. `manual`: the handler settles
   * the message itself (`message.ack()`, or `tx.ack(message)` in a transaction of its own); the
   * consumer still keeps the lease while the handler runs and still retries or dead-letters it
   * when the handler throws.
   */
  ack?: 'auto' | 'manual';
  /** Lease length per delivery. @defaultValue the queue's `visibilityTimeoutMs` */
  visibilityTimeoutMs?: number;
  /** Called when a handler throws (the message is retried or dead-lettered) or the loop hits a store error. */
  onError?: (error: unknown, message?: Message<T>) => void;
  /** Called after a message was dead-lettered: the final-failure hook. */
  onDeadLetter?: (message: Message<T>, error: unknown) => void;
  /**
   * How the consumer appears in the workers registry (`spool.workers`).
   * @defaultValue `{ kind: 'queue-consumer', serves: { queue } }`; the jobs layer's workers say `job-worker`
   */
  worker?: { readonly kind: WorkerKind; readonly serves: WorkerServes };
}

/** The queue a consumer serves, as the consumer needs it (`Queue` is one): it settles leases too. */
export interface ConsumedQueue extends LeaseSettler {
  readonly name: string;
  readonly config: Readonly<QueueConfig>;
  /** Counts an ack of a message enqueued at `enqueuedAt` (for the queue's metrics). */
  acked(enqueuedAt?: number): void;
  /** How long an idle consumer may wait before polling again. */
  idleWaitMs(deadline?: number): Promise<number>;
  /** Acks a batch in one store write; resolves with the stale receipts. */
  ackMany(receipts: readonly string[]): Promise<string[]>;
}

export class QueueConsumer<T = MessageBody> implements Closeable {
  readonly #concurrency: number;
  readonly #visibilityTimeoutMs: number;
  readonly #stop = new AbortController();
  /** Messages not yet settled: their handler runs, or their ack/retry is being committed. */
  readonly #inFlight = new Map<Message<T>, DeliveryContext>();
  /** Auto-acks of finished deliveries, waiting for the loop's next round (see `#round`). */
  #pendingAcks: PendingAck<T>[] = [];
  /** Set while the loop sleeps with nothing to claim; aborting it wakes the loop for pending acks. */
  #idle: AbortController | null = null;
  /** False once the loop has ended: auto-acks then go to the store one by one. */
  #looping = true;
  /** Handlers running now: what `concurrency` bounds. */
  #busy = 0;
  #slotWaiters: (() => void)[] = [];
  #loop: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #onStopped: () => void = () => {};
  #processed = 0;
  #failed = 0;
  #registration: WorkerHandle | undefined;

  constructor(
    private readonly context: EngineContext,
    private readonly queue: ConsumedQueue,
    private readonly handler: MessageHandler<T>,
    private readonly options: ProcessOptions<T>,
  ) {
    this.#concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1 || this.#concurrency > 10_000) {
      throw new InvalidArgumentError('process: concurrency must be an integer from 1 to 10000', {
        field: 'concurrency',
      });
    }
    this.#visibilityTimeoutMs = options.visibilityTimeoutMs ?? queue.config.visibilityTimeoutMs;
    if (options.delivery === 'at-most-once' && options.transactional) {
      throw new InvalidArgumentError(
        'process: transactional mode is at-least-once; drop one of the two options',
      );
    }
  }

  /** Messages whose handler resolved. */
  get processed(): number {
    return this.#processed;
  }

  /** Handler failures (each retried or dead-lettered). */
  get failed(): number {
    return this.#failed;
  }

  /** Handlers running now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** @internal */
  start(onStopped: () => void): void {
    this.#onStopped = onStopped;
    this.#registration = this.context.workers.register({
      kind: this.options.worker?.kind ?? 'queue-consumer',
      serves: this.options.worker?.serves ?? { queue: this.queue.name },
      concurrency: this.#concurrency,
      stats: () => ({ inFlight: this.inFlight, processed: this.#processed }),
    });
    this.#loop = this.#run().catch((error: unknown) => this.#report(error));
  }

  /**
   * Stops taking work and waits for in-flight handlers, at most `timeoutMs` (default 30 s);
   * after that their AbortSignals fire and the unsettled messages are redelivered once their
   * leases expire.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeoutMs ?? 30_000);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#stop.abort();
    this.#wakeSlotWaiters();
    await this.#loop;
    if (this.#inFlight.size > 0) {
      const drained = Promise.all([...this.#inFlight.keys()].map((message) => this.#settled(message)));
      const timedOut = await Promise.race([drained.then(() => false), delay(timeoutMs).then(() => true)]);
      if (timedOut) for (const controller of this.#inFlight.values()) controller.abort();
    }
    await this.#registration?.close();
    this.#onStopped();
  }

  /**
   * One round per iteration: commit the acks of the deliveries that finished since the last
   * round and claim as many messages as there are free slots, in ONE store write
   * (`ackAndClaim`), so a busy consumer costs one commit per round rather than one per ack plus
   * one per claim.
   */
  async #run(): Promise<void> {
    const signal = this.context.queueSignals.for(this.queue.name);
    try {
      while (!this.#stop.signal.aborted) {
        const free = this.#concurrency - this.#busy;
        if (free === 0 && this.#pendingAcks.length === 0) {
          await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
          continue;
        }
        const version = signal.version;
        const acks = this.#pendingAcks;
        this.#pendingAcks = [];
        let claimed: ClaimedMessage[];
        try {
          claimed = await this.#round(acks, free);
        } catch (error) {
          // Nothing of the round was stored: its acks go to the store on their own.
          this.#ackOneByOne(acks);
          if (this.context.closed) return;
          this.#report(error);
          await signal.wait(1000, this.#stop.signal);
          continue;
        }
        for (const record of claimed) this.#handle(new Message<T>(record, this.queue));
        if (claimed.length === 0 && free > 0 && this.#pendingAcks.length === 0) {
          await this.#sleep(signal, version);
        }
      }
    } finally {
      this.#looping = false;
      this.#ackOneByOne(this.#pendingAcks.splice(0));
    }
  }

  /** Commits `acks` and claims up to `free` messages; a plain claim when there is nothing to ack. */
  async #round(acks: readonly PendingAck<T>[], free: number): Promise<ClaimedMessage[]> {
    const request = { max: free, visibilityTimeoutMs: this.#visibilityTimeoutMs };
    if (acks.length === 0) return this.context.store.claim(this.queue.name, request);
    const { stale, claimed, durable } = await this.context.store.ackAndClaim(
      this.queue.name,
      acks.map((ack) => ack.message.receipt),
      request,
    );
    // The claimed messages may come before the acks are durable: the acks resolve when they are.
    if (durable) {
      durable.then(
        () => this.#settleAcks(acks, stale),
        (error: unknown) => {
          for (const ack of acks) ack.reject(error);
        },
      );
    } else {
      this.#settleAcks(acks, stale);
    }
    return claimed;
  }

  #settleAcks(acks: readonly PendingAck<T>[], stale: readonly string[]): void {
    const staleReceipts = stale.length > 0 ? new Set(stale) : null;
    let keyed = false;
    for (const { message, resolve, reject } of acks) {
      if (staleReceipts?.has(message.receipt)) {
        reject(new StaleReceiptError(this.queue.name, message.receipt));
        continue;
      }
      this.queue.acked(message.enqueuedAt.getTime());
      keyed ||= message.key !== null;
      resolve();
    }
    // Other consumers of the queue in this process may wait for the next message of an acked key.
    if (keyed) this.queue.wake();
  }

  /** Acks each of `acks` with its own store write (when no round can take them). */
  #ackOneByOne(acks: readonly PendingAck<T>[]): void {
    for (const { message, resolve, reject } of acks) message.ack().then(resolve, reject);
  }

  /**
   * The ack of a delivery whose handler resolved: it joins the loop's next round, or goes to
   * the store alone once the loop has ended. Resolves once the ack is durable.
   */
  #autoAck(message: Message<T>): Promise<void> {
    if (!this.#looping) return message.ack();
    return new Promise<void>((resolve, reject) => {
      this.#pendingAcks.push({ message, resolve, reject });
      this.#idle?.abort();
      this.#wakeSlotWaiters();
    });
  }

  /**
   * Sleeps while nothing is deliverable: until a send wakes the queue, the next delayed message
   * or lease expiry, the safety poll, the consumer stopping, or an ack waiting for a round.
   */
  async #sleep(signal: WakeSignal, version: number): Promise<void> {
    const idle = new AbortController();
    const stop = () => idle.abort();
    this.#idle = idle;
    this.#stop.signal.addEventListener('abort', stop, { once: true });
    if (this.#stop.signal.aborted) idle.abort();
    try {
      const waitMs = await this.queue.idleWaitMs().catch(() => this.context.safetyPollMs);
      await signal.wait(waitMs, idle.signal, version);
    } finally {
      this.#idle = null;
      this.#stop.signal.removeEventListener('abort', stop);
    }
  }

  #handle(message: Message<T>): void {
    const controller = new DeliveryContext();
    this.#inFlight.set(message, controller);
    this.#busy++;
    let slotFreed = false;
    // A slot frees when the handler ends, before its ack is committed, so the claim that refills
    // it joins the same group commit as the acks: one commit per round instead of two.
    const freeSlot = () => {
      if (slotFreed) return;
      slotFreed = true;
      this.#busy--;
      this.#wakeSlotWaiters();
    };
    const started = performance.now();
    const done = this.#deliver(message, controller, freeSlot)
      .catch((error: unknown) => this.#report(error, message))
      .finally(() => {
        // Handler and settlement: how long the message kept this consumer busy.
        this.context.instrumentation.messageProcessed(this.queue.name, (performance.now() - started) / 1000);
        freeSlot();
        this.#inFlight.delete(message);
        this.#settledWaiters.get(message)?.();
        this.#settledWaiters.delete(message);
        this.#wakeSlotWaiters();
      });
    void done;
  }

  readonly #settledWaiters = new Map<Message<T>, () => void>();

  #settled(message: Message<T>): Promise<void> {
    if (!this.#inFlight.has(message)) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.set(message, resolve));
  }

  async #deliver(message: Message<T>, controller: DeliveryContext, freeSlot: () => void): Promise<void> {
    if (this.options.delivery === 'at-most-once') {
      await message.ack();
      try {
        await this.handler(message, controller);
        this.#processed++;
      } catch (error) {
        this.#failed++;
        this.options.onError?.(error, message);
      }
      return;
    }
    const keeper = this.#keepLease(message, controller);
    let handlerError: unknown;
    let succeeded = false;
    try {
      if (this.options.transactional) {
        await runTransaction(this.context, async (tx) => {
          await this.handler(message, controller.withTransaction(tx));
          await tx.ack(message);
        });
      } else {
        await this.handler(message, controller);
      }
      succeeded = true;
    } catch (error) {
      handlerError = error;
    } finally {
      this.context.clock.clearTimer(keeper.timer);
      keeper.stopped = true;
      freeSlot();
    }
    if (succeeded) {
      if (!this.options.transactional && this.options.ack !== 'manual') await this.#autoAck(message);
      this.#processed++;
      const { logger } = this.context;
      if (logger.isLevelEnabled('debug')) logger.debug(messageFields(message), 'message processed');
      return;
    }
    if (handlerError instanceof StaleReceiptError) {
      // The transactional ack found the lease lost: someone else has the message now.
      this.#report(handlerError, message);
      return;
    }
    this.#failed++;
    this.options.onError?.(handlerError, message);
    await this.#fail(message, handlerError);
  }

  async #fail(message: Message<T>, error: unknown): Promise<void> {
    if (isUncountedWait(error)) {
      // The work did not start (a breaker is open, a limit is reached): hand the message back
      // for when it may, without counting the delivery.
      await message.release({ delayMs: Math.max(0, error.retryAfterMs) });
      return;
    }
    const lastAttempt = message.attempt >= this.queue.config.maxAttempts;
    const { logger } = this.context;
    if (error instanceof NonRetryableError || lastAttempt) {
      await message.deadLetter(error);
      logger.warn({ ...messageFields(message), err: error }, 'message dead-lettered');
      this.options.onDeadLetter?.(message, error);
      return;
    }
    const delayMs =
      error instanceof RetryAfterError
        ? Math.max(0, error.retryAfterMs)
        : backoffDelay(message.attempt, this.queue.config.backoff);
    // The nack counts this delivery as an attempt. It dead-letters only when the store's
    // maxAttempts is lower than this handle's (another process changed the queue's config):
    // the message is then gone all the same, and the final-failure hook must hear of it.
    if ((await message.nack({ delayMs, error })) === 'dead-lettered') {
      logger.warn({ ...messageFields(message), err: error }, 'message dead-lettered');
      this.options.onDeadLetter?.(message, error);
      return;
    }
    if (logger.isLevelEnabled('debug')) {
      logger.debug({ ...messageFields(message), err: error, delayMs }, 'message failed; retrying');
    }
  }

  /** Extends the lease every half visibility timeout while the handler runs. */
  #keepLease(message: Message<T>, controller: DeliveryContext): { timer: TimerHandle; stopped: boolean } {
    const { clock } = this.context;
    const interval = Math.max(1, Math.floor(this.#visibilityTimeoutMs / 2));
    const keeper = { timer: clock.setTimer(() => tick(), interval), stopped: false };
    const tick = () => {
      if (keeper.stopped) return;
      message.extend(this.#visibilityTimeoutMs).then(
        () => {
          if (!keeper.stopped) keeper.timer = clock.setTimer(() => tick(), interval);
        },
        (error: unknown) => {
          // The lease is gone (or the store failed): tell the handler to stop.
          if (keeper.stopped) return;
          controller.abort(error);
          this.#report(error, message);
        },
      );
    };
    return keeper;
  }

  #wakeSlotWaiters(): void {
    const waiters = this.#slotWaiters;
    this.#slotWaiters = [];
    for (const wake of waiters) wake();
  }

  #report(error: unknown, message?: Message<T>): void {
    if (this.options.onError) this.options.onError(error, message);
    else if (!this.context.closed) {
      this.context.logger.error(
        { ...(message ? messageFields(message) : { queue: this.queue.name }), err: error },
        'queue consumer error',
      );
    }
  }
}

/** An auto-ack waiting for a round, with the delivery's promise to settle. */
interface PendingAck<T> {
  readonly message: Message<T>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * What a handler gets. Its AbortSignal is made on first use: an AbortController cost about 3 µs
 * per delivery, a tenth of a no-op delivery, and most handlers never look at the signal. An
 * abort before that is remembered, so a signal made later starts out aborted.
 */
class DeliveryContext implements HandlerContext {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  /** The context of a transactional handler: the same signal, with the transaction. */
  withTransaction(tx: SpoolTransaction): HandlerContext {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getter reads the delivery's signal lazily
    const delivery = this;
    return {
      get signal() {
        return delivery.signal;
      },
      tx,
    };
  }
}

function delay(ms: number): Promise<void> {
  // eslint-disable-next-line no-restricted-globals -- close({ timeoutMs }) bounds how long the caller's process waits: real time, even under a TestClock
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
