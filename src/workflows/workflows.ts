/**
 * Workflows: durable multi-step code on the jobs layer. A run is a job of the type
 * `spool.workflow.<name>` whose handler executes the workflow's code against the run's recorded
 * steps (run-execution.ts); the job's ticket, lease and attempts give every run exactly one
 * executor at a time and bring a run whose worker died back on another worker (another process
 * on PostgreSQL). While a run sleeps or waits for an event its job is `scheduled` (with a ticket
 * due at the wake time) or `waiting` (no ticket): nothing is held in memory, and the attempt is
 * not counted. An event sent to a run is stored and promotes it in the same transaction.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { encodeJson, type FailureInfo, type JsonValue } from '../core/message.js';
import { validateName } from '../core/names.js';
import { JobOutcome, JobSuspension } from '../jobs/job-attempts.js';
import { isFinished } from '../jobs/job-states.js';
import { type Job, toJob } from '../jobs/job.js';
import type { Jobs } from '../jobs/jobs.js';
import type { JobHandler } from '../jobs/job-worker.js';
import type { BackoffOptions } from '../core/backoff.js';
import type {
  JobRecord,
  JobStatus,
  WorkflowStepKind,
  WorkflowStepRecord,
  WorkflowStepStatus,
} from '../store/port.js';
import type { Subscription } from '../engine/subscription.js';
import { type ChildRuns, type ExecutionResult, RunExecution } from './run-execution.js';
import {
  eventsFromTopic,
  type EventsFromTopicOptions,
  startFromTopic,
  type StartFromTopicOptions,
} from './topic-triggers.js';
import {
  WorkflowRunFinishedError,
  WorkflowRunNotFoundError,
  WorkflowRunNotRetryableError,
} from './workflow-errors.js';
import {
  cancelEventName,
  type StartWorkflowOptions,
  childEndedEventName,
  type WorkflowEvent,
  type WorkflowFunction,
} from './workflow-types.js';
import { joinTransaction, type SpoolTransaction } from '../engine/transaction.js';

export type { StartWorkflowOptions };

/** The job type prefix of workflow runs. */
export const workflowTypePrefix = 'spool.workflow.';

export interface WorkflowOptions {
  /** Runs of this workflow executing at once in this process. @defaultValue 10 */
  concurrency?: number;
  /**
   * One execution (from a resume to the next suspension or the end) past this is stopped and
   * retried; a step that runs longer than this belongs in a job. @defaultValue 3600000 (1 hour)
   */
  timeoutMs?: number;
  /**
   * Executions that may fail for reasons outside the code — a worker that died, a store outage,
   * code that no longer matches the run's history — before the run is `failed`. Steps have their
   * own attempts. @defaultValue 10
   */
  maxAttempts?: number;
  /** Delay before such an execution runs again. @defaultValue `{ baseMs: 1000, capMs: 300000 }` */
  backoff?: Partial<BackoffOptions>;
  /** How soon a run whose process died resumes on another worker. @defaultValue 30000 */
  leaseMs?: number;
  /**
   * A run still going this long after it was started times out (`WorkflowTimeoutError` from its
   * next call, a running step's signal aborts) and compensates, as when its code throws. A
   * start's own `timeoutMs` can shorten it. @defaultValue none
   */
  runTimeoutMs?: number;
}

/** Which runs `workflows.list` returns. */
export interface RunFilter {
  /** Runs of this workflow only (default: every workflow's). */
  readonly workflow?: string;
  readonly status?: WorkflowRunStatus;
}

/**
 * Where a run is: `queued` (to start or resume now), `running`, `sleeping` (until a time: a
 * sleep, a wait's timeout or a step's retry), `waiting` (for an event), `retrying` (an execution
 * failed outside the code; see `WorkflowOptions.maxAttempts`), and the ends: `completed`,
 * `failed` (nothing to undo, or a compensation failed too), `compensated` (failed, and every
 * completed step was undone), `cancelled` (its compensations ran).
 */
