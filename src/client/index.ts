/**
 * `spool/client`: a typed client of the Spool HTTP API, for services that talk to a Spool server.
 *
 * - {@link SpoolClient} — `queues`, `topics` and `jobs` operations; request and response types are
 *   derived from the server's own schemas.
 * - {@link Worker} — a remote job worker (claim, heartbeat, complete/fail over HTTP).
 * - Errors — every problem answer is a {@link SpoolHttpError} with a stable `code`; network
 *   failures are {@link SpoolNetworkError}. 429 and 503 are retried with backoff, honouring
 *   `Retry-After`; network errors only where a repeat is harmless (see each resource's notes).
 *
 * @packageDocumentation
 */
export { type EventsOptions, SpoolClient, type SpoolClientOptions } from './client.js';
export type { RetryOptions, TransportOptions } from './http.js';
export { QueuesClient, type NackOptions, type ReleaseOptions, type ReceivedMessage } from './queues.js';
export { SchedulesClient } from './schedules.js';
export { WorkersClient } from './workers.js';
export {
  type ConsumeOptions,
  type ConsumerCloseOptions,
  StreamConsumer,
  type StreamedMessage,
  type StreamHandler,
  type StreamHandlerContext,
} from './stream-consumer.js';
export { TopicsClient } from './topics.js';
export { finishedJobStatuses, JobsClient, type JobEventsOptions, type WaitOptions } from './jobs.js';
export { BreakersClient, endedRunStatuses, RunWaitTimeoutError, WorkflowsClient } from './workflows.js';
export {
  type JobContext,
  type JobHandler,
  Worker,
  type WorkerCloseOptions,
  type WorkerOptions,
} from './worker.js';
export { SseParser, type SseEvent } from './sse.js';
export {
  type AnyErrorCode,
  ConfigConflictHttpError,
  ConflictHttpError,
  ForbiddenHttpError,
  GroupMembershipHttpError,
  httpErrorClassFor,
  IdempotencyConflictHttpError,
  InvalidArgumentHttpError,
  JobStateConflictHttpError,
  JobWaitTimeoutError,
  NotFoundHttpError,
  QueueFullHttpError,
  SpoolClientError,
  SpoolHttpError,
  type SpoolHttpErrorClass,
  SpoolNetworkError,
  StaleReceiptHttpError,
  UnauthorizedHttpError,
  UnavailableHttpError,
} from './errors.js';
export type * from './types.js';
export { errorCatalogue, errorSpecOf, type ErrorSpec, exitCodes } from '../core/errors.js';
