/** The errors of the workflows layer, each a SpoolError with its code from the catalogue. */
import { errorCatalogue, SpoolError } from '../core/errors.js';
import type { FailureInfo } from '../core/message.js';
import type { JobStatus } from '../store/port.js';

/** A run id that is unknown, pruned, or the id of a job that is not a workflow run. */
export class WorkflowRunNotFoundError extends SpoolError {
  constructor(readonly runId: string) {
    super(
      errorCatalogue.WORKFLOW_RUN_NOT_FOUND,
      `workflow run ${runId} does not exist (or was pruned by retention)`,
      {
        runId,
      },
    );
  }
}

/** An event sent to, or a cancel of, a run that has ended. */
export class WorkflowRunFinishedError extends SpoolError {
  constructor(runId: string, status: JobStatus, operation: string) {
    super(
      errorCatalogue.WORKFLOW_RUN_FINISHED,
      `workflow run ${runId} has ended (${status}): it cannot be ${operation}`,
      {
        runId,
        status,
        operation,
      },
    );
  }
}

/**
 * A retry of a run that is not `failed`, or whose completed steps were undone by its
 * compensations: replaying them as done would skip work that no longer holds.
 */
export class WorkflowRunNotRetryableError extends SpoolError {
  constructor(runId: string, status: string, reason: string) {
    super(
      errorCatalogue.WORKFLOW_RUN_NOT_RETRYABLE,
      `workflow run ${runId} (${status}) cannot be retried: ${reason}`,
      {
        runId,
        status,
      },
    );
  }
}

/**
 * What `ctx.step` throws once the step has failed for good: its attempts are used up, or it
 * threw a `NonRetryableError`. `failure` is the step's last error as recorded; a resumed run
 * throws the same error again from the record, without running the step.
 */
export class StepFailedError extends SpoolError {
  constructor(
    readonly stepId: string,
    readonly failure: FailureInfo,
  ) {
    super(
      errorCatalogue.WORKFLOW_STEP_FAILED,
      `step "${stepId}" failed: ${failure.name}: ${failure.message}`,
      {
        stepId,
        failure: { name: failure.name, message: failure.message },
      },
    );
  }
}

/** What the next step, sleep or wait of a cancelled run throws: the run then compensates. */
export class WorkflowCancelledError extends SpoolError {
  constructor(readonly runId: string) {
    super(errorCatalogue.WORKFLOW_CANCELLED, `workflow run ${runId} was cancelled`, { runId });
  }
}

/**
 * What the next step, sleep or wait of a run past its deadline (`timeoutMs` at start or
 * `runTimeoutMs` of its workflow) throws; a step running at the deadline has its signal aborted.
 * The run then compensates, like any failure.
 */
export class WorkflowTimeoutError extends SpoolError {
  constructor(
    readonly runId: string,
    readonly deadline: Date,
  ) {
    super(
      errorCatalogue.WORKFLOW_TIMEOUT,
      `workflow run ${runId} ran past its deadline ${deadline.toISOString()}`,
      {
        runId,
        deadline: deadline.toISOString(),
      },
    );
  }
}

/**
 * A resumed run's code called something other than what its history recorded at that point:
 * the workflow's code changed under a running run (or it branches on something that is not a
 * step's result: the clock, randomness, the environment). Nothing is run or recorded; the run
 * retries with backoff, so deploying code that matches its history lets it go on.
 */
export class NonDeterminismError extends SpoolError {
  constructor(runId: string, seq: number, called: string, recorded: string) {
    super(
      errorCatalogue.WORKFLOW_NONDETERMINISM,
      `workflow run ${runId}: call #${seq + 1} is ${called}, but the run's history has ${recorded} there; workflow code must call the same steps in the same order on every replay (see the determinism rules in docs/workflows.md)`,
      { runId, seq, called, recorded },
    );
  }
}