export const workflowRunStatuses = [
  'queued',
  'running',
  'sleeping',
  'waiting',
  'retrying',
  'completed',
  'failed',
  'compensated',
  'cancelled',
] as const;
export type WorkflowRunStatus = (typeof workflowRunStatuses)[number];

/** One recorded step of a run. */
export interface WorkflowStep {
  readonly id: string;
  /** `step`, `sleep`, `event` (a wait), `compensation` (`id` is `#compensate.<step id>`). */
  readonly kind: WorkflowStepKind;
  readonly status: WorkflowStepStatus;
  readonly attempts: number;
  readonly output: JsonValue | null;
  readonly error: FailureInfo | null;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  /** When it is due again: the next retry, the end of a sleep, a wait's timeout. */
  readonly wakeAt: Date | null;
}

/** A workflow run as the API shows it. */
export interface WorkflowRun<I = JsonValue, O = JsonValue> {
  readonly id: string;
  readonly workflow: string;
  readonly status: WorkflowRunStatus;
  readonly input: I;
  /** The code's return value, once `completed`. */
  readonly output: O | null;
  /** Why it failed or was cancelled (the error the code threw). */
  readonly error: FailureInfo | null;
  /** A compensation that failed for good (the run is then `failed`). */
  readonly compensationError: { readonly stepId: string; readonly error: FailureInfo } | null;
  readonly key: string | null;
  readonly metadata: Record<string, JsonValue>;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | null;
  /** When it times out, if it has a `timeoutMs` from its start. */
  readonly deadline: Date | null;
  /** The step it is at: the first one of its history that has not completed. */
  readonly currentStep: string | null;
  /** Every recorded step, in the order the code called them, compensations last. */
  readonly steps: readonly WorkflowStep[];
}

interface Definition {
  readonly code: WorkflowFunction;
  readonly runTimeoutMs: number | undefined;
}

/** The result stored with a run that failed or was cancelled. */
interface FailedRunResult {
  readonly outcome: 'failed' | 'compensated' | 'cancelled';
  readonly compensations: number;
  readonly compensationFailed: { readonly stepId: string; readonly error: FailureInfo } | null;
}

export class Workflows {
  readonly #definitions = new Map<string, Definition>();
  /** Executions running in this process, by run id (a cancel reaches them at once). */
  readonly #running = new Map<string, RunExecution>();

  constructor(readonly jobs: Jobs) {
    // Once per Jobs, however many Workflows share it: a child's end wakes its parent.
    if (!parentWakers.has(jobs)) {
      parentWakers.add(jobs);
      jobs.onFinished((tx, job) => wakeParent(jobs, tx, job));
    }
  }

