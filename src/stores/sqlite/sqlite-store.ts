/**
 * The SQLite implementation of the store port: wires the per-concern operation modules to the
 * write batcher. Writes (claims included: they take leases) go through group commit; reads run
 * directly against committed state. Nothing here knows SQL.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import type { TokenBucket } from '../../core/token-bucket.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { QueueConfig, TopicConfig } from '../../core/options.js';
import type {
  AckAndClaimResult,
  AppendEvent,
  AppendResult,
  ClaimedMessage,
  CommitObserver,
  CommittedOffset,
  DeadLetter,
  DeadLetterSelection,
  EnqueueMessage,
  EnqueueResult,
  GroupMembership,
  GroupState,
  JobGateRecord,
  JobPatch,
  JobQuery,
  JobRecord,
  JobStatus,
  JoinGroupRequest,
  MaintainOptions,
  Page,
  PageRequest,
  PartitionOffsets,
  QueueStats,
  QueuedMessage,
  ReadResult,
  ReleaseOptions,
  ReleaseOutcome,
  ScheduleRecord,
  Store,
  StoreCapabilities,
  StoreWrites,
  TransactionOptions,
  WorkerHeartbeat,
  WorkerRecord,
  WorkflowEventRecord,
  WorkflowStepRecord,
  BreakerRecord,
} from '../../store/port.js';
import { defaultWorkerRetentionMs } from '../../store/port.js';
import { DeadLetterOps } from './dead-letter-ops.js';
import { GroupOps } from './group-ops.js';
import { JobOps } from './job-ops.js';
import { LeaseOps } from './lease-ops.js';
import { MessageBookkeeping } from './message-bookkeeping.js';
import { EventTailCache } from './event-tail-cache.js';
import { LogOps } from './log-ops.js';
import { QueueOps } from './queue-ops.js';
import { UpkeepOps } from './upkeep-ops.js';
import type { WalSync } from './wal-sync.js';
import { WorkerOps } from './worker-ops.js';
import { WorkflowOps } from './workflow-ops.js';
import { GateOps } from './gate-ops.js';
import { RateOps } from './rate-ops.js';
import { FairGroups } from './fair-groups.js';
import { type CommitStats, WriteBatcher, type WriteKind } from './write-batcher.js';

/** A {@link Store} on SQLite, with group-commit statistics (not part of the port). */
export interface SqliteStore extends Store {
  /** Commits and operations since the store was opened: `operations / commits` is the batching factor. */
  commitStats(): CommitStats;
}

/** How a write gets executed: batched on the store, at once inside a transaction. */
type Runner = <T>(operation: () => T, atomic?: boolean, kind?: WriteKind) => Promise<T>;

export class SqliteStoreImpl implements SqliteStore {
  readonly backend = 'sqlite';
  readonly capabilities: StoreCapabilities = Object.freeze({
    transactions: true,
    externalTransactions: false,
    // Other processes writing the same file are found by the consumers' safety poll.
    notifications: false,
  });
  readonly clock: Clock;
  readonly #batcher: WriteBatcher;
  readonly #queues: QueueOps;
  readonly #leases: LeaseOps;
  readonly #deadLetters: DeadLetterOps;
  readonly #logs: LogOps;
  /** The newest events appended here, for readers in this process (see event-tail-cache.ts). */
  readonly #eventTail = new EventTailCache();
  readonly #groups: GroupOps;
  readonly #upkeep: UpkeepOps;
  readonly #jobs: JobOps;
  readonly #workers: WorkerOps;
  readonly #workflows: WorkflowOps;
  readonly #gates: GateOps;
  readonly #rates: RateOps;
  /** The transactional writes, batched. */
  readonly #batched: StoreWrites;

