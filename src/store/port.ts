/**
 * The store port: the only way the engine reaches storage. Every backend (SQLite now; PostgreSQL
 * and NATS JetStream later) implements {@link Store}, and the shared conformance suite
 * (`spool/testing`) checks each method's invariants as written here.
 *
 * Division of labour: the engine owns policy (retry delays, when to dead-letter after a handler
 * error, wake-ups, consumer loops); the store owns atomic state changes and the invariants that
 * must hold across processes (leases, per-key order, depth bounds, dedup, dense offsets,
 * partition ownership). Times are taken from the store's {@link Clock}, so a test clock moves
 * the whole system.
 *
 * Durability: every write method resolves only after its change is committed durably (as the
 * backend's durability setting defines it). Concurrent calls may share one commit.
 */
import type { Clock } from '../core/clock.js';
import type { AttemptError, FailureInfo, Headers, Payload } from '../core/message.js';
import type { QueueConfig, TopicConfig } from '../core/options.js';
import type { TokenBucket } from '../core/token-bucket.js';

// ---------------------------------------------------------------------------------------------
// Queues

/** One message to enqueue, fully resolved by the engine. */
export interface EnqueueMessage {
  /** Unique id, chosen by the engine (UUIDv7). */
  readonly id: string;
  readonly payload: Payload;
  readonly headers: Headers;
  /** Per-key FIFO group; null for none. */
  readonly key: string | null;
  /**
   * Fairness group (a tenant): claims take ready messages round-robin across the groups of a
   * queue, the group served least recently first, one per group per turn; within a group,
   * priority then enqueue order. Messages without a group form one group of their own. Absent
   * or null for none.
   */
  readonly group?: string | null;
  /** Higher is delivered first. */
  readonly priority: number;
  /** Not deliverable before this time (ms since epoch); `<= now` means at once. */
  readonly availableAt: number;
  /** Dedup id; null for none. */
  readonly dedupId: string | null;
  /**
   * Expires this long after the send (ms), overriding the queue's `messageTtlMs`. An expired
   * message is never delivered: the store moves it to the dead letters (`MessageExpired`).
   */
  readonly ttlMs?: number;
}

export interface EnqueueResult {
  /** The stored message's id; for a duplicate, the id of the original message. */
  readonly id: string;
  /** True when the dedup id was seen within the queue's dedup window: nothing was stored. */
  readonly duplicate: boolean;
}

/** A message handed to a consumer under a lease. */
export interface ClaimedMessage {
  readonly id: string;
  readonly queue: string;
  readonly payload: Payload;
  readonly headers: Headers;
  readonly key: string | null;
  readonly priority: number;
  /** When it was first enqueued (ms since epoch); kept across retries and redrives. */
  readonly enqueuedAt: number;
  /** Deliveries so far, this one included (1 on first delivery). */
  readonly attempt: number;
  /** Opaque proof of this lease; needed to ack, release, extend or dead-letter. */
  readonly receipt: string;
  /** When the lease ends unless extended (ms since epoch). */
  readonly leaseExpiresAt: number;
  /** Errors of earlier attempts, oldest first. */
  readonly errors: readonly AttemptError[];
}

/** A message in the queue as seen by a browser (no lease is taken). */
export interface QueuedMessage {
  readonly id: string;
  readonly payload: Payload;
  readonly headers: Headers;
  readonly key: string | null;
  readonly priority: number;
  readonly enqueuedAt: number;
  readonly availableAt: number;
  /** When it expires (its `ttlMs` or its queue's `messageTtlMs`); null for never. */
  readonly expiresAt: number | null;
  readonly attempts: number;
  readonly state: 'ready' | 'delayed' | 'in-flight';
  readonly errors: readonly AttemptError[];
}

/** A message in a queue's dead-letter queue. */
export interface DeadLetter {
  readonly id: string;
  readonly queue: string;
  readonly payload: Payload;
  readonly headers: Headers;
  readonly key: string | null;
  readonly priority: number;
  readonly enqueuedAt: number;
  readonly deadLetteredAt: number;
  /** Deliveries made before it was dead-lettered. */
  readonly attempts: number;
  /** Every recorded failure, oldest first; the last is why it was dead-lettered. */
  readonly errors: readonly AttemptError[];
}

export interface QueueStats {
  readonly queue: string;
  /** Deliverable now. */
  readonly ready: number;
  /** Waiting for their delay or retry backoff. */
  readonly delayed: number;
  /** Leased to a consumer. */
  readonly inFlight: number;
  /** In the dead-letter queue. */
  readonly deadLettered: number;
  /** Age in ms of the oldest message still in the queue (any state); 0 when empty. */
  readonly oldestAgeMs: number;
  /** When the queue was paused (ms since epoch); null while it delivers. */
  readonly pausedAt: number | null;
}

/** Position in a paged listing: pass `next` of one page as `after` of the next. */
export interface Page<T> {
  readonly items: T[];
  /** Cursor for the following page; null when this is the last. */
  readonly next: string | null;
}

export interface PageRequest {
  /** At most this many items. */
  readonly limit: number;
  /** The `next` cursor of the previous page. */
  readonly after?: string | null;
}

