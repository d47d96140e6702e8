/**
 * The operations the client commands run, one interface for both backends: a Spool server over
 * HTTP (`--url`, backend.ts) and the embedded store of a data directory (`--data`,
 * engine-backend.ts). Both answer in the HTTP API's JSON shapes, so each command formats its
 * output once, whichever backend it got.
 */
import type {
  AddJobOptions,
  BulkJobsRequest,
  BulkJobsResult,
  CommitOptions,
  DeadLetterPage,
  GroupInfo,
  Job,
  JobAccepted,
  JobPage,
  JobQuery,
  JobTypeState,
  RateBudget,
  OutgoingEvent,
  OutgoingMessage,
  PageQuery,
  PollOptions,
  PollResult,
  PublishOptions,
  PublishResult,
  QueueConfig,
  Schedule,
  ScheduleOptions,
  QueueOptions,
  QueueWithStats,
  ReadResult,
  ReceivedMessageData,
  SendOptions,
  SendResult,
  SettleResult,
  TopicConfig,
  TopicOptions,
  TopicWithStats,
  WorkerRecord,
  Breaker,
  StartWorkflowOptions,
  WorkflowEventAccepted,
  WorkflowRun,
  WorkflowRunAccepted,
  WorkflowRunPage,
  WorkflowRunStatus,
} from '../../../client/index.js';

/** Queue operations of the commands. */
export interface QueueBackend {
  list(): Promise<QueueWithStats[]>;
  get(queue: string): Promise<QueueWithStats>;
  /** The queue, or null when it does not exist. */
  find(queue: string): Promise<QueueWithStats | null>;
  /** Creates the queue, or replaces its whole configuration (omitted options take their defaults). */
  put(queue: string, options: QueueOptions): Promise<QueueConfig>;
  /** Deletes the queue with its messages and dead letters (`SPOOL_QUEUE_NOT_FOUND` if unknown). */
  delete(queue: string): Promise<void>;
  /** Pauses or resumes the queue; answers it with its stats (`SPOOL_QUEUE_NOT_FOUND` if unknown). */
  pause(queue: string, paused: boolean): Promise<QueueWithStats>;
  send(queue: string, body: unknown, options: Omit<SendOptions, 'idempotencyKey'>): Promise<SendResult>;
  sendBatch(queue: string, messages: readonly OutgoingMessage[]): Promise<SendResult[]>;
  receive(
    queue: string,
    options: { max: number; waitMs: number; visibilityMs?: number },
  ): Promise<ReceivedMessageData[]>;
  ack(queue: string, receipts: readonly string[]): Promise<SettleResult[]>;
  nack(
    queue: string,
    receipts: readonly string[],
    options: { delayMs?: number; error?: string },
  ): Promise<SettleResult[]>;
  deadLetters(queue: string, page: PageQuery): Promise<DeadLetterPage>;
  redrive(queue: string, ids?: readonly string[]): Promise<number>;
  purgeDeadLetters(queue: string, ids?: readonly string[]): Promise<number>;
}

/** Topic operations of the commands. */
export interface TopicBackend {
  list(): Promise<TopicConfig[]>;
  get(topic: string): Promise<TopicWithStats>;
  /** The topic, or null when it does not exist. */
  find(topic: string): Promise<TopicWithStats | null>;
  /** Creates the topic, or changes its retention (the partition count is fixed at creation). */
  put(topic: string, options: TopicOptions): Promise<TopicConfig>;
  /** Deletes the topic with its events and groups (`SPOOL_TOPIC_NOT_FOUND` if unknown). */
  delete(topic: string): Promise<void>;
  /** Reads a partition from an offset, without a group (as `GET …/partitions/{p}/events`). */
  read(topic: string, partition: number, options: { from: number; limit: number }): Promise<ReadResult>;
  publish(topic: string, body: unknown, options: PublishOptions): Promise<PublishResult>;
  publishBatch(topic: string, events: readonly OutgoingEvent[]): Promise<PublishResult[]>;
  poll(topic: string, group: string, options: PollOptions): Promise<PollResult>;
  /**
   * Commits the member's offsets; false (nothing committed) when it no longer owns one of the
   * partitions: they moved to another member, so poll again without a cursor.
   */
  commit(topic: string, group: string, options: CommitOptions): Promise<boolean>;
  leave(topic: string, group: string, member: string): Promise<void>;
  /**
   * Deletes a group and its offsets: `SPOOL_GROUP_NOT_EMPTY` while a member is live,
   * `SPOOL_GROUP_NOT_FOUND` for an unknown group.
   */
  deleteGroup(topic: string, group: string): Promise<void>;
  /** Pauses (`paused` true) or resumes a group; answers it. `SPOOL_GROUP_NOT_FOUND` for an unknown group. */
  pauseGroup(topic: string, group: string, paused: boolean): Promise<GroupInfo>;
}

