/**
 * One webhook POST over `node:http`/`node:https`. Not `fetch`: Node's fetch takes no `lookup`
 * hook, and the SSRF guard must see the address each socket connects to. The agents carry the
 * guard's lookup (agent options win over request options, so no caller can bypass it) and keep
 * connections alive between deliveries to the same receiver.
 *
 * The whole exchange — connect, send, response head and body — runs under one deadline. The
 * response body is read (so the socket can be reused) up to a small cap and discarded: the
 * Standard Webhooks contract is the status code alone. Redirects are not followed.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { errorCatalogue, SpoolError } from '../core/errors.js';
import type { AddressGuard } from './address-guard.js';

/** Response bodies beyond this many bytes are cut off (the connection is closed). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** The parts of a response that decide a delivery's fate. */
export interface PostResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
}

/**
 * The receiver did not answer within the delivery timeout (`SPOOL_WEBHOOK_TIMEOUT`, retryable:
 * the delivery is tried again).
 */
export class WebhookTimeoutError extends SpoolError {
  constructor(readonly timeoutMs: number) {
    super(errorCatalogue.WEBHOOK_TIMEOUT, `no response within ${timeoutMs} ms`, { timeoutMs });
  }
}

/** How {@link WebhookHttpClient} sends. */
export interface WebhookHttpClientOptions {
  /** The deadline of one attempt. */
  readonly timeoutMs: number;
  readonly userAgent: string;
}

/** Sends webhook POSTs through keep-alive agents whose sockets resolve via the SSRF guard. */
export class WebhookHttpClient {
  readonly #http: HttpAgent;
  readonly #https: HttpsAgent;

  constructor(
    private readonly guard: AddressGuard,
    private readonly options: WebhookHttpClientOptions,
  ) {
    this.#http = new HttpAgent({ keepAlive: true, lookup: guard.lookup });
    this.#https = new HttpsAgent({ keepAlive: true, lookup: guard.lookup });
  }

  /**
   * POSTs `body` as JSON to `url` with `headers`. Resolves with the status once the response
   * head arrives; rejects with `BlockedAddressError` (refused destination), `WebhookTimeoutError`,
   * the network error, or `signal`'s reason when it aborts.
   */
  post(
    url: string,
    body: string,
    headers: Readonly<Record<string, string>>,
    signal?: AbortSignal,
  ): Promise<PostResponse> {
    return new Promise<PostResponse>((resolve, reject) => {
      const target = this.guard.checkUrl(url); // a throw here rejects the promise
      const secure = target.protocol === 'https:';
      const request = (secure ? httpsRequest : httpRequest)(target, {
        method: 'POST',
        agent: secure ? this.#https : this.#http,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': this.options.userAgent,
        },
      });
      const timer = setTimeout(
        () => request.destroy(new WebhookTimeoutError(this.options.timeoutMs)),
        this.options.timeoutMs,
      );
      const abort = () =>
        request.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', abort, { once: true });
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
      };
      request.on('error', (error) => {
        finish();
        reject(error);
      });
      request.on('response', (response) => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers });
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > MAX_RESPONSE_BYTES) request.destroy();
        });
        response.on('close', finish);
        response.on('error', finish);
      });
      if (signal?.aborted) abort();
      else request.end(body);
    });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}