  /**
   * Defines workflow `name` and its code, which this process then runs (define before
   * `jobs.start()`). Runs can be started from any process on the store.
   */
  define<I = JsonValue, O = JsonValue>(
    name: string,
    code: WorkflowFunction<I, O>,
    options: WorkflowOptions = {},
  ): void {
    const type = workflowJobType(name);
    if (options.runTimeoutMs !== undefined) validateTimeout(options.runTimeoutMs, 'runTimeoutMs');
    const definition: Definition = {
      code: code as unknown as WorkflowFunction,
      runTimeoutMs: options.runTimeoutMs,
    };
    this.#definitions.set(name, definition);
    this.jobs.define(type, this.#handler(name, definition), {
      concurrency: options.concurrency ?? 10,
      timeoutMs: options.timeoutMs ?? 3_600_000,
      maxAttempts: options.maxAttempts ?? 10,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    });
  }

  /** Starts a run of workflow `name` with `input`; resolves at once with the run (`queued`). */
  async start<I = JsonValue>(
    name: string,
    input: I,
    options: StartWorkflowOptions = {},
  ): Promise<WorkflowRun<I>> {
    let metadata = options.metadata;
    if (options.timeoutMs !== undefined) {
      validateTimeout(options.timeoutMs, 'timeoutMs');
      metadata = { ...metadata, [deadlineKey]: this.jobs.spool.clock.now() + options.timeoutMs };
    }
    const job = await this.jobs.add(workflowJobType(name), input as JsonValue, {
      ...(options.key === undefined ? {} : { idempotencyKey: options.key, key: options.key }),
      ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }),
      ...(options.callbackUrl === undefined ? {} : { callbackUrl: options.callbackUrl }),
      ...(metadata === undefined ? {} : { metadata }),
    });
    return toRun(job, []) as WorkflowRun<I>;
  }

  /** The run with every recorded step. */
  async get<I = JsonValue, O = JsonValue>(runId: string): Promise<WorkflowRun<I, O>> {
    const job = await this.#job(runId);
    const steps = await this.jobs.spool.store.workflowSteps(runId);
    return toRun(job, steps) as WorkflowRun<I, O>;
  }

  /**
   * Runs, newest first, a page at a time (without their steps): of one workflow (a name, or
   * `{ workflow }`) or of all, in one status or any. A page can hold fewer than `limit` runs
   * while `next` is not null (filtering `failed` from `compensated` runs happens after the read).
   */
  async list(
    filter: string | RunFilter = {},
    page: { limit?: number; after?: string | null } = {},
  ): Promise<{ items: WorkflowRun[]; next: string | null }> {
    const { workflow, status } =
      typeof filter === 'string' ? { workflow: filter, status: undefined } : filter;
    if (status !== undefined && !(status in jobStatusOfRun)) {
      throw new InvalidArgumentError(
        `run status ${JSON.stringify(status)} is invalid: use one of ${Object.keys(jobStatusOfRun).join(', ')}`,
        { field: 'status' },
      );
    }
    const query = {
      ...(workflow === undefined ? { typePrefix: workflowTypePrefix } : { type: workflowJobType(workflow) }),
      ...(status === undefined ? {} : { status: jobStatusOfRun[status] }),
    };
    const limit = page.limit ?? 50;
    const items: WorkflowRun[] = [];
    let after = page.after ?? null;
    // `failed` and `compensated` are both dead jobs: read pages until the page is full, each
    // read whole, so that `next` always continues where the last read ended.
    for (let reads = 0; reads < 10; reads++) {
      const read = await this.jobs.list(query, { limit: limit - items.length, after });
      for (const job of read.items) {
        const run = toRun(job, []);
        if (status === undefined || run.status === status) items.push(run);
      }
      after = read.next;
      if (after === null || items.length >= limit) break;
    }
    return { items, next: after };
  }

  /** Waits until the run has ended (`WaitTimeoutError` after `timeoutMs`, default 60 s). */
  async wait<I = JsonValue, O = JsonValue>(
    runId: string,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<WorkflowRun<I, O>> {
    await this.#job(runId);
    await this.jobs.wait(runId, options);
    return this.get<I, O>(runId);
  }

  /**
   * Sends event `name` to a run: stored with the run, taken by the first `ctx.waitForEvent` of
   * that name whose `match` it satisfies (now, or when the run gets there), and a run that waits
   * or sleeps is resumed at once to look. A run that has ended refuses it
   * (`WorkflowRunFinishedError`).
   */
  async sendEvent(runId: string, name: string, payload: JsonValue = null): Promise<WorkflowEvent> {
    validateEventName(name);
    const event = await this.#deliver(runId, name, encodeJson(payload, 'the event payload'), 'sent an event');
    return { name, payload, sentAt: new Date(event.sentAt).toISOString(), seq: event.seq };
  }

  /**
   * Cancels a run: its next step, sleep or wait throws `WorkflowCancelledError` (a step running
   * in this process has its signal aborted), and the compensations of its completed steps run,
   * newest first; the run then ends `cancelled`. A run that completes before it sees the cancel
   * stays completed. A run that has ended refuses it (`WorkflowRunFinishedError`).
   */
  async cancel(runId: string): Promise<WorkflowRun> {
    await this.#deliver(runId, cancelEventName, '{}', 'cancelled');
    this.#running.get(runId)?.cancel();
    return this.get(runId);
  }

  /**
   * Retries a `failed` run from its failed step: its completed steps keep their results, the
   * step (or child run) that failed for good runs again with fresh attempts, and the run is
   * queued. A run whose compensations ran cannot be retried (its steps were undone): start a new
   * run. Also the way on after deploying a fix for a run that failed on a non-determinism.
   */
  async retry(runId: string): Promise<WorkflowRun> {
    await this.#job(runId);
    const job = await this.jobs.spool.transaction((tx) => this.#restartFromFailure(tx, runId));
    // As the retry left it (`queued`): a worker may have taken it up since.
    return toRun(job, await this.jobs.spool.store.workflowSteps(runId));
  }

  /** Re-arms a failed run's failed steps (and its failed children, theirs first) and queues it. */
  async #restartFromFailure(tx: SpoolTransaction, runId: string): Promise<Job> {
    const job = await tx.records.lockJob(runId);
    if (!job) throw new WorkflowRunNotFoundError(runId);
    const records = await tx.records.workflowSteps(runId);
    const { status } = toRun(toJob(job), records);
    if (status !== 'failed') {
      throw new WorkflowRunNotRetryableError(runId, status, 'only a failed run can be retried');
    }
    if (records.some((record) => record.kind === 'compensation')) {
      const why = 'its compensations have run, so its completed steps were undone; start a new run';
      throw new WorkflowRunNotRetryableError(runId, status, why);
    }
    for (const record of records) {
      if (record.status !== 'failed') continue;
      const child = record.kind === 'child' ? childRunOf(record) : null;
      if (child !== null) await this.#restartFromFailure(tx, child);
      await tx.records.saveWorkflowStep({
        ...record,
        // A step runs again with fresh attempts; a child step waits for its child again.
        status: child === null ? 'retrying' : 'waiting',
        attempts: child === null ? 0 : record.attempts,
        finishedAt: null,
        wakeAt: child === null ? this.jobs.spool.clock.now() : null,
      });
    }
    return this.jobs.retry(runId);
  }

  /**
   * Choreography: starts a run of `workflow` for each event of topic `topic`, as consumer group
   * `options.group` (default `workflow.<workflow>`), keyed by the event (`<topic>/<event id>`),
   * in the transaction that commits the group's offset — so each event starts exactly one run,
   * however often it is delivered. Close the returned subscription to stop.
   */
  startFromTopic(
    topic: string,
    workflow: string,
    options: StartFromTopicOptions = {},
  ): Promise<Subscription<JsonValue>> {
    return startFromTopic(this, topic, workflow, options);
  }

  /**
   * Sends each event of topic `topic` to the run `options.runId(event)` names (as `sendEvent`,
   * in the transaction that commits the group's offset), for the run's `ctx.waitForEvent`.
   * Events for no run (`null`), or for a run that has ended, are skipped.
   */
  eventsFromTopic(topic: string, options: EventsFromTopicOptions): Promise<Subscription<JsonValue>> {
    return eventsFromTopic(this, topic, options);
  }

  /** Child runs, as executions start and read them. */
  readonly #children: ChildRuns = {
    start: async (workflow, input, parentRunId, stepId) => {
      const job = await this.jobs.add(workflowJobType(workflow), input, {
        idempotencyKey: `${parentRunId}/${stepId}`,
        metadata: { [parentRunKey]: parentRunId, [parentStepKey]: stepId },
      });
      return job.id;
    },
    outcome: async (runId) => {
      const record = await this.jobs.spool.store.getJob(runId);
      if (!record) {
        const error = {
          name: 'WorkflowRunNotFound',
          message: 'the child run is gone (pruned by retention?)',
        };
        return { ended: true, completed: false, output: null, error, status: 'missing' };
      }
      if (!isFinished(record.status)) return { ended: false };
      const run = toRun(toJob(record), []);
      return {
        ended: true,
        completed: run.status === 'completed',
        output: run.output,
        error: run.error,
        status: run.status,
      };
    },
  };

  async #deliver(runId: string, name: string, payload: string, operation: string) {
    // Inside a transaction (a transactional topic handler: eventsFromTopic), the event joins it.
    return joinTransaction(this.jobs.spool, async (tx) => {
      const job = await tx.records.lockJob(runId);
      if (!job || !job.type.startsWith(workflowTypePrefix)) throw new WorkflowRunNotFoundError(runId);
      if (isFinished(job.status)) throw new WorkflowRunFinishedError(runId, job.status, operation);
      const event = await tx.records.addWorkflowEvent(runId, name, payload);
      // A run that runs now sees the event when it would suspend (JobSuspension's wakeNow).
      if (job.status === 'waiting' || job.status === 'scheduled') await this.jobs.promote(runId);
      return event;
    });
  }

  async #job(runId: string): Promise<Job> {
    const record = await this.jobs.spool.store.getJob(runId);
    if (!record || !record.type.startsWith(workflowTypePrefix)) throw new WorkflowRunNotFoundError(runId);
    return toJob(record);
  }

  #handler(name: string, definition: Definition): JobHandler {
    return async (job, context) => {
      const { store, clock } = this.jobs.spool;
      const [history, events] = await Promise.all([
        store.workflowSteps(job.id),
        store.workflowEvents(job.id, 0),
      ]);
      const execution = new RunExecution(
        job.id,
        name,
        history,
        events,
        store,
        clock,
        context.signal,
        this.jobs.breakers,
        this.#children,
        runDeadline(job, definition.runTimeoutMs),
      );
      this.#running.set(job.id, execution);
      let result: ExecutionResult;
      try {
        result = await execution.run(definition.code, job.payload);
      } finally {
        this.#running.delete(job.id);
      }
      if (result.kind === 'completed') return result.output;
      if (result.kind === 'suspended') {
        throw new JobSuspension(result.wakeAt, async (tx) => {
          return (await tx.records.workflowEvents(job.id, execution.lastEventSeq)).length > 0;
        });
      }
      const outcome: FailedRunResult = {
        outcome: result.cancelled
          ? 'cancelled'
          : result.compensated > 0 && !result.compensationFailed
            ? 'compensated'
            : 'failed',
        compensations: result.compensated,
        compensationFailed: result.compensationFailed,
      };
      throw new JobOutcome(
        result.cancelled ? 'cancelled' : 'dead',
        result.error,
        outcome as unknown as JsonValue,
      );
    };
  }
}

