/**
 * Job and schedule records. The store only keeps them and makes each update atomic (with an
 * optional version check); which status follows which is the jobs layer's business.
 *
 * Concurrency comes from single statements: an insert with an idempotency key is arbitrated by
 * the unique index (`ON CONFLICT DO NOTHING`, which waits for a concurrent insert of the same key
 * to commit); a versioned update re-checks `version` on the row it locked; and a schedule slot is
 * handed on with `UPDATE … WHERE next_run_at = <slot>`, so of several processes firing one slot
 * exactly one updates a row (the others wait for its lock, then find the slot moved).
 */
import {
  jobFromRow,
  type JobRow as SharedJobRow,
  patchedJob,
  scheduleFromRow,
  type ScheduleRow as SharedScheduleRow,
} from '../rules.js';
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
import { readColumns, toInt } from './codec.js';
import type { SchemaNames } from './connection.js';
import type { Sql } from './sql.js';

type Int = number | string;

type JobRow = SharedJobRow<Int, unknown>;
type ScheduleRow = SharedScheduleRow<Int>;

/** Every stored job field → its column, with how the value is stored, in insert order. */
const jobColumns: readonly (readonly [keyof JobRecord, string, ((value: never) => unknown)?])[] = [
  ['id', 'id'],
  ['type', 'type'],
  ['status', 'status'],
  ['payload', 'payload'],
  ['key', 'key'],
  ['priority', 'priority'],
  ['metadata', 'metadata'],
  ['maxAttempts', 'max_attempts'],
  ['attempts', 'attempts'],
  ['createdAt', 'created_at'],
  ['updatedAt', 'updated_at'],
  ['runAt', 'run_at'],
  ['startedAt', 'started_at'],
  ['finishedAt', 'finished_at'],
  ['progress', 'progress'],
  ['progressData', 'progress_data'],
  ['result', 'result'],
  [
    'lastError',
    'last_error',
    (value: JobRecord['lastError']) => (value === null ? null : JSON.stringify(value)),
  ],
  ['history', 'history', (value: JobRecord['history']) => JSON.stringify(value)],
  ['logs', 'logs', (value: JobRecord['logs']) => JSON.stringify(value)],
  ['parentId', 'parent_id'],
  ['pendingChildren', 'pending_children'],
  ['callbackUrl', 'callback_url'],
  ['idempotencyKey', 'idempotency_key'],
  ['requestHash', 'request_hash'],
  ['version', 'version'],
];
const columnOf = new Map(jobColumns.map(([field, column, encode]) => [field, { column, encode }]));

/** The query filters → SQL conditions on parameter `$n`. */
const filterConditions: Record<keyof JobQuery, (n: number) => string> = {
  type: (n) => `type = $${n}`,
  typePrefix: (n) => `starts_with(type, $${n}::text)`,
  status: (n) => `status = $${n}`,
  key: (n) => `key = $${n}`,
  parentId: (n) => `parent_id = $${n}`,
  since: (n) => `created_at >= $${n}`,
  until: (n) => `created_at < $${n}`,
};

export class JobOps {
  readonly #names: SchemaNames;
  readonly #clock: Clock;
  readonly #sql: Record<
    | 'insert'
    | 'byIdempotencyKey'
    | 'byId'
    | 'lock'
    | 'lockSlot'
    | 'takeSlot'
    | 'addSlot'
    | 'count'
    | 'deleteFinished'
    | 'deleteJobs'
    | 'saveSchedule'
    | 'advanceSchedule'
    | 'schedules'
    | 'schedule'
    | 'deleteSchedule'
    | 'pauseSchedule',
    string
  >;

