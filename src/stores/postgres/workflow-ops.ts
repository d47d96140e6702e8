/**
 * Workflow steps and events (src/workflows owns their meaning). Both tables reference the run's
 * job row with ON DELETE CASCADE (migration 9), so job retention deletes them with it.
 */
import type { Clock } from '../../core/clock.js';
import type { WorkflowEventRecord, WorkflowStepRecord } from '../../store/port.js';
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
  readonly #sql: { saveStep: string; steps: string; addEvent: string; events: string };

  constructor(names: SchemaNames, clock: Clock) {
    this.#clock = clock;
    const { workflowSteps, workflowEvents } = names;
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
}
