/**
 * The shapes the dashboard reads from the HTTP API. API resources come from the TypeScript
 * client's types, which derive from the server's TypeBox schemas (type-only imports: nothing of
 * the server is bundled), so a change of the API breaks the dashboard's type check instead of
 * its screens.
 */
import type { Static } from '@sinclair/typebox';
import type { WorkflowRun as WorkflowRunWire } from '../../../src/client/types.js';
import type { StatsHistorySchema, StatsWire } from '../../../src/observability/stats-schema.js';
import type { Schedule as ScheduleSchema } from '../../../src/server/schemas/jobs.js';
import type {
  DeliveryPage as DeliveryPageSchema,
  DisabledEndpointList,
} from '../../../src/server/schemas/webhooks.js';

export type {
  Breaker,
  BulkJobsResult,
  DeadLetter,
  DeadLetterPage,
  GroupInfo,
  Job,
  JobAccepted,
  JobEventData,
  JobPage,
  JobStatus,
  ProblemDocument,
  QueuedMessage,
  QueuedMessagePage,
  QueueWithStats,
  ReadResult,
  SeekResult,
  SeekTarget,
  TopicConfig,
  TopicEvent,
  TopicWithStats,
  WorkerRecord,
  WorkflowEventAccepted,
  WorkflowRun,
  WorkflowRunPage,
} from '../../../src/client/types.js';

/** One recorded step of a workflow run: a step, sleep, wait for an event, child run or compensation. */
export type WorkflowStep = WorkflowRunWire['steps'][number];
/** Where a workflow run is: queued, running, sleeping, waiting, retrying, or how it ended. */
export type WorkflowRunStatus = WorkflowRunWire['status'];

/** A recurring job, with when it fires next. */
export type Schedule = Static<typeof ScheduleSchema>;

/** `GET /v1/stats`, and each `stats` event of `GET /v1/stats/stream`. */
export type Stats = StatsWire;
export type DeliveryPage = Static<typeof DeliveryPageSchema>;
export type DeliveryAttempt = DeliveryPage['items'][number];
export type DisabledEndpoint = Static<typeof DisabledEndpointList>['items'][number];
export type StatsHistory = Static<typeof StatsHistorySchema>;
export type QueueStats = Stats['queues'][number];
export type TopicStats = Stats['topics'][number];
/** A firing alert (`GET /v1/alerts`, and the `alerts` of the stats). */
export type Alert = Stats['alerts'][number];
