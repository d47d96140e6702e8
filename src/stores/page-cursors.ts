/**
 * Page cursors shared by the store backends: opaque to callers, and the same format on every
 * backend, so a cursor means the same thing whichever store made it.
 */
import { InvalidArgumentError } from '../core/errors.js';

function invalid(cursor: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `page cursor ${JSON.stringify(cursor)} is not valid; pass the "next" value of the previous page`,
    { field: 'after' },
  );
}

/** Encodes a listing position (a few integers) as an opaque cursor. */
export function encodeCursor(position: readonly number[]): string {
  return Buffer.from(position.join('.'), 'utf8').toString('base64url');
}

/** Decodes a cursor made by {@link encodeCursor} with `length` integers. */
export function decodeCursor(cursor: string, length: number): number[] {
  const position = Buffer.from(cursor, 'base64url').toString('utf8').split('.').map(Number);
  if (position.length !== length || !position.every(Number.isSafeInteger)) throw invalid(cursor);
  return position;
}

/** A job listing position: its creation time and (string) id. */
export function encodeJobCursor(createdAt: number, id: string): string {
  return encodeCursor([createdAt]) + '.' + Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeJobCursor(cursor: string): { createdAt: number; id: string } {
  const dot = cursor.indexOf('.');
  const id = dot < 0 ? '' : Buffer.from(cursor.slice(dot + 1), 'base64url').toString('utf8');
  if (!id) throw invalid(cursor);
  const [createdAt] = decodeCursor(cursor.slice(0, dot), 1) as [number];
  return { createdAt, id };
}
