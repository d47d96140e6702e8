/**
 * One execution of a workflow run: the run's code is called from the top, and every `ctx` call
 * is matched against the run's recorded history — a recorded step returns its stored result, a
 * recorded failure throws again, and only what has no record yet runs. Each record is written
 * before the code sees its outcome, so a crash at any point leaves a history that a later
 * execution continues from.
 *
 * An execution ends in one of four ways (see {@link RunExecution.run}): the code returns (the
 * run completes); it throws (compensations run, newest first); it cannot go on yet — a sleep,
 * a retry's backoff or a wait for an event — so the run is suspended until then; or Spool's own
 * bookkeeping failed (a store write, a non-determinism), which fails the execution so the job
 * retries it later, without touching the run's code or compensations.
 *
 * Suspending does not throw through the user's code (a `try/catch` there would see it): the
 * `ctx` call that cannot go on returns a promise that never settles, and the execution is
 * suspended once no step is still running.
 */
import { backoffDelay, type BackoffOptions, defaultBackoff } from '../core/backoff.js';
import type { Clock } from '../core/clock.js';
import { InvalidArgumentError, NonRetryableError, RetryAfterError } from '../core/errors.js';
import { CircuitOpenError } from '../core/wait-errors.js';
import type { Breakers } from '../breakers/breakers.js';
import { describeFailure, encodeJson, type FailureInfo, type JsonValue } from '../core/message.js';
import type {
  WorkflowEventRecord,
  WorkflowStepKind,
  WorkflowStepRecord,
  WorkflowStepStatus,
} from '../store/port.js';
import {
  NonDeterminismError,
  StepFailedError,
  WorkflowCancelledError,
  WorkflowTimeoutError,
} from './workflow-errors.js';
import {
  cancelEventName,
  matchesEvent,
  type StepOptions,
  type WaitForEventOptions,
  type WorkflowContext,
  type WorkflowEvent,
  type WorkflowFunction,
} from './workflow-types.js';

/** Where an execution writes its records. */
export interface HistoryWriter {
  saveWorkflowStep(step: WorkflowStepRecord): Promise<void>;
}

/** How an execution starts child runs and reads how they ended. */
export interface ChildRuns {
  /** Starts (at most once per parent and step) a run of `workflow`; resolves with its id. */
  start(workflow: string, input: JsonValue, parentRunId: string, stepId: string): Promise<string>;
  /** Where child run `runId` is: still going, or its end. */
  outcome(
    runId: string,
  ): Promise<
    | { ended: false }
    | { ended: true; completed: boolean; output: JsonValue; error: FailureInfo | null; status: string }
  >;
}

/** How an execution ended. */
export type ExecutionResult =
  | { readonly kind: 'completed'; readonly output: JsonValue }
  | { readonly kind: 'suspended'; readonly wakeAt: number | null }
  | {
      readonly kind: 'failed';
      readonly error: FailureInfo;
      readonly cancelled: boolean;
      /** The compensation that failed for good, when one did. */
      readonly compensationFailed: { readonly stepId: string; readonly error: FailureInfo } | null;
      /** Compensations that ran (or had run) to completion. */
      readonly compensated: number;
    };

/** A completed step with a compensation, as registered when the code passed it. */
interface Compensation {
  readonly record: WorkflowStepRecord;
  readonly options: StepOptions<never>;
}

const stepDefaults = Object.freeze({ maxAttempts: 3, compensateAttempts: 10 });

export class RunExecution {
  readonly #history = new Map<string, WorkflowStepRecord>();
  readonly #bySeq = new Map<number, WorkflowStepRecord>();
  readonly #used = new Set<string>();
  readonly #compensations: Compensation[] = [];
  /** Event seqs taken by completed waits (recorded in their output). */
  readonly #consumed = new Set<number>();
  readonly #cancel = new AbortController();
  /** Set when the run's deadline passed: `#cancel` is aborted too, but the run fails rather than ends cancelled. */
  #timedOut = false;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #seq = 0;
  #sleeps = 0;
  readonly #waits = new Map<string, number>();
  #inflight = 0;
  readonly #idle: (() => void)[] = [];
  /** undefined: nothing asked to suspend; null: until an event; a time: until then. */
  #wakeAt: number | null | undefined;
  #suspended!: () => void;
  readonly #suspension = new Promise<void>((resolve) => (this.#suspended = resolve));
  /** Spool's own failure (a store write, a non-determinism): it ends the execution whatever the code does. */
  #fault: Error | undefined;

