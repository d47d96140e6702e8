/**
 * The request and response shapes of the HTTP API, as TypeScript types. Every one is derived from
 * the TypeBox schemas the server validates requests with (and builds `/openapi.json` from), so the
 * client and the server cannot drift apart. The imports are type-only: none of the server's code
 * is loaded by the client at run time.
 */
import type { Static } from '@sinclair/typebox';
import type { ErrorCode } from '../core/errors.js';
import type { QueueConfigSchema, TopicConfigSchema } from '../core/options.js';
import type { JobEvent, SpoolEvent } from '../jobs/job-events.js';
import type { AlertsResponseSchema } from '../observability/alerts-schema.js';
import type { StatsSchema } from '../observability/stats-schema.js';
import type { PageQuery as PageQuerySchema, Problem } from '../server/schemas/common.js';
import type { Worker as WorkerSchema } from '../server/schemas/workers.js';
import type {
  AddJobBody,
  ClaimBody,
  FailBody,
  LogBody,
  BulkJobsBody,
  BulkJobsResult as BulkJobsResultSchema,
  JobTypeState as JobTypeStateSchema,
  Job as JobSchema,
  JobAccepted as JobAcceptedSchema,
  JobPage as JobPageSchema,
  JobSearchQuery,
  LeasedJob as LeasedJobSchema,
  Schedule as ScheduleSchema,
  ScheduleBody,
} from '../server/schemas/jobs.js';
import type { RateBudget as RateBudgetSchema } from '../server/schemas/rate-limits.js';
import type {
  DeadLetter as DeadLetterSchema,
  DeadLetterPage as DeadLetterPageSchema,
  OutgoingMessage as OutgoingMessageSchema,
  QueuedMessage as QueuedMessageSchema,
  QueuedMessagePage as QueuedMessagePageSchema,
  QueueOptions as QueueOptionsSchema,
  QueueWithStats as QueueWithStatsSchema,
  ReceiveBody,
  ReceivedMessage as ReceivedMessageSchema,
  SendResult as SendResultSchema,
  SettleResult as SettleResultSchema,
} from '../server/schemas/queues.js';
import type {
  CommitBody,
  GroupResponse,
  OutgoingEvent as OutgoingEventSchema,
  PollBody,
  PollResponse,
  PublishResult as PublishResultSchema,
  ReplayQuery,
  ReplayResponse,
  SeekBody,
  SeekResponse,
  TopicOptions as TopicOptionsSchema,
  TopicWithStats as TopicWithStatsSchema,
} from '../server/schemas/topics.js';
import type {
  EventAccepted as EventAcceptedSchema,
  RunAccepted as RunAcceptedSchema,
  RunPage as RunPageSchema,
  StartRunBody,
  WorkflowRun as WorkflowRunSchema,
} from '../server/schemas/workflows.js';
import type { Breaker as BreakerSchema } from '../server/schemas/breakers.js';

// --- errors ---------------------------------------------------------------------------------------

/** An RFC 9457 problem document as the server sends it (extra members carry facts about the error). */
export type ProblemDocument = Static<typeof Problem> & Record<string, unknown>;

/**
 * Every code of Spool's error catalogue (`errorCatalogue` in src/core/errors.ts): what the server
 * answers with and what the client raises itself. `SpoolClientError.code` is typed as this union
 * (or any other string, for codes of newer servers).
 */
export type SpoolErrorCode = ErrorCode;

/** Codes of errors the client raises itself, without an answer from the server. */
export type ClientErrorCode = Extract<
  ErrorCode,
  'SPOOL_NETWORK_ERROR' | 'SPOOL_TIMEOUT' | 'SPOOL_UNEXPECTED_RESPONSE' | 'SPOOL_WAIT_TIMEOUT'
>;

// --- paging ---------------------------------------------------------------------------------------

/** `limit` and `cursor` of a listing (pass the previous page's `next` as `cursor`). */
export type PageQuery = Static<typeof PageQuerySchema>;

// --- queues ---------------------------------------------------------------------------------------