/** Which dead letters an operation applies to: all of a queue's, or those with these ids. */
export interface DeadLetterSelection {
  readonly ids?: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Topics

/** One event to append. */
export interface AppendEvent {
  readonly id: string;
  readonly partition: number;
  readonly payload: Payload;
  readonly headers: Headers;
  readonly key: string | null;
}

export interface AppendResult {
  readonly id: string;
  readonly partition: number;
  readonly offset: number;
  /** Append time (ms since epoch), from the store's clock. */
  readonly timestamp: number;
}

/** An event read from a partition. */
export interface LogEvent {
  readonly id: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly payload: Payload;
  readonly headers: Headers;
  readonly key: string | null;
}

/** Offsets of one partition: `[startOffset, endOffset)` is what is readable. */
export interface PartitionOffsets {
  readonly partition: number;
  /** The first kept offset (rises when retention trims). */
  readonly startOffset: number;
  /** The offset the next append gets (one past the last event). */
  readonly endOffset: number;
}

export interface ReadResult extends PartitionOffsets {
  /** Events from `max(from, startOffset)` on, in offset order, at most the requested count. */
  readonly events: LogEvent[];
}

/** Where a new consumer group starts reading. */
export type StartPosition = 'earliest' | 'latest';

export interface JoinGroupRequest {
  readonly memberId: string;
  /** The member is removed (and its partitions freed) when it has not heartbeated for this long. */
  readonly sessionTimeoutMs: number;
  /** Only used when this join creates the group. */
  readonly startFrom: StartPosition;
}

/**
 * A member's view of its group after a join or heartbeat.
 *
 * Partitions are shared by two sets. `assigned` is where the group wants this member to read:
 * live members sorted by id, partition `p` going to member `p % memberCount`. `owned` is what
 * this member actually holds: a partition is owned by at most one member at a time, and is only
 * acquired (at a heartbeat) when it is assigned to the caller and no live member owns it.
 * A member reads only partitions it owns; it releases owned partitions that are no longer
 * assigned after finishing and committing its in-flight work. That hand-over is what keeps two
 * members off one partition during a rebalance.
 */
export interface GroupMembership {
  /** Rises each time the membership changes. */
  readonly generation: number;
  readonly assigned: readonly number[];
  readonly owned: readonly number[];
  /** Rises on every seek; a member that sees a new value reloads its positions from committed offsets. */
  readonly seekEpoch: number;
}

export interface CommittedOffset {
  readonly partition: number;
  /** The next offset the group will read in this partition. */
  readonly offset: number;
}

export interface GroupMember {
  readonly memberId: string;
  readonly lastHeartbeatAt: number;
  readonly sessionTimeoutMs: number;
  readonly owned: readonly number[];
}

export interface GroupState {
  readonly topic: string;
  readonly group: string;
  readonly generation: number;
  /** When an operator paused the group (ms since epoch); null while its members read. */
  readonly pausedAt: number | null;
  readonly members: readonly GroupMember[];
  readonly committed: readonly CommittedOffset[];
}

// ---------------------------------------------------------------------------------------------
// Jobs: records of the jobs layer (the state machine itself lives in src/jobs)

/** Where a job is in its life; src/jobs/job-states.ts documents the transitions. */
export type JobStatus =
  'waiting' | 'scheduled' | 'queued' | 'active' | 'retrying' | 'completed' | 'dead' | 'cancelled';

/** A line a job's handler logged. */
export interface JobLogLine {
  readonly at: number;
  /** The attempt that logged it. */
  readonly attempt: number;
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
}

/** One run of a job. */
export interface JobAttempt {
  readonly attempt: number;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly error: FailureInfo | null;
}

/** A job as stored. JSON-valued fields are kept as JSON text. */
export interface JobRecord {
  readonly id: string;
  readonly type: string;
  readonly status: JobStatus;
  /** The job's input, JSON text. */
  readonly payload: string;
  /** A grouping key (rate limits per key, search). */
  readonly key: string | null;
  readonly priority: number;
  /** The caller's metadata, JSON text of an object. */
  readonly metadata: string;
  readonly maxAttempts: number;
  /** Runs started so far. */
  readonly attempts: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When it may (next) run. */
  readonly runAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** 0–100. */
  readonly progress: number;
  /** Free-form progress details, JSON text. */
  readonly progressData: string | null;
  /** The handler's result, JSON text. */
  readonly result: string | null;
  readonly lastError: FailureInfo | null;
  readonly history: readonly JobAttempt[];
  /** What the handler logged (`job.log`), oldest first, bounded by the jobs layer. */
  readonly logs: readonly JobLogLine[];
  readonly parentId: string | null;
  /** Children not yet completed; the job waits while this is above 0. */
  readonly pendingChildren: number;
  readonly callbackUrl: string | null;
  /** The `Idempotency-Key` it was created with (unique per type), and a hash of that request. */
  readonly idempotencyKey: string | null;
  readonly requestHash: string | null;
  /** Rises on every update; an update can require the version it read. */
  readonly version: number;
}

/** Fields an update may change. */
export type JobPatch = Partial<
  Pick<
    JobRecord,
    | 'status'
    | 'payload'
    | 'attempts'
    | 'runAt'
    | 'startedAt'
    | 'finishedAt'
    | 'progress'
    | 'progressData'
    | 'result'
    | 'lastError'
    | 'history'
    | 'logs'
    | 'pendingChildren'
  >
>;

/** Filters of a job search; every given field must match. `since`/`until` bound `createdAt`. */
export interface JobQuery {
  readonly type?: string;
  /** Types that start with this (`spool.workflow.`: every workflow's runs). */
  readonly typePrefix?: string;
  readonly status?: JobStatus;
  readonly key?: string;
  readonly parentId?: string;
  readonly since?: number;
  readonly until?: number;
}

/** A recurring job definition. */
/**
 * One recorded step of a workflow run (src/workflows): what the run's code did at one call of
 * `ctx.step`, `ctx.sleep`, `ctx.waitForEvent` or a compensation, so that a resumed run returns
 * what was recorded instead of doing it again. The run is the job `runId`; its steps and events
 * go with it when the job is deleted.
 */
export interface WorkflowStepRecord {
  readonly runId: string;
  /** Unique within the run. */
  readonly stepId: string;
  /** The order in which the run's code called it (0-based): a replay must call the same steps in the same order. */
  readonly seq: number;
  readonly kind: WorkflowStepKind;
  readonly status: WorkflowStepStatus;
  /** The step's result, JSON text (null while it has none). */
  readonly output: string | null;
  /** The last failure (of a retrying or failed step). */
  readonly error: FailureInfo | null;
  /** Runs of the step's function so far. */
  readonly attempts: number;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  /** When the step is due again: the next retry, the end of a sleep, a wait's timeout. */
  readonly wakeAt: number | null;
}

export type WorkflowStepKind = 'step' | 'sleep' | 'event' | 'child' | 'compensation';
export type WorkflowStepStatus = 'completed' | 'failed' | 'retrying' | 'sleeping' | 'waiting';

/**
 * An add control in force for a job type (src/jobs/add-gates.ts owns its meaning): singleton,
 * unique, debounce or throttle, under a gate name made of the control and the job key or payload
 * hash it is by. Read and replaced under a lock that also holds for a gate not stored yet, so two
 * adds through one gate at the same moment take turns.
 */
export interface JobGateRecord {
  readonly type: string;
  /** The control and what it is by: `singleton:<key>`, `unique:payload:<hash>`, … */
  readonly gate: string;
  /** The job the gate answers with. */
  readonly jobId: string;
  /** When its window, burst or slot began. */
  readonly openedAt: number;
  /** The last add that went through it. */
  readonly touchedAt: number;
  /** When it stops applying; null while its job is kept. */
  readonly expiresAt: number | null;
}

/**
 * A circuit breaker's shared state (src/breakers owns its meaning): JSON text, read and
 * replaced under the row's lock so that every process on the store sees one state.
 */
export interface BreakerRecord {
  readonly name: string;
  readonly state: string;
  readonly updatedAt: number;
}

/** An event sent to a workflow run (`ctx.waitForEvent` takes it). */
export interface WorkflowEventRecord {
  readonly runId: string;
  /** Rises with every event sent to any run: a run's events in the order they were sent. */
  readonly seq: number;
  readonly name: string;
  /** JSON text. */
  readonly payload: string;
  readonly sentAt: number;
}

export interface ScheduleRecord {
  readonly name: string;
  /** A cron expression (read in `timezone`), or null when `everyMs` is set. */
  readonly cron: string | null;
  readonly timezone: string | null;
  readonly everyMs: number | null;
  readonly jobType: string;
  /** JSON text of the payload each fired job gets. */
  readonly payload: string;
  /** After downtime: `skip` fires only future slots; `catch-up-once` fires one job for the missed ones. */
  readonly missedPolicy: 'skip' | 'catch-up-once';
  /** The next slot to fire (ms since epoch). */
  readonly nextRunAt: number;
  /** The last slot fired, or null. */
  readonly lastRunAt: number | null;
  readonly createdAt: number;
  /**
   * When the schedule was paused (ms since epoch), or null while it fires. A paused schedule
   * fires nothing; saving it again (same name) keeps it paused.
   */
  readonly pausedAt: number | null;
}

// ---------------------------------------------------------------------------------------------
// Workers: the registry of who consumes what (src/engine/workers.ts)

/** What kind of worker a {@link WorkerRecord} is. */
export type WorkerKind =
  'queue-consumer' | 'subscription' | 'job-worker' | 'remote-worker' | 'stream-consumer' | 'group-member';

/** What a worker serves: a queue, a topic's consumer group, or job types. */
export interface WorkerServes {
  readonly queue?: string;
  readonly topic?: string;
  readonly group?: string;
  /** The consumer group member id (subscriptions, polled group members). */
  readonly member?: string;
  readonly jobTypes?: readonly string[];
}

/** One heartbeat of a worker, as the engine writes it ({@link Store.saveWorkers}). */
export interface WorkerHeartbeat {
  readonly id: string;
  readonly kind: WorkerKind;
  readonly host: string;
  readonly pid: number;
  readonly serves: WorkerServes;
  /** Work it may hold at once. */
  readonly concurrency: number;
  /** Work it holds now. */
  readonly inFlight: number;
  /** Work it finished since it started. */
  readonly processed: number;
  readonly startedAt: number;
  /** How often it heartbeats (ms): it is stale when unseen for three of them. */
  readonly heartbeatIntervalMs: number;
}

/** A worker as stored: its last heartbeat, and when the store received it. */
export interface WorkerRecord extends WorkerHeartbeat {
  readonly lastSeenAt: number;
}

// ---------------------------------------------------------------------------------------------
// The port

/**
 * The writes that may take part in a {@link Store.transaction}. On the store itself each one is
 * its own atomic, durable change; inside a transaction they commit or roll back together.
 */
export interface StoreWrites {
  /**
   * Stores `messages` in `queue`, all or nothing, in the given order (their send order for
   * per-key FIFO and for FIFO within a priority).
   *
   * - A message whose dedup id was stored in this queue less than `dedupWindowMs` ago is not
   *   stored; its result carries the original id and `duplicate: true`. Two messages with the same
   *   dedup id in one call: the second is a duplicate of the first.
   * - If the queue's `maxDepth` is set and storing the non-duplicate messages would exceed it,
   *   nothing is stored and `QueueFullError` is thrown.
   * - Throws `QueueNotFoundError` for a queue that was never saved.
   */
  enqueue(queue: string, messages: readonly EnqueueMessage[]): Promise<EnqueueResult[]>;