  constructor(
    readonly runId: string,
    readonly workflow: string,
    history: readonly WorkflowStepRecord[],
    readonly events: readonly WorkflowEventRecord[],
    private readonly writer: HistoryWriter,
    private readonly clock: Clock,
    /** Aborts with the job's own signal: its timeout, or a lost lease. */
    private readonly jobSignal: AbortSignal,
    private readonly breakers: Breakers,
    private readonly children: ChildRuns,
    /** When the run times out (epoch ms), or null. */
    private readonly deadline: number | null = null,
  ) {
    for (const record of history) {
      this.#history.set(record.stepId, record);
      if (record.kind !== 'compensation') this.#bySeq.set(record.seq, record);
      if (record.kind === 'event' && record.status === 'completed' && record.output !== null) {
        const taken = (JSON.parse(record.output) as WorkflowEvent | null)?.seq;
        if (taken !== undefined) this.#consumed.add(taken);
      }
    }
    if (events.some((event) => event.name === cancelEventName)) this.#cancel.abort();
    else if (deadline !== null) {
      const left = deadline - clock.now();
      if (left <= 0) this.#expire();
      else this.#deadlineTimer = setTimeout(() => this.#expire(), left).unref();
    }
  }

  /** The deadline passed: like a cancel (signals abort, the next call throws), but a failure. */
  #expire(): void {
    if (this.#cancel.signal.aborted) return;
    this.#timedOut = true;
    this.#cancel.abort(new WorkflowTimeoutError(this.runId, new Date(this.deadline!)));
  }

  /** The highest event seq this execution has seen: later ones wake the run again. */
  get lastEventSeq(): number {
    return this.events.at(-1)?.seq ?? 0;
  }

  /** Aborts the execution as cancelled: steps' signals abort, the next `ctx` call throws. */
  cancel(): void {
    this.#cancel.abort();
  }

  /** Runs the code against the history; resolves how the execution ended, or rejects with Spool's own fault. */
  async run(code: WorkflowFunction, input: JsonValue): Promise<ExecutionResult> {
    try {
      return await this.#execute(code, input);
    } finally {
      clearTimeout(this.#deadlineTimer);
    }
  }

  async #execute(code: WorkflowFunction, input: JsonValue): Promise<ExecutionResult> {
    const context = this.#context();
    const outcome = await Promise.race([
      Promise.resolve()
        .then(() => code(context, input))
        .then(
          (output) => ({ done: true as const, output }),
          (error: unknown) => ({ done: false as const, error }),
        ),
      this.#suspension.then(() => null),
    ]);
    if (this.#fault) throw this.#fault;
    if (outcome === null) return { kind: 'suspended', wakeAt: this.#wakeAt ?? null };
    if (outcome.done) return { kind: 'completed', output: outcome.output ?? null };
    // Steps still running (branches of a Promise.all) finish and are recorded before undoing.
    await this.#settled();
    this.#throwFault();
    return this.#compensate(outcome.error);
  }

  /** A separate read: the fault may have been set while the caller awaited. */
  #throwFault(): void {
    if (this.#fault) throw this.#fault;
  }

  #context(): WorkflowContext {
    return {
      runId: this.runId,
      workflow: this.workflow,
      signal: this.#cancel.signal,
      step: (id, fn, options) => this.#step(id, fn, options),
      sleep: (ms) => this.#sleep(() => this.clock.now() + ms),
      sleepUntil: (time) => this.#sleep(() => (typeof time === 'number' ? time : time.getTime())),
      waitForEvent: (name, options) => this.#waitForEvent(name, options),
      child: (id, workflow, input) => this.#child(id, workflow, input),
    };
  }

  // --- the calls ----------------------------------------------------------------------------

  async #step<T>(
    id: string,
    fn: (info: { signal: AbortSignal; attempt: number }) => Promise<T> | T,
    options: StepOptions<T> = {},
  ): Promise<T> {
    validateStepId(id);
    const record = this.#place(id, 'step');
    const seq = this.#seqOf(record);
    if (record?.status === 'completed') return this.#completed(record, options);
    if (record?.status === 'failed') throw new StepFailedError(id, record.error!);
    this.#throwIfCancelled();
    if (record?.status === 'retrying' && record.wakeAt! > this.clock.now())
      return this.#suspend(record.wakeAt);
    const attempt = (record?.attempts ?? 0) + 1;
    const ran = await this.#tracked(() => this.#attemptStep(id, seq, attempt, fn, options));
    return 'wakeAt' in ran ? this.#suspend(ran.wakeAt) : this.#completed(ran.record, options);
  }

