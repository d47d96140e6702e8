/**
 * Webhook delivery on a Spool queue. Each delivery is a message on `spool.webhooks`; the queue
 * supplies what webhooks need from a durable queue — retries with exponential backoff and full
 * jitter spread over hours, `Retry-After` (via `RetryAfterError`), dead-lettering after the last
 * attempt or a permanent failure (via `NonRetryableError`), and DLQ browsing and redrive — so
 * this module only decides, per attempt, how to send and what the answer means.
 *
 * Per attempt: skip (dead-letter) if the endpoint is disabled; sign the fixed body with a fresh
 * timestamp and the same `webhook-id`; POST it through the SSRF-guarded client; log the attempt
 * to the delivery log; then return (ack) or throw the error that makes the queue retry or
 * dead-letter. A 410 disables the endpoint. Refused destinations and invalid messages are
 * dead-lettered at once: retrying cannot fix them.
 */
import { performance } from 'node:perf_hooks';
import { type BackoffOptions } from '../core/backoff.js';
import { InvalidArgumentError, NonRetryableError, RetryAfterError, SpoolError } from '../core/errors.js';
import type { HandlerContext, QueueConsumer } from '../engine/queue-consumer.js';
import type { Queue } from '../engine/queue.js';
import type { Message } from '../engine/received-message.js';
import type { Spool } from '../engine/spool.js';
import { AddressGuard, type AddressGuardOptions, BlockedAddressError } from './address-guard.js';
import { DeliveryLog, type DeliveryOutcome, type DeliveryPage, type DeliveryQuery } from './delivery-log.js';
import { EndpointRegistry, type DisabledEndpoint } from './endpoints.js';
import { WebhookHttpClient } from './http-client.js';
import {
  assertWebhookUrl,
  type WebhookInput,
  type WebhookMessage,
  readWebhookMessage,
  webhookBody,
  webhookMessage,
  webhooksQueue,
} from './message.js';
import { judgeResponse } from './response-policy.js';
import { assertSecret, webhookHeaders } from './signature.js';

export interface WebhooksOptions extends AddressGuardOptions {
  /** The secret(s) deliveries without their own are signed with (several while rotating). */
  secret?: string | readonly string[];
  /** Deadline of one attempt (connect to end of response). @defaultValue 15000 */
  timeoutMs?: number;
  /** @defaultValue `'Spool-Webhooks/1.0'` */
  userAgent?: string;
  /** Deliveries in flight at once in this process. @defaultValue 10 */
  concurrency?: number;
  /** Attempts before a delivery is dead-lettered. @defaultValue 12 */
  maxAttempts?: number;
  /** Delays between attempts. @defaultValue `{ baseMs: 5000, capMs: 3600000, jitter: 'full' }` */
  backoff?: Partial<BackoffOptions>;
  /** The longest `Retry-After` honoured; longer ones are shortened to it. @defaultValue 21600000 (6 h) */
  maxRetryAfterMs?: number;
  /** How long the delivery log keeps attempts. @defaultValue 604800000 (7 days) */
  deliveryLogRetentionMs?: number;
  /**
   * Called with the error of every failed attempt (it is retried or dead-lettered as logged),
   * store errors of the delivery loop, and attempts that could not be logged.
   * @defaultValue loop and logging errors are written to `console.error`; attempt errors are only logged
   */
  onError?: (error: unknown) => void;
}

/** What {@link Webhooks.enqueue} resolves with. */
export interface EnqueuedWebhook {
  readonly webhookId: string;
  /** True when a delivery with this webhook id was enqueued within the dedup window: nothing new was stored. */
  readonly duplicate: boolean;
}

/** A delivery attempt's result, before it is logged. */
interface AttemptResult {
  readonly status: number | null;
  /** Absent when delivered; otherwise what the queue consumer gets thrown. */
  readonly error?: Error;
  readonly skipped?: boolean;
}

/**
 * Webhook delivery for one Spool: `enqueue` (or `webhookMessage` in a transaction) adds
 * deliveries, `start` delivers them, `listDeliveries` reads the attempt log, and `queue` gives
 * the dead letters and redrive. Several processes may deliver from the same store.
 */
export class Webhooks {
  readonly #spool: Spool;
  readonly #options: WebhooksOptions;
  readonly #defaultSecrets: readonly string[] | undefined;
  readonly #timeoutMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #http: WebhookHttpClient;
  readonly #guard: AddressGuard;
  readonly #log: DeliveryLog;
  readonly #endpoints: EndpointRegistry;
  #queue: Queue<WebhookMessage> | undefined;
  #opened: Promise<void> | undefined;
  #consumer: QueueConsumer<WebhookMessage> | undefined;

