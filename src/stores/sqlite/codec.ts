/**
 * How values cross the SQLite boundary: payloads, JSON columns, receipts and page cursors.
 *
 * Payloads live in one `ANY` column of a STRICT table, which keeps the stored type exactly:
 * JSON text goes in as TEXT and comes back as a string, bytes go in as a BLOB and come back as
 * bytes. So the `Payload` union round-trips without a type tag column.
 */
import type { AttemptError, Headers, Payload } from '../../core/message.js';
import type { ColumnReaders } from '../rules.js';

/** A payload as better-sqlite3 returns it. */
export type PayloadColumn = string | Buffer;

/** Reads a payload column. Bytes come back as a plain `Uint8Array` view (no copy), not a `Buffer`. */
export function decodePayload(column: PayloadColumn): Payload {
  return typeof column === 'string'
    ? column
    : new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
}

/** The size counted by topic retention: UTF-8 bytes of JSON text, or the byte length. */
export function payloadBytes(payload: Payload): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
}

export function encodeHeaders(headers: Headers): string {
  return JSON.stringify(headers);
}

// Most messages carry no headers and no errors: those columns are the literals below, and
// building the empty value directly skips the JSON parser on every delivery.

export function decodeHeaders(column: string): Headers {
  return column === '{}' ? {} : (JSON.parse(column) as Headers);
}

export function decodeErrors(column: string): AttemptError[] {
  return column === '[]' ? [] : (JSON.parse(column) as AttemptError[]);
}

/**
 * A receipt is `<seq>.<lease token>`: the row to look up and the proof of the current lease. It
 * is opaque to callers; anything that does not parse simply matches no lease.
 */
export function formatReceipt(seq: number, token: string): string {
  return `${seq}.${token}`;
}

export function parseReceipt(receipt: string): { seq: number; token: string } | null {
  const dot = receipt.indexOf('.');
  if (dot <= 0) return null;
  const seq = Number(receipt.slice(0, dot));
  if (!Number.isSafeInteger(seq)) return null;
  return { seq, token: receipt.slice(dot + 1) };
}

/** How the shared row mappers (stores/rules.ts) read this backend's columns: integers, JSON text. */
export const readColumns: ColumnReaders<number, string> = {
  int: (value) => value,
  json: <T>(value: string) => JSON.parse(value) as T,
};

export { decodeCursor, encodeCursor } from '../page-cursors.js';