  /** One run of a step's function, recorded: completed, retrying (with its wake time) or failed (thrown). */
  async #attemptStep<T>(
    id: string,
    seq: number,
    attempt: number,
    fn: (info: { signal: AbortSignal; attempt: number }) => Promise<T> | T,
    options: StepOptions<T>,
  ): Promise<{ record: WorkflowStepRecord } | { wakeAt: number }> {
    const startedAt = this.clock.now();
    let output: T;
    try {
      const { breaker } = options;
      output = await this.#invoke(
        breaker === undefined ? fn : (info) => this.breakers.get(breaker).run(() => fn(info)),
        attempt,
        options.timeoutMs,
      );
    } catch (error) {
      // The execution itself ended (its timeout, a lost lease): the step's outcome is not its own.
      if (this.jobSignal.aborted) this.#fail(asError(this.jobSignal.reason));
      // A step interrupted by the cancel or the deadline is not a failure of the step: nothing is recorded.
      this.#throwIfCancelled();
      const failure = describeFailure(error);
      if (error instanceof CircuitOpenError) {
        // Not called: the step waits for the breaker, and this attempt does not count.
        const wakeAt = this.clock.now() + error.retryAfterMs;
        const uncounted = { id, seq, kind: 'step' as const, attempt: attempt - 1, startedAt };
        await this.#save({ ...uncounted, status: 'retrying', error: failure, wakeAt });
        return { wakeAt };
      }
      const maxAttempts = options.maxAttempts ?? stepDefaults.maxAttempts;
      if (error instanceof NonRetryableError || attempt >= maxAttempts) {
        await this.#save({ id, seq, kind: 'step', status: 'failed', attempt, startedAt, error: failure });
        throw new StepFailedError(id, failure);
      }
      const wakeAt = this.clock.now() + retryDelay(error, attempt, options.backoff);
      await this.#save({
        id,
        seq,
        kind: 'step',
        status: 'retrying',
        attempt,
        startedAt,
        error: failure,
        wakeAt,
      });
      return { wakeAt };
    }
    const record = await this.#save({
      id,
      seq,
      kind: 'step',
      status: 'completed',
      attempt,
      startedAt,
      output: encodeJson(output ?? null, `the result of step "${id}"`),
    });
    return { record };
  }

  /** Counts `work` as a running step: the execution does not suspend while one runs. */
  async #tracked<T>(work: () => Promise<T>): Promise<T> {
    this.#inflight += 1;
    try {
      return await work();
    } finally {
      this.#inflight -= 1;
      if (this.#inflight === 0) for (const resolve of this.#idle.splice(0)) resolve();
      this.#maybeSuspend();
    }
  }

  async #sleep(until: () => number): Promise<void> {
    this.#sleeps += 1;
    const id = `#sleep.${this.#sleeps}`;
    const record = this.#place(id, 'sleep');
    const seq = this.#seqOf(record);
    if (record?.status === 'completed') return;
    this.#throwIfCancelled();
    const now = this.clock.now();
    // The wake time is recorded once: a resumed `sleep(ms)` does not start its count again.
    const wakeAt = record?.wakeAt ?? until();
    const startedAt = record?.startedAt ?? now;
    if (wakeAt <= now) {
      await this.#save({ id, seq, kind: 'sleep', status: 'completed', attempt: 0, startedAt });
      return;
    }
    if (!record)
      await this.#save({ id, seq, kind: 'sleep', status: 'sleeping', attempt: 0, startedAt, wakeAt });
    return this.#suspend(wakeAt);
  }

  async #waitForEvent<P extends JsonValue>(
    name: string,
    options: WaitForEventOptions = {},
  ): Promise<WorkflowEvent<P> | null> {
    const occurrence = (this.#waits.get(name) ?? 0) + 1;
    this.#waits.set(name, occurrence);
    const id = `#event.${name}.${occurrence}`;
    const record = this.#place(id, 'event');
    if (record?.status === 'completed') return JSON.parse(record.output!) as WorkflowEvent<P> | null;
    this.#throwIfCancelled();
    const now = this.clock.now();
    const seq = this.#seqOf(record);
    const startedAt = record?.startedAt ?? now;
    const common = { id, seq, kind: 'event' as const, attempt: 0, startedAt };
    const deadline = record
      ? record.wakeAt
      : options.timeoutMs === undefined
        ? null
        : now + options.timeoutMs;
    // An event sent before the wait began counts too: the sender cannot know how far the run is.
    const event = this.events.find(
      (candidate) =>
        candidate.name === name &&
        !this.#consumed.has(candidate.seq) &&
        matchesEvent(candidate, options.match),
    );
    if (event) {
      this.#consumed.add(event.seq);
      const taken: WorkflowEvent<P> = {
        name,
        payload: JSON.parse(event.payload) as P,
        sentAt: new Date(event.sentAt).toISOString(),
        seq: event.seq,
      };
      await this.#save({ ...common, status: 'completed', output: JSON.stringify(taken) });
      return taken;
    }
    if (deadline !== null && deadline <= now) {
      await this.#save({ ...common, status: 'completed', output: 'null' });
      return null;
    }
    if (!record) await this.#save({ ...common, status: 'waiting', wakeAt: deadline });
    return this.#suspend(deadline);
  }

  async #child<O>(id: string, workflow: string, input: JsonValue): Promise<O> {
    validateStepId(id);
    const record = this.#place(id, 'child');
    const seq = this.#seqOf(record);
    if (record?.status === 'completed') return JSON.parse(record.output!) as O;
    if (record?.status === 'failed') throw new StepFailedError(id, record.error!);
    this.#throwIfCancelled();
    const startedAt = record?.startedAt ?? this.clock.now();
    const common = { id, seq, kind: 'child' as const, attempt: 1, startedAt };
    const outcome = await this.#tracked(async () => {
      let childId = record ? (JSON.parse(record.output!) as { runId: string }).runId : null;
      if (childId === null) {
        childId = await this.children.start(workflow, input, this.runId, id);
        await this.#save({ ...common, status: 'waiting', output: JSON.stringify({ runId: childId }) });
      }
      return { childId, ended: await this.children.outcome(childId) };
    });
    const { childId, ended } = outcome;
    // Not ended yet: the child's end sends this run an event, which resumes it.
    if (!ended.ended) return this.#suspend(null);
    if (ended.completed) {
      const saved = await this.#save({
        ...common,
        status: 'completed',
        output: JSON.stringify(ended.output ?? null),
      });
      return JSON.parse(saved.output!) as O;
    }
    const failure: FailureInfo = {
      name: 'ChildWorkflowFailed',
      message: `child run ${childId} (${workflow}) ended ${ended.status}${ended.error ? `: ${ended.error.name}: ${ended.error.message}` : ''}`,
    };
    // The child's id stays with the failure: retrying the run retries that child.
    await this.#save({
      ...common,
      status: 'failed',
      error: failure,
      output: JSON.stringify({ runId: childId }),
    });
    throw new StepFailedError(id, failure);
  }

  // --- compensation -------------------------------------------------------------------------

  /** Runs the compensations of the completed steps, newest first, each once to completion. */
  async #compensate(error: unknown): Promise<ExecutionResult> {
    const cancelled =
      error instanceof WorkflowCancelledError || (this.#cancel.signal.aborted && !this.#timedOut);
    const failure = describeFailure(error);
    const ordered = [...this.#compensations].sort(
      (a, b) => b.record.finishedAt! - a.record.finishedAt! || b.record.seq - a.record.seq,
    );
    let compensated = 0;
    for (const { record: step, options } of ordered) {
      const id = `#compensate.${step.stepId}`;
      const record = this.#history.get(id);
      if (record?.status === 'failed') {
        return {
          kind: 'failed',
          error: failure,
          cancelled,
          compensated,
          compensationFailed: { stepId: step.stepId, error: record.error! },
        };
      }
      if (record?.status !== 'completed') {
        const ended = await this.#runCompensation(id, step, options, record);
        if (ended !== 'completed') {
          if (ended.kind === 'suspended') return ended;
          return {
            kind: 'failed',
            error: failure,
            cancelled,
            compensated,
            compensationFailed: { stepId: step.stepId, error: ended.error },
          };
        }
      }
      compensated += 1;
    }
    return { kind: 'failed', error: failure, cancelled, compensated, compensationFailed: null };
  }

  async #runCompensation(
    id: string,
    step: WorkflowStepRecord,
    options: StepOptions<never>,
    record: WorkflowStepRecord | undefined,
  ): Promise<'completed' | { kind: 'suspended'; wakeAt: number } | { kind: 'failed'; error: FailureInfo }> {
    const now = this.clock.now();
    if (record?.status === 'retrying' && record.wakeAt! > now)
      return { kind: 'suspended', wakeAt: record.wakeAt! };
    const attempt = (record?.attempts ?? 0) + 1;
    const common = { id, seq: step.seq, kind: 'compensation' as const, attempt, startedAt: now };
    try {
      // Not aborted by the cancel: undoing is what a cancelled run has left to do.
      await this.#invoke(
        () => options.compensate!(JSON.parse(step.output!) as never),
        attempt,
        options.timeoutMs,
        false,
      );
    } catch (error) {
      const failure = describeFailure(error);
      if (
        error instanceof NonRetryableError ||
        attempt >= (options.compensateAttempts ?? stepDefaults.compensateAttempts)
      ) {
        await this.#save({ ...common, status: 'failed', error: failure });
        return { kind: 'failed', error: failure };
      }
      const wakeAt = this.clock.now() + retryDelay(error, attempt, options.backoff);
      await this.#save({ ...common, status: 'retrying', error: failure, wakeAt });
      return { kind: 'suspended', wakeAt };
    }
    await this.#save({ ...common, status: 'completed' });
    return 'completed';
  }

  // --- bookkeeping --------------------------------------------------------------------------

  /**
   * Gives the call its place in the run's order and checks it against the history: the record
   * at that place must be this call's, and this call's record must be at that place.
   */
  #place(id: string, kind: WorkflowStepKind): WorkflowStepRecord | undefined {
    const seq = this.#seq;
    this.#seq += 1;
    if (this.#used.has(id)) {
      this.#fail(
        new NonDeterminismError(this.runId, seq, `a second call of "${id}"`, 'one call of each step id'),
      );
    }
    this.#used.add(id);
    const atPlace = this.#bySeq.get(seq);
    const record = this.#history.get(id);
    if (atPlace && atPlace.stepId !== id) {
      this.#fail(
        new NonDeterminismError(
          this.runId,
          seq,
          describeCall(kind, id),
          describeCall(atPlace.kind, atPlace.stepId),
        ),
      );
    }
    if (record && (record.seq !== seq || record.kind !== kind)) {
      this.#fail(
        new NonDeterminismError(
          this.runId,
          seq,
          describeCall(kind, id),
          `${describeCall(record.kind, id)} as call #${record.seq + 1}`,
        ),
      );
    }
    return record;
  }

  #seqOf(record: WorkflowStepRecord | undefined): number {
    return record?.seq ?? this.#seq - 1;
  }

  #completed<T>(record: WorkflowStepRecord, options: StepOptions<T>): T {
    if (options.compensate) this.#compensations.push({ record, options: options });
    return JSON.parse(record.output!) as T;
  }

  #throwIfCancelled(): void {
    if (!this.#cancel.signal.aborted) return;
    throw this.#timedOut
      ? new WorkflowTimeoutError(this.runId, new Date(this.deadline!))
      : new WorkflowCancelledError(this.runId);
  }

  async #save(step: {
    id: string;
    seq: number;
    kind: WorkflowStepKind;
    status: WorkflowStepStatus;
    attempt: number;
    startedAt: number;
    output?: string;
    error?: FailureInfo;
    wakeAt?: number | null;
  }): Promise<WorkflowStepRecord> {
    const finished = step.status === 'completed' || step.status === 'failed';
    const record: WorkflowStepRecord = {
      runId: this.runId,
      stepId: step.id,
      seq: step.seq,
      kind: step.kind,
      status: step.status,
      output: step.output ?? null,
      error: step.error ?? null,
      attempts: step.attempt,
      startedAt: step.startedAt,
      finishedAt: finished ? this.clock.now() : null,
      wakeAt: step.wakeAt ?? null,
    };
    try {
      await this.writer.saveWorkflowStep(record);
    } catch (error) {
      this.#fail(asError(error));
    }
    this.#history.set(record.stepId, record);
    return record;
  }

  /** Records Spool's own failure and stops the code here: the execution ends with it. */
  #fail(error: Error): never {
    this.#fault ??= error;
    this.#suspended();
    throw error;
  }

  async #invoke<T>(
    fn: (info: { signal: AbortSignal; attempt: number }) => Promise<T> | T,
    attempt: number,
    timeoutMs: number | undefined,
    cancellable = true,
  ): Promise<T> {
    const signals = [this.jobSignal, ...(cancellable ? [this.#cancel.signal] : [])];
    if (timeoutMs !== undefined) signals.push(AbortSignal.timeout(timeoutMs));
    const signal = AbortSignal.any(signals);
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason as Error);
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
    aborted.catch(() => undefined);
    return Promise.race([Promise.resolve().then(() => fn({ signal, attempt })), aborted]);
  }

  /** A promise that never settles; the execution suspends once nothing else runs. */
  #suspend(until: number | null): Promise<never> {
    // Not past the deadline: the run wakes then to time out.
    const { deadline } = this;
    const wakeAt = deadline === null ? until : until === null ? deadline : Math.min(until, deadline);
    if (this.#wakeAt === undefined) this.#wakeAt = wakeAt;
    else if (wakeAt !== null) this.#wakeAt = this.#wakeAt === null ? wakeAt : Math.min(this.#wakeAt, wakeAt);
    this.#maybeSuspend();
    return new Promise<never>(() => undefined);
  }

  #maybeSuspend(): void {
    if (this.#wakeAt === undefined || this.#inflight > 0) return;
    // After the code's pending reactions: a branch that just got its result may start another step.
    setImmediate(() => {
      if (this.#inflight === 0) this.#suspended();
    });
  }

  /** Resolves once no step is running. */
  async #settled(): Promise<void> {
    while (this.#inflight > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }
}

function retryDelay(error: unknown, attempt: number, backoff: Partial<BackoffOptions> | undefined): number {
  if (error instanceof RetryAfterError) return Math.max(0, error.retryAfterMs);
  return backoffDelay(attempt, { ...defaultBackoff, ...backoff });
}

function describeCall(kind: WorkflowStepKind, id: string): string {
  if (kind === 'sleep') return `a sleep (${id})`;
  if (kind === 'event') return `a wait for an event (${id})`;
  return `step "${id}"`;
}

function validateStepId(id: unknown): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200 || id.startsWith('#')) {
    throw new InvalidArgumentError(
      `step id ${JSON.stringify(id)} is invalid: use 1-200 characters, not starting with '#' (Spool's own ids)`,
      { field: 'stepId' },
    );
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
