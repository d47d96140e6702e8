/**
 * A webhook delivery as a queue message. Building it is separate from sending it so that any
 * layer can enqueue a webhook inside its own transaction (`tx.send(webhooksQueue, ...)`): the
 * delivery then exists if and only if the state change it reports commits.
 *
 * The request body follows the Standard Webhooks payload shape `{ type, timestamp, data }`,
 * fixed at enqueue time, so every attempt sends the same bytes; only the signature timestamp
 * changes per attempt. The message's dedup id is the webhook id, so enqueueing the same webhook
 * twice within the queue's dedup window delivers it once.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { JsonValue } from '../core/message.js';
import type { SendOptions } from '../engine/outgoing.js';
import { assertSecret, assertWebhookId } from './signature.js';

/** The queue that holds pending deliveries; its dead letters are the failed deliveries. */
export const webhooksQueue = 'spool.webhooks';

/** A webhook to deliver. */
export interface WebhookInput {
  /** The receiver: an http(s) URL. */
  url: string;
  /** The event type, e.g. `job.completed`; sent as the body's `type`. */
  event: string;
  /** The event data; sent as the body's `data`. */
  payload: JsonValue;
  /**
   * Signing secret(s) for this delivery (several while a key is rotated). Stored in the queue
   * message, so visible to whoever may browse the queue; omit it to sign with the default
   * secret of the delivering process.
   */
  secret?: string | readonly string[];
  /** The delivery's id, the receiver's idempotency key. @defaultValue a new UUIDv7 */
  webhookId?: string;
  /** When the event happened; sent as the body's `timestamp`. @defaultValue now */
  timestamp?: Date | number;
}

/** The queue message of one webhook delivery. */
export interface WebhookMessage {
  readonly webhookId: string;
  readonly url: string;
  readonly event: string;
  readonly payload: JsonValue;
  /** The event time, ISO 8601. */
  readonly timestamp: string;
  /** Per-delivery secrets; absent to use the delivering process's default. */
  readonly secrets?: readonly string[];
}

/**
 * Builds (and validates) the message for `input`. Send it yourself, e.g. in a transaction:
 * `const { body, options } = webhookMessage(input); await tx.send(webhooksQueue, body, options);`
 * (the queue must exist: `Webhooks.open()` creates it). Throws `InvalidArgumentError`.
 */
export function webhookMessage(
  input: WebhookInput,
  now = Date.now(),
): { body: WebhookMessage; options: SendOptions } {
  const webhookId = input.webhookId ?? newId();
  assertWebhookId(webhookId);
  assertWebhookUrl(input.url);
  if (typeof input.event !== 'string' || input.event.length === 0 || input.event.length > 256) {
    throw new InvalidArgumentError('webhook event must be a string of 1 to 256 characters', {
      field: 'event',
    });
  }
  const time = input.timestamp instanceof Date ? input.timestamp.getTime() : (input.timestamp ?? now);
  if (!Number.isFinite(time)) {
    throw new InvalidArgumentError('webhook timestamp must be a valid Date or ms since epoch', {
      field: 'timestamp',
    });
  }
  const secrets = input.secret === undefined ? undefined : [input.secret].flat();
  if (secrets?.length === 0) {
    throw new InvalidArgumentError('webhook secret: give at least one, or omit it', { field: 'secret' });
  }
  secrets?.forEach(assertSecret);
  const body: WebhookMessage = {
    webhookId,
    url: input.url,
    event: input.event,
    payload: input.payload,
    timestamp: new Date(time).toISOString(),
    ...(secrets ? { secrets } : {}),
  };
  return { body, options: { dedupId: webhookId } };
}

/**
 * Checks that a received queue body is a webhook message (anyone with queue access can send to
 * the queue) and returns it. Throws `InvalidArgumentError`.
 */
export function readWebhookMessage(body: unknown): WebhookMessage {
  const message = body as Partial<WebhookMessage> | null;
  if (
    typeof message !== 'object' ||
    message === null ||
    typeof message.webhookId !== 'string' ||
    typeof message.timestamp !== 'string' ||
    !('payload' in message)
  ) {
    throw new InvalidArgumentError('not a webhook message: build messages with webhookMessage()');
  }
  const input = {
    url: message.url!,
    event: message.event!,
    payload: message.payload!,
    webhookId: message.webhookId,
    timestamp: Date.parse(message.timestamp),
  };
  return webhookMessage(message.secrets === undefined ? input : { ...input, secret: message.secrets }).body;
}

/** The exact request body of a delivery: `{ type, timestamp, data }`. */
export function webhookBody(message: WebhookMessage): string {
  return JSON.stringify({ type: message.event, timestamp: message.timestamp, data: message.payload });
}

/** The longest webhook URL accepted (what browsers and most proxies handle). */
export const maxWebhookUrlLength = 2048;

/**
 * Checks that `url` is a webhook URL a delivery can be made to: at most
 * {@link maxWebhookUrlLength} characters, parsed by WHATWG URL rules (so no spaces, bad
 * percent-encoding or ports above 65535), http or https, with a host. Throws
 * `InvalidArgumentError` naming `field`. Where the URL may connect is the SSRF guard's
 * business (`AddressGuard.checkUrl`, at the door, and again at connect time).
 */
export function assertWebhookUrl(url: unknown, field = 'url'): URL {
  const shown = JSON.stringify(typeof url === 'string' ? url.slice(0, 100) : url);
  if (typeof url !== 'string' || url.length === 0 || url.length > maxWebhookUrlLength) {
    throw new InvalidArgumentError(
      `${field} must be an http(s) URL of 1 to ${maxWebhookUrlLength} characters, got ${shown}`,
      { field },
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(
      `${field} is not a valid URL: ${shown} (check the host name, the port (1-65535) and any percent-encoding)`,
      { field },
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidArgumentError(`${field} must be an http or https URL, not ${parsed.protocol}`, {
      field,
    });
  }
  if (parsed.hostname === '') {
    throw new InvalidArgumentError(`${field} must name a host: ${shown}`, { field });
  }
  return parsed;
}
