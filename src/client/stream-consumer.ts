/**
 * A streaming queue consumer: one WebSocket to `GET /v1/queues/{name}/stream` on which the server
 * pushes leased messages and this side sends its settles back in batches (docs/streaming.md).
 *
 * - **Flow control**: the consumer keeps `prefetch` messages granted — leased to it and not yet
 *   settled — and grants one more with each settle, riding on the settle frame. Handlers run
 *   `concurrency` at a time; the rest of the window waits here, already leased.
 * - **Settling**: a handler that resolves acks its message; one that throws nacks it (retried
 *   after the queue's backoff, or after the error's `retryAfterMs`), or dead-letters it when the
 *   error is a `NonRetryableError`. The settles of one event-loop turn go in one frame.
 * - **Leases**: every third of the lease, messages held longer than that are extended.
 * - **Connection loss**: the server releases what the connection held, untried; the consumer
 *   reconnects with backoff and carries on. Handlers still running then finish, but their
 *   settles are dropped (their messages are delivered again: at-least-once).
 */
import { SpoolClientError } from './errors.js';
import type { Transport } from './http.js';
import { type ServerFrame, type SettledResult, StreamConnection } from './stream-connection.js';
import type { ReceivedMessageData } from './types.js';

/** A message delivered by a streaming consumer; it is settled by what its handler does. */
export interface StreamedMessage extends ReceivedMessageData {
  /** The queue it came from. */
  readonly queue: string;
}

/** What a streaming handler gets besides the message. */
export interface StreamHandlerContext {
  /** Aborted when the consumer closes past its timeout: stop and throw. */
  readonly signal: AbortSignal;
}

/**
 * Handles one message: resolve to ack it, throw to nack it (retried, or dead-lettered after its
 * last attempt). Throw an error named `NonRetryableError` to dead-letter it at once, or one with
 * a numeric `retryAfterMs` to choose when it is tried again.
 */
export type StreamHandler = (message: StreamedMessage, context: StreamHandlerContext) => unknown;

/** Options of `client.queues.consume`. */
export interface ConsumeOptions {
  /** Handlers running at once. @defaultValue 1 */
  concurrency?: number;
  /**
   * Messages granted at once — leased to this consumer and not yet settled, running or waiting
   * here for a free handler. At least `concurrency`. @defaultValue twice `concurrency`
   */
  prefetch?: number;
  /** The lease of each message. @defaultValue the queue's `visibilityTimeoutMs` */
  visibilityMs?: number;
  /**
   * Errors the consumer handles itself: a lost connection (it reconnects), a settle the server
   * refused (a lease that was lost), a handler that threw (with its message).
   * @defaultValue logs with `console.error`
   */
  onError?: (error: unknown, message?: StreamedMessage) => void;
}

/** Options of {@link StreamConsumer.close}. */
export interface ConsumerCloseOptions {
  /** How long running handlers may take before their signals abort. @defaultValue 30000 */
  timeoutMs?: number;
}

interface Settle {
  readonly message: Held;
  readonly kind: 'ack' | 'nack' | 'dead-letter' | 'release';
  readonly delayMs?: number;
  readonly text?: string;
}

/** A message this consumer holds: waiting for a handler, or running. */
interface Held {
  readonly data: StreamedMessage;
  /** The connection that delivered it (its generation): only that one can settle it. */
  readonly generation: number;
  /** Date.now() of delivery or the last extend. */
  leasedAt: number;
}

const maxBatch = 1000;

export class StreamConsumer {
  readonly #concurrency: number;
  readonly #prefetch: number;
  readonly #onError: (error: unknown, message?: StreamedMessage) => void;
  readonly #stop = new AbortController();
  /** Aborted when close() runs out of time: handlers still running should stop. */
  readonly #abortHandlers = new AbortController();
  readonly #waiting: Held[] = [];
  readonly #running = new Set<Held>();
  #settles: Settle[] = [];
  #flushScheduled = false;
  #connection: StreamConnection | undefined;
  #extender: ReturnType<typeof setInterval> | undefined;
  #idleWaiters: (() => void)[] = [];
  #closing: Promise<void> | undefined;
  #processed = 0;
  #failed = 0;

