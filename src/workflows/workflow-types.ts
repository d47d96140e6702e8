/** The shapes a workflow's code sees: its context, step options and events. */
import { isDeepStrictEqual } from 'node:util';
import type { BackoffOptions } from '../core/backoff.js';
import type { JsonValue } from '../core/message.js';
import type { WorkflowEventRecord } from '../store/port.js';

/** The event a cancel sends to a run (its next step, sleep or wait then throws). */
export const cancelEventName = 'spool.cancel';

/** The event a child run's end sends to its parent run (it only wakes the parent). */
export const childEndedEventName = 'spool.child-ended';

/** What a step's function gets. */
export interface StepInfo {
  /** Aborted when the run is cancelled, the step's `timeoutMs` passes, or the execution stops. */
  readonly signal: AbortSignal;
  /** This run of the step (1 for the first). */
  readonly attempt: number;
}

export interface StepOptions<T> {
  /** Runs of the step before it fails for good (`StepFailedError`). @defaultValue 3 */
  maxAttempts?: number;
  /**
   * Delay between runs (a `RetryAfterError` sets its own). The run waits durably: nothing is
   * held in memory. @defaultValue `{ baseMs: 1000, capMs: 300000, jitter: 'full' }`
   */
  backoff?: Partial<BackoffOptions>;
  /** A run of the step past this has its signal aborted and fails (retried while attempts are left). */
  timeoutMs?: number;
  /**
   * Undoes the step (the saga pattern): when the run fails or is cancelled after this step
   * completed, compensations run newest first, each with the step's result, each recorded and
   * retried like a step until it completes.
   */
  compensate?: (output: T) => unknown;
  /** Runs of the compensation before it is given up (the run then ends `failed`). @defaultValue 10 */
  compensateAttempts?: number;
  /**
   * Runs the step through this circuit breaker (`jobs.breakers`): while it is open the run sleeps
   * until a probe is let through, without using one of the step's attempts.
   */
  breaker?: string;
}

export interface WaitForEventOptions {
  /**
   * Which events count: an object whose fields must equal the payload's (deeply; other payload
   * fields are ignored), or a predicate over the payload. @defaultValue every event of the name
   */
  match?: Record<string, JsonValue> | ((payload: JsonValue) => boolean);
  /** Resolve with null if no matching event has come this long after the wait began. @defaultValue no limit */
  timeoutMs?: number;
}

/** An event a wait took. */
export interface WorkflowEvent<P = JsonValue> {
  readonly name: string;
  readonly payload: P;
  /** When it was sent, ISO 8601. */
  readonly sentAt: string;
  /** Its place among the events sent to runs (rises with each). */
  readonly seq: number;
}

/**
 * What a workflow's code calls. Everything it does that touches the world goes through
 * `step`; what it branches on must be the input or results of steps, events and sleeps (see the
 * determinism rules in docs/workflows.md).
 */
export interface WorkflowContext {
  readonly runId: string;
  readonly workflow: string;
  /** Aborted when the run is cancelled. */
  readonly signal: AbortSignal;
  /**
   * Runs `fn` once for this run and records its result: a resumed run returns the recorded
   * result without running it again. Ids are unique within a run. Failures are retried with
   * backoff; after the last attempt (or a `NonRetryableError`) it throws `StepFailedError`.
   */
  step<T extends JsonValue | void>(
    id: string,
    fn: (info: StepInfo) => Promise<T> | T,
    options?: StepOptions<T>,
  ): Promise<T>;
  /** Waits `ms` durably: the run is suspended, and resumes (on any worker) when the time is up. */
  sleep(ms: number): Promise<void>;
  /** Waits until `time` durably. */
  sleepUntil(time: Date | number): Promise<void>;
  /**
   * Resolves with the first event named `name` sent to this run (`workflows.sendEvent`, HTTP)
   * that matches and that no earlier wait took — even one sent before the wait began — or with
   * null after `timeoutMs`. The run is suspended while it waits.
   */
  waitForEvent<P extends JsonValue = JsonValue>(
    name: string,
    options?: WaitForEventOptions,
  ): Promise<WorkflowEvent<P> | null>;
  /**
   * Starts a run of `workflow` with `input` (once: a resumed run finds the one it started) and
   * resolves with its output once it completes; this run is suspended meanwhile. A child that
   * fails or is cancelled throws `StepFailedError` (`ChildWorkflowFailed`). Start several and
   * `Promise.all` them to fan out.
   */
  child<O extends JsonValue = JsonValue>(id: string, workflow: string, input: JsonValue): Promise<O>;
}

/** A workflow's code: its resolved value is the run's output (JSON). */
export type WorkflowFunction<I = JsonValue, O = JsonValue> = (
  ctx: WorkflowContext,
  input: I,
) => Promise<O> | O;

/** Whether `event` satisfies a wait's `match`. */
export function matchesEvent(event: WorkflowEventRecord, match: WaitForEventOptions['match']): boolean {
  if (match === undefined) return true;
  const payload = JSON.parse(event.payload) as JsonValue;
  if (typeof match === 'function') return match(payload);
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return false;
  return Object.entries(match).every(([field, expected]) => isDeepStrictEqual(payload[field], expected));
}

export interface StartWorkflowOptions {
  /**
   * Starts at most one run per key and workflow: a repeat with the same input and options returns the first
   * run; one with another input is an `IdempotencyConflictError`.
   */
  key?: string;
  /** Start no earlier than this many ms from now. */
  delayMs?: number;
  /** Receives a signed webhook when the run ends (see the jobs guide). */
  callbackUrl?: string;
  /** Your own data, returned with the run. */
  metadata?: Record<string, JsonValue>;
  /**
   * The run times out this long after this start (see `WorkflowOptions.runTimeoutMs`, the
   * earlier of the two applies).
   */
  timeoutMs?: number;
}
