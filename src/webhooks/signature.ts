/**
 * Standard Webhooks 1.0 signatures (https://www.standardwebhooks.com): what Spool signs its
 * deliveries with, and what receivers verify them with.
 *
 * A secret is `whsec_<base64>` (24–64 random bytes). The signed content is
 * `{webhook-id}.{webhook-timestamp}.{raw body}`; the signature is `v1,<base64 HMAC-SHA256>`.
 * `webhook-signature` holds a space-separated list of signatures so that a sender can sign with
 * the old and the new secret while a key is rotated, and a receiver accepts any one match.
 * The timestamp bounds replays: a receiver refuses a message signed too far from its own clock.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError, SpoolError, errorCatalogue } from '../core/errors.js';

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
const SIGNATURE_BYTES = 32;

/** The three Standard Webhooks headers of one delivery attempt. */
export type WebhookHeaders = {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
};

/** What {@link sign} signs. */
export interface SignInput {
  /** The delivery's id: the same on every attempt (the receiver's idempotency key). */
  readonly webhookId: string;
  /** When this attempt is signed, in Unix seconds. */
  readonly timestamp: number;
  /** The exact bytes that are sent as the request body. */
  readonly body: string | Uint8Array;
  /** One secret, or several while a key is rotated (one signature each). */
  readonly secrets: string | readonly string[];
}

/** Why a verification failed; receivers usually answer 400 or 401 whatever the reason. */
export type VerificationFailure =
  | 'missing-header'
  | 'invalid-timestamp'
  | 'timestamp-too-old'
  | 'timestamp-too-new'
  | 'no-matching-signature';

/** A webhook failed verification: do not act on it. */
export class WebhookVerificationError extends SpoolError {
  constructor(
    readonly reason: VerificationFailure,
    message: string,
  ) {
    super(errorCatalogue.INVALID_ARGUMENT, `webhook verification failed: ${message}`, { reason });
  }
}

/** Headers as Node (`req.headers`), a plain object, or a Fetch `Headers` object hold them. */
export type HeaderSource =
  { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface VerifyOptions {
  /** How far the timestamp may be from now, either way, in seconds. @defaultValue 300 */
  toleranceSeconds?: number;
  /** The receiver's clock, in ms since epoch. @defaultValue `Date.now()` */
  now?: number;
}

/** What a successful {@link verify} vouches for. */
export interface VerifiedWebhook {
  /** The delivery's id: deduplicate on it, it is the same on every retry. */
  readonly webhookId: string;
  /** When the attempt was signed, in Unix seconds. */
  readonly timestamp: number;
}

/** A new random secret in the Standard Webhooks format (`whsec_` + 32 random bytes, base64). */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/**
 * Checks that `secret` is a usable signing secret (`whsec_<base64>` of 24–64 bytes; the prefix
 * may be omitted, as the reference libraries allow). Throws `InvalidArgumentError` otherwise.
 */
export function assertSecret(secret: string): void {
  secretKey(secret);
}

/** The `webhook-signature` header value: one `v1,<base64>` signature per secret, space-separated. */
export function sign(input: SignInput): string {
  const secrets = toList(input.secrets);
  if (secrets.length === 0) throw new InvalidArgumentError('sign: at least one secret is needed');
  assertWebhookId(input.webhookId);
  const content = signedContent(input.webhookId, String(input.timestamp), input.body);
  return secrets.map((secret) => `v1,${hmac(secretKey(secret), content).toString('base64')}`).join(' ');
}

/** The three headers of one attempt: id, timestamp and signature. */
export function webhookHeaders(input: SignInput): WebhookHeaders {
  return {
    'webhook-id': input.webhookId,
    'webhook-timestamp': String(input.timestamp),
    'webhook-signature': sign(input),
  };
}

/**
 * Verifies a received webhook: the timestamp is within `toleranceSeconds` of now and one of the
 * `v1` signatures matches one of `secrets` (compared in constant time). Pass the raw body exactly
 * as received: a re-serialised JSON body does not verify. Throws {@link WebhookVerificationError}.
 */
export function verify(
  body: string | Uint8Array,
  headers: HeaderSource,
  secrets: string | readonly string[],
  options: VerifyOptions = {},
): VerifiedWebhook {
  const keys = toList(secrets).map(secretKey);
  const webhookId = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!webhookId || !timestampText || !signatures) {
    throw new WebhookVerificationError(
      'missing-header',
      'webhook-id, webhook-timestamp and webhook-signature are all required',
    );
  }
  const timestamp = /^\d{1,15}$/.test(timestampText) ? Number(timestampText) : NaN;
  if (!Number.isSafeInteger(timestamp)) {
    throw new WebhookVerificationError('invalid-timestamp', 'webhook-timestamp must be Unix seconds');
  }
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (timestamp < nowSeconds - tolerance) {
    throw new WebhookVerificationError('timestamp-too-old', `signed ${nowSeconds - timestamp} s ago`);
  }
  if (timestamp > nowSeconds + tolerance) {
    throw new WebhookVerificationError('timestamp-too-new', `signed ${timestamp - nowSeconds} s ahead`);
  }
  const content = signedContent(webhookId, timestampText, body);
  const expected = keys.map((key) => hmac(key, content));
  for (const candidate of signatures.split(' ')) {
    const [version, encoded] = candidate.split(',', 2);
    if (version !== 'v1' || !encoded) continue;
    const given = Buffer.from(encoded, 'base64');
    if (given.length !== SIGNATURE_BYTES) continue;
    if (expected.some((mac) => timingSafeEqual(mac, given))) return { webhookId, timestamp };
  }
  throw new WebhookVerificationError('no-matching-signature', 'no v1 signature matches the secret(s)');
}

/** Webhook ids go into a header and the signed content: 1–256 URL-safe characters. */
export function assertWebhookId(webhookId: string): void {
  if (typeof webhookId !== 'string' || !/^[A-Za-z0-9_.:-]{1,256}$/.test(webhookId)) {
    throw new InvalidArgumentError('webhookId must be 1 to 256 characters of A-Z a-z 0-9 _ . : -', {
      field: 'webhookId',
    });
  }
}

function secretKey(secret: string): Buffer {
  const encoded = typeof secret === 'string' ? secret.replace(/^whsec_/, '') : '';
  const key = BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new InvalidArgumentError(
      `a webhook secret must be "whsec_" followed by the base64 of ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} random bytes; generateSecret() makes one`,
      { field: 'secret' },
    );
  }
  return key;
}

function signedContent(webhookId: string, timestamp: string, body: string | Uint8Array): Buffer {
  const bodyBytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([Buffer.from(`${webhookId}.${timestamp}.`, 'utf8'), bodyBytes]);
}

function hmac(key: Buffer, content: Buffer): Buffer {
  return createHmac('sha256', key).update(content).digest();
}

function toList(secrets: string | readonly string[]): readonly string[] {
  return typeof secrets === 'string' ? [secrets] : secrets;
}

function header(headers: HeaderSource, name: string): string | undefined {
  if ('get' in headers && typeof headers.get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return typeof value === 'string' ? value : value?.join(' ');
}
