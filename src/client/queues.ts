/**
 * Queues over HTTP: configuration, send, receive under a lease (long poll), settle by receipt,
 * and the dead-letter queue.
 *
 * Retried after a network error (see `http.ts`): `put`, `list`, `get`, `browse`, `deadLetters`,
 * `receive` (the messages of a lost answer are released by the server, or redelivered when their
 * lease runs out), and `send`/`sendBatch` when every message has a `dedupId` (or `send` an
 * `idempotencyKey`). Not retried after a network error: other sends, `ack`, `nack`, `release`, `extend`,
 * `deadLetter`, `delete`, `redrive`, `purge`, `purgeDeadLetters`.
 */
import { postIdempotent, segment, type Transport } from './http.js';
import { type ConsumeOptions, StreamConsumer, type StreamHandler } from './stream-consumer.js';
import type {
  DeadLetterPage,
  OutgoingMessage,
  PageQuery,
  QueueConfig,
  QueuedMessagePage,
  QueueOptions,
  QueueWithStats,
  ReceivedMessageData,
  ReceiveOptions,
  SendOptions,
  SendResult,
  SettleResult,
} from './types.js';

/** Options of a nack. */
export interface NackOptions {
  /** Delivered again after this many ms. @defaultValue 0 */
  delayMs?: number;
  /** Why the attempt failed: recorded in the message's errors (the last one if it is dead-lettered). */
  error?: string;
}

/** Options of a release. */
export interface ReleaseOptions {
  /** Delivered again after this many ms. @defaultValue 0 */
  delayMs?: number;
}

/** A received message, with helpers that settle it by its receipt. */
export interface ReceivedMessage extends ReceivedMessageData {
  /** The queue it came from. */
  readonly queue: string;
  /** Done: delete the message. Throws `SPOOL_STALE_RECEIPT` if the lease was lost. */
  ack(): Promise<void>;
  /**
   * This delivery failed: it is delivered again after `delayMs` with attempt + 1, or, if it was
   * the last allowed attempt (the queue's `maxAttempts`), dead-lettered with `error`.
   */
  nack(options?: NackOptions): Promise<void>;
  /** Hand it back untried: delivered again after `delayMs` with the same attempt; never dead-letters. */
  release(options?: ReleaseOptions): Promise<void>;
  /** Keep the lease for `visibilityMs` more from now (default: the queue's); answers the new expiry (ISO 8601). */
  extend(visibilityMs?: number): Promise<string>;
  /** Give up on it: move it to the dead-letter queue with `reason`. */
  deadLetter(reason: string): Promise<void>;
}

/** Queue operations; reach them as `client.queues`. */
export class QueuesClient {
  /** @internal */
  constructor(private readonly http: Transport) {}