  constructor(spool: Spool, options: WebhooksOptions = {}) {
    this.#spool = spool;
    this.#options = options;
    this.#defaultSecrets = options.secret === undefined ? undefined : [options.secret].flat();
    this.#defaultSecrets?.forEach(assertSecret);
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 21_600_000;
    assertPositiveInteger(this.#timeoutMs, 'timeoutMs');
    assertPositiveInteger(this.#maxRetryAfterMs, 'maxRetryAfterMs');
    this.#guard = new AddressGuard(options);
    this.#http = new WebhookHttpClient(this.#guard, {
      timeoutMs: this.#timeoutMs,
      userAgent: options.userAgent ?? 'Spool-Webhooks/1.0',
    });
    this.#log = new DeliveryLog(spool, options.deliveryLogRetentionMs ?? 7 * 86_400_000);
    this.#endpoints = new EndpointRegistry(spool);
  }

  /**
   * Checks what can be checked of a webhook URL before any delivery, as a door should: a valid
   * http(s) URL, and, when its host is an IP address, one this process may deliver to (the SSRF
   * guard; host names are checked again at connect time). Throws `InvalidArgumentError` (or its
   * subclass `BlockedAddressError`) naming `field`.
   */
  checkUrl(url: string, field = 'url'): void {
    assertWebhookUrl(url, field);
    try {
      this.#guard.checkUrl(url);
    } catch (error) {
      if (error instanceof BlockedAddressError) {
        throw new InvalidArgumentError(`${field}: ${error.message}`, { field, category: error.category });
      }
      throw error;
    }
  }