/** The job type of workflow `name`'s runs. */
export function workflowJobType(name: string): string {
  validateName('job type', name);
  return `${workflowTypePrefix}${name}`;
}

function validateEventName(name: unknown): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200 || name.startsWith('spool.')) {
    throw new InvalidArgumentError(
      `event name ${JSON.stringify(name)} is invalid: use 1-200 characters, not starting with 'spool.' (Spool's own)`,
      { field: 'name' },
    );
  }
}

function validateTimeout(ms: unknown, field: string): void {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms <= 0) {
    throw new InvalidArgumentError(`${field} must be a positive whole number of milliseconds`, { field });
  }
}

/** When a run times out: the earlier of its start's deadline and its workflow's `runTimeoutMs`. */
function runDeadline(job: Job, runTimeoutMs: number | undefined): number | null {
  const fromStart = job.metadata[deadlineKey];
  const deadlines = [
    ...(typeof fromStart === 'number' ? [fromStart] : []),
    ...(runTimeoutMs === undefined ? [] : [job.createdAt.getTime() + runTimeoutMs]),
  ];
  return deadlines.length === 0 ? null : Math.min(...deadlines);
}

/** The child run a failed `ctx.child` step started (recorded with its failure). */
function childRunOf(record: WorkflowStepRecord): string | null {
  if (record.output === null) return null;
  const { runId } = JSON.parse(record.output) as { runId?: unknown };
  return typeof runId === 'string' ? runId : null;
}

