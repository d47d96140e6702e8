/**
 * Workflow steps and events (src/workflows owns their meaning), and circuit breakers' shared
 * state (src/breakers). Both tables hang off the run's
 * job row: a trigger deletes them with it (migration 10), so job retention needs no second sweep.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import type { BreakerRecord, WorkflowEventRecord, WorkflowStepRecord } from '../../store/port.js';
import {
  type WorkflowEventRow,
  workflowEventFromRow,
  type WorkflowStepRow,
  workflowStepFromRow,
} from '../rules.js';
import { readColumns } from './codec.js';

export class WorkflowOps {
  readonly #clock: Clock;
  readonly #saveStep: Database.Statement<Record<string, unknown>>;
  readonly #steps: Database.Statement<[string], WorkflowStepRow<number, string>>;
  readonly #addEvent: Database.Statement<Record<string, unknown>, WorkflowEventRow<number>>;
  readonly #events: Database.Statement<[string, number], WorkflowEventRow<number>>;
  readonly #ensureBreaker: Database.Statement<[string, string, number]>;
  readonly #breaker: Database.Statement<[string], BreakerRow>;
  readonly #breakers: Database.Statement<[], BreakerRow>;
  readonly #saveBreaker: Database.Statement<[string, string, number]>;

  constructor(db: Database.Database, clock: Clock) {
    this.#clock = clock;
    this.#saveStep = db.prepare(
      `INSERT INTO workflow_steps (run_id, step_id, seq, kind, status, output, error, attempts,
         started_at, finished_at, wake_at)
       VALUES (@runId, @stepId, @seq, @kind, @status, @output, @error, @attempts, @startedAt,
         @finishedAt, @wakeAt)
       ON CONFLICT (run_id, step_id) DO UPDATE SET seq = excluded.seq, kind = excluded.kind,
         status = excluded.status, output = excluded.output, error = excluded.error,
         attempts = excluded.attempts, started_at = excluded.started_at,
         finished_at = excluded.finished_at, wake_at = excluded.wake_at`,
    );
    this.#steps = db.prepare('SELECT * FROM workflow_steps WHERE run_id = ? ORDER BY seq, step_id');
    this.#addEvent = db.prepare(
      `INSERT INTO workflow_events (run_id, name, payload, sent_at) VALUES (@runId, @name, @payload, @sentAt)
       RETURNING *`,
    );
    this.#events = db.prepare('SELECT * FROM workflow_events WHERE run_id = ? AND seq > ? ORDER BY seq');
    this.#ensureBreaker = db.prepare(
      'INSERT INTO breakers (name, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
    );
    this.#breaker = db.prepare('SELECT name, state, updated_at FROM breakers WHERE name = ?');
    this.#breakers = db.prepare('SELECT name, state, updated_at FROM breakers ORDER BY name');
    this.#saveBreaker = db.prepare(
      `INSERT INTO breakers (name, state, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
    );
  }

  saveStep(step: WorkflowStepRecord): void {
    this.#saveStep.run({ ...step, error: step.error === null ? null : JSON.stringify(step.error) });
  }

  steps(runId: string): WorkflowStepRecord[] {
    return this.#steps.all(runId).map((row) => workflowStepFromRow(row, readColumns));
  }

  addEvent(runId: string, name: string, payload: string): WorkflowEventRecord {
    const row = this.#addEvent.get({ runId, name, payload, sentAt: this.#clock.now() })!;
    return workflowEventFromRow(row, (value) => readColumns.int(value));
  }

  events(runId: string, afterSeq: number): WorkflowEventRecord[] {
    return this.#events
      .all(runId, afterSeq)
      .map((row) => workflowEventFromRow(row, (value) => readColumns.int(value)));
  }

  /** Inside the store's write transaction, which holds the database's only write lock. */
  lockBreaker(name: string, initial: string): BreakerRecord {
    this.#ensureBreaker.run(name, initial, this.#clock.now());
    return breakerFromRow(this.#breaker.get(name)!);
  }

  getBreaker(name: string): BreakerRecord | null {
    const row = this.#breaker.get(name);
    return row ? breakerFromRow(row) : null;
  }

  listBreakers(): BreakerRecord[] {
    return this.#breakers.all().map(breakerFromRow);
  }

  saveBreaker(name: string, state: string): void {
    this.#saveBreaker.run(name, state, this.#clock.now());
  }
}

interface BreakerRow {
  name: string;
  state: string;
  updated_at: number;
}

function breakerFromRow(row: BreakerRow): BreakerRecord {
  return { name: row.name, state: row.state, updatedAt: row.updated_at };
}