/** The configuration of a queue, as `PUT /v1/queues/{name}` accepts it (omitted: defaults). */
export type QueueOptions = Static<typeof QueueOptionsSchema>;
/** The stored configuration of a queue. */
export type QueueConfig = Static<typeof QueueConfigSchema>;
/** A queue's configuration with its message counts. */
export type QueueWithStats = Static<typeof QueueWithStatsSchema>;
/** One message to send: `body` (JSON) or `bodyBase64` (bytes), plus options. */
export type OutgoingMessage = Static<typeof OutgoingMessageSchema>;
/** Options of one message, apart from its body. */
export type SendOptions = Omit<OutgoingMessage, 'body' | 'bodyBase64'> & {
  /** Sent as the `Idempotency-Key` header: the server uses it as the message's `dedupId`. */
  idempotencyKey?: string;
};
/** What a send answers per message. */
export type SendResult = Static<typeof SendResultSchema>;
/** Options of a receive (long poll). */
export type ReceiveOptions = Static<typeof ReceiveBody> & {
  /** Ends the wait early (the request is aborted). */
  signal?: AbortSignal;
};
/** A leased message as the server sends it. */
export type ReceivedMessageData = Static<typeof ReceivedMessageSchema>;
/** The result of settling one receipt of a batch. */
export type SettleResult = Static<typeof SettleResultSchema>;
/** A message in the queue, as browsing shows it. */
export type QueuedMessage = Static<typeof QueuedMessageSchema>;
/** A page of browsed messages; `next` is null on the last page. */
export type QueuedMessagePage = Static<typeof QueuedMessagePageSchema>;
/** A dead-lettered message with its errors. */
export type DeadLetter = Static<typeof DeadLetterSchema>;
/** A page of dead letters; `next` is null on the last page. */
export type DeadLetterPage = Static<typeof DeadLetterPageSchema>;

// --- topics ---------------------------------------------------------------------------------------

/** The configuration of a topic, as `PUT /v1/topics/{name}` accepts it. */
export type TopicOptions = Static<typeof TopicOptionsSchema>;
/** The stored configuration of a topic. */
export type TopicConfig = Static<typeof TopicConfigSchema>;
/** A topic's configuration with partition offsets and the lag of each consumer group. */
export type TopicWithStats = Static<typeof TopicWithStatsSchema>;
/** One event to publish: `body` or `bodyBase64`, plus `key`, `partition`, `headers`. */
export type OutgoingEvent = Static<typeof OutgoingEventSchema>;
/** Options of one event, apart from its body. */
export type PublishOptions = Omit<OutgoingEvent, 'body' | 'bodyBase64'>;
/** Where a published event was appended. */
export type PublishResult = Static<typeof PublishResultSchema>;
/** Options of a partition replay. */
export type ReadOptions = Static<typeof ReplayQuery>;
/** A page of a partition's events with the partition's offsets. */
export type ReadResult = Static<typeof ReplayResponse>;
/** An event of a topic as the server sends it. */
export type TopicEvent = ReadResult['events'][number];
/** Options of a consumer-group poll. */
export type PollOptions = Static<typeof PollBody> & {
  /** Ends the wait early (the request is aborted). */
  signal?: AbortSignal;
};
/** What a consumer-group poll answers. */
export type PollResult = Static<typeof PollResponse>;
/** A commit: `offsets` maps partition numbers to the next offset to read. */
export type CommitOptions = Static<typeof CommitBody>;
/** Where `seek` moves a group. */
export type SeekTarget = Static<typeof SeekBody>['to'];
/** The offsets a seek moved a group to. */
export type SeekResult = Static<typeof SeekResponse>;
/** A consumer group: members, committed offsets and lag. */
export type GroupInfo = Static<typeof GroupResponse>;

// --- workflows -----------------------------------------------------------------------------------

/** A workflow run with its recorded steps. */
export type WorkflowRun = Static<typeof WorkflowRunSchema>;
/** What `POST /v1/workflows/{name}/runs` answers. */
export type WorkflowRunAccepted = Static<typeof RunAcceptedSchema>;
/** A page of runs, newest first. */
export type WorkflowRunPage = Static<typeof RunPageSchema>;
/** Where a run is (see docs/workflows.md). */
export type { WorkflowRunStatus } from '../workflows/workflows.js';
/** Options of a new run, apart from its input. */
export type StartWorkflowOptions = Omit<Static<typeof StartRunBody>, 'input'>;
/** A circuit breaker's shared state. */
export type Breaker = Static<typeof BreakerSchema>;
/** What `POST /v1/workflow-runs/{id}/events` answers. */
export type WorkflowEventAccepted = Static<typeof EventAcceptedSchema>;

// --- jobs -----------------------------------------------------------------------------------------