  /** @internal Use `client.queues.consume()`. */
  constructor(
    private readonly transport: Transport,
    readonly queue: string,
    private readonly handler: StreamHandler,
    private readonly options: ConsumeOptions,
  ) {
    this.#concurrency = options.concurrency ?? 1;
    this.#prefetch = options.prefetch ?? this.#concurrency * 2;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new SpoolClientError(
        'SPOOL_INVALID_ARGUMENT',
        'consume: concurrency must be an integer >= 1',
        false,
      );
    }
    if (!Number.isInteger(this.#prefetch) || this.#prefetch < this.#concurrency || this.#prefetch > 10_000) {
      throw new SpoolClientError(
        'SPOOL_INVALID_ARGUMENT',
        'consume: prefetch must be an integer from concurrency to 10000',
        false,
      );
    }
    this.#onError = options.onError ?? ((error) => console.error(`spool consumer of "${queue}":`, error));
  }

  /** Messages whose handler resolved (and whose ack was sent). */
  get processed(): number {
    return this.#processed;
  }

  /** Handlers that threw. */
  get failed(): number {
    return this.#failed;
  }

  /** Handlers running now. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** @internal Connects; rejects when the first connection is refused (401, 403, 404, …). */
  async start(): Promise<void> {
    this.#connection = new StreamConnection(this.transport, {
      path: `/v1/queues/${encodeURIComponent(this.queue)}/stream`,
      label: `stream of "${this.queue}"`,
      // Each connection starts with the whole window: the server released what a lost one held.
      query: () => ({ credit: this.#prefetch, visibilityMs: this.options.visibilityMs }),
      onReady: (frame, generation) => this.#ready(frame, generation),
      onFrame: (frame, generation) => this.#frame(frame, generation),
      onError: (error) => this.#onError(error),
    });
    await this.#connection.start();
  }

  /**
   * Stops taking messages, lets running handlers finish (at most `timeoutMs`, then their signals
   * abort), sends their settles and waits for the server to confirm them, then closes the
   * connection — which releases the messages that were waiting here, untried.
   */
  close(options: ConsumerCloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeoutMs ?? 30_000);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#stop.abort();
    // Handed back untried now, confirmed before close() resolves, rather than released by the
    // server some time after the connection ends.
    for (const held of this.#waiting.splice(0)) this.#settle({ message: held, kind: 'release' });
    if (this.#running.size > 0) {
      const idle = new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      if (!(await within(idle, timeoutMs))) this.#abortHandlers.abort();
    }
    this.#flush();
    // The server answers settles at once; a silent one is not waited for long.
    if (this.#connection) await within(this.#connection.answered(), 5000);
    clearInterval(this.#extender);
    await this.#connection?.close();
  }

  #ready(frame: ServerFrame, generation: number): void {
    if (generation > 1) {
      // A reconnect: what waited here was released with the lost connection; running handlers
      // finish, but their settles are dropped (the messages come again).
      this.#waiting.length = 0;
    }
    this.#startExtender(typeof frame.visibilityMs === 'number' ? frame.visibilityMs : 30_000);
  }

  #frame(frame: ServerFrame, generation: number): void {
    if (frame.type !== 'messages') return;
    const now = Date.now();
    for (const data of frame.messages as ReceivedMessageData[]) {
      this.#waiting.push({ data: { ...data, queue: this.queue }, generation, leasedAt: now });
    }
    this.#pump();
  }

  /** Reports the items a settle frame could not settle (a lease that was lost, …). */
  #check(sent: Promise<SettledResult[]>): void {
    sent.then(
      (results) => {
        for (const result of results) {
          if (result.ok) continue;
          const code = result.code ?? 'SPOOL_INTERNAL';
          this.#onError(new SpoolClientError(code, `${code}: ${result.detail ?? 'not settled'}`, false));
        }
      },
      (error: unknown) => this.#onError(error),
    );
  }

  /** Starts handlers while there are free slots and messages waiting. */
  #pump(): void {
    while (this.#running.size < this.#concurrency && this.#waiting.length > 0 && !this.#stop.signal.aborted) {
      const held = this.#waiting.shift()!;
      this.#running.add(held);
      void this.#run(held);
    }
  }

  async #run(held: Held): Promise<void> {
    let settle: Settle;
    try {
      await this.handler(held.data, { signal: this.#abortHandlers.signal });
      this.#processed++;
      settle = { message: held, kind: 'ack' };
    } catch (error) {
      this.#failed++;
      this.#onError(error, held.data);
      settle = failureSettle(held, error);
    }
    this.#running.delete(held);
    this.#settle(settle);
    this.#pump();
    if (this.#running.size === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  #settle(settle: Settle): void {
    // A message of a lost connection was released by the server; settling it now would only be refused.
    const connection = this.#connection;
    if (!connection?.open || settle.message.generation !== connection.generation) return;
    this.#settles.push(settle);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** Sends the settles gathered this turn: one frame per kind, each granting the credit it frees. */
  #flush(): void {
    this.#flushScheduled = false;
    const connection = this.#connection;
    const settles = this.#settles.filter((settle) => settle.message.generation === connection?.generation);
    this.#settles = [];
    if (connection === undefined || !connection.open || settles.length === 0) return;
    // While closing, freed slots are not refilled.
    const regrant = !this.#stop.signal.aborted;
    const byKind = (kind: Settle['kind']) => settles.filter((settle) => settle.kind === kind);
    for (let start = 0, acks = byKind('ack'); start < acks.length; start += maxBatch) {
      const batch = acks.slice(start, start + maxBatch);
      this.#send(connection, {
        type: 'ack',
        receipts: batch.map((settle) => settle.message.data.receipt),
        ...(regrant ? { credit: batch.length } : {}),
      });
    }
    for (const kind of ['nack', 'dead-letter', 'release'] as const) {
      const all = byKind(kind);
      for (let start = 0; start < all.length; start += maxBatch) {
        const batch = all.slice(start, start + maxBatch);
        this.#send(connection, {
          type: kind,
          items: batch.map((settle) => settleItem(settle)),
          ...(regrant ? { credit: batch.length } : {}),
        });
      }
    }
  }

  #send(connection: StreamConnection, frame: Record<string, unknown>): void {
    this.#check(connection.request(frame));
  }

  /** Every third of the lease, extends the leases of messages held longer than that. */
  #startExtender(visibilityMs: number): void {
    clearInterval(this.#extender);
    const every = Math.max(100, Math.floor(visibilityMs / 3));
    this.#extender = setInterval(() => {
      const connection = this.#connection;
      if (connection === undefined || !connection.open) return;
      const now = Date.now();
      const due = [...this.#running, ...this.#waiting].filter(
        (held) => held.generation === connection.generation && now - held.leasedAt >= every,
      );
      for (let start = 0; start < due.length; start += maxBatch) {
        const batch = due.slice(start, start + maxBatch);
        for (const held of batch) held.leasedAt = now;
        this.#send(connection, {
          type: 'extend',
          items: batch.map((held) => ({ receipt: held.data.receipt, visibilityMs })),
        });
      }
    }, every);
    this.#extender.unref();
  }
}

/** Whether `promise` settled within `ms`; the timer does not outlive it. */
async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** One item of a nack, dead-letter or release frame. */
function settleItem(settle: Settle): Record<string, unknown> {
  const receipt = settle.message.data.receipt;
  switch (settle.kind) {
    case 'dead-letter':
      return { receipt, reason: settle.text };
    case 'nack':
      return {
        receipt,
        error: settle.text,
        ...(settle.delayMs === undefined ? {} : { delayMs: settle.delayMs }),
      };
    default:
      return { receipt };
  }
}

/** How a handler's error settles its message. */
function failureSettle(message: Held, error: unknown): Settle {
  const text = describe(error);
  if (error instanceof Error && error.name === 'NonRetryableError') {
    return { message, kind: 'dead-letter', text };
  }
  const retryAfterMs = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return {
    message,
    kind: 'nack',
    text,
    ...(typeof retryAfterMs === 'number' && retryAfterMs >= 0 ? { delayMs: Math.round(retryAfterMs) } : {}),
  };
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, 1000) || 'Error';
}
