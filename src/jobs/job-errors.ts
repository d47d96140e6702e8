/** The errors of the jobs layer, each a SpoolError with its code from the catalogue. */
import { SpoolError, errorCatalogue } from '../core/errors.js';
import type { JobStatus } from '../store/port.js';

/** A job is unknown (never added, or pruned by retention). */
export class JobNotFoundError extends SpoolError {
  constructor(readonly jobId: string) {
    super(errorCatalogue.JOB_NOT_FOUND, `job ${jobId} does not exist (or was pruned by retention)`, {
      jobId,
    });
  }
}

/** The operation does not apply to the job in its current status. */
export class JobStateError extends SpoolError {
  constructor(jobId: string, status: JobStatus, operation: string) {
    super(errorCatalogue.JOB_STATE_CONFLICT, `job ${jobId} is ${status}: it cannot be ${operation}`, {
      jobId,
      status,
      operation,
    });
  }
}

/** A schedule is unknown (never saved, or deleted). */
export class ScheduleNotFoundError extends SpoolError {
  constructor(readonly schedule: string) {
    super(errorCatalogue.SCHEDULE_NOT_FOUND, `schedule "${schedule}" does not exist`, { schedule });
  }
}

/**
 * Job type `type` has no `globalRateLimit` here: the process was not given the type with one
 * (`jobs.define`), so there is no budget to read.
 */
export class RateLimitNotFoundError extends SpoolError {
  constructor(readonly jobType: string) {
    super(
      errorCatalogue.RATE_LIMIT_NOT_FOUND,
      `job type "${jobType}" has no globalRateLimit where it was asked: that process defines the type without one, or not at all (jobs.define(type, handler, { globalRateLimit }))`,
      { jobType },
    );
  }
}

/** A repeat of an idempotent add with a different request. */
export class IdempotencyConflictError extends SpoolError {
  constructor(key: string) {
    super(
      errorCatalogue.IDEMPOTENCY_CONFLICT,
      `Idempotency-Key "${key}" was already used with a different request; use a new key for a new job`,
      { idempotencyKey: key },
    );
  }
}

/** The error a remote worker reported, with the stack it sent (the frames it saw, not ours). */
export function remoteFailure(error: { name?: string; message: string; stack?: string }): Error {
  const name = error.name ?? 'Error';
  return Object.assign(new Error(error.message), {
    name,
    stack: error.stack === undefined ? undefined : `${name}: ${error.message}\n${error.stack}`,
  });
}
