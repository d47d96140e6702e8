/**
 * Maps what `pg` and PostgreSQL throw onto the error catalogue, so no driver error reaches the
 * engine: callers branch on `code`/`retryable` and never need to know the backend.
 *
 * - Integrity and data errors (SQLSTATE classes 22 and 23: a value the column cannot hold, a
 *   duplicate id) mean the caller handed the store something it cannot keep:
 *   `SPOOL_INVALID_ARGUMENT`, not retryable.
 * - Everything else the server or the socket reports (connection lost, server shutting down, too
 *   many connections, a deadlock or serialization failure that outlived its retries, a dropped
 *   schema) is an unavailable store: `SPOOL_STORE_UNAVAILABLE`, retryable.
 * - Spool's own errors and programming errors pass through untouched.
 *
 * `pg` is an optional dependency, so its error classes are recognised by shape, not `instanceof`:
 * a server error carries a five-character SQLSTATE `code` and a `severity`; a socket error
 * carries a Node `code` such as `ECONNREFUSED`.
 */
import { InvalidArgumentError, SpoolError, errorCatalogue } from '../../core/errors.js';

/** SQLSTATEs after which a store-owned transaction is simply run again. */
const retryableStates = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

/** The SQLSTATE of a PostgreSQL error, or undefined for anything else. */
export function sqlState(error: unknown): string | undefined {
  if (!(error instanceof Error) || !('severity' in error)) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.length === 5 ? code : undefined;
}

/** True for a deadlock or serialization failure: the transaction lost a race and can run again. */
export function isRetryableConflict(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && retryableStates.has(state);
}

/** Turns a thrown value into the error a store method rejects with. */
export function toStoreError(error: unknown): Error {
  if (error instanceof SpoolError) return error;
  const state = sqlState(error);
  if (state === undefined) {
    if (isSocketError(error)) return storeUnavailable(`postgres store: ${(error as Error).message}`, error);
    return error instanceof Error ? error : new Error(String(error));
  }
  const message = (error as Error).message;
  if (state.startsWith('22') || state.startsWith('23')) {
    return new InvalidArgumentError(`the store rejected a value: ${message}`, { sqlState: state });
  }
  return storeUnavailable(`postgres store: ${message}`, error);
}

/** A retryable `SPOOL_STORE_UNAVAILABLE` error, with the driver error as `cause` for logs. */
export function storeUnavailable(message: string, cause?: unknown): SpoolError {
  const state = sqlState(cause);
  return new SpoolError(
    errorCatalogue.STORE_UNAVAILABLE,
    message,
    state === undefined ? {} : { sqlState: state },
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Errors of the connection rather than of a statement: Node socket errors (`ECONNREFUSED`,
 * `ECONNRESET`, …) and the messages `pg` uses when a connection ends under a query.
 */
function isSocketError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('E')) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
    error.message,
  );
}
