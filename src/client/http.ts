/**
 * The transport under every client call: JSON over HTTP, bearer token, per-request timeout,
 * problem+json → typed errors, and retries.
 *
 * **Connections.** In Node the client keeps its own pool of keep-alive connections to the server
 * (undici, see http-node.ts), loaded on the first call; it is several times cheaper per request
 * than the global `fetch`. A `fetch` option replaces it (a test's, an instrumented one), and
 * outside Node the global `fetch` is used. Event streams (`stream()`) always go over `fetch`.
 *
 * **Retries.** A request is tried up to `retries.maxAttempts` times (default 5):
 * - after a **429 or 503** answer, whatever the method: the server applied nothing (a full queue
 *   stores nothing; a closing server handles nothing). The wait is the answer's `Retry-After`
 *   when it has one, else exponential backoff with jitter. A problem that says `retryable: false`
 *   (e.g. `SPOOL_CLOSED`) is not retried. After the last attempt the typed error is thrown
 *   (e.g. {@link QueueFullHttpError} with code `SPOOL_QUEUE_FULL`).
 * - after a **network error or timeout**, only when a repeat cannot do harm: each call says so
 *   (`retryOnNetworkError`). The resource classes document which calls those are — in short:
 *   GET and PUT; receive, poll, commit, seek, leave, heartbeat, progress (a lost answer's leases
 *   run out and redeliver); a send whose every message carries a `dedupId`/`idempotencyKey`; a
 *   job add with an `idempotencyKey`. Never a plain send, publish, job add, ack/nack/extend,
 *   complete/fail, claim, DELETE, redrive or purge: the first try may have been applied, and a
 *   repeat would store twice or report a misleading conflict. Those throw {@link SpoolNetworkError}.
 */
import { injectActiveContext } from '../telemetry/tracing-http.js';
import { SpoolHttpError, SpoolNetworkError } from './errors.js';
import type { ProblemDocument } from './types.js';
import { Deadline, type Exchange, type Reply } from './exchange.js';

/** Retry settings (see the module notes for what is retried). */
export interface RetryOptions {
  /** Tries per request, the first included; 1 disables retries. @defaultValue 5 */
  maxAttempts?: number;
  /** The first backoff step. @defaultValue 100 */
  baseMs?: number;
  /** The longest backoff step (a server's `Retry-After` may ask for longer, and is honoured). @defaultValue 5000 */
  capMs?: number;
}

