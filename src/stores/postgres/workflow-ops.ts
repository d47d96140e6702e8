/**
 * Workflow steps and events (src/workflows owns their meaning), and circuit breakers' shared
 * state (src/breakers): a breaker's row is created on first use and changed under its lock. Both tables reference the run's
 * job row with ON DELETE CASCADE (migration 9), so job retention deletes them with it.
 */
import type { Clock } from '../../core/clock.js';
import type { BreakerRecord, WorkflowEventRecord, WorkflowStepRecord } from '../../store/port.js';
import {
  type WorkflowEventRow,
  workflowEventFromRow,
  type WorkflowStepRow,
  workflowStepFromRow,
} from '../rules.js';
import { readColumns } from './codec.js';
import type { SchemaNames } from './connection.js';
import type { Sql } from './sql.js';

type Int = number | string;

export class WorkflowOps {
  readonly #clock: Clock;
  readonly #sql: {
    saveStep: string;
    steps: string;
    addEvent: string;
    events: string;
    ensureBreaker: string;
    lockBreaker: string;
    breaker: string;
    breakers: string;
    saveBreaker: string;
  };

  constructor(names: SchemaNames, clock: Clock) {
    this.#clock = clock;
    const { workflowSteps, workflowEvents, breakers } = names;
    this.#sql = {
      saveStep: `
        INSERT INTO ${workflowSteps} (run_id, step_id, seq, kind, status, output, error, attempts,
          started_at, finished_at, wake_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (run_id, step_id) DO UPDATE SET seq = excluded.seq, kind = excluded.kind,
          status = excluded.status, output = excluded.output, error = excluded.error,
          attempts = excluded.attempts, started_at = excluded.started_at,
          finished_at = excluded.finished_at, wake_at = excluded.wake_at`,
      steps: `SELECT * FROM ${workflowSteps} WHERE run_id = $1 ORDER BY seq, step_id COLLATE "C"`,
      addEvent: `
        INSERT INTO ${workflowEvents} (run_id, name, payload, sent_at) VALUES ($1, $2, $3, $4)
        RETURNING *`,
      events: `SELECT * FROM ${workflowEvents} WHERE run_id = $1 AND seq > $2 ORDER BY seq`,
      ensureBreaker: `INSERT INTO ${breakers} (name, state, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
      lockBreaker: `SELECT name, state, updated_at FROM ${breakers} WHERE name = $1 FOR UPDATE`,
      breaker: `SELECT name, state, updated_at FROM ${breakers} WHERE name = $1`,
      breakers: `SELECT name, state, updated_at FROM ${breakers} ORDER BY name`,
      saveBreaker: `
        INSERT INTO ${breakers} (name, state, updated_at) VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
    };
  }

  async saveStep(sql: Sql, step: WorkflowStepRecord): Promise<void> {
    await sql.count(this.#sql.saveStep, [
      step.runId,
      step.stepId,
      step.seq,
      step.kind,
      step.status,
      step.output,
      step.error === null ? null : JSON.stringify(step.error),
      step.attempts,
      step.startedAt,
      step.finishedAt,
      step.wakeAt,
    ]);
  }

  async steps(sql: Sql, runId: string): Promise<WorkflowStepRecord[]> {
    const rows = await sql.rows<WorkflowStepRow<Int, unknown>>(this.#sql.steps, [runId]);
    return rows.map((row) => workflowStepFromRow(row, readColumns));
  }

  async addEvent(sql: Sql, runId: string, name: string, payload: string): Promise<WorkflowEventRecord> {
    const [row] = await sql.rows<WorkflowEventRow<Int>>(this.#sql.addEvent, [
      runId,
      name,
      payload,
      this.#clock.now(),
    ]);
    return workflowEventFromRow(row!, (value) => readColumns.int(value));
  }

  async events(sql: Sql, runId: string, afterSeq: number): Promise<WorkflowEventRecord[]> {
    const rows = await sql.rows<WorkflowEventRow<Int>>(this.#sql.events, [runId, afterSeq]);
    return rows.map((row) => workflowEventFromRow(row, (value) => readColumns.int(value)));
  }

  async lockBreaker(sql: Sql, name: string, initial: string): Promise<BreakerRecord> {
    await sql.count(this.#sql.ensureBreaker, [name, initial, this.#clock.now()]);
    const [row] = await sql.rows<BreakerRow>(this.#sql.lockBreaker, [name]);
    return breakerFromRow(row!);
  }

  async getBreaker(sql: Sql, name: string): Promise<BreakerRecord | null> {
    const [row] = await sql.rows<BreakerRow>(this.#sql.breaker, [name]);
    return row ? breakerFromRow(row) : null;
  }

  async listBreakers(sql: Sql): Promise<BreakerRecord[]> {
    return (await sql.rows<BreakerRow>(this.#sql.breakers)).map(breakerFromRow);
  }

  async saveBreaker(sql: Sql, name: string, state: string): Promise<void> {
    await sql.count(this.#sql.saveBreaker, [name, state, this.#clock.now()]);
  }
}

interface BreakerRow {
  name: string;
  state: string;
  updated_at: Int;
}

function breakerFromRow(row: BreakerRow): BreakerRecord {
  return { name: row.name, state: row.state, updatedAt: readColumns.int(row.updated_at) };
}
