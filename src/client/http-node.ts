/**
 * The client's own connection pool, used in Node unless a `fetch` is given: an undici `Pool`
 * driven through `dispatch()` with a handler that collects the answer's bytes. Node 20's global
 * `fetch` runs on undici too, but wraps every request in a WHATWG Request, Response, Headers, web
 * streams and AbortSignals, which makes it 4–5× more expensive per request than the pool alone.
 *
 * One pool per client, for the server's origin: HTTP/1.1 keep-alive, no pipelining (a long poll
 * must not hold up the answers queued behind it on its socket). undici unrefs idle sockets, so an
 * idle client never keeps the process alive; the server's `Keep-Alive: timeout` hint bounds how
 * long they stay open. undici's own headers and body timeouts are off: the transport's
 * per-attempt deadline (which knows a long poll's wait) is the only one.
 *
 * Loaded with a dynamic `import()` by the transport, so that `undici` is only loaded where it is
 * used (not by a caller who brings a `fetch`).
 */
import { type Dispatcher, Pool } from 'undici';
import type { Deadline, Exchange, Reply } from './exchange.js';

type IncomingHttpHeaders = Dispatcher.ResponseData['headers'];

/** @internal */
export interface PoolExchangeOptions {
  /** The most connections open to the server at once; `null` for no limit. */
  connections: number | null;
}

/** @internal Requests over one keep-alive pool to the origin of `baseUrl`. */
export class PoolExchange implements Exchange {
  readonly #pool: Pool;
  /** The path part of the base URL (`''` or `/prefix`), put in front of every request path. */
  readonly #basePath: string;
  #closing: Promise<void> | undefined;

  constructor(baseUrl: string, options: PoolExchangeOptions) {
    const url = new URL(baseUrl);
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#pool = new Pool(url.origin, {
      connections: options.connections,
      pipelining: 1,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  send(
    method: string,
    pathAndQuery: string,
    headers: Record<string, string>,
    body: string | undefined,
    deadline: Deadline,
  ): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const handler = new ReplyHandler(resolve, reject);
      deadline.onEnd((reason) => handler.abort(reason));
      this.#pool.dispatch(
        { method, path: this.#basePath + pathAndQuery, headers, body: body ?? null },
        handler,
      );
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#pool.close();
    return this.#closing;
  }
}

/** Collects one answer; settles its promise once, on the answer's end, an error or an abort. */
class ReplyHandler implements Dispatcher.DispatchHandler {
  readonly #resolve: (reply: Reply) => void;
  readonly #reject: (reason: unknown) => void;
  #settled = false;
  #controller: Dispatcher.DispatchController | undefined;
  /** Why the attempt was abandoned before undici started the request (queued, connecting). */
  #abortReason: unknown;
  #aborted = false;
  #status = 0;
  #statusText = '';
  #headers: IncomingHttpHeaders = {};
  #chunks: Buffer[] = [];

  constructor(resolve: (reply: Reply) => void, reject: (reason: unknown) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Ends the attempt now; undici aborts the request when it has it, or as soon as it starts it. */
  abort(reason: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(reason);
    if (this.#controller !== undefined) this.#controller.abort(toError(reason));
    else {
      this.#aborted = true;
      this.#abortReason = reason;
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Abandoned while it waited for a connection: throwing here makes undici drop the request
    // before writing it, and keep the connection (`controller.abort()` would destroy it).
    if (this.#aborted) throw toError(this.#abortReason);
    this.#controller = controller;
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return; // 1xx: the answer is still to come
    this.#status = statusCode;
    this.#statusText = statusMessage ?? '';
    this.#headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    this.#settled = true;
    const chunks = this.#chunks;
    let text =
      chunks.length === 0 ? '' : (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
    // As `Response.text()`: UTF-8, a leading byte order mark dropped.
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    this.#resolve(new PoolReply(this.#status, this.#statusText, this.#headers, text));
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** An answer from the pool. `headers` (a WHATWG `Headers`) is built only when asked for. */
class PoolReply implements Reply {
  readonly status: number;
  readonly statusText: string;
  readonly text: string;
  readonly #raw: IncomingHttpHeaders;
  #headers: Headers | undefined;

  constructor(status: number, statusText: string, raw: IncomingHttpHeaders, text: string) {
    this.status = status;
    this.statusText = statusText;
    this.#raw = raw;
    this.text = text;
  }

  header(name: string): string | null {
    const value = this.#raw[name];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  get headers(): Headers {
    if (this.#headers === undefined) {
      const headers = new Headers();
      for (const [name, value] of Object.entries(this.#raw)) {
        if (value === undefined) continue;
        if (Array.isArray(value)) for (const item of value) headers.append(name, item);
        else headers.append(name, value);
      }
      this.#headers = headers;
    }
    return this.#headers;
  }
}