/** A job record. */
export type Job = Static<typeof JobSchema>;
/** A job's status. */
export type JobStatus = Job['status'];
/** What `POST /v1/jobs` answers: the id, the status, what the add did, and the whole record. */
export type JobAccepted = Required<Static<typeof JobAcceptedSchema>>;
/** What an add answers with `{ return: 'minimal' }` (`Prefer: return=minimal`): no record. */
export type JobReceipt = Omit<JobAccepted, 'job'>;
/**
 * How much an add answers: `representation` (the default) includes each job's record;
 * `minimal` only its id, status and outcome — a smaller answer, quicker for large batches.
 */
export interface AddAnswerOptions {
  readonly return?: 'representation' | 'minimal';
}
/** Options of a new job, apart from its type and payload. */
export type AddJobOptions = Omit<Static<typeof AddJobBody>, 'type' | 'payload'> & {
  /** Sent as the `Idempotency-Key` header: a repeat answers the first job (another body: 422). */
  idempotencyKey?: string;
};
/** Filters and paging of a job search. */
export type JobQuery = Static<typeof JobSearchQuery>;
/** A page of jobs, newest first; `next` is null on the last page. */
export type JobPage = Static<typeof JobPageSchema>;
/** Options of a remote-worker claim. */
export type ClaimOptions = Static<typeof ClaimBody> & {
  /** Ends the wait early (the request is aborted). */
  signal?: AbortSignal;
};
/** A job leased to a remote worker. */
export type LeasedJob = Static<typeof LeasedJobSchema>;
/** The error a remote worker reports for a failed attempt. */
export type JobFailure = Static<typeof FailBody>['error'];
/** `client.jobs.bulk`: which jobs, and whether only to count them. */
export type BulkJobsRequest = Static<typeof BulkJobsBody>;
export type BulkJobsResult = Static<typeof BulkJobsResultSchema>;
/** Whether a job type is paused (`POST /v1/jobs/types/{type}/pause` and `/resume`). */
export type JobTypeState = Static<typeof JobTypeStateSchema>;
/** The budget of a job type's `globalRateLimit` (`GET /v1/jobs/types/{type}/rate-limit`). */
export type RateBudget = Static<typeof RateBudgetSchema>;
/** One line for `client.jobs.log`: a message and its level (`info` unless given). */
export type JobLogInput = Static<typeof LogBody>['lines'][number];

/**
 * The data of a live job event (`GET /v1/events`). The stream has no TypeBox schema of its own; its
 * members are the engine's `JobEvent`, with `at` as an ISO 8601 string.
 */
export type JobEventData = Omit<JobEvent, 'at'> & { at: string };

/** One Server-Sent Event of the job events stream. */
export interface JobEventMessage {
  /** The event id: pass it as `lastEventId` to resume after this event. */
  readonly id: string;
  /** `job.<status>` for a status change, `job.progress` for progress. */
  readonly event: string;
  readonly data: JobEventData;
}

/**
 * The data of any event of the live stream (`GET /v1/events`): a job event, a queue event
 * (`queue.dead-lettered`, `queue.redriven`, `queue.purged`, `queue.dead-letters-purged`) or an
 * alert transition (`alert.firing`, `alert.resolved`), with `at` as an ISO 8601 string.
 */
export type SpoolEventData = SpoolEvent extends infer E
  ? E extends SpoolEvent
    ? Omit<E, 'at'> & { at: string }
    : never
  : never;

/** One Server-Sent Event of the live stream, of any kind. */
export interface SpoolEventMessage {
  /** The event id: pass it as `lastEventId` to resume after this event. */
  readonly id: string;
  /** The event type, e.g. `job.completed`, `queue.dead-lettered`, `alert.firing`. */
  readonly event: string;
  readonly data: SpoolEventData;
}

/** What `GET /v1/stats` answers: queues, topics, jobs and firing alerts in one document. */
export type ServerStats = Static<typeof StatsSchema>;
/** What `GET /v1/alerts` answers: the configured rules and the firing alerts. */
export type ServerAlerts = Static<typeof AlertsResponseSchema>;

/** A schedule as the server lists it: its rule, job type and payload, next and last run (ISO 8601). */
export type Schedule = Static<typeof ScheduleSchema>;
/** A schedule's definition (`PUT /v1/schedules/{name}`): `cron` (with `timezone`) or `everyMs`. */
export type ScheduleOptions = Static<typeof ScheduleBody>;

/** A worker in the registry (`GET /v1/workers`): what it serves, its counters, whether it is stale. */
export type WorkerRecord = Static<typeof WorkerSchema>;
