/**
 * Spool's public API. Everything a user imports from `spool` is listed here by name; modules
 * not re-exported are internal.
 */
export { openSpool, type OpenSpoolOptions } from './open-spool.js';
export { createSpool, Spool, type SpoolOptions, type OnceResult } from './engine/spool.js';
export {
  Queue,
  type SendResult,
  type ReceiveOptions,
  type QueuedMessageView,
  type DeadLetterView,
  type ListPage,
} from './engine/queue.js';
export { Message } from './engine/received-message.js';
export {
  QueueConsumer,
  type MessageHandler,
  type HandlerContext,
  type ProcessOptions,
} from './engine/queue-consumer.js';
export {
  LeaseStream,
  type LeaseStreamOptions,
  type LeaseStreamEnd,
  type SettleOutcome,
} from './engine/lease-stream.js';
export {
  Topic,
  type PublishResult,
  type TopicEvent,
  type TopicReadResult,
  type SeekPosition,
  type GroupLag,
  type PartitionLag,
  type TopicStats,
} from './engine/topic.js';
export {
  Subscription,
  type EventHandler,
  type EventContext,
  type SubscribeOptions,
} from './engine/subscription.js';
export { SpoolTransaction } from './engine/transaction.js';
export {
  Workers,
  staleAfterIntervals,
  type WorkerHandle,
  type WorkerInfo,
  type WorkerKind,
  type WorkerRegistration,
  type WorkerServes,
  type WorkerStats,
} from './engine/workers.js';
export {
  Jobs,
  JobNotFoundError,
  ScheduleNotFoundError,
  RateLimitNotFoundError,
  JobStateError,
  IdempotencyConflictError,
  JobCancelledError,
  JobTimeoutError,
  type RateLimitBudget,
  type Job,
  type JobHandler,
  type JobContext,
  type AddJobOptions,
  type AddedJob,
  type AddOutcome,
  type DebounceOptions,
  type ThrottleOptions,
  type UniqueOptions,
  type JobTypeOptions,
  type ScheduleOptions,
  type LeasedJob,
  type JobsOptions,
  type JobEvent,
} from './jobs/index.js';
export * from './workflows/index.js';
export { Breakers, CircuitBreaker, type BreakerView, type BreakerCounters } from './breakers/breakers.js';
export type { BreakerOptions, BreakerStateName } from './breakers/breaker-state.js';
export type { JobStatus, JobQuery } from './store/port.js';
export type { SendOptions, OutgoingMessage, PublishOptions, OutgoingEvent } from './engine/outgoing.js';
export type { QueueStats, PartitionOffsets } from './store/port.js';
export type {
  Store,
  StoreFactory,
  StoreWrites,
  StoreCapabilities,
  ReleaseOptions,
  ReleaseOutcome,
} from './store/port.js';
export {
  type QueueOptions,
  type TopicOptions,
  type QueueConfig,
  type TopicConfig,
  queueDefaults,
  topicDefaults,
} from './core/options.js';
export { type BackoffOptions, backoffDelay, defaultBackoff } from './core/backoff.js';
export { partitionForKey } from './core/partitioner.js';
export { type Clock, systemClock } from './core/clock.js';
export {
  AlertEvaluator,
  type Alert,
  type AlertEvaluatorOptions,
  type AlertLogger,
} from './observability/alerts-evaluator.js';
export {
  type AlertKind,
  type AlertRule,
  type AlertRuleInput,
  type AlertsFile,
  loadAlertsFile,
  parseAlertRules,
} from './observability/alerts-rules.js';
export type { AlertEvent, QueueEvent } from './engine/events-log.js';
export type { Instrumentation, WebhookAttemptOutcome } from './engine/instrumentation.js';
export { SpoolMetrics, type SpoolMetricsOptions } from './observability/metrics.js';
export type { StatsSnapshot, QueueSnapshot, TopicSnapshot } from './observability/stats.js';
export {
  createLogger,
  defaultLogLevel,
  logLevels,
  resolveLogLevel,
  type CreateLoggerOptions,
  type LogLevel,
  type SpoolLogger,
} from './telemetry/logging.js';
export { extractContext as messageTraceContext, tracingEnabled } from './telemetry/tracing.js';
export type { MessageBody, JsonValue, Headers, AttemptError } from './core/message.js';
export {
  SpoolError,
  InvalidArgumentError,
  QueueNotFoundError,
  TopicNotFoundError,
  ConfigConflictError,
  QueueFullError,
  StaleReceiptError,
  NotPartitionOwnerError,
  UnknownMemberError,
  GroupNotEmptyError,
  WorkerNotFoundError,
  ReservedNameError,
  OffsetOutOfRangeError,
  WaitTimeoutError,
  ClosedError,
  SchemaVersionError,
  NonRetryableError,
  RetryAfterError,
  errorCatalogue,
  errorSpecOf,
  isErrorCode,
  exitCodes,
  exitCodeMeanings,
  problemType,
  type ErrorCode,
  type ErrorKey,
  type ErrorSpec,
  type ExitCode,
} from './core/errors.js';
export {
  Webhooks,
  sign,
  verify,
  generateSecret,
  webhookHeaders,
  WebhookVerificationError,
  type WebhooksOptions,
  type VerifyOptions,
  type VerifiedWebhook,
  type VerificationFailure,
} from './webhooks/index.js';
export { CircuitOpenError, LimitReachedError, type ReachedLimit } from './core/wait-errors.js';
