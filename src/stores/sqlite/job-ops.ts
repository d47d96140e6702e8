/**
 * Job and schedule records. The store only keeps them and makes each update atomic (with an
 * optional version check); which status follows which is the jobs layer's business.
 */
import {
  jobFromRow,
  type JobRow as SharedJobRow,
  patchedJob,
  scheduleFromRow,
  type ScheduleRow as SharedScheduleRow,
} from '../rules.js';
import { readColumns } from './codec.js';
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import type {
  JobPatch,
  JobQuery,
  JobRecord,
  JobStatus,
  Page,
  PageRequest,
  ScheduleRecord,
} from '../../store/port.js';
import { decodeJobCursor, encodeJobCursor } from '../page-cursors.js';

type JobRow = SharedJobRow<number, string>;
type ScheduleRow = SharedScheduleRow<number>;

/** Patch fields → columns, with how each value is stored. */
const patchColumns: Record<keyof JobPatch, { column: string; encode?: (value: never) => unknown }> = {
  status: { column: 'status' },
  payload: { column: 'payload' },
  attempts: { column: 'attempts' },
  runAt: { column: 'run_at' },
  startedAt: { column: 'started_at' },
  finishedAt: { column: 'finished_at' },
  progress: { column: 'progress' },
  progressData: { column: 'progress_data' },
  result: { column: 'result' },
  lastError: { column: 'last_error', encode: (value: JobRecord['lastError']) => jsonOrNull(value) },
  history: { column: 'history', encode: (value: JobRecord['history']) => JSON.stringify(value) },
  logs: { column: 'logs', encode: (value: JobRecord['logs']) => JSON.stringify(value) },
  pendingChildren: { column: 'pending_children' },
};

/** The query filters → SQL conditions. */
const filterConditions: Record<keyof JobQuery, string> = {
  type: 'type = @type',
  // A range, not LIKE: the type index serves it and `%`/`_` in a prefix mean themselves.
  typePrefix: 'type >= @typePrefix AND type < @typePrefix || char(1114111)',
  status: 'status = @status',
  key: 'key = @key',
  parentId: 'parent_id = @parentId',
  since: 'created_at >= @since',
  until: 'created_at < @until',
};

export class JobOps {
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #insert: Database.Statement<Record<string, unknown>>;
  readonly #byId: Database.Statement<[string], JobRow>;
  readonly #countActive: Database.Statement<
    [{ type: string; key: string | null; jobId: string }],
    { active: number }
  >;
  readonly #byIdempotencyKey: Database.Statement<[string, string], JobRow>;
  readonly #count: Database.Statement<[], { type: string; status: string; count: number }>;
  readonly #deleteFinished: Database.Statement<{ before: number; type: string | null; limit: number }>;
  readonly #deleteOneFinished: Database.Statement<[string], { id: string }>;
  readonly #updates = new Map<string, Database.Statement<Record<string, unknown>, JobRow>>();
  readonly #searches = new Map<string, Database.Statement<Record<string, unknown>, JobRow>>();
  readonly #upsertSchedule: Database.Statement<Record<string, unknown>>;
  readonly #advanceSchedule: Database.Statement<{ name: string; from: number; next: number }>;
  readonly #schedules: Database.Statement<[], ScheduleRow>;
  readonly #schedule: Database.Statement<[string], ScheduleRow>;
  readonly #deleteSchedule: Database.Statement<[string]>;
  readonly #pauseSchedule: Database.Statement<{ name: string; pausedAt: number | null; next: number | null }>;

