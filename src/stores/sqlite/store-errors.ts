/**
 * Maps what better-sqlite3 throws onto the error catalogue, so no `SqliteError` reaches the
 * engine: callers branch on `code`/`retryable` and never need to know the backend.
 *
 * - Constraint failures (unique ids, STRICT column types) mean the caller handed the store a
 *   value it cannot hold: `SPOOL_INVALID_ARGUMENT`, not retryable.
 * - Everything else SQLite reports (busy beyond the timeout, disk full, I/O errors, read-only
 *   file) is an unavailable store: `SPOOL_STORE_UNAVAILABLE`, retryable.
 * - Spool's own errors and programming errors pass through untouched.
 */
import Database from 'better-sqlite3';
import { InvalidArgumentError, SpoolError, errorCatalogue } from '../../core/errors.js';

/** Turns a thrown value into the error a store method rejects with. */
export function toStoreError(error: unknown): Error {
  if (!(error instanceof Database.SqliteError)) {
    return error instanceof Error ? error : new Error(String(error));
  }
  if (error.code.startsWith('SQLITE_CONSTRAINT')) {
    return new InvalidArgumentError(`the store rejected a value: ${error.message}`, {
      sqliteCode: error.code,
    });
  }
  return storeUnavailable(`sqlite store: ${error.message}`, error);
}

/** A retryable `SPOOL_STORE_UNAVAILABLE` error, with the SQLite error as `cause` for logs. */
export function storeUnavailable(message: string, cause?: unknown): SpoolError {
  const sqliteCode = cause instanceof Database.SqliteError ? cause.code : undefined;
  return new SpoolError(
    errorCatalogue.STORE_UNAVAILABLE,
    message,
    sqliteCode === undefined ? {} : { sqliteCode },
    cause === undefined ? undefined : { cause },
  );
}