  /** @param walSync - makes commits durable off the event loop (see connection.ts `deferWalSync`). */
  constructor(db: Database.Database, clock: Clock, walSync: WalSync | null = null) {
    this.clock = clock;
    this.#batcher = new WriteBatcher(db, walSync);
    const bookkeeping = new MessageBookkeeping(db);
    const fairGroups = new FairGroups(db);
    this.#queues = new QueueOps(db, clock, bookkeeping, fairGroups);
    this.#leases = new LeaseOps(db, clock, this.#queues, bookkeeping, fairGroups);
    this.#deadLetters = new DeadLetterOps(db, clock, this.#queues, bookkeeping, fairGroups);
    this.#logs = new LogOps(db, clock, this.#eventTail);
    this.#groups = new GroupOps(db, clock);
    this.#upkeep = new UpkeepOps(db, clock);
    this.#jobs = new JobOps(db, clock);
    this.#workers = new WorkerOps(db, clock);
    this.#workflows = new WorkflowOps(db, clock);
    this.#gates = new GateOps(db);
    this.#rates = new RateOps(db, clock);
    this.#batched = this.#writes(
      (operation, atomic, kind) => this.#batcher.write(operation, atomic, kind),
      true,
    );
  }

  commitStats(): CommitStats {
    return this.#batcher.commitStats();
  }

  observeCommits(observer: CommitObserver): () => void {
    this.#batcher.onCommit = observer;
    return () => {
      if (this.#batcher.onCommit === observer) this.#batcher.onCommit = null;
    };
  }

  // --- the writes that may take part in a transaction ---------------------------------------

  enqueue(queue: string, messages: readonly EnqueueMessage[]): Promise<EnqueueResult[]> {
    return this.#batched.enqueue(queue, messages);
  }

  ack(queue: string, receipt: string): Promise<void> {
    return this.#batched.ack(queue, receipt);
  }

  append(topic: string, events: readonly AppendEvent[]): Promise<AppendResult[]> {
    return this.#batched.append(topic, events);
  }

  /** One writer holds SQLite's lock anyway: appended at once, as `append`. */
  async appendAfterCommit(topic: string, events: readonly AppendEvent[]): Promise<void> {
    await this.#batched.append(topic, events);
  }

  commitOffset(
    topic: string,
    group: string,
    memberId: string,
    partition: number,
    offset: number,
  ): Promise<void> {
    return this.#batched.commitOffset(topic, group, memberId, partition, offset);
  }

  insertJob(job: JobRecord): Promise<{ job: JobRecord; created: boolean }> {
    return this.#batched.insertJob(job);
  }

  updateJob(id: string, patch: JobPatch, expected?: number | JobRecord): Promise<JobRecord | null> {
    return this.#batched.updateJob(id, patch, expected);
  }

  /** Outside a transaction a plain read: the store's writes are serialized anyway. */
  lockJob(id: string): Promise<JobRecord | null> {
    return this.getJob(id);
  }

  takeJobSlot(type: string, key: string | null, jobId: string, limit: number): Promise<boolean> {
    return this.#batcher.read(() => this.#jobs.takeSlot(type, key, jobId, limit));
  }

  /** Outside a transaction a plain read, as `lockJob`. */
  lockJobGate(type: string, gate: string): Promise<JobGateRecord | null> {
    return this.#batcher.read(() => this.#gates.get(type, gate));
  }

  saveJobGate(gate: JobGateRecord): Promise<void> {
    return this.#batched.saveJobGate(gate);
  }

  saveSchedule(schedule: ScheduleRecord): Promise<ScheduleRecord> {
    return this.#batched.saveSchedule(schedule);
  }

  advanceSchedule(name: string, fromRunAt: number, nextRunAt: number): Promise<boolean> {
    return this.#batched.advanceSchedule(name, fromRunAt, nextRunAt);
  }

  // --- jobs and schedules (reads and upkeep) --------------------------------------------------

  getJob(id: string): Promise<JobRecord | null> {
    return this.#batcher.read(() => this.#jobs.get(id));
  }

  listJobs(query: JobQuery, page: PageRequest): Promise<Page<JobRecord>> {
    return this.#batcher.read(() => this.#jobs.list(query, page));
  }

  countJobs(): Promise<{ type: string; status: JobStatus; count: number }[]> {
    return this.#batcher.read(() => this.#jobs.count());
  }

  deleteFinishedJobs(options: { finishedBefore: number; type?: string; limit: number }): Promise<number> {
    return this.#batcher.write(() => this.#jobs.deleteFinished(options), true);
  }

  deleteJobs(ids: readonly string[]): Promise<string[]> {
    return this.#batcher.write(() => this.#jobs.deleteJobs(ids), true);
  }

  deleteStaleJobGates(now: number, limit: number): Promise<number> {
    return this.#batcher.write(() => this.#gates.deleteStale(now, limit), true);
  }

  listSchedules(): Promise<ScheduleRecord[]> {
    return this.#batcher.read(() => this.#jobs.listSchedules());
  }

  getSchedule(name: string): Promise<ScheduleRecord | null> {
    return this.#batcher.read(() => this.#jobs.getSchedule(name));
  }

  deleteSchedule(name: string): Promise<boolean> {
    return this.#batcher.write(() => this.#jobs.deleteSchedule(name), true);
  }

  pauseSchedule(name: string, pausedAt: number | null, nextRunAt?: number): Promise<ScheduleRecord | null> {
    return this.#batcher.write(() => this.#jobs.pauseSchedule(name, pausedAt, nextRunAt), true);
  }

  // --- workers ------------------------------------------------------------------------------

  saveWorkers(workers: readonly WorkerHeartbeat[]): Promise<void> {
    return this.#batcher.write(() => this.#workers.save(workers));
  }

  listWorkers(): Promise<WorkerRecord[]> {
    return this.#batcher.read(() => this.#workers.list());
  }

  deleteWorkers(ids: readonly string[]): Promise<number> {
    return this.#batcher.write(() => this.#workers.delete(ids));
  }

  markProcessed(consumer: string, messageId: string): Promise<boolean> {
    return this.#batched.markProcessed(consumer, messageId);
  }

  saveWorkflowStep(step: WorkflowStepRecord): Promise<void> {
    return this.#batched.saveWorkflowStep(step);
  }

  /** Reads need no write lock: plain reads, unlike the writes batched around them. */
  workflowSteps(runId: string): Promise<WorkflowStepRecord[]> {
    return this.#batcher.read(() => this.#workflows.steps(runId));
  }

  addWorkflowEvent(runId: string, name: string, payload: string): Promise<WorkflowEventRecord> {
    return this.#batched.addWorkflowEvent(runId, name, payload);
  }

  workflowEvents(runId: string, afterSeq: number): Promise<WorkflowEventRecord[]> {
    return this.#batcher.read(() => this.#workflows.events(runId, afterSeq));
  }

  lockBreaker(name: string, initial: string): Promise<BreakerRecord> {
    return this.#batched.lockBreaker(name, initial);
  }

  saveBreaker(name: string, state: string): Promise<void> {
    return this.#batched.saveBreaker(name, state);
  }

  takeRateToken(name: string, limit: number, intervalMs: number): Promise<number> {
    return this.#batcher.write(() => this.#rates.take(name, limit, intervalMs), true);
  }

  readRateBucket(name: string): Promise<TokenBucket | null> {
    return this.#batcher.read(() => this.#rates.read(name));
  }

  getBreaker(name: string): Promise<BreakerRecord | null> {
    return this.#batcher.read(() => this.#workflows.getBreaker(name));
  }

  listBreakers(): Promise<BreakerRecord[]> {
    return this.#batcher.read(() => this.#workflows.listBreakers());
  }

  /**
   * Runs `work` in one exclusive transaction. Inside `work`, write through `tx` only: a write on
   * the store itself is refused (it would wait for this transaction). Reads on the store see the
   * transaction's own writes.
   */
  transaction<T>(work: (tx: StoreWrites) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (options.connection !== undefined) {
      return Promise.reject(
        new InvalidArgumentError(
          'the sqlite store cannot join a transaction of your own connection; use spool.transaction() without one',
          { field: 'connection' },
        ),
      );
    }
    return this.#batcher.transaction(
      (scope) => work(this.#writes((operation, atomic) => scope.run(operation, atomic), false)),
      options.synchronousCommit !== false,
    );
  }

  /** @param settleOnCommit - `run` resolves once its write is committed and durable (not inside a transaction). */
  #writes(run: Runner, settleOnCommit: boolean): StoreWrites {
    const writes: StoreWrites = {
      // One message without a dedup id: its depth check throws before the INSERT, and nothing
      // after it (the depth and key-head bookkeeping) can fail but the whole transaction.
      enqueue: (queue, messages) =>
        run(
          () => this.#queues.enqueue(queue, messages),
          messages.length === 1 && messages[0]!.dedupId === null,
        ),
      // One DELETE and its bookkeeping: atomic (see WriteBatcher), as the enqueue above.
      ack: (queue, receipt) => run(() => this.#leases.ack(queue, receipt), true, 'lease'),
      append: (topic, events) => {
        const appended = run(() => this.#logs.append(topic, events));
        if (!settleOnCommit) return appended;
        // Durable now: readers in this process may take these events from memory.
        return appended.then((results) => {
          this.#eventTail.appended(topic, events, results);
          return results;
        });
      },
      appendAfterCommit: async (topic, events) => {
        await writes.append(topic, events);
      },
      getTopic: (name) => run(() => this.#logs.get(name), true),
      commitOffset: (topic, group, memberId, partition, offset) =>
        run(() => this.#groups.commitOffset(topic, group, memberId, partition, offset)),
      // Each is one statement after at most a read (see WriteBatcher on atomic writes).
      insertJob: (job) => run(() => this.#jobs.insert(job), true),
      updateJob: (id, patch, expected) => run(() => this.#jobs.update(id, patch, expected), true),
      // A transaction holds the database's only write lock: reading through it is locking.
      lockJob: (id) => run(() => this.#jobs.get(id), true),
      takeJobSlot: (type, key, jobId, limit) => run(() => this.#jobs.takeSlot(type, key, jobId, limit), true),
      // As lockJob: the transaction's write lock is the gate's lock.
      lockJobGate: (type, gate) => run(() => this.#gates.get(type, gate), true),
      saveJobGate: (gate) => run(() => this.#gates.save(gate), true),
      saveSchedule: (schedule) => run(() => this.#jobs.saveSchedule(schedule), true),
      advanceSchedule: (name, from, next) => run(() => this.#jobs.advanceSchedule(name, from, next), true),
      markProcessed: (consumer, messageId) =>
        run(() => this.#upkeep.markProcessed(consumer, messageId), true),
      saveWorkflowStep: (step) => run(() => this.#workflows.saveStep(step), true),
      workflowSteps: (runId) => run(() => this.#workflows.steps(runId), true),
      addWorkflowEvent: (runId, name, payload) =>
        run(() => this.#workflows.addEvent(runId, name, payload), true),
      workflowEvents: (runId, afterSeq) => run(() => this.#workflows.events(runId, afterSeq), true),
      lockBreaker: (name, initial) => run(() => this.#workflows.lockBreaker(name, initial), true),
      saveBreaker: (name, state) => run(() => this.#workflows.saveBreaker(name, state), true),
    };
    return writes;
  }

  // --- queues -------------------------------------------------------------------------------

  saveQueue(config: QueueConfig): Promise<QueueConfig> {
    return this.#batcher.write(() => this.#queues.save(config));
  }

  getQueue(name: string): Promise<QueueConfig | null> {
    return this.#batcher.read(() => this.#queues.get(name));
  }

  listQueues(): Promise<QueueConfig[]> {
    return this.#batcher.read(() => this.#queues.list());
  }

  deleteQueue(name: string): Promise<boolean> {
    return this.#batcher.write(() => this.#queues.delete(name));
  }

  pauseQueue(name: string, pausedAt: number | null): Promise<boolean> {
    return this.#batcher.write(() => this.#queues.pause(name, pausedAt));
  }

  // Claims settle without waiting for their own fsync (see WriteKind in write-batcher.ts): a
  // claim lost to a power cut is a redelivery. Acks and other lease changes wait for theirs.

  claim(queue: string, request: { max: number; visibilityTimeoutMs: number }): Promise<ClaimedMessage[]> {
    return this.#batcher.write(
      () => this.#leases.claim(queue, request.max, request.visibilityTimeoutMs),
      false,
      'claim',
    );
  }

  /**
   * The acks and the claim are two writes of the same group commit, acks first: the claimed
   * messages come back as soon as the claim may settle, and `durable` says when the acks are.
   */
  async ackAndClaim(
    queue: string,
    receipts: readonly string[],
    request: { max: number; visibilityTimeoutMs: number },
  ): Promise<AckAndClaimResult> {
    if (receipts.length === 0) return { stale: [], claimed: await this.claim(queue, request) };
    let stale: string[] = [];
    const acked = this.#batcher.write(
      () => {
        stale = this.#leases.ackMany(queue, receipts);
      },
      false,
      'lease',
    );
    if (request.max === 0) {
      await acked;
      return { stale, claimed: [] };
    }
    // Awaited by the caller through `durable`, or not at all if the claim fails first.
    acked.catch(() => {});
    const claimed = await this.claim(queue, request);
    return { stale, claimed, durable: acked };
  }

  release(queue: string, receipt: string, options: ReleaseOptions): Promise<ReleaseOutcome> {
    // Not atomic: a nack of the last attempt moves the message in two statements.
    return this.#batcher.write(() => this.#leases.release(queue, receipt, options), false, 'lease');
  }

  extend(queue: string, receipt: string, visibilityTimeoutMs: number): Promise<number> {
    return this.#batcher.write(() => this.#leases.extend(queue, receipt, visibilityTimeoutMs), true, 'lease');
  }

  deadLetter(queue: string, receipt: string, error: { name: string; message: string }): Promise<void> {
    return this.#batcher.write(() => this.#leases.deadLetter(queue, receipt, error), false, 'lease');
  }

  queueStats(queue: string): Promise<QueueStats> {
    return this.#batcher.read(() => this.#queues.stats(queue));
  }

  nextDeliveryAt(queue: string): Promise<number | null> {
    return this.#batcher.read(() => this.#queues.nextDeliveryAt(queue));
  }

  listMessages(queue: string, page: PageRequest): Promise<Page<QueuedMessage>> {
    return this.#batcher.read(() => this.#queues.listMessages(queue, page));
  }

  purge(queue: string): Promise<number> {
    return this.#batcher.write(() => this.#queues.purge(queue));
  }

  // --- dead letters -------------------------------------------------------------------------

  listDeadLetters(queue: string, page: PageRequest): Promise<Page<DeadLetter>> {
    return this.#batcher.read(() => this.#deadLetters.list(queue, page));
  }

  redrive(queue: string, selection: DeadLetterSelection): Promise<number> {
    return this.#batcher.write(() => this.#deadLetters.redrive(queue, selection));
  }

  purgeDeadLetters(queue: string, selection: DeadLetterSelection): Promise<number> {
    return this.#batcher.write(() => this.#deadLetters.purge(queue, selection));
  }

  // --- topics -------------------------------------------------------------------------------

  saveTopic(config: TopicConfig): Promise<TopicConfig> {
    return this.#batcher.write(() => this.#logs.save(config));
  }

  getTopic(name: string): Promise<TopicConfig | null> {
    return this.#batcher.read(() => this.#logs.get(name));
  }

  listTopics(): Promise<TopicConfig[]> {
    return this.#batcher.read(() => this.#logs.list());
  }

  deleteTopic(name: string): Promise<boolean> {
    return this.#batcher.write(() => this.#logs.delete(name));
  }

  read(topic: string, partition: number, fromOffset: number, max: number): Promise<ReadResult> {
    return this.#batcher.read(() => this.#logs.read(topic, partition, fromOffset, max));
  }

  partitionOffsets(topic: string): Promise<PartitionOffsets[]> {
    return this.#batcher.read(() => this.#logs.partitionOffsets(topic));
  }

  offsetForTime(topic: string, partition: number, timestamp: number): Promise<number> {
    return this.#batcher.read(() => this.#logs.offsetForTime(topic, partition, timestamp));
  }

  trim(topic: string): Promise<number> {
    return this.#batcher.write(() => this.#logs.trim(topic));
  }

  // --- consumer groups ----------------------------------------------------------------------

  joinGroup(topic: string, group: string, request: JoinGroupRequest): Promise<GroupMembership> {
    return this.#batcher.write(() => this.#groups.join(topic, group, request));
  }

  heartbeat(topic: string, group: string, memberId: string): Promise<GroupMembership> {
    return this.#batcher.write(() => this.#groups.heartbeat(topic, group, memberId));
  }

  releasePartitions(
    topic: string,
    group: string,
    memberId: string,
    partitions: readonly number[],
  ): Promise<void> {
    return this.#batcher.write(() => this.#groups.releasePartitions(topic, group, memberId, partitions));
  }

  leaveGroup(topic: string, group: string, memberId: string): Promise<void> {
    return this.#batcher.write(() => this.#groups.leave(topic, group, memberId));
  }

  seekGroup(topic: string, group: string, offsets: readonly CommittedOffset[]): Promise<void> {
    return this.#batcher.write(() => this.#groups.seek(topic, group, offsets));
  }

  groupState(topic: string, group: string): Promise<GroupState | null> {
    return this.#batcher.read(() => this.#groups.state(topic, group));
  }

  listGroups(topic: string): Promise<string[]> {
    return this.#batcher.read(() => this.#groups.list(topic));
  }

  pauseGroup(topic: string, group: string, pausedAt: number | null): Promise<boolean> {
    return this.#batcher.write(() => this.#groups.pause(topic, group, pausedAt));
  }

  groupPausedAt(topic: string, group: string): Promise<number | null> {
    return this.#batcher.read(() => this.#groups.pausedAt(topic, group));
  }

  deleteGroup(topic: string, group: string): Promise<boolean> {
    return this.#batcher.write(() => this.#groups.delete(topic, group));
  }

  // --- upkeep -------------------------------------------------------------------------------

  maintain(options: MaintainOptions): Promise<void> {
    return this.#batcher.write(() => {
      this.#upkeep.forgetExpired(options.processedRetentionMs);
      this.#workers.sweep(options.workerRetentionMs ?? defaultWorkerRetentionMs);
      for (const topic of this.#logs.list()) this.#logs.trim(topic.name);
    });
  }

  close(): Promise<void> {
    return this.#batcher.close();
  }
}
