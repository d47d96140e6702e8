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
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { SpoolClientError, SpoolHttpError, SpoolNetworkError } from './errors.js';
import { sleep, type Transport } from './http.js';
import type { ProblemDocument, ReceivedMessageData } from './types.js';

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
  readonly session: Session;
  /** Date.now() of delivery or the last extend. */
  leasedAt: number;
}

interface Session {
  readonly socket: WebSocket;
  readonly visibilityMs: number;
  /** Settle frames sent and not yet answered, by id. */
  readonly waiting: Set<number>;
  /** Called once `waiting` is empty or the session has closed. */
  readonly drained: (() => void)[];
  open: boolean;
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
  #session: Session | undefined;
  #nextId = 1;
  #loop: Promise<void> = Promise.resolve();
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
    this.#session = await this.#connect();
    this.#loop = this.#reconnectLoop();
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
    const session = this.#session;
    // The server answers settles at once; a silent one is not waited for long.
    if (session?.open) await within(this.#answered(session), 5000);
    clearInterval(this.#extender);
    session?.socket.close(1000, 'consumer closed');
    await this.#loop;
  }

  /** Resolves when every settle frame sent on `session` is answered, or the session has closed. */
  #answered(session: Session): Promise<void> {
    if (!session.open || session.waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => session.drained.push(resolve));
  }