  constructor(db: Database.Database, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
    this.#insert = db.prepare(
      `INSERT INTO jobs (id, type, status, payload, key, priority, metadata, max_attempts, attempts,
         created_at, updated_at, run_at, started_at, finished_at, progress, progress_data, result,
         last_error, history, logs, parent_id, pending_children, callback_url, idempotency_key,
         request_hash, version)
       VALUES (@id, @type, @status, @payload, @key, @priority, @metadata, @maxAttempts, @attempts,
         @createdAt, @updatedAt, @runAt, @startedAt, @finishedAt, @progress, @progressData, @result,
         @lastError, @history, @logs, @parentId, @pendingChildren, @callbackUrl, @idempotencyKey,
         @requestHash, @version)`,
    );
    this.#byId = db.prepare('SELECT * FROM jobs WHERE id = ?');
    this.#countActive = db.prepare(
      "SELECT count(*) AS active FROM jobs WHERE status = 'active' AND type = @type AND (@key IS NULL OR key = @key) AND id != @jobId",
    );
    this.#byIdempotencyKey = db.prepare('SELECT * FROM jobs WHERE type = ? AND idempotency_key = ?');
    this.#count = db.prepare(
      'SELECT type, status, count(*) AS count FROM jobs GROUP BY type, status ORDER BY type, status',
    );
    this.#deleteFinished = db.prepare(
      `DELETE FROM jobs WHERE id IN (
         SELECT id FROM jobs WHERE finished_at < @before
           AND status IN ('completed', 'dead', 'cancelled')
           AND (@type IS NULL OR type = @type)
         ORDER BY finished_at LIMIT @limit)`,
    );
    this.#deleteOneFinished = db.prepare(
      `DELETE FROM jobs WHERE id = ? AND status IN ('completed', 'dead', 'cancelled') RETURNING id`,
    );
    this.#upsertSchedule = db.prepare(
      `INSERT INTO schedules (name, cron, timezone, every_ms, job_type, payload, missed_policy,
         next_run_at, last_run_at, created_at)
       VALUES (@name, @cron, @timezone, @everyMs, @jobType, @payload, @missedPolicy, @nextRunAt,
         @lastRunAt, @createdAt)
       ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, timezone = excluded.timezone,
         every_ms = excluded.every_ms, job_type = excluded.job_type, payload = excluded.payload,
         missed_policy = excluded.missed_policy, next_run_at = excluded.next_run_at,
         last_run_at = excluded.last_run_at`,
    );
    this.#advanceSchedule = db.prepare(
      `UPDATE schedules SET next_run_at = @next, last_run_at = @from
       WHERE name = @name AND next_run_at = @from`,
    );
    this.#schedules = db.prepare('SELECT * FROM schedules ORDER BY name');
    this.#schedule = db.prepare('SELECT * FROM schedules WHERE name = ?');
    this.#deleteSchedule = db.prepare('DELETE FROM schedules WHERE name = ?');
    this.#pauseSchedule = db.prepare(
      `UPDATE schedules SET paused_at = @pausedAt, next_run_at = coalesce(@next, next_run_at)
       WHERE name = @name`,
    );
  }

  insert(job: JobRecord): { job: JobRecord; created: boolean } {
    if (job.idempotencyKey !== null) {
      const existing = this.#byIdempotencyKey.get(job.type, job.idempotencyKey);
      if (existing) return { job: toJob(existing), created: false };
    }
    this.#insert.run({
      ...job,
      lastError: jsonOrNull(job.lastError),
      history: JSON.stringify(job.history),
      logs: JSON.stringify(job.logs),
    });
    return { job, created: true };
  }

  update(id: string, patch: JobPatch, expected?: number | JobRecord): JobRecord | null {
    const fields = (Object.keys(patch) as (keyof JobPatch)[]).filter((field) => patch[field] !== undefined);
    const expectedVersion = typeof expected === 'number' ? expected : expected?.version;
    // With the record as expected, the answer is built from it: no RETURNING of the wide row.
    const returning = typeof expected !== 'object';
    const shape = `${fields.join(',')}|${expectedVersion !== undefined}|${returning}`;
    let statement = this.#updates.get(shape);
    if (!statement) {
      const assignments = fields.map((field) => `${patchColumns[field].column} = @${field}`);
      // RETURNING (when no record is expected): the updated record without a second lookup.
      statement = this.#db.prepare<Record<string, unknown>, JobRow>(
        `UPDATE jobs SET ${[...assignments, 'version = version + 1', 'updated_at = @now'].join(', ')}
         WHERE id = @id${expectedVersion !== undefined ? ' AND version = @expectedVersion' : ''}${returning ? ' RETURNING *' : ''}`,
      );
      this.#updates.set(shape, statement);
    }
    const now = this.#clock.now();
    const values: Record<string, unknown> = { id, now };
    if (expectedVersion !== undefined) values.expectedVersion = expectedVersion;
    for (const field of fields) {
      const { encode } = patchColumns[field];
      values[field] = encode ? encode(patch[field] as never) : patch[field];
    }
    if (typeof expected === 'object') {
      return statement.run(values).changes === 1 ? patchedJob(expected, patch, now) : null;
    }
    const row = statement.get(values);
    return row ? toJob(row) : null;
  }

  /**
   * A slot is free while fewer than `limit` other jobs of the type (and key) are active: the
   * transaction holds SQLite's only write lock, so the count cannot change under it.
   */
  takeSlot(type: string, key: string | null, jobId: string, limit: number): boolean {
    return this.#countActive.get({ type, key, jobId })!.active < limit;
  }

  get(id: string): JobRecord | null {
    const row = this.#byId.get(id);
    return row ? toJob(row) : null;
  }

  /** Newest first; the cursor is the last (created_at, id). */
  list(query: JobQuery, page: PageRequest): Page<JobRecord> {
    const filters = (Object.keys(filterConditions) as (keyof JobQuery)[]).filter(
      (field) => query[field] !== undefined,
    );
    const after = page.after ? decodeJobCursor(page.after) : null;
    const shape = `${filters.join(',')}|${after !== null}`;
    let statement = this.#searches.get(shape);
    if (!statement) {
      const conditions = filters.map((field) => filterConditions[field]);
      if (after)
        conditions.push('(created_at < @afterCreatedAt OR (created_at = @afterCreatedAt AND id < @afterId))');
      statement = this.#db.prepare(
        `SELECT * FROM jobs ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
         ORDER BY created_at DESC, id DESC LIMIT @limit`,
      );
      this.#searches.set(shape, statement);
    }
    const limit = Math.max(0, page.limit);
    const values: Record<string, unknown> = { limit: limit + 1 };
    for (const field of filters) values[field] = query[field];
    if (after) {
      values.afterCreatedAt = after.createdAt;
      values.afterId = after.id;
    }
    const rows = statement.all(values);
    const items = rows.slice(0, limit).map(toJob);
    const last = items.at(-1);
    return {
      items,
      next: rows.length > limit && last ? encodeJobCursor(last.createdAt, last.id) : null,
    };
  }

  count(): { type: string; status: JobStatus; count: number }[] {
    return this.#count.all().map((row) => ({ ...row, status: row.status as JobStatus }));
  }

  deleteFinished(options: { finishedBefore: number; type?: string; limit: number }): number {
    return this.#deleteFinished.run({
      before: options.finishedBefore,
      type: options.type ?? null,
      limit: options.limit,
    }).changes;
  }

  deleteJobs(ids: readonly string[]): string[] {
    const deleted: string[] = [];
    for (const id of ids) if (this.#deleteOneFinished.get(id)) deleted.push(id);
    return deleted;
  }

  saveSchedule(schedule: ScheduleRecord): ScheduleRecord {
    this.#upsertSchedule.run({ ...schedule });
    return this.getSchedule(schedule.name)!;
  }

  advanceSchedule(name: string, from: number, next: number): boolean {
    return this.#advanceSchedule.run({ name, from, next }).changes === 1;
  }

  listSchedules(): ScheduleRecord[] {
    return this.#schedules.all().map(toSchedule);
  }

  getSchedule(name: string): ScheduleRecord | null {
    const row = this.#schedule.get(name);
    return row ? toSchedule(row) : null;
  }

  deleteSchedule(name: string): boolean {
    return this.#deleteSchedule.run(name).changes === 1;
  }

  pauseSchedule(name: string, pausedAt: number | null, next: number | undefined): ScheduleRecord | null {
    this.#pauseSchedule.run({ name, pausedAt, next: next ?? null });
    return this.getSchedule(name);
  }
}

function toJob(row: JobRow): JobRecord {
  return jobFromRow(row, readColumns);
}

function toSchedule(row: ScheduleRow): ScheduleRecord {
  return scheduleFromRow(row, (value) => value);
}

function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