  /**
   * Creates (or reconfigures) the `spool.webhooks` queue and the log and endpoint topics.
   * Call it before other layers send webhook messages in their own transactions.
   */
  open(): Promise<void> {
    this.#opened ??= this.#open().catch((error: unknown) => {
      this.#opened = undefined; // let the next call try again
      throw error;
    });
    return this.#opened;
  }

  /** The delivery queue: browse pending deliveries, list and redrive its dead letters. */
  get queue(): Queue<WebhookMessage> {
    if (!this.#queue) throw new Error('Webhooks.open() was not awaited');
    return this.#queue;
  }

  /**
   * Enqueues a delivery; resolves once it is durably stored. To enqueue atomically with other
   * writes, send `webhookMessage(input)` in your transaction instead. Throws `InvalidArgumentError`
   * for a bad input, or when neither the input nor the options give a signing secret.
   */
  async enqueue(input: WebhookInput): Promise<EnqueuedWebhook> {
    const { body, options } = webhookMessage(input, this.#spool.clock.now());
    if (!body.secrets && !this.#defaultSecrets) {
      throw new InvalidArgumentError(
        'webhook has no signing secret: pass `secret`, give Webhooks a `secret`, or start spool serve with SPOOL_WEBHOOK_SECRET set',
        {
          field: 'secret',
        },
      );
    }
    await this.open();
    const result = await this.queue.send(body, options);
    return { webhookId: body.webhookId, duplicate: result.duplicate };
  }

  /** Starts delivering. Stop with {@link Webhooks.close} (or by closing the Spool). */
  async start(): Promise<void> {
    await this.open();
    this.#consumer ??= this.queue.process((message, context) => this.#deliver(message, context), {
      concurrency: this.#options.concurrency ?? 10,
      ...(this.#options.onError ? { onError: this.#options.onError } : {}),
    });
  }

  /** Stops delivering (in-flight attempts finish, at most `timeoutMs`) and closes idle connections. */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.#consumer?.close(options);
    this.#consumer = undefined;
    this.#http.close();
  }

  /** Logged attempts matching `query`, oldest first. */
  async listDeliveries(query: DeliveryQuery = {}): Promise<DeliveryPage> {
    await this.open();
    return this.#log.list(query);
  }

  /** Endpoints disabled by a 410 answer. */
  async disabledEndpoints(): Promise<DisabledEndpoint[]> {
    await this.open();
    return this.#endpoints.list();
  }

  /**
   * Enables a disabled endpoint; resolves false if it was not disabled. Deliveries skipped while
   * it was disabled are in the dead-letter queue: `webhooks.queue.redrive()` sends them again.
   */
  async enableEndpoint(url: string): Promise<boolean> {
    await this.open();
    return this.#endpoints.enable(url);
  }

  async #open(): Promise<void> {
    this.#queue = await this.#spool.queue<WebhookMessage>(webhooksQueue, {
      maxAttempts: this.#options.maxAttempts ?? 12,
      backoff: { baseMs: 5_000, capMs: 3_600_000, jitter: 'full', ...this.#options.backoff },
      visibilityTimeoutMs: Math.max(30_000, 2 * this.#timeoutMs),
    });
    await this.#log.open();
    await this.#endpoints.open();
  }

  async #deliver(message: Message<WebhookMessage>, { signal }: HandlerContext): Promise<void> {
    let webhook: WebhookMessage;
    try {
      webhook = readWebhookMessage(message.body);
    } catch (error) {
      throw new NonRetryableError((error as Error).message, { cause: error });
    }
    const at = this.#spool.clock.now();
    const started = performance.now();
    const result = await this.#attempt(webhook, signal);
    const outcome: DeliveryOutcome = !result.error
      ? 'delivered'
      : result.skipped
        ? 'skipped'
        : result.error instanceof NonRetryableError || message.attempt >= this.queue.config.maxAttempts
          ? 'dead-lettered'
          : 'retrying';
    const durationMs = performance.now() - started;
    this.#spool.instrumentation.webhookAttempted(outcome, durationMs / 1000);
    await this.#log
      .record({
        webhookId: webhook.webhookId,
        url: webhook.url,
        event: webhook.event,
        attempt: message.attempt,
        status: result.status,
        outcome,
        durationMs: Math.round(durationMs),
        ...(result.error ? { error: result.error.message } : {}),
        at,
      })
      .catch((error: unknown) => this.#report(error));
    if (result.error) throw result.error;
  }

  async #attempt(webhook: WebhookMessage, signal: AbortSignal): Promise<AttemptResult> {
    if (await this.#endpoints.isDisabled(webhook.url)) {
      return {
        status: null,
        skipped: true,
        error: new NonRetryableError(
          `endpoint ${webhook.url} is disabled (it answered 410 Gone); enable it and redrive to deliver`,
        ),
      };
    }
    const secrets = webhook.secrets ?? this.#defaultSecrets;
    if (!secrets) {
      return {
        status: null,
        error: new NonRetryableError(
          'no signing secret: start spool serve with SPOOL_WEBHOOK_SECRET set (or give Webhooks a `secret`), then redrive the spool.webhooks dead letters',
        ),
      };
    }
    let response;
    try {
      const body = webhookBody(webhook);
      const timestamp = Math.floor(this.#spool.clock.now() / 1000);
      const headers = webhookHeaders({ webhookId: webhook.webhookId, timestamp, body, secrets });
      response = await this.#http.post(webhook.url, body, headers, signal);
    } catch (error) {
      // Spool errors here are a refused destination or an invalid message: permanent. A timeout
      // is a SpoolError too, but retryable: the receiver may answer next time.
      if (error instanceof SpoolError && !error.retryable) {
        return { status: null, error: new NonRetryableError(error.message, { cause: error }) };
      }
      return { status: null, error: error instanceof Error ? error : new Error(String(error)) };
    }
    const { status } = response;
    const verdict = judgeResponse(status, response.headers['retry-after'], this.#spool.clock.now());
    switch (verdict.kind) {
      case 'delivered':
        return { status };
      case 'gone':
        await this.#endpoints.disable(webhook.url, `answered 410 Gone to webhook ${webhook.webhookId}`);
        return { status, error: new NonRetryableError('endpoint answered 410 Gone; it is now disabled') };
      case 'retry':
        return {
          status,
          error:
            verdict.retryAfterMs === null
              ? new Error(`endpoint answered ${status}`)
              : new RetryAfterError(
                  Math.min(verdict.retryAfterMs, this.#maxRetryAfterMs),
                  `endpoint answered ${status} with Retry-After ${response.headers['retry-after']}`,
                ),
        };
      case 'reject':
        return { status, error: new NonRetryableError(`endpoint answered ${status}; not retried`) };
    }
  }

  #report(error: unknown): void {
    if (this.#options.onError) this.#options.onError(error);
    else console.error('spool: webhooks:', error);
  }
}

function assertPositiveInteger(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${field} must be a whole number of milliseconds >= 1`, { field });
  }
}
