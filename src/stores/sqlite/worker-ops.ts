/**
 * The workers registry's rows (see `Store.saveWorkers` in src/store/port.ts): one upsert per
 * worker, all in the caller's one write, and the sweep of workers unseen for long.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import { type WorkerRow as SharedWorkerRow, workerFromRow } from '../rules.js';
import { readColumns } from './codec.js';
import type { WorkerHeartbeat, WorkerRecord } from '../../store/port.js';

type WorkerRow = SharedWorkerRow<number, string>;

const columns =
  'id, kind, host, pid, serves, concurrency, in_flight, processed, started_at, heartbeat_interval_ms, last_seen_at';

export class WorkerOps {
  readonly #clock: Clock;
  readonly #save: Database.Statement<
    [string, string, string, number, string, number, number, number, number, number, number]
  >;
  readonly #list: Database.Statement<[], WorkerRow>;
  readonly #delete: Database.Statement<[string]>;
  readonly #sweep: Database.Statement<[number]>;

  constructor(db: Database.Database, clock: Clock) {
    this.#clock = clock;
    this.#save = db.prepare(
      `INSERT INTO workers (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, host = excluded.host, pid = excluded.pid,
         serves = excluded.serves, concurrency = excluded.concurrency, in_flight = excluded.in_flight,
         processed = excluded.processed, started_at = excluded.started_at,
         heartbeat_interval_ms = excluded.heartbeat_interval_ms, last_seen_at = excluded.last_seen_at`,
    );
    this.#list = db.prepare(`SELECT ${columns} FROM workers ORDER BY started_at, id`);
    this.#delete = db.prepare('DELETE FROM workers WHERE id = ?');
    this.#sweep = db.prepare('DELETE FROM workers WHERE last_seen_at < ?');
  }

  save(workers: readonly WorkerHeartbeat[]): void {
    const now = this.#clock.now();
    for (const worker of workers) {
      this.#save.run(
        worker.id,
        worker.kind,
        worker.host,
        worker.pid,
        JSON.stringify(worker.serves),
        worker.concurrency,
        worker.inFlight,
        worker.processed,
        worker.startedAt,
        worker.heartbeatIntervalMs,
        now,
      );
    }
  }

  list(): WorkerRecord[] {
    return this.#list.all().map(toWorker);
  }

  delete(ids: readonly string[]): number {
    let deleted = 0;
    for (const id of new Set(ids)) deleted += this.#delete.run(id).changes;
    return deleted;
  }

  /** Deletes workers last seen more than `retentionMs` ago. */
  sweep(retentionMs: number): void {
    this.#sweep.run(this.#clock.now() - retentionMs);
  }
}

function toWorker(row: WorkerRow): WorkerRecord {
  return workerFromRow(row, readColumns);
}
