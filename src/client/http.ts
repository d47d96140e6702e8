/**
 * The transport under every client call: JSON over `fetch`, bearer token, per-request timeout,
 * problem+json → typed errors, and retries.
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
import { injectActiveContext } from '../observability/tracing-http.js';
import { SpoolHttpError, SpoolNetworkError } from './errors.js';
import type { ProblemDocument } from './types.js';

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
  /** The fetch implementation. @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
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

const defaults = { maxAttempts: 5, baseMs: 100, capMs: 5000, timeoutMs: 30_000 } as const;

/** @internal */
export class Transport {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #retries: Required<RetryOptions>;
  readonly #propagateTraceContext: boolean;

  constructor(options: TransportOptions) {
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.#token = options.token;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#timeoutMs = options.timeoutMs ?? defaults.timeoutMs;
    this.#propagateTraceContext = options.propagateTraceContext ?? true;
    this.#retries = {
      maxAttempts: Math.max(1, options.retries?.maxAttempts ?? defaults.maxAttempts),
      baseMs: options.retries?.baseMs ?? defaults.baseMs,
      capMs: options.retries?.capMs ?? defaults.capMs,
    };
  }

  /** The backoff before try `attempt + 1`: exponential, capped, with "equal" jitter. */
  backoffMs(attempt: number): number {
    const step = Math.min(this.#retries.capMs, this.#retries.baseMs * 2 ** Math.max(0, attempt - 1));
    return step / 2 + Math.random() * (step / 2);
  }

  /** Sends a JSON request and parses the answer, retrying as the module notes describe. */
  async call<T>(options: CallOptions): Promise<CallAnswer<T>> {
    const url = this.url(options.path, options.query);
    const headers: Record<string, string> = { accept: 'application/json' };
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (value !== undefined) headers[name.toLowerCase()] = value;
    }
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (this.#propagateTraceContext) injectActiveContext(headers);
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const { maxAttempts } = this.#retries;
    for (let attempt = 1; ; attempt++) {
      options.signal?.throwIfAborted();
      const timeoutMs = this.#timeoutMs + (options.waitMs ?? 0);
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      let response: Response;
      let text: string;
      try {
        response = await this.#fetch(url, { method: options.method, headers, body: body ?? null, signal });
        text = await response.text();
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        const failure = timeout.aborted
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
      }
      if (response.ok) {
        return { status: response.status, headers: response.headers, body: parseJson(text) as T };
      }
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      const error = SpoolHttpError.from(
        response.status,
        toProblem(response, text, options.path),
        retryAfterMs,
      );
      const backPressure = response.status === 429 || response.status === 503;
      if (!backPressure || error.problem.retryable === false || attempt >= maxAttempts) throw error;
      await sleep(retryAfterMs ?? this.backoffMs(attempt), options.signal);
    }
  }

  /**
   * Opens a streaming GET (Server-Sent Events): no timeout, no retries, the body left unread.
   * A non-2xx answer is thrown as a {@link SpoolHttpError}.
   */
  async stream(
    path: string,
    query: CallOptions['query'],
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<Response> {
    const all: Record<string, string> = { accept: 'text/event-stream', ...headers };
    if (this.#token !== undefined) all.authorization = `Bearer ${this.#token}`;
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
        toProblem(response, text, path),
        parseRetryAfter(response.headers.get('retry-after')),
      );
    }
    return response;
  }

  url(path: string, query?: CallOptions['query']): string {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) search.set(name, String(value));
    }
    const qs = search.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }
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
function toProblem(response: Response, text: string, path: string): ProblemDocument {
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (isProblem(parsed)) return parsed;
  const status = response.status;
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${status}`,
    status,
    detail: `the server answered ${status} ${response.statusText} without a problem document${text ? `: ${text.slice(0, 200)}` : ''}`,
    instance: path,
    code: 'SPOOL_UNEXPECTED_RESPONSE',
    retryable: status === 429 || status >= 500,
    requestId: response.headers.get('x-request-id') ?? '',
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