/** How to reach the server. */
export interface TransportOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:7460`. */
  url: string;
  /** A bearer API token, when the server requires one. */
  token?: string;
  retries?: RetryOptions;
  /**
   * A fetch implementation to send every request with (a browser's, a test's, an instrumented
   * one). Without it, the client keeps its own pool of keep-alive connections in Node (undici),
   * and uses the global `fetch` elsewhere. Event streams always go over `fetch`.
   * @defaultValue none in Node; globalThis.fetch elsewhere
   */
  fetch?: typeof fetch;
  /**
   * Node, without `fetch`: the most connections open to the server at once (HTTP/1.1 keep-alive,
   * one request on a connection at a time). More calls at once wait for a free connection — note
   * that a long poll (a receive, poll or claim with `waitMs`) holds its connection for its wait.
   * Idle connections are reused, and closed after the server's keep-alive timeout; they never
   * keep the process alive. `0` for no limit.
   * @defaultValue 128
   */
  connections?: number;
  /** Per-attempt timeout; long polls get their wait on top. @defaultValue 30000 */
  timeoutMs?: number;
  /**
   * Send the active OpenTelemetry context (W3C `traceparent`) with each request, so the server's
   * spans (a send, a job add) join the caller's trace. Turn it off when an HTTP instrumentation
   * (`@opentelemetry/instrumentation-undici`) already propagates context on `fetch`: two
   * `traceparent` headers make an invalid one. Without an OpenTelemetry SDK nothing is sent.
   * @defaultValue true
   */
  propagateTraceContext?: boolean;
}

/** @internal One call. */
export interface CallOptions {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined> | undefined;
  body?: unknown;
  headers?: Record<string, string | undefined>;
  /** Whether repeating the call after a network error is harmless. */
  retryOnNetworkError: boolean;
  signal?: AbortSignal | undefined;
  /** A long poll's wait: added to the timeout. */
  waitMs?: number | undefined;
}

/** @internal A successful answer. */
export interface CallAnswer<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

const defaults = { maxAttempts: 5, baseMs: 100, capMs: 5000, timeoutMs: 30_000, connections: 128 } as const;

/** Requests through a `fetch` (a caller's, or the global one where there is no Node). */
class FetchExchange implements Exchange {
  constructor(
    private readonly baseUrl: string,
    private readonly fetch: typeof globalThis.fetch,
  ) {}

  async send(
    method: string,
    pathAndQuery: string,
    headers: Record<string, string>,
    body: string | undefined,
    deadline: Deadline,
  ): Promise<Reply> {
    const response = await this.fetch(this.baseUrl + pathAndQuery, {
      method,
      headers,
      body: body ?? null,
      signal: deadline.signal,
    });
    const text = await response.text();
    return {
      status: response.status,
      statusText: response.statusText,
      header: (name) => response.headers.get(name),
      headers: response.headers,
      text,
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Whether this runs in Node (where the client uses its own pool rather than `fetch`). */
function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** @internal */
export class Transport {
  readonly baseUrl: string;
  readonly #authorization: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #retries: Required<RetryOptions>;
  readonly #propagateTraceContext: boolean;
  readonly #connections: number | null;
  /** Where `call()` sends requests; undefined until the Node pool is loaded (first call). */
  #exchange: Exchange | undefined;
  #loading: Promise<Exchange> | undefined;
  #closed = false;

  constructor(options: TransportOptions) {
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.#authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#timeoutMs = options.timeoutMs ?? defaults.timeoutMs;
    this.#propagateTraceContext = options.propagateTraceContext ?? true;
    this.#retries = {
      maxAttempts: Math.max(1, options.retries?.maxAttempts ?? defaults.maxAttempts),
      baseMs: options.retries?.baseMs ?? defaults.baseMs,
      capMs: options.retries?.capMs ?? defaults.capMs,
    };
    this.#connections = options.connections === 0 ? null : (options.connections ?? defaults.connections);
    // A caller's fetch is used as given; so is the global one outside Node, and for a base URL
    // the pool cannot take (fetch then reports it as it always did).
    if (options.fetch !== undefined || !isNode() || !/^https?:\/\//i.test(this.baseUrl)) {
      this.#exchange = new FetchExchange(this.baseUrl, this.#fetch);
    }
  }

  /**
   * @internal Where a WebSocket route is (`ws:` or `wss:` for the base URL's scheme) and the
   * headers to open it with (the bearer token).
   */
  webSocketTarget(
    path: string,
    query: CallOptions['query'],
  ): { url: string; headers: Record<string, string> } {
    const url = this.url(path, query).replace(/^http/i, 'ws');
    return { url, headers: this.#authorization === undefined ? {} : { authorization: this.#authorization } };
  }

  /** The Node pool, loaded on the first call; the global fetch if undici cannot be loaded. */
  #load(): Promise<Exchange> {
    this.#loading ??= import('./http-node.js')
      .then(({ PoolExchange }) => new PoolExchange(this.baseUrl, { connections: this.#connections }))
      .catch(() => new FetchExchange(this.baseUrl, this.#fetch));
    return this.#loading.then((exchange) => (this.#exchange = exchange));
  }

  /** The backoff before try `attempt + 1`: exponential, capped, with "equal" jitter. */
  backoffMs(attempt: number): number {
    const step = Math.min(this.#retries.capMs, this.#retries.baseMs * 2 ** Math.max(0, attempt - 1));
    return step / 2 + Math.random() * (step / 2);
  }

  /** Sends a JSON request and parses the answer, retrying as the module notes describe. */
  async call<T>(options: CallOptions): Promise<CallAnswer<T>> {
    const target = pathAndQuery(options.path, options.query);
    const headers: Record<string, string> = { accept: 'application/json' };
    const extra = options.headers;
    if (extra !== undefined) {
      for (const name in extra) {
        const value = extra[name];
        if (value !== undefined) headers[name.toLowerCase()] = value;
      }
    }
    if (this.#authorization !== undefined) headers.authorization = this.#authorization;
    if (this.#propagateTraceContext) injectActiveContext(headers);
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const exchange = this.#exchange ?? (await this.#load());
    const { maxAttempts } = this.#retries;
    const timeoutMs = this.#timeoutMs + (options.waitMs ?? 0);
    for (let attempt = 1; ; attempt++) {
      options.signal?.throwIfAborted();
      if (this.#closed) {
        throw new SpoolNetworkError(
          'SPOOL_NETWORK_ERROR',
          `${options.method} ${options.path} failed: the client is closed`,
        );
      }
      const deadline = new Deadline(timeoutMs, options.signal);
      let reply: Reply;
      try {
        reply = await exchange.send(options.method, target, headers, body, deadline);
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        const failure = deadline.timedOut
          ? new SpoolNetworkError(
              'SPOOL_TIMEOUT',
              `${options.method} ${options.path} got no answer within ${timeoutMs} ms`,
              error,
            )
          : new SpoolNetworkError(
              'SPOOL_NETWORK_ERROR',
              `${options.method} ${options.path} failed: ${describeCause(error)} (is the server at ${this.baseUrl} running?)`,
              error,
            );
        if (!options.retryOnNetworkError || attempt >= maxAttempts) throw failure;
        await sleep(this.backoffMs(attempt), options.signal);
        continue;
      } finally {
        deadline.dispose();
      }
      const status = reply.status;
      if (status >= 200 && status < 300) return new Answer(reply, parseJson(reply.text) as T);
      const retryAfterMs = parseRetryAfter(reply.header('retry-after'));
      const error = SpoolHttpError.from(status, toProblem(reply, options.path), retryAfterMs);
      const backPressure = status === 429 || status === 503;
      if (!backPressure || error.problem.retryable === false || attempt >= maxAttempts) throw error;
      await sleep(retryAfterMs ?? this.backoffMs(attempt), options.signal);
    }
  }

  /**
   * Opens a streaming GET (Server-Sent Events): no timeout, no retries, the body left unread.
   * A non-2xx answer is thrown as a {@link SpoolHttpError}. Always over `fetch` (the caller's or
   * the global one): a stream is one long request, and `close()` leaves it to its signal.
   */
  async stream(
    path: string,
    query: CallOptions['query'],
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<Response> {
    const all: Record<string, string> = { accept: 'text/event-stream', ...headers };
    if (this.#authorization !== undefined) all.authorization = this.#authorization;
    let response: Response;
    try {
      response = await this.#fetch(this.url(path, query), { method: 'GET', headers: all, signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new SpoolNetworkError(
        'SPOOL_NETWORK_ERROR',
        `GET ${path} failed: ${describeCause(error)}`,
        error,
      );
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw SpoolHttpError.from(
        response.status,
        toProblem(
          {
            status: response.status,
            statusText: response.statusText,
            header: (name) => response.headers.get(name),
            headers: response.headers,
            text,
          },
          path,
        ),
        parseRetryAfter(response.headers.get('retry-after')),
      );
    }
    return response;
  }

  url(path: string, query?: CallOptions['query']): string {
    return this.baseUrl + pathAndQuery(path, query);
  }

  /**
   * Closes the connection pool once the requests in flight have been answered; calls made after
   * it throw `SPOOL_NETWORK_ERROR`. Event streams (`stream()`) are not affected: their signal ends
   * them. Safe to call twice.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const exchange = this.#exchange ?? (await this.#loading);
    await exchange?.close();
  }
}

/** `path` and its query string (`?a=1&b=2`; nothing when every value is undefined). */
function pathAndQuery(path: string, query: CallOptions['query']): string {
  if (query === undefined) return path;
  let search: URLSearchParams | undefined;
  for (const name in query) {
    const value = query[name];
    if (value !== undefined) (search ??= new URLSearchParams()).set(name, String(value));
  }
  return search === undefined ? path : `${path}?${search.toString()}`;
}

/** A successful call's answer; `headers` is read from the reply only when asked for. */
class Answer<T> implements CallAnswer<T> {
  readonly status: number;
  readonly body: T;
  readonly #reply: Reply;

  constructor(reply: Reply, body: T) {
    this.status = reply.status;
    this.body = body;
    this.#reply = reply;
  }

  get headers(): Headers {
    return this.#reply.headers;
  }
}

/**
 * POSTs an idempotent action (pause, resume) to `path` and answers the body. Retried after a
 * network error: doing it twice changes nothing.
 */
export async function postIdempotent<T>(http: Transport, path: string): Promise<T> {
  return (await http.call<T>({ method: 'POST', path, body: {}, retryOnNetworkError: true })).body;
}

/** `encodeURIComponent` for a path segment (a queue, topic, group or job id). */
export function segment(value: string | number): string {
  return encodeURIComponent(String(value));
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `Retry-After` in ms: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new SpoolNetworkError('SPOOL_NETWORK_ERROR', 'the server answered with invalid JSON', error);
  }
}

/** The answer's problem document; one made up for answers that are not problem+json (a proxy's page). */
function toProblem(reply: Reply, path: string): ProblemDocument {
  const text = reply.text;
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (isProblem(parsed)) return parsed;
  const status = reply.status;
  return {
    type: 'about:blank',
    title: reply.statusText || `HTTP ${status}`,
    status,
    detail: `the server answered ${status} ${reply.statusText} without a problem document${text ? `: ${text.slice(0, 200)}` : ''}`,
    instance: path,
    code: 'SPOOL_UNEXPECTED_RESPONSE',
    retryable: status === 429 || status >= 500,
    requestId: reply.header('x-request-id') ?? '',
  };
}

function isProblem(value: unknown): value is ProblemDocument {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { detail?: unknown }).detail === 'string'
  );
}

function describeCause(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${code} ${cause.message}` : cause.message;
  }
  return String(cause);
}