  /**
   * Settles a lease by deleting the message. Accepted while the receipt is the message's current
   * one, even after the lease time has passed, as long as nobody else has claimed it since.
   * Throws `StaleReceiptError` otherwise.
   */
  ack(queue: string, receipt: string): Promise<void>;

  /** Appends events to their partitions; offsets are dense and follow the order given. */
  append(topic: string, events: readonly AppendEvent[]): Promise<AppendResult[]>;

  /**
   * Appends events as {@link append} does, but a store whose appends lock the partition until
   * commit (PostgreSQL) may stage them in the transaction and append them right after it
   * commits, before `transaction()` resolves — so transactions that all publish to one hot
   * partition (the events log) do not commit one at a time. Events staged by transactions
   * appear in the order they were staged (a transaction's own in their order; those of
   * transactions staging at the same moment may interleave); a process that dies between the commit and the
   * append leaves them to the next relay of any process (within a second). Their offsets are
   * not known to the writer.
   */
  appendAfterCommit(topic: string, events: readonly AppendEvent[]): Promise<void>;

  /**
   * Reads a topic's configuration through this transaction's own connection. Publishing inside a
   * transaction needs the partition count; reading it from the store instead would take a second
   * connection while this one is held, and enough concurrent transactions would then wait on
   * each other for good (pool exhaustion on PostgreSQL).
   */
  getTopic(name: string): Promise<TopicConfig | null>;

