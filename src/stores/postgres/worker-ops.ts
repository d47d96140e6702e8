/**
 * The workers registry's rows (see `Store.saveWorkers` in src/store/port.ts). A heartbeat of
 * any number of workers is ONE statement: the records travel as a JSON array, are unpacked with
 * `json_to_recordset` and upserted together.
 */
import type { Clock } from '../../core/clock.js';
import type { WorkerHeartbeat, WorkerRecord } from '../../store/port.js';
import { type WorkerRow as SharedWorkerRow, workerFromRow } from '../rules.js';
import { readColumns } from './codec.js';
import type { SchemaNames } from './connection.js';
import type { Sql } from './sql.js';

type WorkerRow = SharedWorkerRow<number | string, unknown>;

const columns =
  'id, kind, host, pid, serves, concurrency, in_flight, processed, started_at, heartbeat_interval_ms, last_seen_at';

export class WorkerOps {
  readonly #clock: Clock;
  readonly #save: string;
  readonly #list: string;
  readonly #delete: string;
  readonly #sweep: string;

  constructor(names: SchemaNames, clock: Clock) {
    this.#clock = clock;
    this.#save = `
      INSERT INTO ${names.workers} (${columns})
      SELECT id, kind, host, pid, serves, concurrency, in_flight, processed, started_at,
             heartbeat_interval_ms, $2::bigint
      FROM json_to_recordset($1::json) AS w(id text, kind text, host text, pid integer, serves json,
        concurrency integer, in_flight integer, processed bigint, started_at bigint,
        heartbeat_interval_ms integer)
      ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, host = excluded.host, pid = excluded.pid,
        serves = excluded.serves, concurrency = excluded.concurrency, in_flight = excluded.in_flight,
        processed = excluded.processed, started_at = excluded.started_at,
        heartbeat_interval_ms = excluded.heartbeat_interval_ms, last_seen_at = excluded.last_seen_at`;
    this.#list = `SELECT ${columns} FROM ${names.workers} ORDER BY started_at, id COLLATE "C"`;
    this.#delete = `DELETE FROM ${names.workers} WHERE id = ANY($1::text[])`;
    this.#sweep = `DELETE FROM ${names.workers} WHERE last_seen_at < $1`;
  }

  async save(sql: Sql, workers: readonly WorkerHeartbeat[]): Promise<void> {
    if (workers.length === 0) return;
    // One row per id: a second row of the same id in one upsert is an error in PostgreSQL.
    const byId = new Map(workers.map((worker) => [worker.id, worker]));
    const records = [...byId.values()].map((worker) => ({
      id: worker.id,
      kind: worker.kind,
      host: worker.host,
      pid: worker.pid,
      serves: worker.serves,
      concurrency: worker.concurrency,
      in_flight: worker.inFlight,
      processed: worker.processed,
      started_at: worker.startedAt,
      heartbeat_interval_ms: worker.heartbeatIntervalMs,
    }));
    await sql.count(this.#save, [JSON.stringify(records), this.#clock.now()]);
  }

  async list(sql: Sql): Promise<WorkerRecord[]> {
    return (await sql.rows<WorkerRow>(this.#list)).map(toWorker);
  }

  async delete(sql: Sql, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return sql.count(this.#delete, [[...new Set(ids)]]);
  }

  /** Deletes workers last seen more than `retentionMs` ago. */
  async sweep(sql: Sql, retentionMs: number): Promise<void> {
    await sql.count(this.#sweep, [this.#clock.now() - retentionMs]);
  }
}

function toWorker(row: WorkerRow): WorkerRecord {
  return workerFromRow(row, readColumns);
}
