/**
 * The rules every backend applies the same way, as pure functions: which messages of one send
 * are duplicates, when a bounded queue is full, which partitions a group member is assigned,
 * and how a stored job or schedule row reads back. Each backend keeps only its SQL; a rule
 * changed here changes on every backend, and the conformance suite checks them all.
 */
import type { QueueConfig } from '../core/options.js';
import type {
  EnqueueMessage,
  EnqueueResult,
  JobPatch,
  JobRecord,
  JobStatus,
  ScheduleRecord,
  WorkerKind,
  WorkerRecord,
  WorkerServes,
  WorkflowEventRecord,
  WorkflowStepKind,
  WorkflowStepRecord,
  WorkflowStepStatus,
} from '../store/port.js';
import type { FailureInfo } from '../core/message.js';

/** The `retryAfterMs` hint of `QueueFullError`: about how long consumers need to make room. */
export const queueFullRetryAfterMs = 1_000;

/**
 * How one send call deduplicates: the first message of the call with each dedup id is the
 * candidate to store; later ones in the call are its duplicates. A window of 0 remembers
 * nothing, so it never finds a duplicate.
 */
export class EnqueuePlan {
  /** The first message of the call with each dedup id (those whose ids must be looked up). */
  readonly firstWithId = new Map<string, EnqueueMessage>();
  /** dedup id → the id of the message stored with it earlier; fill from the store. */
  readonly originals = new Map<string, string>();
  readonly #dedup: boolean;

  constructor(
    readonly messages: readonly EnqueueMessage[],
    config: Pick<QueueConfig, 'dedupWindowMs'>,
  ) {
    this.#dedup = config.dedupWindowMs > 0;
    for (const message of messages) {
      const dedupId = this.dedupIdOf(message);
      if (dedupId !== null && !this.firstWithId.has(dedupId)) this.firstWithId.set(dedupId, message);
    }
  }

  /** The dedup id that counts for `message`: none when the queue does not deduplicate. */
  dedupIdOf(message: EnqueueMessage): string | null {
    return this.#dedup ? message.dedupId : null;
  }

  /** Whether `message` is stored: no dedup id, or the first with its id and not seen before. */
  isStored(message: EnqueueMessage): boolean {
    const dedupId = this.dedupIdOf(message);
    return dedupId === null || (this.firstWithId.get(dedupId) === message && !this.originals.has(dedupId));
  }

  /** The messages to insert, in the call's order. */
  toStore(): EnqueueMessage[] {
    return this.messages.filter((message) => this.isStored(message));
  }

  /** One result per message of the call: its own id, or the original's for a duplicate. */
  results(): EnqueueResult[] {
    return this.messages.map((message) => {
      const dedupId = this.dedupIdOf(message);
      if (dedupId === null) return { id: message.id, duplicate: false };
      const original = this.originals.get(dedupId) ?? this.firstWithId.get(dedupId)!.id;
      return original === message.id
        ? { id: message.id, duplicate: false }
        : { id: original, duplicate: true };
    });
  }
}

/**
 * The smallest depth at which adding `adding` messages overflows `maxDepth`: the queue is full
 * iff it holds at least this many (≤ 0: full whatever it holds). A backend can stop counting there.
 */
export function fullAtDepth(maxDepth: number, adding: number): number {
  return maxDepth - adding + 1;
}

/**
 * The partitions of a group assigned to `member`: round-robin over the members sorted by id
 * (member i of n takes partitions i, i+n, i+2n, …). Null when `member` is not among them.
 */
export function assignedPartitions(
  sortedMembers: readonly string[],
  member: string,
  partitionCount: number,
): number[] | null {
  const index = sortedMembers.indexOf(member);
  if (index < 0) return null;
  const assigned: number[] = [];
  for (let partition = index; partition < partitionCount; partition += sortedMembers.length) {
    assigned.push(partition);
  }
  return assigned;
}

/**
 * A job row as both backends store it, with `I` for how an integer column comes back
 * (SQLite: number; PostgreSQL: number or string for BIGINT) and `J` for a JSON column (SQLite:
 * text; PostgreSQL: JSONB, already parsed).
 */
export interface JobRow<I, J> {
  id: string;
  type: string;
  status: string;
  payload: string;
  key: string | null;
  priority: number;
  metadata: string;
  max_attempts: number;
  attempts: number;
  created_at: I;
  updated_at: I;
  run_at: I;
  started_at: I | null;
  finished_at: I | null;
  progress: number;
  progress_data: string | null;
  result: string | null;
  last_error: J | null;
  history: J;
  logs: J;
  parent_id: string | null;
  pending_children: number;
  callback_url: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  version: number;
}

/** A schedule row; `I` as for {@link JobRow}. */
export interface ScheduleRow<I> {
  name: string;
  cron: string | null;
  timezone: string | null;
  every_ms: I | null;
  job_type: string;
  payload: string;
  missed_policy: string;
  next_run_at: I;
  last_run_at: I | null;
  created_at: I;
  paused_at: I | null;
}

/** How a backend reads its integer and JSON columns. */
export interface ColumnReaders<I, J> {
  int(value: I): number;
  json<T>(value: J): T;
}

/** The patch fields a store keeps as JSON (its other fields are stored as they are given). */
const jsonPatchFields = new Set<keyof JobPatch>(['lastError', 'history', 'logs']);

/**
 * The record job `job` becomes when `patch` is applied at `updatedAt` (see `Store.updateJob`
 * with an expected record): what reading the updated row would give, without the read.
 */