  /**
   * Records that `group` has processed `partition` up to (not including) `offset`. Only the
   * member that owns the partition may commit (`NotPartitionOwnerError`, or `UnknownMemberError`
   * for a member that is no longer in the group). A commit never moves the offset backwards: a
   * lower offset than the committed one is ignored (use {@link Store.seekGroup} to rewind).
   */
  commitOffset(
    topic: string,
    group: string,
    memberId: string,
    partition: number,
    offset: number,
  ): Promise<void>;

  /**
   * Stores a new job. If a job of the same type with the same `idempotencyKey` exists, nothing is
   * stored and that job is returned with `created: false`.
   */
  insertJob(job: JobRecord): Promise<{ job: JobRecord; created: boolean }>;

  /**
   * Applies `patch` to job `id`, raising its version by one and setting `updatedAt` to now. With
   * `expected`, the update happens only if the stored version is that one; otherwise it
   * resolves null (somebody changed the job first). Resolves null for an unknown id.
   *
   * `expected` may be the job's record as read at that version (the caller holds it anyway, as a
   * transition does): the store then answers with that record and the patch applied, as a read
   * would give it back, instead of reading the updated row — a wide row, on every transition.
   */
  updateJob(id: string, patch: JobPatch, expected?: number | JobRecord): Promise<JobRecord | null>;

  /**
   * Reads job `id` for a state transition. Inside a transaction the read goes through the
   * transaction's own connection and the job stays locked against other writers until the
   * transaction ends, so a transition computed from what was read cannot lose a concurrent
   * update (two children finishing at once, a cancel racing a completion) and no second
   * connection is taken while this one is held. On the store itself it is a plain read.
   */
  lockJob(id: string): Promise<JobRecord | null>;

  /**
   * For a limit that holds across processes: takes one of the `limit` slots of job type `type`
   * (of its jobs with `key`, or of all of them when `key` is null) for job `jobId`, which the
   * transaction is about to make `active`; resolves false when every slot is held by another job
   * that is still `active`. A slot is free again once its holder is not `active` (finished,
   * retrying, suspended), so nothing has to release it. Transactions taking slots of one type at
   * the same time take different slots rather than wait for each other.
   */
  takeJobSlot(type: string, key: string | null, jobId: string, limit: number): Promise<boolean>;

  /**
   * Reads add gate `gate` of job type `type` (null when there is none) for a change. Inside a
   * transaction, every other transaction locking the same gate — stored or not — waits until this
   * one ends, so of two adds through a gate at the same moment the second sees what the first
   * wrote. On the store itself it is a plain read.
   */
  lockJobGate(type: string, gate: string): Promise<JobGateRecord | null>;

  /** Stores or replaces add gate `gate.gate` of job type `gate.type`. */
  saveJobGate(gate: JobGateRecord): Promise<void>;

  /** Stores or replaces a schedule (by name). */
  saveSchedule(schedule: ScheduleRecord): Promise<ScheduleRecord>;

  /**
   * Moves schedule `name` from slot `fromRunAt` to `nextRunAt` (recording `fromRunAt` as its
   * last run), only if its `nextRunAt` is still `fromRunAt`: of several processes firing the same
   * slot, exactly one gets true.
   */
  advanceSchedule(name: string, fromRunAt: number, nextRunAt: number): Promise<boolean>;

