export {
  Jobs,
  JobNotFoundError,
  ScheduleNotFoundError,
  JobStateError,
  IdempotencyConflictError,
  JobCancelledError,
  type AddJobOptions,
  type LeasedJob,
  type JobsOptions,
} from './jobs.js';
export { type AddedJob, type AddOutcome, type Job, type JobLogLine, jobLogLimits } from './job.js';
export { type DebounceOptions, type ThrottleOptions, type UniqueOptions } from './add-request.js';
export {
  type BulkJobAction,
  type BulkJobFilter,
  type BulkJobOptions,
  type BulkJobResult,
  bulkStatuses,
} from './bulk-actions.js';
export { type JobHandler, type JobContext, JobTimeoutError } from './job-worker.js';
export { type JobTypeOptions, jobTypeDefaults } from './job-types.js';
export { type ScheduleOptions } from './scheduler.js';
export { type RateLimit } from './rate-limiter.js';
export { type RateBudgetOptions, type RateLimitBudget } from './start-limits.js';
export { RateLimitNotFoundError } from './job-errors.js';
export { type ClaimOptions } from './remote-claims.js';
export { type JobEvent, type LoggedJobEvent, jobEventsTopic } from './job-events.js';
export { jobStatuses } from './job-states.js';
export { EventSubscriptions, type EventSubscription, subscriptionsFromEnv } from './event-subscriptions.js';
