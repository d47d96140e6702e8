/**
 * Job add gates (`lockJobGate`, `saveJobGate`): a transaction holds SQLite's only write lock, so
 * reading a gate inside one is locking it — stored or not — until the transaction ends.
 */
import type Database from 'better-sqlite3';
import type { JobGateRecord } from '../../store/port.js';

interface GateRow {
  type: string;
  gate: string;
  job_id: string;
  opened_at: number;
  touched_at: number;
  expires_at: number | null;
}

export class GateOps {
  readonly #get: Database.Statement<[string, string], GateRow>;
  readonly #save: Database.Statement<Record<string, unknown>>;
  readonly #deleteStale: Database.Statement<{ now: number; limit: number }>;

  constructor(db: Database.Database) {
    this.#get = db.prepare('SELECT * FROM job_gates WHERE type = ? AND gate = ?');
    this.#save = db.prepare(
      `INSERT INTO job_gates (type, gate, job_id, opened_at, touched_at, expires_at)
       VALUES (@type, @gate, @jobId, @openedAt, @touchedAt, @expiresAt)
       ON CONFLICT (type, gate) DO UPDATE SET job_id = excluded.job_id,
         opened_at = excluded.opened_at, touched_at = excluded.touched_at,
         expires_at = excluded.expires_at`,
    );
    this.#deleteStale = db.prepare(
      `DELETE FROM job_gates WHERE rowid IN (
         SELECT rowid FROM job_gates g
         WHERE g.expires_at < @now
            OR (g.expires_at IS NULL AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = g.job_id))
         LIMIT @limit)`,
    );
  }

  get(type: string, gate: string): JobGateRecord | null {
    const row = this.#get.get(type, gate);
    return row
      ? {
          type: row.type,
          gate: row.gate,
          jobId: row.job_id,
          openedAt: row.opened_at,
          touchedAt: row.touched_at,
          expiresAt: row.expires_at,
        }
      : null;
  }

  save(gate: JobGateRecord): void {
    this.#save.run({ ...gate });
  }

  deleteStale(now: number, limit: number): number {
    return this.#deleteStale.run({ now, limit }).changes;
  }
}