  /**
   * Records that `consumer` has processed message `messageId`. Resolves `true` the first time and
   * `false` if it was recorded before (the caller should then skip its side effects).
   */
  markProcessed(consumer: string, messageId: string): Promise<boolean>;

  /** Stores a workflow step, replacing the run's record of the same `stepId`. */
  saveWorkflowStep(step: WorkflowStepRecord): Promise<void>;

  /** The recorded steps of workflow run `runId`, by `seq`. */
  workflowSteps(runId: string): Promise<WorkflowStepRecord[]>;

  /** Records an event sent to workflow run `runId`; resolves with it and its `seq`. */
  addWorkflowEvent(runId: string, name: string, payload: string): Promise<WorkflowEventRecord>;

  /** The events sent to run `runId` with a `seq` above `afterSeq`, oldest first. */
  workflowEvents(runId: string, afterSeq: number): Promise<WorkflowEventRecord[]>;

  /**
   * Reads breaker `name` for a change, creating it with `initial` if it does not exist; inside a
   * transaction the row stays locked until the transaction ends (as `lockJob`).
   */
  lockBreaker(name: string, initial: string): Promise<BreakerRecord>;

  /** Replaces breaker `name`'s state (creating it), stamping `updatedAt`. */
  saveBreaker(name: string, state: string): Promise<void>;
}

/** The interface every storage backend implements. */
export interface Store extends StoreWrites {
  /** A short backend name, e.g. `sqlite`. */
  readonly backend: string;
  /** The time source for leases, delays, dedup windows, sessions and retention. */
  readonly clock: Clock;
  /** What this backend can do beyond the required minimum. */
  readonly capabilities: StoreCapabilities;

  // --- queue configuration ------------------------------------------------------------------

  /**
   * Creates the queue, or replaces its configuration. Messages already stored are kept.
   * Resolves with the stored configuration.
   */
  saveQueue(config: QueueConfig): Promise<QueueConfig>;
  /** Resolves with null for an unknown queue. */
  getQueue(name: string): Promise<QueueConfig | null>;
  listQueues(): Promise<QueueConfig[]>;
  /** Deletes the queue with its messages, dead letters and dedup ids. Resolves false if unknown. */
  deleteQueue(name: string): Promise<boolean>;
  /**
   * Pauses the queue (`pausedAt` a time) or resumes it (null): a paused queue takes sends but
   * every claim, in every process, finds nothing until it resumes. Saving its configuration keeps
   * the pause, and pausing a paused queue keeps its first `pausedAt`. Resolves false for an
   * unknown queue.
   */
  pauseQueue(name: string, pausedAt: number | null): Promise<boolean>;

  // --- queue messages -----------------------------------------------------------------------

  /**
   * Leases up to `max` deliverable messages for `visibilityTimeoutMs`, incrementing each one's
   * attempt count and issuing a fresh receipt (any older receipt becomes stale).
   *
   * Deliverable: `availableAt <= now` and not under an unexpired lease. Order: higher priority
   * first, then enqueue order. Per-key FIFO: a keyed message is deliverable only when no message
   * with the same key was enqueued before it and is still in the queue (in flight, delayed or
   * ready), so one key never has two messages in flight and keeps its send order.
   *
   * A message whose lease expired on its last allowed attempt (`attempts >= maxAttempts` of the
   * queue config) is moved to the dead-letter queue with a `LeaseExpired` error instead of being
   * delivered again. A paused queue (see {@link Store.pauseQueue}) delivers nothing. Throws
   * `QueueNotFoundError` for an unknown queue.
   */
  claim(queue: string, request: { max: number; visibilityTimeoutMs: number }): Promise<ClaimedMessage[]>;

  /**
   * Acks `receipts`, then claims like {@link Store.claim}, as one atomic write: a consumer's
   * finished deliveries and its next ones cost one round trip and one commit instead of one per
   * ack plus one for the claim. Because the acks come first, a keyed message whose predecessor
   * is acked here can be among the claimed ones.
   *
   * Each ack is checked on its own: a receipt that is not current does not fail the call (nor
   * the other acks); it is listed in `stale`. `max` may be 0 to only ack. Throws
   * `QueueNotFoundError` for an unknown queue, and then acks nothing.
   */
  ackAndClaim(
    queue: string,
    receipts: readonly string[],
    request: { max: number; visibilityTimeoutMs: number },
  ): Promise<AckAndClaimResult>;

  /**
   * Ends a lease without deleting the message. Resolves with what became of it. Throws
   * `StaleReceiptError` for a receipt that is not current.
   *
   * - By default (a nack, `countAttempt` true) the delivery counts as a failed attempt. If it
   *   was the last allowed one (`attempts >= maxAttempts` of the queue config), the message is
   *   moved to the dead-letter queue (resolves `'dead-lettered'`) with `error` as its last error,
   *   or {@link nackedError} when none is given. Otherwise it becomes deliverable again after
   *   `delayMs` (0 = at once) keeping its attempt count, so the next claim is `attempt + 1`
   *   (resolves `'released'`).
   * - With `countAttempt: false` (a plain release: the consumer hands the message back
   *   without trying it) the delivery does not count: the attempt count goes back by one, so the
   *   next claim delivers it with the same `attempt`, and it is never dead-lettered.
   *
   * With `error`, the failure is appended to its history (for the delivery's attempt).
   */
  release(queue: string, receipt: string, options: ReleaseOptions): Promise<ReleaseOutcome>;