  constructor(names: SchemaNames, clock: Clock) {
    this.#names = names;
    this.#clock = clock;
    const { jobs, schedules, jobSlots } = names;
    const columns = jobColumns.map(([, column]) => column);
    const savedColumns =
      'name, cron, timezone, every_ms, job_type, payload, missed_policy, next_run_at, last_run_at, created_at';
    // paused_at is not saved with the rest: pausing is an operator's, kept across saves.
    const scheduleColumns = `${savedColumns}, paused_at`;
    this.#sql = {
      insert: `
        INSERT INTO ${jobs} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})
        ON CONFLICT (type, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING id`,
      byIdempotencyKey: `SELECT * FROM ${jobs} WHERE type = $1 AND idempotency_key = $2`,
      byId: `SELECT * FROM ${jobs} WHERE id = $1`,
      lock: `SELECT * FROM ${jobs} WHERE id = $1 FOR UPDATE`,
      // A free slot: no holder, this job already (a job whose worker died, starting again), or
      // a holder no longer active. Slots other starts have locked are skipped, not waited for.
      // This only picks and locks a candidate: the row may have been taken by a start that
      // committed after this statement's snapshot, which the lock then waited for.
      lockSlot: `
        SELECT slot FROM ${jobSlots} c
        WHERE c.type = $1 AND c.key = $2 AND c.slot < $3 AND c.slot <> ALL($5::int[])
          AND (c.holder IS NULL OR c.holder = $4
               OR NOT EXISTS (SELECT 1 FROM ${jobs} j WHERE j.id = c.holder AND j.status = 'active'))
        ORDER BY c.slot
        LIMIT 1 FOR UPDATE SKIP LOCKED`,
      // A later statement, on the locked row: its snapshot holds whatever the start that held
      // the row before committed (see sql.ts on lock-then-read).
      takeSlot: `
        UPDATE ${jobSlots} c SET holder = $4
        WHERE c.type = $1 AND c.key = $2 AND c.slot = $3
          AND (c.holder IS NULL OR c.holder = $4
               OR NOT EXISTS (SELECT 1 FROM ${jobs} j WHERE j.id = c.holder AND j.status = 'active'))`,
      // One more slot, up to the limit: slots exist only as far as they were needed at once, so
      // a high limit that never binds costs a short scan, not one of `limit` rows.
      addSlot: `
        INSERT INTO ${jobSlots} (type, key, slot)
        SELECT $1, $2, coalesce(max(slot) + 1, 0) FROM ${jobSlots} WHERE type = $1 AND key = $2
        HAVING coalesce(max(slot) + 1, 0) < $3
        ON CONFLICT DO NOTHING`,
      count: `SELECT type, status, count(*) AS count FROM ${jobs} GROUP BY type, status ORDER BY type, status`,
      deleteFinished: `
        DELETE FROM ${jobs} WHERE id = ANY(ARRAY(
          SELECT id FROM ${jobs}
          WHERE finished_at < $1 AND status IN ('completed', 'dead', 'cancelled') AND ($2::text IS NULL OR type = $2)
          ORDER BY finished_at LIMIT $3))`,
      deleteJobs: `
        DELETE FROM ${jobs} WHERE id = ANY($1::text[]) AND status IN ('completed', 'dead', 'cancelled')
        RETURNING id`,
      // created_at is kept: a replaced schedule is still the one created first.
      saveSchedule: `
        INSERT INTO ${schedules} (${savedColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, timezone = excluded.timezone,
          every_ms = excluded.every_ms, job_type = excluded.job_type, payload = excluded.payload,
          missed_policy = excluded.missed_policy, next_run_at = excluded.next_run_at,
          last_run_at = excluded.last_run_at
        RETURNING ${scheduleColumns}`,
      advanceSchedule: `UPDATE ${schedules} SET next_run_at = $3, last_run_at = $2 WHERE name = $1 AND next_run_at = $2`,
      schedules: `SELECT ${scheduleColumns} FROM ${schedules} ORDER BY name COLLATE "C"`,
      schedule: `SELECT ${scheduleColumns} FROM ${schedules} WHERE name = $1`,
      deleteSchedule: `DELETE FROM ${schedules} WHERE name = $1`,
      pauseSchedule: `
        UPDATE ${schedules} SET paused_at = $2, next_run_at = coalesce($3, next_run_at) WHERE name = $1
        RETURNING ${scheduleColumns}`,
    };
  }

  /** Stores the job unless one of its type has its idempotency key; then resolves with that one. */
  async insert(sql: Sql, job: JobRecord): Promise<{ job: JobRecord; created: boolean }> {
    const values = jobColumns.map(([field, , encode]) => (encode ? encode(job[field] as never) : job[field]));
    if ((await sql.count(this.#sql.insert, values)) === 1) return { job, created: true };
    // A later statement: its snapshot includes the conflicting insert the upsert waited for.
    const [existing] = await sql.rows<JobRow>(this.#sql.byIdempotencyKey, [job.type, job.idempotencyKey]);
    if (!existing)
      throw new Error(`postgres store: job ${job.id} was neither stored nor found by idempotency key`);
    return { job: toJob(existing), created: false };
  }

  async update(
    sql: Sql,
    id: string,
    patch: JobPatch,
    expected?: number | JobRecord,
  ): Promise<JobRecord | null> {
    const fields = (Object.keys(patch) as (keyof JobPatch)[]).filter((field) => patch[field] !== undefined);
    const now = this.#clock.now();
    const values: unknown[] = [id, now];
    const assignments = fields.map((field) => {
      const { column, encode } = columnOf.get(field)!;
      values.push(encode ? encode(patch[field] as never) : patch[field]);
      return `${column} = $${values.length}`;
    });
    let condition = 'id = $1';
    const expectedVersion = typeof expected === 'number' ? expected : expected?.version;
    if (expectedVersion !== undefined) {
      values.push(expectedVersion);
      condition += ` AND version = $${values.length}`;
    }
    const update = `UPDATE ${this.#names.jobs} SET ${[...assignments, 'version = version + 1', 'updated_at = $2'].join(', ')}
       WHERE ${condition}`;
    if (typeof expected === 'object') {
      // With the record as expected, the answer is built from it: no RETURNING of the wide row.
      return (await sql.count(update, values)) === 1 ? patchedJob(expected, patch, now) : null;
    }
    const [row] = await sql.rows<JobRow>(`${update} RETURNING *`, values);
    return row ? toJob(row) : null;
  }

  /**
   * Reads a job and locks its row until the transaction ends: under READ COMMITTED a transition
   * computed from a plain read could overwrite a concurrent one (a lost update).
   */
  async takeSlot(sql: Sql, type: string, key: string | null, jobId: string, limit: number): Promise<boolean> {
    const slotKey = key ?? '';
    const tried: number[] = [];
    let added = false;
    // A few candidates at most: each one that turns out taken is a start that just committed.
    for (let round = 0; round < 4; round++) {
      const [candidate] = await sql.rows<{ slot: number }>(this.#sql.lockSlot, [
        type,
        slotKey,
        limit,
        jobId,
        tried,
      ]);
      if (!candidate) {
        if (added) return false;
        // Every slot there is held: make one more (if the limit allows) and look again.
        await sql.count(this.#sql.addSlot, [type, slotKey, limit]);
        added = true;
        continue;
      }
      if ((await sql.count(this.#sql.takeSlot, [type, slotKey, candidate.slot, jobId])) > 0) return true;
      tried.push(candidate.slot);
    }
    return false;
  }

  async lock(sql: Sql, id: string): Promise<JobRecord | null> {
    const [row] = await sql.rows<JobRow>(this.#sql.lock, [id]);
    return row ? toJob(row) : null;
  }

  async get(sql: Sql, id: string): Promise<JobRecord | null> {
    const [row] = await sql.rows<JobRow>(this.#sql.byId, [id]);
    return row ? toJob(row) : null;
  }

  /** Newest first; the cursor is the last (created_at, id). */
  async list(sql: Sql, query: JobQuery, page: PageRequest): Promise<Page<JobRecord>> {
    const values: unknown[] = [];
    const conditions: string[] = [];
    for (const field of Object.keys(filterConditions) as (keyof JobQuery)[]) {
      if (query[field] === undefined) continue;
      values.push(query[field]);
      conditions.push(filterConditions[field](values.length));
    }
    if (page.after) {
      const after = decodeJobCursor(page.after);
      values.push(after.createdAt, after.id);
      conditions.push(`(created_at, id) < ($${values.length - 1}, $${values.length})`);
    }
    const limit = Math.max(0, page.limit);
    values.push(limit + 1);
    const rows = await sql.rows<JobRow>(
      `SELECT * FROM ${this.#names.jobs} ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT $${values.length}`,
      values,
    );
    const items = rows.slice(0, limit).map(toJob);
    const last = items.at(-1);
    return { items, next: rows.length > limit && last ? encodeJobCursor(last.createdAt, last.id) : null };
  }

  async count(sql: Sql): Promise<{ type: string; status: JobStatus; count: number }[]> {
    const rows = await sql.rows<{ type: string; status: string; count: Int }>(this.#sql.count);
    return rows.map((row) => ({ type: row.type, status: row.status as JobStatus, count: toInt(row.count) }));
  }

  deleteFinished(
    sql: Sql,
    options: { finishedBefore: number; type?: string; limit: number },
  ): Promise<number> {
    return sql.count(this.#sql.deleteFinished, [options.finishedBefore, options.type ?? null, options.limit]);
  }

  async deleteJobs(sql: Sql, ids: readonly string[]): Promise<string[]> {
    const rows = await sql.rows<{ id: string }>(this.#sql.deleteJobs, [ids]);
    return rows.map((row) => row.id);
  }

  async saveSchedule(sql: Sql, schedule: ScheduleRecord): Promise<ScheduleRecord> {
    const [row] = await sql.rows<ScheduleRow>(this.#sql.saveSchedule, [
      schedule.name,
      schedule.cron,
      schedule.timezone,
      schedule.everyMs,
      schedule.jobType,
      schedule.payload,
      schedule.missedPolicy,
      schedule.nextRunAt,
      schedule.lastRunAt,
      schedule.createdAt,
    ]);
    return toSchedule(row!);
  }

  async advanceSchedule(sql: Sql, name: string, from: number, next: number): Promise<boolean> {
    return (await sql.count(this.#sql.advanceSchedule, [name, from, next])) === 1;
  }

  async listSchedules(sql: Sql): Promise<ScheduleRecord[]> {
    return (await sql.rows<ScheduleRow>(this.#sql.schedules)).map(toSchedule);
  }

  async getSchedule(sql: Sql, name: string): Promise<ScheduleRecord | null> {
    const [row] = await sql.rows<ScheduleRow>(this.#sql.schedule, [name]);
    return row ? toSchedule(row) : null;
  }

  async deleteSchedule(sql: Sql, name: string): Promise<boolean> {
    return (await sql.count(this.#sql.deleteSchedule, [name])) === 1;
  }

  async pauseSchedule(
    sql: Sql,
    name: string,
    pausedAt: number | null,
    next: number | undefined,
  ): Promise<ScheduleRecord | null> {
    const [row] = await sql.rows<ScheduleRow>(this.#sql.pauseSchedule, [name, pausedAt, next ?? null]);
    return row ? toSchedule(row) : null;
  }
}

function toJob(row: JobRow): JobRecord {
  return jobFromRow(row, readColumns);
}

function toSchedule(row: ScheduleRow): ScheduleRecord {
  return scheduleFromRow(row, toInt);
}
