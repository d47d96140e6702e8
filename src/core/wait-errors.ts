/**
 * The errors that hand work back without using one of its attempts: the work did not start
 * because a limit is reached or a circuit breaker is open. Both are `RetryAfterError`s, so any
 * handler that knows only that still waits `retryAfterMs`.
 */
import { errorCatalogue, RetryAfterError } from './errors.js';

/**
 * Which limit of a job type refused a start, for whoever reports it (the IETF RateLimit headers
 * of a claim over HTTP): the type's option, its value, and the job key it applied to.
 */
export interface ReachedLimit {
  readonly jobType: string;
  readonly option: 'globalRateLimit' | 'rateLimit' | 'globalConcurrency' | 'keyConcurrency';
  /** Tokens per `intervalMs` (rate limits), or jobs running at once (concurrency). */
  readonly limit: number;
  /** The rate limits' interval; null for concurrency. */
  readonly intervalMs: number | null;
  /** The job key the limit counts (per-key limits), else null. */
  readonly key: string | null;
}

/**
 * Work that may not start yet because a limit is reached (`SPOOL_LIMIT_REACHED`): a job type's
 * concurrency across processes, or its rate. Like an open breaker, it is handed back for
 * `retryAfterMs` without counting an attempt. `reached` says which limit, when known.
 */
export class LimitReachedError extends RetryAfterError {
  readonly code = errorCatalogue.LIMIT_REACHED.code;

  constructor(
    readonly limit: string,
    retryAfterMs: number,
    readonly reached: ReachedLimit | null = null,
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

/**
 * A job's ticket that arrived before the job's time: a debounced or throttled add moved the time
 * later after the ticket was sent. The ticket is handed back until then, uncounted; nothing ran.
 */
export class NotDueError extends RetryAfterError {
  constructor(
    readonly jobId: string,
    retryAfterMs: number,
  ) {
    super(retryAfterMs, `job "${jobId}" is not due for ${retryAfterMs} ms`);
    this.name = 'NotDueError';
  }
}

/** Whether `error` hands work back without using an attempt (see the errors above). */
export function isUncountedWait(error: unknown): error is RetryAfterError {
  return (
    error instanceof CircuitOpenError || error instanceof LimitReachedError || error instanceof NotDueError
  );
}
