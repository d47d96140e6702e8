/**
 * One streaming connection of the client (docs/streaming.md), kept open: a WebSocket with the
 * bearer token, opened once `ready` arrives, settle frames numbered and matched to their
 * `settled` answers, and reconnection with backoff after a loss — each new connection a new
 * `generation`, so callers can tell what belonged to the lost one. Used by the queue consumer
 * (`client.queues.consume`) and the remote job `Worker`.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { SpoolHttpError, SpoolNetworkError } from './errors.js';
import { sleep, type Transport } from './http.js';
import type { ProblemDocument } from './types.js';

/** One item's answer in a `settled` frame. */
export interface SettledResult {
  readonly ok: boolean;
  readonly code?: string;
  readonly detail?: string;
  readonly [fact: string]: unknown;
}

/** A frame the server sent other than `settled` and `error` answers. */
export interface ServerFrame {
  readonly type: string;
  readonly [field: string]: unknown;
}

export interface StreamConnectionOptions {
  /** The route, e.g. `/v1/queues/emails/stream`. */
  readonly path: string;
  /** Its query for each (re)connection: the credit to grant at once, the lease, … */
  query(): Record<string, string | number | undefined>;
  /** The `ready` frame of each connection (the first, and each after a reconnect). */
  onReady(frame: ServerFrame, generation: number): void;
  /** Pushed frames (`messages`, `jobs`). */
  onFrame(frame: ServerFrame, generation: number): void;
  /** A lost connection (it reconnects), an `error` frame, a failed reconnect. */
  onError(error: unknown): void;
  /** Says what the stream is in errors, e.g. `stream of "emails"`. */
  readonly label: string;
}

interface Live {
  readonly socket: WebSocket;
  readonly generation: number;
  /** Settle frames sent and not yet answered. */
  readonly waiting: Map<number, { resolve(results: SettledResult[]): void; reject(error: unknown): void }>;
  /** Called once `waiting` is empty, or the connection closed. */
  readonly drained: (() => void)[];
  open: boolean;
}

export class StreamConnection {
  readonly #stop = new AbortController();
  #live: Live | undefined;
  #generation = 0;
  #nextId = 1;
  #loop: Promise<void> = Promise.resolve();

  /**
   * Not connected yet: keep the object where the callbacks can reach it, then {@link start} it —
   * frames may arrive (and callbacks run) before `start()` resolves.
   */
  constructor(
    private readonly transport: Transport,
    private readonly options: StreamConnectionOptions,
  ) {}

  /** Opens the first connection; rejects if the server refuses it (401, 403, …). */
  async start(): Promise<void> {
    this.#live = await this.#connect();
    this.#loop = this.#reconnecting();
  }

  /** The current connection's number (1 for the first); a reconnect raises it. */
  get generation(): number {
    return this.#live?.generation ?? 0;
  }

  /** Whether the current connection is open. */
  get open(): boolean {
    return this.#live?.open ?? false;
  }

  /** Sends a frame that has no answer (`credit`). Dropped when no connection is open. */
  send(frame: object): void {
    const live = this.#live;
    if (live?.open) live.socket.send(JSON.stringify(frame));
  }