/** Job operations of the commands. */
export interface JobBackend {
  add(type: string, payload: unknown, options: AddJobOptions): Promise<JobAccepted>;
  /** The job once it is completed, dead or cancelled; `SPOOL_WAIT_TIMEOUT` after `timeoutMs`. */
  wait(id: string, options: { timeoutMs: number }): Promise<Job>;
  get(id: string): Promise<Job>;
  list(query: JobQuery): Promise<JobPage>;
  cancel(id: string): Promise<Job>;
  retry(id: string): Promise<Job>;
  /** Pauses or resumes a job type. */
  pauseType(type: string, paused: boolean): Promise<JobTypeState>;
  /**
   * The budget of a job type's `globalRateLimit` (of job key `key`): the server's limit, or in
   * direct mode `globalRateLimit` (the data directory does not store it).
   */
  rateBudget(
    type: string,
    options: { key?: string; globalRateLimit?: { limit: number; intervalMs: number; perKey?: boolean } },
  ): Promise<RateBudget>;
  /** Deletes a finished job (`SPOOL_JOB_STATE_CONFLICT` while it is in flight). */
  delete(id: string): Promise<void>;
  /** Retries, cancels or deletes every job matching `filter` (`dryRun`: counts them); `POST /v1/jobs/bulk`. */
  bulk(
    action: BulkJobsRequest['action'],
    filter: BulkJobsRequest['filter'],
    options: { dryRun?: boolean },
  ): Promise<BulkJobsResult>;
}

/** Schedule operations of the commands (each `SPOOL_SCHEDULE_NOT_FOUND` for an unknown name). */
export interface ScheduleBackend {
  list(): Promise<Schedule[]>;
  put(name: string, options: ScheduleOptions): Promise<Schedule>;
  delete(name: string): Promise<void>;
  runNow(name: string): Promise<JobAccepted>;
  pause(name: string): Promise<Schedule>;
  resume(name: string): Promise<Schedule>;
}

/** The workers registry of the commands. */
export interface WorkerBackend {
  list(): Promise<WorkerRecord[]>;
  /** Removes a worker's record (`SPOOL_WORKER_NOT_FOUND` if unknown). */
  remove(id: string): Promise<void>;
}

/** A backend, opened for one command run. */
/** Workflow runs and circuit breakers of the commands. */
export interface WorkflowBackend {
  start(name: string, input: unknown, options: StartWorkflowOptions): Promise<WorkflowRunAccepted>;
  /** Runs of workflow `name` (a string), or of every workflow by status. */
  list(
    filter: string | { workflow?: string; status?: WorkflowRunStatus },
    page: { limit?: number; cursor?: string },
  ): Promise<WorkflowRunPage>;
  get(id: string): Promise<WorkflowRun>;
  retry(id: string): Promise<WorkflowRun>;
  sendEvent(id: string, name: string, payload: unknown): Promise<WorkflowEventAccepted>;
  cancel(id: string): Promise<WorkflowRun>;
  breakers(): Promise<Breaker[]>;
  resetBreaker(name: string): Promise<Breaker>;
}

export interface SpoolBackend {
  /** `server <url>` or `data <dir>`, for messages. */
  readonly description: string;
  readonly queues: QueueBackend;
  readonly topics: TopicBackend;
  readonly jobs: JobBackend;
  readonly schedules: ScheduleBackend;
  readonly workers: WorkerBackend;
  readonly workflows: WorkflowBackend;
  /** Releases what the backend holds (in direct mode: closes the store). Safe to call twice. */
  close(): Promise<void>;
}
