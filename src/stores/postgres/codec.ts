/**
 * How values cross the PostgreSQL boundary: payloads, integers, JSON columns, receipts and page
 * cursors.
 *
 * A payload is JSON text or bytes and must come back as the same type, so it lives in two
 * columns with exactly one set: `payload_text text` (readable in psql) or `payload_bytes bytea`.
 *
 * `bigint` columns (times, sequence numbers, offsets) arrive from `pg` as strings unless the
 * caller's pool was configured to parse them; {@link toInt} accepts both. Every value stored
 * here (ms since the epoch, counters) stays far below 2^53.
 */
import type { AttemptError, Headers, Payload } from '../../core/message.js';
import type { ColumnReaders } from '../rules.js';

/** A payload split into its two columns. */
export interface PayloadColumns {
  readonly text: string | null;
  readonly bytes: Buffer | null;
}

export function encodePayload(payload: Payload): PayloadColumns {
  if (typeof payload === 'string') return { text: payload, bytes: null };
  return { text: null, bytes: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) };
}

/** Reads the payload columns. Bytes come back as a plain `Uint8Array` view (no copy), not a `Buffer`. */
export function decodePayload(text: string | null, bytes: Buffer | null): Payload {
  if (text !== null) return text;
  if (bytes === null) throw new Error('postgres store: a stored payload has neither text nor bytes');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The size counted by topic retention: UTF-8 bytes of JSON text, or the byte length. */
export function payloadBytes(payload: Payload): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
}

/** A `bigint`/`integer` column as a number (pg returns `bigint` as a string by default). */
export function toInt(value: number | string | bigint): number {
  return Number(value);
}

/** A `json`/`jsonb` column: parsed by pg's default type parser, or text if the pool changed it. */
export function fromJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** How the shared row mappers (stores/rules.ts) read this backend's columns: bigint text, jsonb. */
export const readColumns: ColumnReaders<number | string, unknown> = { int: toInt, json: fromJson };

export function decodeHeaders(value: unknown): Headers {
  return fromJson<Headers>(value);
}

/** An `errors` column: a JSON array of attempt errors, oldest first. */
export function decodeErrors(value: unknown): AttemptError[] {
  return fromJson<AttemptError[]>(value).map(({ attempt, at, name, message }) => ({
    attempt: toInt(attempt),
    at: toInt(at),
    name,
    message,
  }));
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What a receipt names: the message row, the lease token, and whether the message has a key. */
export interface Receipt {
  readonly seq: number;
  readonly token: string;
  readonly keyed: boolean;
}

/**
 * A receipt is `<seq>.<lease token>`, plus `.k` for a keyed message. The flag lets settling an
 * unkeyed message be one autocommit statement, while a keyed one needs a transaction that also
 * hands the key's head on (see key-heads.ts); settling statements re-check the key, so a
 * doctored flag can only make a receipt stale. Receipts are opaque to callers; anything that
 * does not parse matches no lease.
 */
export function formatReceipt(seq: number, token: string, keyed: boolean): string {
  return keyed ? `${seq}.${token}.k` : `${seq}.${token}`;
}

export function parseReceipt(receipt: string): Receipt | null {
  const [seqText, token, flag, ...rest] = receipt.split('.');
  const seq = Number(seqText);
  if (!Number.isSafeInteger(seq) || seq <= 0 || token === undefined || !uuidPattern.test(token)) return null;
  if (rest.length > 0 || (flag !== undefined && flag !== 'k')) return null;
  return { seq, token, keyed: flag === 'k' };
}

export { decodeCursor, encodeCursor } from '../page-cursors.js';
