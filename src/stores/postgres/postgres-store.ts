/**
 * The PostgreSQL implementation of the store port: wires the per-concern operation modules to a
 * connection pool. Nothing here knows SQL.
 *
 * Each store method is its own unit of work: one autocommit statement when that is atomic
 * enough, or a short transaction on a pooled connection (sql.ts). Concurrent sends, claims and
 * acks of one queue are coalesced into shared statements (coalescer.ts); everything else relies
 * on PostgreSQL flushing the WAL of concurrently committing transactions together.
 *
 * Lifecycle: every call is counted while it runs; `close()` refuses new calls with
 * `ClosedError`, waits for the running ones, sends the last wake-up notifications, stops
 * listening, waits for a VACUUM in progress, and ends the pool if the store created it (a pool
 * passed in by the caller stays open).
 */
import type { Clock } from '../../core/clock.js';
import type { TokenBucket } from '../../core/token-bucket.js';
import { ClosedError, InvalidArgumentError } from '../../core/errors.js';
import type { QueueConfig, TopicConfig } from '../../core/options.js';
import type {
  AckAndClaimResult,
  CommitObserver,
  AppendEvent,
  AppendResult,
  ClaimedMessage,
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
  Leadership,
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
import { CommitMeter } from './commit-meter.js';
import type { PostgresPool, SchemaNames } from './connection.js';
import { DatabaseClock } from './database-clock.js';
import { DeadLetterOps } from './dead-letter-ops.js';
import { GroupOps } from './group-ops.js';
import { JobOps } from './job-ops.js';
import { GateOps } from './gate-ops.js';
import { WorkflowOps } from './workflow-ops.js';
import { FairGroups } from './fair-groups.js';
import { KeyHeads } from './key-heads.js';
import { AdvisoryLeadership } from './leadership.js';
import { LeaseOps } from './lease-ops.js';
import { LogOps } from './log-ops.js';
import { type NoticeListener, Notifier } from './notifier.js';
import { QueueOps } from './queue-ops.js';
import { PoolSql, type Sql, type SqlContext } from './sql.js';
import { toStoreError } from './store-errors.js';
import { TransactionScope, asQueryable, inCallerTransaction } from './transaction-scope.js';
import { UpkeepOps } from './upkeep-ops.js';
import { RateOps } from './rate-ops.js';
import { Vacuum } from './vacuum.js';
import { WorkerOps } from './worker-ops.js';

/** A {@link Store} on PostgreSQL, with cross-process wake-ups (not part of the port). */
export interface PostgresStore extends Store {
  /** The PostgreSQL schema that holds the store's tables. */
  readonly schema: string;
  /**
   * Subscribes to wake-ups from every process writing to this schema: a `queue` notice after a
   * commit that may have made messages deliverable (send, redrive, release, a key's next
   * message), a `topic` notice after an append, and `resync` after the listening connection was
   * lost and re-established (notices may have been missed: look for work everywhere).
   * Resolves, once listening, with a function that unsubscribes. See notifier.ts.
   */
  onNotify(listener: NoticeListener): Promise<() => void>;
  /**
   * Competes for leadership of the role `name` among every process on this schema (a
   * session-level `pg_try_advisory_lock` on a dedicated connection; see leadership.ts).
   */
  leadership(name: string): Leadership;
}

/** How a write is run: on its own, or inside a transaction's scope. */
type Runner = <T>(operation: (sql: Sql) => Promise<T>) => Promise<T>;

export class PostgresStoreImpl implements PostgresStore {
  readonly backend = 'postgres';
  readonly capabilities: StoreCapabilities = Object.freeze({
    transactions: true,
    externalTransactions: true,
    notifications: true,
  });
  readonly clock: Clock;
  readonly schema: string;
  readonly #pool: PostgresPool;
  readonly #ownsPool: boolean;
  readonly #ownsClock: boolean;
  readonly #context: SqlContext;
  readonly #sql: PoolSql;
  readonly #queues: QueueOps;
  readonly #leases: LeaseOps;
  readonly #deadLetters: DeadLetterOps;
  readonly #logs: LogOps;
  readonly #groups: GroupOps;
  readonly #upkeep: UpkeepOps;
  readonly #jobs: JobOps;
  readonly #gates: GateOps;
  readonly #workflows: WorkflowOps;
  readonly #workers: WorkerOps;
  readonly #rates: RateOps;
  readonly #notifier: Notifier;
  readonly #vacuum: Vacuum;
  readonly #leaderships = new Set<AdvisoryLeadership>();
  readonly #leadershipRetryMs: number;
  readonly #sessionPool: PostgresPool | null;
  /** The transactional writes, each its own unit of work. */
  readonly #writes: StoreWrites;
  readonly #commits = new CommitMeter();
  /** The relay round running now, and the one queued behind it (see #relayStaged). */
  #relaying: Promise<void> | null = null;
  #relayNext: Promise<void> | null = null;
  readonly #relayLock: string;
  #running = 0;
  #onIdle: (() => void) | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: {
    pool: PostgresPool;
    ownsPool: boolean;
    names: SchemaNames;
    clock: Clock;
    ownsClock: boolean;
    preparedStatements: boolean;
    vacuumEvery: number | null;
    leadershipRetryMs: number;
    /** Where leadership sessions are held (owned by the store), or null for `pool`. */
    sessionPool?: PostgresPool | null;
  }) {
    const { pool, names, clock } = options;
    this.clock = clock;
    this.schema = names.schema;
    this.#pool = pool;
    this.#ownsPool = options.ownsPool;
    this.#ownsClock = options.ownsClock;
    this.#leadershipRetryMs = options.leadershipRetryMs;
    this.#sessionPool = options.sessionPool ?? null;
    this.#notifier = new Notifier(pool, names.channel, clock);
    this.#vacuum = new Vacuum(pool, names, options.vacuumEvery);
    this.#context = {
      prepare: options.preparedStatements,
      channel: names.channel,
      announce: (payload) => this.#notifier.announce(payload),
    };
    this.#sql = new PoolSql(pool, this.#context);
    const keys = new KeyHeads(names);
    const fairGroups = new FairGroups(names);
    this.#queues = new QueueOps(names, clock, keys, this.#sql, this.#commits, fairGroups);
    this.#leases = new LeaseOps(names, clock, this.#queues, keys, this.#sql, this.#commits, fairGroups);
    this.#deadLetters = new DeadLetterOps(names, clock, this.#queues, keys, fairGroups);
    this.#logs = new LogOps(names, clock);
    this.#groups = new GroupOps(names, clock, this.#logs);
    this.#upkeep = new UpkeepOps(names, clock);
    this.#jobs = new JobOps(names, clock);
    this.#gates = new GateOps(names);
    this.#workflows = new WorkflowOps(names, clock);
    this.#workers = new WorkerOps(names, clock);
    this.#rates = new RateOps(names, clock);
    this.#writes = this.#writesVia((operation) => operation(this.#sql), true);
    this.#relayLock = `spool.relay.${names.schema}`;
  }

  observeCommits(observer: CommitObserver): () => void {
    return this.#commits.observe(observer);
  }

  onNotify(listener: NoticeListener): Promise<() => void> {
    return this.#call(() => this.#notifier.subscribe(listener));
  }

  // --- the writes that may take part in a transaction ---------------------------------------

  enqueue(queue: string, messages: readonly EnqueueMessage[]): Promise<EnqueueResult[]> {
    return this.#call(() => this.#writes.enqueue(queue, messages));
  }

  ack(queue: string, receipt: string): Promise<void> {
    return this.#call(() => this.#writes.ack(queue, receipt));
  }

  append(topic: string, events: readonly AppendEvent[]): Promise<AppendResult[]> {
    return this.#call(() => this.#writes.append(topic, events));
  }

  async appendAfterCommit(topic: string, events: readonly AppendEvent[]): Promise<void> {
    await this.append(topic, events);
  }

  commitOffset(
    topic: string,
    group: string,
    memberId: string,
    partition: number,
    offset: number,
  ): Promise<void> {
    return this.#call(() => this.#writes.commitOffset(topic, group, memberId, partition, offset));
  }

  insertJob(job: JobRecord): Promise<{ job: JobRecord; created: boolean }> {
    return this.#call(() => this.#writes.insertJob(job));
  }

  updateJob(id: string, patch: JobPatch, expected?: number | JobRecord): Promise<JobRecord | null> {
    return this.#call(() => this.#writes.updateJob(id, patch, expected));
  }

  /** Outside a transaction a plain read (a lock would end with its own statement). */
  lockJob(id: string): Promise<JobRecord | null> {
    return this.getJob(id);
  }

  takeJobSlot(type: string, key: string | null, jobId: string, limit: number): Promise<boolean> {
    return this.#call(() => this.#writes.takeJobSlot(type, key, jobId, limit));
  }

  /** Outside a transaction a plain read (a lock would end with its own statement). */
  lockJobGate(type: string, gate: string): Promise<JobGateRecord | null> {
    return this.#call(() => this.#gates.get(this.#sql, type, gate));
  }

  saveJobGate(gate: JobGateRecord): Promise<void> {
    return this.#call(() => this.#writes.saveJobGate(gate));
  }

  saveSchedule(schedule: ScheduleRecord): Promise<ScheduleRecord> {
    return this.#call(() => this.#writes.saveSchedule(schedule));
  }

  advanceSchedule(name: string, fromRunAt: number, nextRunAt: number): Promise<boolean> {
    return this.#call(() => this.#writes.advanceSchedule(name, fromRunAt, nextRunAt));
  }

  markProcessed(consumer: string, messageId: string): Promise<boolean> {
    return this.#call(() => this.#writes.markProcessed(consumer, messageId));
  }

  saveWorkflowStep(step: WorkflowStepRecord): Promise<void> {
    return this.#call(() => this.#writes.saveWorkflowStep(step));
  }

  workflowSteps(runId: string): Promise<WorkflowStepRecord[]> {
    return this.#call(() => this.#writes.workflowSteps(runId));
  }

  addWorkflowEvent(runId: string, name: string, payload: string): Promise<WorkflowEventRecord> {
    return this.#call(() => this.#writes.addWorkflowEvent(runId, name, payload));
  }

  workflowEvents(runId: string, afterSeq: number): Promise<WorkflowEventRecord[]> {
    return this.#call(() => this.#writes.workflowEvents(runId, afterSeq));
  }

  lockBreaker(name: string, initial: string): Promise<BreakerRecord> {
    return this.#call(() => this.#writes.lockBreaker(name, initial));
  }

  saveBreaker(name: string, state: string): Promise<void> {
    return this.#call(() => this.#writes.saveBreaker(name, state));
  }

  takeRateToken(name: string, limit: number, intervalMs: number): Promise<number> {
    return this.#call(() => this.#rates.take(this.#sql, name, limit, intervalMs));
  }

  readRateBucket(name: string): Promise<TokenBucket | null> {
    return this.#call(() => this.#rates.read(this.#sql, name));
  }

  getBreaker(name: string): Promise<BreakerRecord | null> {
    return this.#call(() => this.#workflows.getBreaker(this.#sql, name));
  }

  listBreakers(): Promise<BreakerRecord[]> {
    return this.#call(() => this.#workflows.listBreakers(this.#sql));
  }

  /**
   * Runs `work` in one transaction: on a dedicated pooled connection between BEGIN and
   * COMMIT/ROLLBACK, or, with `options.connection`, on the caller's connection inside the
   * transaction the caller opened (nothing is committed here). Writes made through `tx` run one
   * at a time, each in a savepoint (transaction-scope.ts). Calls on the store itself from inside
   * `work` use other connections and see only committed state; a store write there that
   * touches rows `tx` has locked would wait for the transaction that is waiting for it.
   */
  transaction<T>(work: (tx: StoreWrites) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return this.#call(async () => {
      if (options.connection !== undefined) {
        return inCallerTransaction(asQueryable(options.connection), this.#context, (scope) =>
          work(this.#writesVia((operation) => scope.run(operation))),
        );
      }
      const client = await this.#pool.connect();
      let broken: Error | undefined;
      let staged = false;
      let value: T;
      try {
        // One round trip either way: a simple query may carry both statements.
        await client.query(
          options.synchronousCommit === false ? 'BEGIN; SET LOCAL synchronous_commit = off' : 'BEGIN',
        );
        const notices: string[] = [];
        const scope = new TransactionScope(client, this.#context, notices, options.savepoints !== false);
        const writes = this.#writesVia(
          (operation) => scope.run(operation),
          false,
          () => (staged = true),
        );
        value = await work(writes).finally(() => scope.end());
        // PostgreSQL answers COMMIT of an aborted transaction with a silent ROLLBACK: a write
        // that failed without a savepoint (and whose error `work` swallowed) must not look committed.
        if (scope.failed) {
          throw new InvalidArgumentError(
            'a write of this transaction failed and the transaction was opened without savepoints: nothing was committed',
            { field: 'savepoints' },
          );
        }
        await this.#commits.time(1, () => client.query('COMMIT'));
        for (const notice of new Set(notices)) this.#notifier.announce(notice);
      } catch (error) {
        broken = await rollbackQuietly(client);
        // Whatever work threw comes back as it was: it may be the caller's own error.
        throw error;
      } finally {
        client.release(broken);
      }
      // Committed: its staged events go on the log before the caller goes on — on another
      // connection, after this one is back in the pool (waiting while holding it could leave a
      // full pool of committed transactions waiting for a relay that has no connection).
      if (staged) await this.#relayStaged();
      return value;
    });
  }

  /**
   * The transactional writes, run by `run`; `coalesce` only for the store's own (see
   * coalescer.ts). `staged` is given inside a transaction the store commits: `appendAfterCommit`
   * then stages its events (log-ops.ts) and calls it, so the events are relayed after the commit.
   */
  #writesVia(run: Runner, coalesce = false, staged?: () => void): StoreWrites {
    return {
      appendAfterCommit: async (topic, events) => {
        if (!staged) {
          await run((sql) => this.#logs.append(sql, topic, events));
          return;
        }
        await run((sql) => this.#logs.stage(sql, topic, events));
        staged();
      },
      enqueue: (queue, messages) => run((sql) => this.#queues.enqueue(sql, queue, messages, coalesce)),
      ack: (queue, receipt) => run((sql) => this.#leases.ack(sql, queue, receipt, coalesce)),
      append: (topic, events) => run((sql) => this.#logs.append(sql, topic, events)),
      getTopic: (name) => run((sql) => this.#logs.get(sql, name)),
      commitOffset: (topic, group, memberId, partition, offset) =>
        run((sql) => this.#groups.commitOffset(sql, topic, group, memberId, partition, offset)),
      insertJob: (job) => run((sql) => this.#jobs.insert(sql, job)),
      updateJob: (id, patch, expected) => run((sql) => this.#jobs.update(sql, id, patch, expected)),
      lockJob: (id) => run((sql) => this.#jobs.lock(sql, id)),
      takeJobSlot: (type, key, jobId, limit) =>
        run((sql) => sql.atomic((tx) => this.#jobs.takeSlot(tx, type, key, jobId, limit))),
      lockJobGate: (type, gate) => run((sql) => this.#gates.lock(sql, type, gate)),
      saveJobGate: (gate) => run((sql) => this.#gates.save(sql, gate)),
      saveSchedule: (schedule) => run((sql) => this.#jobs.saveSchedule(sql, schedule)),
      advanceSchedule: (name, from, next) => run((sql) => this.#jobs.advanceSchedule(sql, name, from, next)),
      markProcessed: (consumer, messageId) =>
        run((sql) => this.#upkeep.markProcessed(sql, consumer, messageId)),
      saveWorkflowStep: (step) => run((sql) => this.#workflows.saveStep(sql, step)),
      workflowSteps: (runId) => run((sql) => this.#workflows.steps(sql, runId)),
      addWorkflowEvent: (runId, name, payload) =>
        run((sql) => this.#workflows.addEvent(sql, runId, name, payload)),
      workflowEvents: (runId, afterSeq) => run((sql) => this.#workflows.events(sql, runId, afterSeq)),
      lockBreaker: (name, initial) => run((sql) => this.#workflows.lockBreaker(sql, name, initial)),
      saveBreaker: (name, state) => run((sql) => this.#workflows.saveBreaker(sql, name, state)),
    };
  }

  // --- queues -------------------------------------------------------------------------------

  saveQueue(config: QueueConfig): Promise<QueueConfig> {
    return this.#call(() => this.#queues.save(this.#sql, config));
  }

  getQueue(name: string): Promise<QueueConfig | null> {
    return this.#call(() => this.#queues.get(this.#sql, name));
  }

  listQueues(): Promise<QueueConfig[]> {
    return this.#call(() => this.#queues.list(this.#sql));
  }

  deleteQueue(name: string): Promise<boolean> {
    return this.#call(() => this.#queues.delete(this.#sql, name));
  }

  pauseQueue(name: string, pausedAt: number | null): Promise<boolean> {
    return this.#call(() => this.#queues.pause(this.#sql, name, pausedAt));
  }

  claim(queue: string, request: { max: number; visibilityTimeoutMs: number }): Promise<ClaimedMessage[]> {
    return this.#call(async () => {
      const claimed = await this.#leases.claim(queue, request.max, request.visibilityTimeoutMs);
      this.#vacuum.churned(claimed.length);
      return claimed;
    });
  }

  ackAndClaim(
    queue: string,
    receipts: readonly string[],
    request: { max: number; visibilityTimeoutMs: number },
  ): Promise<AckAndClaimResult> {
    return this.#call(async () => {
      const result = await this.#leases.ackAndClaim(
        this.#sql,
        queue,
        receipts,
        request.max,
        request.visibilityTimeoutMs,
      );
      this.#vacuum.churned(result.claimed.length);
      return result;
    });
  }

  release(queue: string, receipt: string, options: ReleaseOptions): Promise<ReleaseOutcome> {
    return this.#call(() => this.#leases.release(this.#sql, queue, receipt, options));
  }

  extend(queue: string, receipt: string, visibilityTimeoutMs: number): Promise<number> {
    return this.#call(() => this.#leases.extend(this.#sql, queue, receipt, visibilityTimeoutMs));
  }

  deadLetter(queue: string, receipt: string, error: { name: string; message: string }): Promise<void> {
    return this.#call(() => this.#leases.deadLetter(this.#sql, queue, receipt, error));
  }

  queueStats(queue: string): Promise<QueueStats> {
    return this.#call(() => this.#queues.stats(this.#sql, queue));
  }

  nextDeliveryAt(queue: string): Promise<number | null> {
    return this.#call(() => this.#queues.nextDeliveryAt(this.#sql, queue));
  }

  listMessages(queue: string, page: PageRequest): Promise<Page<QueuedMessage>> {
    return this.#call(() => this.#queues.listMessages(this.#sql, queue, page));
  }

  purge(queue: string): Promise<number> {
    return this.#call(async () => {
      const purged = await this.#queues.purge(this.#sql, queue);
      this.#vacuum.churned(purged);
      return purged;
    });
  }

  // --- dead letters -------------------------------------------------------------------------

  listDeadLetters(queue: string, page: PageRequest): Promise<Page<DeadLetter>> {
    return this.#call(() => this.#deadLetters.list(this.#sql, queue, page));
  }

  redrive(queue: string, selection: DeadLetterSelection): Promise<number> {
    return this.#call(() => this.#deadLetters.redrive(this.#sql, queue, selection));
  }

  purgeDeadLetters(queue: string, selection: DeadLetterSelection): Promise<number> {
    return this.#call(() => this.#deadLetters.purge(this.#sql, queue, selection));
  }

  // --- topics -------------------------------------------------------------------------------

  saveTopic(config: TopicConfig): Promise<TopicConfig> {
    return this.#call(() => this.#logs.save(this.#sql, config));
  }

  getTopic(name: string): Promise<TopicConfig | null> {
    return this.#call(() => this.#logs.get(this.#sql, name));
  }

  listTopics(): Promise<TopicConfig[]> {
    return this.#call(() => this.#logs.list(this.#sql));
  }

  deleteTopic(name: string): Promise<boolean> {
    return this.#call(() => this.#logs.delete(this.#sql, name));
  }

  read(topic: string, partition: number, fromOffset: number, max: number): Promise<ReadResult> {
    return this.#call(() => this.#logs.read(this.#sql, topic, partition, fromOffset, max));
  }

  partitionOffsets(topic: string): Promise<PartitionOffsets[]> {
    return this.#call(() => this.#logs.partitionOffsets(this.#sql, topic));
  }

  offsetForTime(topic: string, partition: number, timestamp: number): Promise<number> {
    return this.#call(() => this.#logs.offsetForTime(this.#sql, topic, partition, timestamp));
  }

  trim(topic: string): Promise<number> {
    return this.#call(() => this.#logs.trim(this.#sql, topic));
  }

  // --- consumer groups ----------------------------------------------------------------------

  joinGroup(topic: string, group: string, request: JoinGroupRequest): Promise<GroupMembership> {
    return this.#call(() => this.#groups.join(this.#sql, topic, group, request));
  }

  heartbeat(topic: string, group: string, memberId: string): Promise<GroupMembership> {
    return this.#call(() => this.#groups.heartbeat(this.#sql, topic, group, memberId));
  }

  releasePartitions(
    topic: string,
    group: string,
    memberId: string,
    partitions: readonly number[],
  ): Promise<void> {
    return this.#call(() => this.#groups.releasePartitions(this.#sql, topic, group, memberId, partitions));
  }

  leaveGroup(topic: string, group: string, memberId: string): Promise<void> {
    return this.#call(() => this.#groups.leave(this.#sql, topic, group, memberId));
  }

  seekGroup(topic: string, group: string, offsets: readonly CommittedOffset[]): Promise<void> {
    return this.#call(() => this.#groups.seek(this.#sql, topic, group, offsets));
  }

  groupState(topic: string, group: string): Promise<GroupState | null> {
    return this.#call(() => this.#groups.state(this.#sql, topic, group));
  }

  listGroups(topic: string): Promise<string[]> {
    return this.#call(() => this.#groups.list(this.#sql, topic));
  }

  pauseGroup(topic: string, group: string, pausedAt: number | null): Promise<boolean> {
    return this.#call(() => this.#groups.pause(this.#sql, topic, group, pausedAt));
  }

  groupPausedAt(topic: string, group: string): Promise<number | null> {
    return this.#call(() => this.#groups.pausedAt(this.#sql, topic, group));
  }

  deleteGroup(topic: string, group: string): Promise<boolean> {
    return this.#call(() => this.#groups.delete(this.#sql, topic, group));
  }

  // --- jobs and schedules (reads and upkeep) --------------------------------------------------

  getJob(id: string): Promise<JobRecord | null> {
    return this.#call(() => this.#jobs.get(this.#sql, id));
  }

  listJobs(query: JobQuery, page: PageRequest): Promise<Page<JobRecord>> {
    return this.#call(() => this.#jobs.list(this.#sql, query, page));
  }

  countJobs(): Promise<{ type: string; status: JobStatus; count: number }[]> {
    return this.#call(() => this.#jobs.count(this.#sql));
  }

  deleteFinishedJobs(options: { finishedBefore: number; type?: string; limit: number }): Promise<number> {
    return this.#call(() => this.#jobs.deleteFinished(this.#sql, options));
  }

  deleteJobs(ids: readonly string[]): Promise<string[]> {
    return this.#call(() => this.#jobs.deleteJobs(this.#sql, ids));
  }

  deleteStaleJobGates(now: number, limit: number): Promise<number> {
    return this.#call(() => this.#gates.deleteStale(this.#sql, now, limit));
  }

  listSchedules(): Promise<ScheduleRecord[]> {
    return this.#call(() => this.#jobs.listSchedules(this.#sql));
  }

  getSchedule(name: string): Promise<ScheduleRecord | null> {
    return this.#call(() => this.#jobs.getSchedule(this.#sql, name));
  }

  deleteSchedule(name: string): Promise<boolean> {
    return this.#call(() => this.#jobs.deleteSchedule(this.#sql, name));
  }

  pauseSchedule(name: string, pausedAt: number | null, nextRunAt?: number): Promise<ScheduleRecord | null> {
    return this.#call(() => this.#jobs.pauseSchedule(this.#sql, name, pausedAt, nextRunAt));
  }

  // --- workers ------------------------------------------------------------------------------

  saveWorkers(workers: readonly WorkerHeartbeat[]): Promise<void> {
    return this.#call(() => this.#workers.save(this.#sql, workers));
  }

  listWorkers(): Promise<WorkerRecord[]> {
    return this.#call(() => this.#workers.list(this.#sql));
  }

  deleteWorkers(ids: readonly string[]): Promise<number> {
    return this.#call(() => this.#workers.delete(this.#sql, ids));
  }

  // --- upkeep -------------------------------------------------------------------------------

  /**
   * Appends the staged events of every committed transaction (log-ops.ts). Resolves once a
   * round that started after this call has ended: a round already running may have read the
   * staged rows before the caller's commit, so the caller waits for the one after it. Rounds of
   * one process run one at a time; a failed round leaves its rows staged for the next.
   */
  #relayStaged(): Promise<void> {
    if (this.#relaying === null) {
      const round = this.#relayRound().finally(() => {
        if (this.#relaying === round) this.#relaying = null;
      });
      this.#relaying = round;
      return round;
    }
    this.#relayNext ??= this.#relaying
      .catch(() => undefined)
      .then(() => {
        this.#relayNext = null;
        return this.#relayStaged();
      });
    return this.#relayNext;
  }

  async #relayRound(): Promise<void> {
    const batch = 2000;
    try {
      while ((await this.#logs.relay(this.#sql, this.#relayLock, batch)) === batch);
    } catch (error) {
      // The caller's transaction committed: its events wait for the next round (any process's).
      console.error('spool: relaying staged events to the log failed; the next relay retries:', error);
    }
  }

  maintain(options: MaintainOptions): Promise<void> {
    return this.#call(async () => {
      await this.#relayStaged();
      await this.#upkeep.forgetExpired(this.#sql, options.processedRetentionMs);
      await this.#workers.sweep(this.#sql, options.workerRetentionMs ?? defaultWorkerRetentionMs);
      await this.#upkeep.sweepDropped(this.#sql);
      for (const topic of await this.#logs.list(this.#sql)) await this.#logs.trim(this.#sql, topic.name);
    });
  }

  /**
   * Competes for leadership of `name` among every process on this schema, with a session-level
   * advisory lock held on a dedicated connection (leadership.ts): from a small pool of the
   * store's own when it made its pool, else from the pool passed in. Followers try again every
   * `leadershipRetryMs`, so a dead leader is replaced within that interval.
   */
  leadership(name: string): Leadership {
    if (this.#closing) throw new ClosedError('postgres store');
    const leadership = new AdvisoryLeadership(
      this.#sessionPool ?? this.#pool,
      `spool leader ${this.schema} ${name}`,
      this.clock,
      this.#leadershipRetryMs,
    );
    this.#leaderships.add(leadership);
    return leadership;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#running > 0) await new Promise<void>((resolve) => (this.#onIdle = resolve));
      await Promise.all([...this.#leaderships].map((leadership) => leadership.close()));
      await this.#sessionPool?.end();
      await this.#notifier.close();
      await this.#vacuum.close();
      // The database clock the store made re-measures on its pool; a clock passed in is the caller's.
      if (this.#ownsClock && this.clock instanceof DatabaseClock) this.clock.stop();
      if (this.#ownsPool) await this.#pool.end();
    })();
    return this.#closing;
  }

  /** Runs one store call: refused once closing, counted while running, errors mapped to the catalogue. */
  async #call<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closing) throw new ClosedError('postgres store');
    this.#running++;
    try {
      return await work();
    } catch (error) {
      throw toStoreError(error);
    } finally {
      this.#running--;
      if (this.#running === 0) this.#onIdle?.();
    }
  }
}

/** Rolls back after a failure; resolves with an error if the connection is unusable. */
async function rollbackQuietly(client: {
  query(text: string): Promise<unknown>;
}): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