  /**
   * Sets the lease to end `visibilityTimeoutMs` from now. Resolves with the new expiry time.
   * Throws `StaleReceiptError` if the receipt is not current or its lease has already expired.
   */
  extend(queue: string, receipt: string, visibilityTimeoutMs: number): Promise<number>;

  /**
   * Moves a leased message to the queue's dead-letter queue, appending `error` to its history.
   * Throws `StaleReceiptError` for a receipt that is not current.
   */
  deadLetter(queue: string, receipt: string, error: { name: string; message: string }): Promise<void>;

  /** Counts by state. Throws `QueueNotFoundError` for an unknown queue. */
  queueStats(queue: string): Promise<QueueStats>;

  /**
   * The earliest time after now at which a message of the queue becomes deliverable (a delay,
   * a backoff or a lease ending); null if none is waiting. Consumers set a timer on it.
   */
  nextDeliveryAt(queue: string): Promise<number | null>;

  /** Messages in the queue in delivery order, without leasing them. */
  listMessages(queue: string, page: PageRequest): Promise<Page<QueuedMessage>>;

  /** Deletes every message of the queue (not its dead letters). Resolves with the count. */
  purge(queue: string): Promise<number>;

  // --- dead letters -------------------------------------------------------------------------

  /** Dead letters of a queue, oldest first. */
  listDeadLetters(queue: string, page: PageRequest): Promise<Page<DeadLetter>>;

  /**
   * Moves dead letters back to their queue as new, immediately deliverable messages with
   * attempts reset to 0, keeping id, body, headers, key, priority, enqueue time and error
   * history. Resolves with how many moved. Ids that are not dead letters of this queue are ignored.
   */
  redrive(queue: string, selection: DeadLetterSelection): Promise<number>;

  /** Deletes dead letters for good. Resolves with the count. */
  purgeDeadLetters(queue: string, selection: DeadLetterSelection): Promise<number>;

  // --- topics -------------------------------------------------------------------------------

  /**
   * Creates the topic if it is new and resolves with the stored configuration. Retention can be
   * changed later; the partition count cannot (`ConfigConflictError`).
   */
  saveTopic(config: TopicConfig): Promise<TopicConfig>;
  getTopic(name: string): Promise<TopicConfig | null>;
  listTopics(): Promise<TopicConfig[]>;
  /** Deletes the topic with its events and groups. Resolves false if unknown. */
  deleteTopic(name: string): Promise<boolean>;

  /**
   * Reads up to `max` events of one partition starting at `fromOffset`. Reads below the first
   * kept offset start at the first kept offset (the result's `startOffset` shows the gap); reads
   * at or past the end return no events. Throws `TopicNotFoundError`, or `OffsetOutOfRangeError`
   * for a partition that does not exist.
   */
  read(topic: string, partition: number, fromOffset: number, max: number): Promise<ReadResult>;

  /** Start and end offsets of every partition, by partition number. */
  partitionOffsets(topic: string): Promise<PartitionOffsets[]>;

  /** The first offset whose timestamp is `>= timestamp`; the end offset if there is none. */
  offsetForTime(topic: string, partition: number, timestamp: number): Promise<number>;

  /**
   * Applies the topic's retention: deletes the oldest events of each partition while they are
   * older than `retentionMs`, or while the partition's payload bytes exceed `retentionBytes`.
   * Resolves with the number of events deleted.
   */
  trim(topic: string): Promise<number>;

  // --- consumer groups ----------------------------------------------------------------------

  /**
   * Adds a member (creating the group, with offsets at `startFrom`, if it is new) and
   * heartbeats it. Joining again with a known id just heartbeats.
   */
  joinGroup(topic: string, group: string, request: JoinGroupRequest): Promise<GroupMembership>;

  /**
   * Keeps the member alive, removes members whose session expired (freeing their partitions),
   * acquires assigned partitions that are free, and resolves with the member's view.
   * Throws `UnknownMemberError` if the member was removed (it must join again).
   */
  heartbeat(topic: string, group: string, memberId: string): Promise<GroupMembership>;

  /** Gives up ownership of partitions (after committing their work). Unknown members are ignored. */
  releasePartitions(
    topic: string,
    group: string,
    memberId: string,
    partitions: readonly number[],
  ): Promise<void>;

  /** Removes the member and frees its partitions. Unknown members are ignored. */
  leaveGroup(topic: string, group: string, memberId: string): Promise<void>;

  /**
   * Sets committed offsets outright (may move backwards), raises the group's seek epoch so
   * running members reload, and frees every partition the group's members own, so that a commit
   * a member makes from its pre-seek position is refused (`NotPartitionOwnerError`) instead of
   * undoing the seek; members re-acquire at their next heartbeat. Creates the group if it does
   * not exist.
   */
  seekGroup(topic: string, group: string, offsets: readonly CommittedOffset[]): Promise<void>;

  /** Members, generation and committed offsets; null if the group does not exist. */
  groupState(topic: string, group: string): Promise<GroupState | null>;

  /** Names of the groups of a topic. */
  listGroups(topic: string): Promise<string[]>;

  /**
   * Pauses the consumer group (`pausedAt` a time) or resumes it (null): while it is paused its
   * members, in every process, read nothing (they look at least once a second); memberships and
   * committed offsets stay. Pausing a paused group keeps its first `pausedAt`. Resolves false for
   * a group the topic does not have; throws `TopicNotFoundError` for an unknown topic.
   */
  pauseGroup(topic: string, group: string, pausedAt: number | null): Promise<boolean>;