const jobStatusOfRun: Record<WorkflowRunStatus, JobStatus> = {
  queued: 'queued',
  running: 'active',
  sleeping: 'scheduled',
  waiting: 'waiting',
  retrying: 'retrying',
  completed: 'completed',
  failed: 'dead',
  compensated: 'dead',
  cancelled: 'cancelled',
};

const runStatusOfJob: Record<JobStatus, WorkflowRunStatus> = {
  queued: 'queued',
  active: 'running',
  scheduled: 'sleeping',
  waiting: 'waiting',
  retrying: 'retrying',
  completed: 'completed',
  dead: 'failed',
  cancelled: 'cancelled',
};

/** The run a job is, with its steps (compensations after the code's own steps). */
export function toRun(job: Job, records: readonly WorkflowStepRecord[]): WorkflowRun {
  const failed =
    job.status === 'dead' || job.status === 'cancelled'
      ? (job.result as unknown as FailedRunResult | null)
      : null;
  const status = failed?.outcome === 'compensated' ? 'compensated' : runStatusOfJob[job.status];
  const ordered = [...records].sort(
    (a, b) => Number(a.kind === 'compensation') - Number(b.kind === 'compensation') || a.seq - b.seq,
  );
  const steps = ordered.map((record): WorkflowStep => ({
    id: record.stepId,
    kind: record.kind,
    status: record.status,
    attempts: record.attempts,
    output: record.output === null ? null : (JSON.parse(record.output) as JsonValue),
    error: record.error,
    startedAt: new Date(record.startedAt),
    finishedAt: record.finishedAt === null ? null : new Date(record.finishedAt),
    wakeAt: record.wakeAt === null ? null : new Date(record.wakeAt),
  }));
  return {
    id: job.id,
    workflow: job.type.slice(workflowTypePrefix.length),
    status,
    input: job.payload,
    output: job.status === 'completed' ? job.result : null,
    error: job.error,
    compensationError: failed?.compensationFailed ?? null,
    key: job.key,
    metadata: job.metadata,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    finishedAt: job.finishedAt,
    deadline: typeof job.metadata[deadlineKey] === 'number' ? new Date(job.metadata[deadlineKey]) : null,
    currentStep: isFinished(job.status)
      ? null
      : (steps.find((step) => step.status !== 'completed')?.id ?? null),
    steps,
  };
}

/** The metadata keys that tie a child run to its parent run and step. */
const parentRunKey = 'spool.parentRun';
const parentStepKey = 'spool.parentStep';
/** The metadata key of a run's deadline from its start's `timeoutMs` (epoch ms). */
const deadlineKey = 'spool.deadline';
const parentWakers = new WeakSet<Jobs>();

/**
 * In the transaction that ended a run: if it is a child, tell its parent (an event, and a
 * promotion of a parent that waits), so the parent resumes and reads the child's end.
 */
async function wakeParent(jobs: Jobs, tx: SpoolTransaction, job: JobRecord): Promise<void> {
  if (!job.type.startsWith(workflowTypePrefix)) return;
  const parentId = (JSON.parse(job.metadata) as Record<string, JsonValue>)[parentRunKey];
  if (typeof parentId !== 'string') return;
  // Child before parent, as the jobs layer locks them (see childFinished in job-attempts.ts).
  const parent = await tx.records.lockJob(parentId);
  if (!parent || isFinished(parent.status)) return;
  await tx.records.addWorkflowEvent(parentId, childEndedEventName, JSON.stringify({ runId: job.id }));
  if (parent.status === 'waiting' || parent.status === 'scheduled') await jobs.promote(parentId);
}