  /**
   * Sends a settle frame with the next `id` and resolves with its `settled` results; rejects with
   * the `error` frame's problem, or a network error if the connection is lost first.
   */
  request(frame: object): Promise<SettledResult[]> {
    const live = this.#live;
    if (!live?.open) {
      return Promise.reject(
        new SpoolNetworkError('SPOOL_NETWORK_ERROR', `${this.options.label} is not connected`),
      );
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      live.waiting.set(id, { resolve, reject });
      live.socket.send(JSON.stringify({ ...frame, id }));
    });
  }

  /** Resolves once every request sent on the current connection is answered (or it closed). */
  answered(): Promise<void> {
    const live = this.#live;
    if (!live?.open || live.waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => live.drained.push(resolve));
  }

  /** Stops reconnecting and closes the connection (1000). */
  async close(): Promise<void> {
    this.#stop.abort();
    this.#live?.socket.close(1000, 'client closed');
    await this.#loop;
  }

  async #connect(): Promise<Live> {
    const [{ WebSocket }, { hostname }] = await Promise.all([import('ws'), import('node:os')]);
    // Who this is, for the server's workers registry (GET /v1/workers).
    const query = { ...this.options.query(), host: hostname(), pid: process.pid };
    const { url, headers } = this.transport.webSocketTarget(this.options.path, query);
    const socket = new WebSocket(url, { headers, perMessageDeflate: false });
    const generation = ++this.#generation;
    return new Promise<Live>((resolve, reject) => {
      let live: Live | undefined;
      socket.on('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
        // With this listener ws leaves the refused request to us: read the problem, then end it.
        readProblem(response)
          .catch(reject)
          .finally(() => request.destroy());
      });
      socket.on('error', (error) => {
        if (live === undefined) {
          reject(
            new SpoolNetworkError('SPOOL_NETWORK_ERROR', `${this.options.label}: ${error.message}`, error),
          );
        }
      });
      socket.on('close', (code, reason) => {
        if (live === undefined) {
          reject(
            new SpoolNetworkError(
              'SPOOL_NETWORK_ERROR',
              `${this.options.label} closed before it was ready (${code} ${reason.toString()})`,
            ),
          );
          return;
        }
        live.open = false;
        const lost = new SpoolNetworkError(
          'SPOOL_NETWORK_ERROR',
          `${this.options.label} closed (${code} ${reason.toString()}) before the server answered`,
        );
        for (const pending of live.waiting.values()) pending.reject(lost);
        live.waiting.clear();
        for (const resolve of live.drained.splice(0)) resolve();
      });
      socket.on('message', (data) => {
        let frame: ServerFrame;
        try {
          frame = JSON.parse((data as Buffer).toString()) as ServerFrame;
        } catch (error) {
          this.options.onError(error);
          return;
        }
        if (frame.type === 'ready') {
          live = { socket, generation, waiting: new Map(), drained: [], open: true };
          // Current before onReady runs, so what it sends goes on this connection.
          this.#live = live;
          resolve(live);
          this.options.onReady(frame, generation);
        } else if (live !== undefined) {
          this.#answer(live, frame);
        }
      });
    });
  }

  #answer(live: Live, frame: ServerFrame): void {
    const id = typeof frame.id === 'number' ? frame.id : undefined;
    const pending = id === undefined ? undefined : live.waiting.get(id);
    if (frame.type === 'settled' && pending) {
      this.#settle(live, id!);
      pending.resolve(frame.results as SettledResult[]);
    } else if (frame.type === 'error') {
      const problem = frame.problem as ProblemDocument;
      const error = SpoolHttpError.from(problem.status ?? 400, problem);
      if (pending) {
        this.#settle(live, id!);
        pending.reject(error);
      } else this.options.onError(error);
    } else {
      this.options.onFrame(frame, live.generation);
    }
  }

  #settle(live: Live, id: number): void {
    live.waiting.delete(id);
    if (live.waiting.size === 0) for (const resolve of live.drained.splice(0)) resolve();
  }

  /** Keeps reconnecting after a lost connection until closed. */
  async #reconnecting(): Promise<void> {
    let backoffMs = 100;
    while (!this.#stop.signal.aborted) {
      const live = this.#live!;
      if (live.open) {
        await new Promise<void>((resolve) => {
          live.socket.once('close', () => resolve());
          this.#stop.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        if (this.#stop.signal.aborted) return;
        this.options.onError(
          new SpoolNetworkError(
            'SPOOL_NETWORK_ERROR',
            `${this.options.label} lost its connection; reconnecting`,
          ),
        );
      }
      try {
        await sleep(backoffMs, this.#stop.signal);
        this.#live = await this.#connect();
        backoffMs = 100;
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        this.options.onError(error);
        if (error instanceof SpoolHttpError && !error.retryable && error.status !== 404) {
          // Refused for good (a token revoked, a scope removed): stop rather than hammer.
          this.#stop.abort();
          return;
        }
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  }
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