  /** When the group was paused; null while it reads, or when the topic has no such group. */
  groupPausedAt(topic: string, group: string): Promise<number | null>;

  /**
   * Deletes a group with its committed offsets, once it has no live member: members whose
   * session expired are removed first; if any other remains, nothing changes and it throws
   * `GroupNotEmptyError`. Resolves false for a group the topic does not have; throws
   * `TopicNotFoundError` for an unknown topic.
   */
  deleteGroup(topic: string, group: string): Promise<boolean>;

  // --- jobs and schedules -------------------------------------------------------------------

  /** Resolves null for an unknown id. */
  getJob(id: string): Promise<JobRecord | null>;

  /** Jobs matching `query`, newest first (by `createdAt`, then id). */
  listJobs(query: JobQuery, page: PageRequest): Promise<Page<JobRecord>>;

  /** How many jobs there are of each type in each status (only non-zero counts). */
  countJobs(): Promise<{ type: string; status: JobStatus; count: number }[]>;

  /**
   * Deletes up to `limit` jobs in a finished status (`completed`, `dead`, `cancelled`) whose
   * `finishedAt` is before `finishedBefore`, optionally of one type. Resolves with the count.
   */
  deleteFinishedJobs(options: { finishedBefore: number; type?: string; limit: number }): Promise<number>;

  /**
   * Deletes the jobs with these ids that are in a finished status, in one write. A job that is
   * unknown or not finished (it may have been retried meanwhile) is left alone. Resolves with the
   * ids deleted.
   */
  deleteJobs(ids: readonly string[]): Promise<string[]>;

  /**
   * Deletes up to `limit` add gates that no longer apply: those that expired before `now`, and
   * those without an expiry whose job is gone. Resolves with how many were deleted.
   */
  deleteStaleJobGates(now: number, limit: number): Promise<number>;

  listSchedules(): Promise<ScheduleRecord[]>;
  getSchedule(name: string): Promise<ScheduleRecord | null>;
  /** Resolves false if unknown. */
  deleteSchedule(name: string): Promise<boolean>;

  /**
   * Pauses schedule `name` (`pausedAt` a time) or resumes it (`pausedAt` null, with the slot to
   * fire next in `nextRunAt`). Resolves with the record, or null for an unknown name.
   */
  pauseSchedule(name: string, pausedAt: number | null, nextRunAt?: number): Promise<ScheduleRecord | null>;

  // --- workers ------------------------------------------------------------------------------

  /**
   * Records heartbeats of workers, all in one write: a new id is inserted, a known one has every
   * field replaced. `lastSeenAt` of each becomes now (the store's clock).
   */
  saveWorkers(workers: readonly WorkerHeartbeat[]): Promise<void>;

  /** Every recorded worker, ordered by `startedAt`, then id. */
  listWorkers(): Promise<WorkerRecord[]>;

  /** Deletes the workers with these ids; unknown ids are ignored. Resolves with the count deleted. */
  deleteWorkers(ids: readonly string[]): Promise<number>;

  /**
   * Takes one token from rate limit bucket `name` — `limit` tokens refilled evenly over
   * `intervalMs`, full when first used — for every process on the store: resolves 0 when one was
   * taken, or how many ms until one is there (nothing taken). Its own unit of work.
   */
  takeRateToken(name: string, limit: number, intervalMs: number): Promise<number>;

  /**
   * Rate limit bucket `name` as the last `takeRateToken` left it — its tokens then and when that
   * was (the store's clock), before any refill since — or null if it was never used (full).
   * Takes and writes nothing: the caller refills it to now (`bucketBudget` in core/token-bucket).
   */
  readRateBucket(name: string): Promise<TokenBucket | null>;

  /** Breaker `name`, or null if it was never used. */
  getBreaker(name: string): Promise<BreakerRecord | null>;

  /** Every breaker, by name. */
  listBreakers(): Promise<BreakerRecord[]>;

  // --- transactions and upkeep --------------------------------------------------------------

  /**
   * Runs `work` with exclusive use of a transaction: the writes made through `tx` commit together
   * when `work` resolves, or none of them when it throws. Needs `capabilities.transactions`.
   *
   * With `options.connection` (needs `capabilities.externalTransactions`), the writes join a
   * transaction the caller already opened on its own connection (for PostgreSQL, a `pg` client
   * after `BEGIN`): nothing is committed here, and the writes exist if and only if the caller's
   * transaction commits — the transactional outbox. Stores without the capability reject with
   * `InvalidArgumentError`.
   */
  transaction<T>(work: (tx: StoreWrites) => Promise<T>, options?: TransactionOptions): Promise<T>;

  /**
   * Background upkeep that does not change what consumers see: forgets dedup ids and processed
   * markers older than their windows, applies every topic's retention, and deletes workers last
   * seen more than `workerRetentionMs` ago (default one hour). The engine calls it periodically.
   */
  maintain(options: MaintainOptions): Promise<void>;

  /**
   * With `capabilities.notifications`: calls `listener` when a queue or topic may have new work
   * written by any process (after the write committed). Resolves, once listening, with the
   * function that stops it. Notices are a latency optimisation: consumers keep a slow poll.
   */
  onNotify?(listener: (notice: StoreNotice) => void): Promise<() => void>;