  /** Creates a queue or replaces its whole configuration (omitted fields take their defaults). */
  async put(name: string, options: QueueOptions = {}): Promise<QueueConfig> {
    const answer = await this.http.call<QueueConfig>({
      method: 'PUT',
      path: `/v1/queues/${segment(name)}`,
      body: options,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /**
   * Consumes the queue over one streaming connection (a WebSocket; see docs/streaming.md): the
   * server pushes leased messages as handler slots free up, and each message is acked when its
   * handler resolves, nacked when it throws (dead-lettered for a `NonRetryableError`). Resolves
   * once the stream is open; rejects if the server refuses it (401, 403, …). A lost connection
   * is reopened by itself. Stop it with `close()`.
   *
   * @example
   * ```ts
   * const consumer = await client.queues.consume('emails', async (message) => {
   *   await deliver(message.body);
   * }, { concurrency: 10 });
   * // …
   * await consumer.close();
   * ```
   */
  async consume(name: string, handler: StreamHandler, options: ConsumeOptions = {}): Promise<StreamConsumer> {
    const consumer = new StreamConsumer(this.http, name, handler, options);
    await consumer.start();
    return consumer;
  }

  /** Every queue with its configuration and message counts. */
  async list(): Promise<QueueWithStats[]> {
    const answer = await this.http.call<{ items: QueueWithStats[] }>({
      method: 'GET',
      path: '/v1/queues',
      retryOnNetworkError: true,
    });
    return answer.body.items;
  }

  /** A queue's configuration and message counts (`SPOOL_QUEUE_NOT_FOUND` if there is none). */
  async get(name: string): Promise<QueueWithStats> {
    const answer = await this.http.call<QueueWithStats>({
      method: 'GET',
      path: `/v1/queues/${segment(name)}`,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /** Deletes a queue with its messages and dead letters. */
  async delete(name: string): Promise<void> {
    await this.http.call({
      method: 'DELETE',
      path: `/v1/queues/${segment(name)}`,
      retryOnNetworkError: false,
    });
  }

  /**
   * Sends one message; resolves once it is durably stored. `body` is any JSON value, or bytes
   * (a `Uint8Array`, sent as `bodyBase64`). A full queue throws `SPOOL_QUEUE_FULL` after the
   * retries; a repeat of a `dedupId`/`idempotencyKey` within the queue's window answers the
   * first id with `duplicate: true`.
   */
  async send(name: string, body: unknown, options: SendOptions = {}): Promise<SendResult> {
    const { idempotencyKey, ...rest } = options;
    const answer = await this.http.call<SendResult>({
      method: 'POST',
      path: `/v1/queues/${segment(name)}/messages`,
      headers: { 'idempotency-key': idempotencyKey },
      body: { ...bodyFields(body), ...rest },
      retryOnNetworkError: idempotencyKey !== undefined || rest.dedupId !== undefined,
    });
    return answer.body;
  }

  /**
   * Sends a batch (at most 1000), stored all or nothing; answers one result per message, in order.
   * Each message is `{ body | bodyBase64, key?, group?, priority?, delayMs?, ttlMs?, dedupId?, headers? }`.
   */
  async sendBatch(name: string, messages: readonly OutgoingMessage[]): Promise<SendResult[]> {
    const answer = await this.http.call<{ results: SendResult[] }>({
      method: 'POST',
      path: `/v1/queues/${segment(name)}/messages`,
      body: { messages },
      retryOnNetworkError: messages.length > 0 && messages.every((message) => message.dedupId !== undefined),
    });
    return answer.body.results;
  }

  /**
   * Leases up to `max` messages (default 1), waiting up to `waitMs` (at most 20000) for one.
   * Each comes with `ack()`, `nack()`, `release()`, `extend()` and `deadLetter()`.
   */
  async receive(name: string, options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const { signal, ...body } = options;
    const answer = await this.http.call<{ messages: ReceivedMessageData[] }>({
      method: 'POST',
      path: `/v1/queues/${segment(name)}/receive`,
      body,
      signal,
      waitMs: body.waitMs,
      retryOnNetworkError: true,
    });
    return answer.body.messages.map((message) => this.#wrap(name, message));
  }

  /** Acknowledges one receipt (throws `SPOOL_STALE_RECEIPT` if the lease was lost). */
  ack(name: string, receipt: string): Promise<void>;
  /** Acknowledges a batch of receipts: one result per receipt, each settled on its own. */
  ack(name: string, receipts: readonly string[]): Promise<SettleResult[]>;
  async ack(name: string, receipts: string | readonly string[]): Promise<void | SettleResult[]> {
    return this.#settle('ack', name, receipts, {});
  }

  /**
   * Reports a failed delivery (or a batch: one result per receipt): the message is delivered again
   * after `delayMs` with attempt + 1, or dead-lettered with `error` if this was its last allowed attempt.
   */
  nack(name: string, receipt: string, options?: NackOptions): Promise<void>;
  nack(name: string, receipts: readonly string[], options?: NackOptions): Promise<SettleResult[]>;
  async nack(
    name: string,
    receipts: string | readonly string[],
    options: NackOptions = {},
  ): Promise<void | SettleResult[]> {
    return this.#settle('nack', name, receipts, { ...options });
  }

  /**
   * Hands a message back untried (or a batch: one result per receipt): it is delivered again after
   * `delayMs` with the same attempt, as the delivery does not count; a release never dead-letters.
   */
  release(name: string, receipt: string, options?: ReleaseOptions): Promise<void>;
  release(name: string, receipts: readonly string[], options?: ReleaseOptions): Promise<SettleResult[]>;
  async release(
    name: string,
    receipts: string | readonly string[],
    options: ReleaseOptions = {},
  ): Promise<void | SettleResult[]> {
    return this.#settle('release', name, receipts, { ...options });
  }

  /** Moves leased messages to the dead-letter queue with `reason`. */
  deadLetter(name: string, receipt: string, reason: string): Promise<void>;
  deadLetter(name: string, receipts: readonly string[], reason: string): Promise<SettleResult[]>;
  async deadLetter(
    name: string,
    receipts: string | readonly string[],
    reason: string,
  ): Promise<void | SettleResult[]> {
    return this.#settle('dead-letter', name, receipts, { reason });
  }

  /** Extends one lease (answers the new expiry, ISO 8601) or a batch (one result per receipt). */
  extend(name: string, receipt: string, visibilityMs?: number): Promise<string>;
  extend(name: string, receipts: readonly string[], visibilityMs?: number): Promise<SettleResult[]>;
  async extend(
    name: string,
    receipts: string | readonly string[],
    visibilityMs?: number,
  ): Promise<string | SettleResult[]> {
    const single = typeof receipts === 'string';
    const answer = await this.http.call<{ leaseExpiresAt: string } | { results: SettleResult[] }>({
      method: 'POST',
      path: `/v1/queues/${segment(name)}/extend`,
      body: { ...(single ? { receipt: receipts } : { receipts }), visibilityMs },
      retryOnNetworkError: false,
    });
    return 'results' in answer.body ? answer.body.results : answer.body.leaseExpiresAt;
  }

  /** Browses messages in delivery order without leasing them. */
  async browse(name: string, page: PageQuery = {}): Promise<QueuedMessagePage> {
    const answer = await this.http.call<QueuedMessagePage>({
      method: 'GET',
      path: `/v1/queues/${segment(name)}/messages`,
      query: page,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /** One page of the dead-letter queue, oldest first, with each message's errors. */
  async deadLetters(name: string, page: PageQuery = {}): Promise<DeadLetterPage> {
    const answer = await this.http.call<DeadLetterPage>({
      method: 'GET',
      path: `/v1/queues/${segment(name)}/dlq`,
      query: page,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /** Moves dead letters (all, or those with `ids`) back to the queue; answers how many moved. */
  async redrive(name: string, ids?: readonly string[]): Promise<number> {
    const answer = await this.http.call<{ redriven: number }>({
      method: 'POST',
      path: `/v1/queues/${segment(name)}/redrive`,
      body: ids === undefined ? {} : { ids },
      retryOnNetworkError: false,
    });
    return answer.body.redriven;
  }

  /**
   * Pauses the queue (`POST /v1/queues/{name}/pause`; needs `admin`): sends still land, but no
   * consumer of any process gets a message until {@link QueuesClient.resume}. Idempotent;
   * persisted. Answers the queue with its stats (`stats.paused`).
   */
  async pause(name: string): Promise<QueueWithStats> {
    return postIdempotent(this.http, `/v1/queues/${segment(name)}/pause`);
  }

  /** Resumes a paused queue (`POST /v1/queues/{name}/resume`; needs `admin`). Idempotent. */
  async resume(name: string): Promise<QueueWithStats> {
    return postIdempotent(this.http, `/v1/queues/${segment(name)}/resume`);
  }

  /** Deletes every message of the queue (not its dead letters); answers how many. */
  async purge(name: string): Promise<number> {
    const answer = await this.http.call<{ purged: number }>({
      method: 'POST',
      path: `/v1/queues/${segment(name)}/purge`,
      body: {},
      retryOnNetworkError: false,
    });
    return answer.body.purged;
  }

  /** Deletes dead letters for good (all, or those with `ids`); answers how many. */
  async purgeDeadLetters(name: string, ids?: readonly string[]): Promise<number> {
    const answer = await this.http.call<{ purged: number }>({
      method: 'POST',
      path: `/v1/queues/${segment(name)}/dlq/purge`,
      body: ids === undefined ? {} : { ids },
      retryOnNetworkError: false,
    });
    return answer.body.purged;
  }

  async #settle(
    action: 'ack' | 'nack' | 'release' | 'dead-letter',
    name: string,
    receipts: string | readonly string[],
    extra: Record<string, unknown>,
  ): Promise<void | SettleResult[]> {
    const single = typeof receipts === 'string';
    const answer = await this.http.call<{ results: SettleResult[] } | undefined>({
      method: 'POST',
      path: `/v1/queues/${segment(name)}/${action}`,
      body: { ...(single ? { receipt: receipts } : { receipts }), ...extra },
      retryOnNetworkError: false,
    });
    if (!single) return answer.body?.results ?? [];
  }

  #wrap(queue: string, data: ReceivedMessageData): ReceivedMessage {
    const { receipt } = data;
    // Helpers are not enumerable, so a message still prints and serialises as the wire data.
    const message = { ...data, queue } as ReceivedMessage;
    Object.defineProperties(message, {
      ack: { value: () => this.ack(queue, receipt) },
      nack: { value: (options?: NackOptions) => this.nack(queue, receipt, options) },
      release: { value: (options?: ReleaseOptions) => this.release(queue, receipt, options) },
      extend: { value: (visibilityMs?: number) => this.extend(queue, receipt, visibilityMs) },
      deadLetter: { value: (reason: string) => this.deadLetter(queue, receipt, reason) },
    });
    return message;
  }
}

/** `{ body }` for a JSON value, `{ bodyBase64 }` for bytes. */
export function bodyFields(body: unknown): { body: unknown } | { bodyBase64: string } {
  if (body instanceof Uint8Array) return { bodyBase64: Buffer.from(body).toString('base64') };
  return { body: body === undefined ? null : body };
}