export function patchedJob(job: JobRecord, patch: JobPatch, updatedAt: number): JobRecord {
  const next: Record<string, unknown> = { ...job, version: job.version + 1, updatedAt };
  for (const field of Object.keys(patch) as (keyof JobPatch)[]) {
    const value = patch[field];
    if (value === undefined) continue;
    // A JSON column gives back a copy without undefined members, as a read of the row would.
    next[field] = jsonPatchFields.has(field) ? (JSON.parse(JSON.stringify(value)) as unknown) : value;
  }
  return next as unknown as JobRecord;
}

export function jobFromRow<I, J>(row: JobRow<I, J>, read: ColumnReaders<I, J>): JobRecord {
  const optional = (value: I | null) => (value === null ? null : read.int(value));
  return {
    id: row.id,
    type: row.type,
    status: row.status as JobStatus,
    payload: row.payload,
    key: row.key,
    priority: row.priority,
    metadata: row.metadata,
    maxAttempts: row.max_attempts,
    attempts: row.attempts,
    createdAt: read.int(row.created_at),
    updatedAt: read.int(row.updated_at),
    runAt: read.int(row.run_at),
    startedAt: optional(row.started_at),
    finishedAt: optional(row.finished_at),
    progress: row.progress,
    progressData: row.progress_data,
    result: row.result,
    lastError: row.last_error === null ? null : read.json<JobRecord['lastError']>(row.last_error),
    history: read.json<JobRecord['history']>(row.history),
    logs: read.json<JobRecord['logs']>(row.logs),
    parentId: row.parent_id,
    pendingChildren: row.pending_children,
    callbackUrl: row.callback_url,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    version: row.version,
  };
}

/** A workflow step row; `I` and `J` as for {@link JobRow}. */
export interface WorkflowStepRow<I, J> {
  run_id: string;
  step_id: string;
  seq: number;
  kind: string;
  status: string;
  output: string | null;
  error: J | null;
  attempts: number;
  started_at: I;
  finished_at: I | null;
  wake_at: I | null;
}

export function workflowStepFromRow<I, J>(
  row: WorkflowStepRow<I, J>,
  read: ColumnReaders<I, J>,
): WorkflowStepRecord {
  const optional = (value: I | null) => (value === null ? null : read.int(value));
  return {
    runId: row.run_id,
    stepId: row.step_id,
    seq: row.seq,
    kind: row.kind as WorkflowStepKind,
    status: row.status as WorkflowStepStatus,
    output: row.output,
    error: row.error === null ? null : read.json<FailureInfo>(row.error),
    attempts: row.attempts,
    startedAt: read.int(row.started_at),
    finishedAt: optional(row.finished_at),
    wakeAt: optional(row.wake_at),
  };
}

/** A workflow event row; `I` as for {@link JobRow}. */
export interface WorkflowEventRow<I> {
  run_id: string;
  seq: I;
  name: string;
  payload: string;
  sent_at: I;
}

export function workflowEventFromRow<I>(
  row: WorkflowEventRow<I>,
  int: (value: I) => number,
): WorkflowEventRecord {
  return {
    runId: row.run_id,
    seq: int(row.seq),
    name: row.name,
    payload: row.payload,
    sentAt: int(row.sent_at),
  };
}

export function scheduleFromRow<I>(row: ScheduleRow<I>, int: (value: I) => number): ScheduleRecord {
  return {
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    everyMs: row.every_ms === null ? null : int(row.every_ms),
    jobType: row.job_type,
    payload: row.payload,
    missedPolicy: row.missed_policy as ScheduleRecord['missedPolicy'],
    nextRunAt: int(row.next_run_at),
    lastRunAt: row.last_run_at === null ? null : int(row.last_run_at),
    createdAt: int(row.created_at),
    pausedAt: row.paused_at === null ? null : int(row.paused_at),
  };
}

/** A workers-registry row; `I` as for {@link JobRow}, `J` the `serves` column (JSON text or jsonb). */
export interface WorkerRow<I, J> {
  id: string;
  kind: string;
  host: string;
  pid: number;
  serves: J;
  concurrency: number;
  in_flight: number;
  processed: I;
  started_at: I;
  heartbeat_interval_ms: number;
  last_seen_at: I;
}

export function workerFromRow<I, J>(row: WorkerRow<I, J>, read: ColumnReaders<I, J>): WorkerRecord {
  return {
    id: row.id,
    kind: row.kind as WorkerKind,
    host: row.host,
    pid: row.pid,
    serves: read.json<WorkerServes>(row.serves),
    concurrency: row.concurrency,
    inFlight: row.in_flight,
    processed: read.int(row.processed),
    startedAt: read.int(row.started_at),
    heartbeatIntervalMs: row.heartbeat_interval_ms,
    lastSeenAt: read.int(row.last_seen_at),
  };
}

/** The failure a dead letter records for a message that expired (`MessageExpired`). */
export const messageExpiredMessage = 'the message expired before it was delivered';

/** When a message sent `now` expires: its own TTL, else its queue's, else never (null). */
export function expiresAt(message: EnqueueMessage, config: QueueConfig, now: number): number | null {
  const ttlMs = message.ttlMs ?? config.messageTtlMs ?? null;
  return ttlMs === null ? null : now + ttlMs;
}

/**
 * A queue configuration as stored, with the fields added since it was saved at their defaults
 * (`messageTtlMs`, schema v8 on SQLite and v7 on PostgreSQL; `globalConcurrency`): every reader
 * sees the whole shape.
 */
export function storedQueueConfig(stored: QueueConfig): QueueConfig {
  if (stored.messageTtlMs !== undefined && stored.globalConcurrency !== undefined) return stored;
  return {
    ...stored,
    messageTtlMs: stored.messageTtlMs ?? null,
    globalConcurrency: stored.globalConcurrency ?? null,
  };
}