  /**
   * Optional, for stores shared by several processes: competes for leadership of the role
   * `name` among every process on the store, so that background work meant to run once (the
   * scheduler, upkeep, job retention) runs in one process at a time, and moves to another when
   * the leader dies. Stores owned by one process (SQLite) leave it out: their process leads.
   * The returned handle competes until closed; closing the store closes it too.
   */
  leadership?(name: string): Leadership;

  /**
   * Optional: calls `observer` after every durable commit the store makes with how long it took
   * and how many write operations it carried (group commit shares one commit among many). For
   * metrics; the observer runs on the commit path, so it must only count. Returns a function
   * that stops observing.
   */
  observeCommits?(observer: CommitObserver): () => void;

  /** Flushes pending writes and releases the storage. Later calls reject with `ClosedError`. */
  close(): Promise<void>;
}

/** What {@link Store.maintain} forgets. */
export interface MaintainOptions {
  /** Processed markers older than this (ms) are forgotten. */
  readonly processedRetentionMs: number;
  /** Workers last seen longer ago than this (ms) are deleted. @defaultValue 3600000 (one hour) */
  readonly workerRetentionMs?: number;
}

/** The default of {@link MaintainOptions.workerRetentionMs}. */
export const defaultWorkerRetentionMs = 3_600_000;

/** How {@link Store.release} ends a lease. */
export interface ReleaseOptions {
  /** Deliverable again after this many ms (0 = at once). */
  readonly delayMs: number;
  /** The failure to record in the message's history. */
  readonly error?: { readonly name: string; readonly message: string };
  /**
   * Whether the delivery counts as an attempt: true (the default) for a nack, which
   * dead-letters the message when it was the last allowed attempt; false for a plain release.
   */
  readonly countAttempt?: boolean;
}

/** The last error of a message dead-lettered by a nack (a counted release) that gave no error. */
export const nackedError: { readonly name: string; readonly message: string } = {
  name: 'Nacked',
  message: 'nacked on its last allowed attempt',
};

/** What {@link Store.release} did: the message is back in the queue, or in its dead-letter queue. */
export type ReleaseOutcome = 'released' | 'dead-lettered';

/** What {@link Store.ackAndClaim} did. */
export interface AckAndClaimResult {
  /** The receipts that were not current (their messages were not deleted), in the order given. */
  readonly stale: readonly string[];
  /** The newly leased messages, in delivery order. */
  readonly claimed: ClaimedMessage[];
  /**
   * Set when the claimed messages are handed out before the acks are durable (a store whose
   * claims need not wait for their own fsync): the acks are durable once it resolves, and it
   * rejects if they never will be. Absent: the acks were durable when the call resolved.
   */
  readonly durable?: Promise<void>;
}

/**
 * Leadership of one role among the processes sharing a store ({@link Store.leadership}).
 *
 * Leadership saves work; it is not what makes leader-only work correct. When a leader is cut
 * off, another process may take over before the old one notices, so for a moment two may
 * believe they lead: leader-only work must stay safe to run twice (schedule slots advance by
 * compare-and-set, upkeep only removes what has expired).
 */
export interface Leadership {
  /** Whether this process leads the role now. */
  readonly held: boolean;
  /** Calls `listener` with the new state whenever it changes; returns a function that unsubscribes. */
  onChange(listener: (held: boolean) => void): () => void;
  /** Gives leadership up (if held) and stops competing for it. */
  close(): Promise<void>;
}

/** Sees one durable commit: its duration (seconds) and the write operations it carried. */
export type CommitObserver = (seconds: number, operations: number) => void;

/**
 * A wake-up from another process: a queue or topic may have new work, or (`resync`) some
 * notifications may have been missed and every consumer should look for work.
 */
export type StoreNotice =
  | { readonly kind: 'queue'; readonly name: string }
  | { readonly kind: 'topic'; readonly name: string }
  | { readonly kind: 'resync' };

export interface StoreCapabilities {
  /** `transaction()` is supported. */
  readonly transactions: boolean;
  /** `onNotify()` delivers wake-ups for writes made by other processes. */
  readonly notifications: boolean;
  /** `transaction(work, { connection })` can join a transaction the caller opened. */
  readonly externalTransactions: boolean;
}

export interface TransactionOptions {
  /** The caller's connection, inside a transaction the caller commits (backend-specific type). */
  readonly connection?: unknown;
  /**
   * `false`: the writes are not each wrapped in a savepoint, so a write that fails fails the
   * whole transaction (its later writes are refused) instead of only itself. For work that never
   * catches a write's error and goes on — Spool's own job transitions — it saves two round trips
   * per write on PostgreSQL. Ignored with `connection` and by SQLite. @defaultValue true
   */
  readonly savepoints?: boolean;
  /**
   * `false`: the transaction resolves once it is committed, before its commit is durable (as
   * PostgreSQL's `synchronous_commit = off`): a power cut just after may undo it, a crash of the
   * process does not. Nothing it read is lost that way — it still waits for the commits before
   * it. For work that may be done again: a job's start, which like a claim only means the job
   * runs again if it is lost (at-least-once). A later durable commit covers it. Ignored with
   * `connection`. @defaultValue true
   */
  readonly synchronousCommit?: boolean;
}

/** Creates a store that uses `clock`. The conformance suite calls it once per test. */
export type StoreFactory = (options: { clock: Clock }) => Promise<Store>;
