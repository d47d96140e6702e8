/**
 * Job add gates (`lockJobGate`, `saveJobGate`). A row lock cannot hold a gate that is not stored
 * yet, and two first adds through one gate must still take turns, so a lock is a transaction
 * advisory lock on the gate's name (with the schema's, so schemas sharing a database do not wait
 * for each other): held until the transaction ends, then the row is read.
 */
import { toInt } from './codec.js';
import type { SchemaNames } from './connection.js';
import type { Sql } from './sql.js';
import type { JobGateRecord } from '../../store/port.js';

interface GateRow {
  type: string;
  gate: string;
  job_id: string;
  opened_at: number | string;
  touched_at: number | string;
  expires_at: number | string | null;
}

export class GateOps {
  readonly #schema: string;
  readonly #sql: { lock: string; get: string; save: string; deleteStale: string };

  constructor(names: SchemaNames) {
    this.#schema = names.schema;
    const { jobGates, jobs } = names;
    this.#sql = {
      lock: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
      get: `SELECT * FROM ${jobGates} WHERE type = $1 AND gate = $2`,
      save: `
        INSERT INTO ${jobGates} (type, gate, job_id, opened_at, touched_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (type, gate) DO UPDATE SET job_id = excluded.job_id,
          opened_at = excluded.opened_at, touched_at = excluded.touched_at,
          expires_at = excluded.expires_at`,
      deleteStale: `
        DELETE FROM ${jobGates} WHERE ctid IN (
          SELECT g.ctid FROM ${jobGates} g
          WHERE g.expires_at < $1
             OR (g.expires_at IS NULL AND NOT EXISTS (SELECT 1 FROM ${jobs} j WHERE j.id = g.job_id))
          LIMIT $2)`,
    };
  }

  /** Locks the gate for the rest of `sql`'s transaction, then reads it. */
  async lock(sql: Sql, type: string, gate: string): Promise<JobGateRecord | null> {
    await sql.rows(this.#sql.lock, [`spool gate ${this.#schema}\u001f${type}\u001f${gate}`]);
    return this.get(sql, type, gate);
  }

  async get(sql: Sql, type: string, gate: string): Promise<JobGateRecord | null> {
    const [row] = await sql.rows<GateRow>(this.#sql.get, [type, gate]);
    return row
      ? {
          type: row.type,
          gate: row.gate,
          jobId: row.job_id,
          openedAt: toInt(row.opened_at),
          touchedAt: toInt(row.touched_at),
          expiresAt: row.expires_at === null ? null : toInt(row.expires_at),
        }
      : null;
  }

  async save(sql: Sql, gate: JobGateRecord): Promise<void> {
    await sql.count(this.#sql.save, [
      gate.type,
      gate.gate,
      gate.jobId,
      gate.openedAt,
      gate.touchedAt,
      gate.expiresAt,
    ]);
  }

  deleteStale(sql: Sql, now: number, limit: number): Promise<number> {
    return sql.count(this.#sql.deleteStale, [now, limit]);
  }
}