  /** Opens a connection and resolves once the server says `ready`. */
  async #connect(): Promise<Session> {
    const { WebSocket } = await import('ws');
    const { url, headers } = this.transport.webSocketTarget(
      `/v1/queues/${encodeURIComponent(this.queue)}/stream`,
      { credit: this.#prefetch, visibilityMs: this.options.visibilityMs },
    );
    const socket = new WebSocket(url, { headers, perMessageDeflate: false });
    return new Promise<Session>((resolve, reject) => {
      let session: Session | undefined;
      socket.on('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
        // With this listener ws leaves the refused request to us: read the problem, then end it.
        readProblem(response)
          .catch(reject)
          .finally(() => request.destroy());
      });
      socket.on('error', (error) => {
        if (session === undefined) {
          reject(
            new SpoolNetworkError(
              'SPOOL_NETWORK_ERROR',
              `stream of "${this.queue}": ${error.message}`,
              error,
            ),
          );
        }
      });
      socket.on('close', (code, reason) => {
        if (session === undefined) {
          reject(
            new SpoolNetworkError(
              'SPOOL_NETWORK_ERROR',
              `stream of "${this.queue}" closed before it was ready (${code} ${reason.toString()})`,
            ),
          );
          return;
        }
        session.open = false;
        session.waiting.clear();
        for (const resolve of session.drained.splice(0)) resolve();
      });
      socket.on('message', (data) => {
        let frame: ServerFrame;
        try {
          frame = JSON.parse((data as Buffer).toString()) as ServerFrame;
        } catch (error) {
          this.#onError(error);
          return;
        }
        if (frame.type === 'ready') {
          session = { socket, visibilityMs: frame.visibilityMs, waiting: new Set(), drained: [], open: true };
          this.#startExtender(frame.visibilityMs);
          resolve(session);
        } else if (session !== undefined) {
          this.#frame(session, frame);
        }
      });
    });
  }

  /** Keeps reconnecting after a lost connection until the consumer closes. */
  async #reconnectLoop(): Promise<void> {
    let backoffMs = 100;
    while (!this.#stop.signal.aborted) {
      const session = this.#session!;
      if (session.open) {
        await new Promise<void>((resolve) => {
          session.socket.once('close', () => resolve());
          this.#stop.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        if (this.#stop.signal.aborted) return;
      }
      // Lost: the server released what the connection held; what waited here goes with it.
      this.#waiting.length = 0;
      if (this.#running.size > 0) {
        this.#onError(
          new SpoolNetworkError(
            'SPOOL_NETWORK_ERROR',
            `stream of "${this.queue}" lost its connection; ${this.#running.size} running messages will be delivered again`,
          ),
        );
      }
      try {
        await sleep(backoffMs, this.#stop.signal);
        this.#session = await this.#connect();
        backoffMs = 100;
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        this.#onError(error);
        if (error instanceof SpoolHttpError && !error.retryable && error.status !== 404) {
          // Refused for good (a token revoked, a scope removed): stop rather than hammer.
          this.#stop.abort();
          return;
        }
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  }

  #frame(session: Session, frame: ServerFrame): void {
    switch (frame.type) {
      case 'messages':
        for (const data of frame.messages) {
          this.#waiting.push({ data: { ...data, queue: this.queue }, session, leasedAt: Date.now() });
        }
        this.#pump();
        return;
      case 'settled':
        for (const result of frame.results) {
          if (!result.ok) {
            this.#onError(
              new SpoolClientError(
                result.code ?? 'SPOOL_INTERNAL',
                `${result.code}: ${result.detail}`,
                false,
              ),
            );
          }
        }
        this.#answer(session, frame.id);
        return;
      case 'error': {
        const problem = frame.problem;
        this.#onError(SpoolHttpError.from(problem.status ?? 400, problem));
        if (frame.id !== undefined) this.#answer(session, frame.id);
        return;
      }
    }
  }

  #answer(session: Session, id: number): void {
    session.waiting.delete(id);
    if (session.waiting.size === 0) for (const resolve of session.drained.splice(0)) resolve();
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
    if (settle.message.session !== this.#session || !settle.message.session.open) return;
    this.#settles.push(settle);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** Sends the settles gathered this turn: one frame per kind, each granting the credit it frees. */
  #flush(): void {
    this.#flushScheduled = false;
    const session = this.#session;
    const settles = this.#settles;
    this.#settles = [];
    if (session === undefined || !session.open || settles.length === 0) return;
    // While closing, freed slots are not refilled.
    const regrant = !this.#stop.signal.aborted;
    const byKind = (kind: Settle['kind']) => settles.filter((settle) => settle.kind === kind);
    for (let start = 0, acks = byKind('ack'); start < acks.length; start += maxBatch) {
      const batch = acks.slice(start, start + maxBatch);
      this.#send(session, {
        type: 'ack',
        receipts: batch.map((settle) => settle.message.data.receipt),
        ...(regrant ? { credit: batch.length } : {}),
      });
    }
    for (const kind of ['nack', 'dead-letter', 'release'] as const) {
      const all = byKind(kind);
      for (let start = 0; start < all.length; start += maxBatch) {
        const batch = all.slice(start, start + maxBatch);
        this.#send(session, {
          type: kind,
          items: batch.map((settle) => settleItem(settle)),
          ...(regrant ? { credit: batch.length } : {}),
        });
      }
    }
  }

  /** Sends a settle frame with the next id; the `settled` answer clears it. */
  #send(session: Session, frame: Record<string, unknown>): void {
    const id = this.#nextId++;
    session.waiting.add(id);
    session.socket.send(JSON.stringify({ ...frame, id }));
  }

  /** Every third of the lease, extends the leases of messages held longer than that. */
  #startExtender(visibilityMs: number): void {
    clearInterval(this.#extender);
    const every = Math.max(100, Math.floor(visibilityMs / 3));
    this.#extender = setInterval(() => {
      const session = this.#session;
      if (session === undefined || !session.open) return;
      const now = Date.now();
      const due = [...this.#running, ...this.#waiting].filter(
        (held) => held.session === session && now - held.leasedAt >= every,
      );
      for (let start = 0; start < due.length; start += maxBatch) {
        const batch = due.slice(start, start + maxBatch);
        for (const held of batch) held.leasedAt = now;
        this.#send(session, {
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

/** The problem+json of a refused upgrade, as the error a call would have thrown. */
async function readProblem(response: IncomingMessage): Promise<never> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  const status = response.statusCode ?? 500;
  let problem: ProblemDocument;
  try {
    problem = JSON.parse(Buffer.concat(chunks).toString()) as ProblemDocument;
  } catch {
    problem = {
      type: 'about:blank',
      title: response.statusMessage ?? 'error',
      status,
      detail: `the server refused the stream with ${status}`,
      code: status >= 500 ? 'SPOOL_UNEXPECTED_RESPONSE' : 'SPOOL_BAD_REQUEST',
    } as ProblemDocument;
  }
  throw SpoolHttpError.from(status, problem);
}

type ServerFrame =
  | { type: 'ready'; queue: string; visibilityMs: number }
  | { type: 'messages'; messages: ReceivedMessageData[] }
  | {
      type: 'settled';
      id: number;
      results: { receipt: string; ok: boolean; code?: string; detail?: string }[];
    }
  | { type: 'error'; id?: number; problem: ProblemDocument };
