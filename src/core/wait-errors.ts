/**
 * The errors that hand work back without using one of its attempts: the work did not start
 * because a limit is reached or a circuit breaker is open. Both are `RetryAfterError`s, so any
 * handler that knows only that still waits `retryAfterMs`.
 */
import { errorCatalogue, RetryAfterError } from './errors.js';

/**
 * Work that may not start yet because a limit is reached (`SPOOL_LIMIT_REACHED`): a job type's
 * concurrency across processes, or its rate. Like an open breaker, it is handed back for
 * `retryAfterMs` without counting an attempt.
 */
export class LimitReachedError extends RetryAfterError {
  readonly code = errorCatalogue.LIMIT_REACHED.code;

  constructor(
    readonly limit: string,
    retryAfterMs: number,
  ) {
    super(retryAfterMs, `${limit}: waiting ${retryAfterMs} ms`);
    this.name = 'LimitReachedError';
  }
}

/**
 * A call through an open circuit breaker (`SPOOL_CIRCUIT_OPEN`): it was not made. A
 * `RetryAfterError`, so a queue handler's message is redelivered after `retryAfterMs`; a job or a
 * workflow step that throws it waits that long without using one of its attempts.
 */
export class CircuitOpenError extends RetryAfterError {
  readonly code = errorCatalogue.CIRCUIT_OPEN.code;

  constructor(
    readonly breaker: string,
    retryAfterMs: number,
  ) {
    super(
      retryAfterMs,
      `circuit breaker "${breaker}" is open: calls fail fast for another ${retryAfterMs} ms (its dependency kept failing)`,
    );
    this.name = 'CircuitOpenError';
  }
}
