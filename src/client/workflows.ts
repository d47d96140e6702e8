/**
 * Workflow runs over HTTP: start (202 + id at once), get with every step, list, send events,
 * cancel, wait for the end. The runs execute in processes that define the workflow
 * (`workflows.define`) on the server's store.
 *
 * Retried after a network error (see `http.ts`): `get`, `list`, `wait`'s polls, and `start` when
 * it carries a `key` (a repeat answers the first run). Not retried: `start` without a key,
 * `sendEvent`, `cancel`.
 */
import { SpoolClientError } from './errors.js';
import { errorCatalogue } from '../core/errors.js';
import { parseRetryAfter, segment, sleep, type Transport } from './http.js';
import type {
  Breaker,
  StartWorkflowOptions,
  WorkflowEventAccepted,
  WorkflowRun,
  WorkflowRunAccepted,
  WorkflowRunPage,
  WorkflowRunStatus,
} from './types.js';
import type { WaitOptions } from './jobs.js';

/** The statuses a run does not leave by itself. */
export const endedRunStatuses: ReadonlySet<WorkflowRun['status']> = new Set([
  'completed',
  'failed',
  'compensated',
  'cancelled',
]);

/** `wait` gave up (`SPOOL_WAIT_TIMEOUT`); `run` is how the run was last seen. */
export class RunWaitTimeoutError extends SpoolClientError {
  /** @internal */
  constructor(
    readonly runId: string,
    readonly run: WorkflowRun,
    timeoutMs: number,
  ) {
    super(
      errorCatalogue.WAIT_TIMEOUT.code,
      `workflow run ${runId} is still ${run.status} after ${timeoutMs} ms`,
      errorCatalogue.WAIT_TIMEOUT.retryable,
    );
  }
}

/** Workflow run operations; reach them as `client.workflows`. */
export class WorkflowsClient {
  /** @internal */
  constructor(private readonly http: Transport) {}

  /** Starts a run of workflow `name`; answers at once (`202`) with `{ id, status, run }`. */
  async start(
    name: string,
    input?: unknown,
    options: StartWorkflowOptions = {},
  ): Promise<WorkflowRunAccepted> {
    const answer = await this.http.call<WorkflowRunAccepted>({
      method: 'POST',
      path: `/v1/workflows/${segment(name)}/runs`,
      body: { ...(input === undefined ? {} : { input }), ...options },
      retryOnNetworkError: options.key !== undefined,
    });
    return answer.body;
  }

  /** A run with every recorded step (`SPOOL_WORKFLOW_RUN_NOT_FOUND` if there is none). */
  async get(id: string, signal?: AbortSignal): Promise<WorkflowRun> {
    return (await this.#get(id, signal)).body;
  }

  /**
   * One page of runs, newest first (without their steps): of workflow `name`, or of every
   * workflow with `{ workflow?, status? }`. A page can be short while `next` is set.
   */
  async list(
    filter: string | { workflow?: string; status?: WorkflowRunStatus } = {},
    query: { limit?: number; cursor?: string } = {},
  ): Promise<WorkflowRunPage> {
    const answer = await this.http.call<WorkflowRunPage>(
      typeof filter === 'string'
        ? { method: 'GET', path: `/v1/workflows/${segment(filter)}/runs`, query, retryOnNetworkError: true }
        : {
            method: 'GET',
            path: '/v1/workflow-runs',
            query: { ...filter, ...query },
            retryOnNetworkError: true,
          },
    );
    return answer.body;
  }

  /** Sends event `name` to a run; an ended run throws `SPOOL_WORKFLOW_RUN_FINISHED`. */
  async sendEvent(id: string, name: string, payload?: unknown): Promise<WorkflowEventAccepted> {
    const answer = await this.http.call<WorkflowEventAccepted>({
      method: 'POST',
      path: `/v1/workflow-runs/${segment(id)}/events`,
      body: { name, ...(payload === undefined ? {} : { payload }) },
      retryOnNetworkError: false,
    });
    return answer.body;
  }

  /** Cancels a run: its completed steps are compensated, then it ends `cancelled`. */
  async cancel(id: string): Promise<WorkflowRun> {
    const answer = await this.http.call<WorkflowRun>({
      method: 'POST',
      path: `/v1/workflow-runs/${segment(id)}/cancel`,
      body: {},
      retryOnNetworkError: false,
    });
    return answer.body;
  }

  /**
   * Retries a failed run from its failed step (completed steps keep their results); a run that
   * is not `failed`, or was compensated, throws `SPOOL_WORKFLOW_RUN_NOT_RETRYABLE`.
   */
  async retry(id: string): Promise<WorkflowRun> {
    const answer = await this.http.call<WorkflowRun>({
      method: 'POST',
      path: `/v1/workflow-runs/${segment(id)}/retry`,
      body: {},
      retryOnNetworkError: false,
    });
    return answer.body;
  }

  /**
   * Polls a run until it has ended (`completed`, `failed`, `compensated`, `cancelled`) and
   * resolves with it. Throws {@link RunWaitTimeoutError} after `timeoutMs` (default 60 s).
   */
  async wait(id: string, options: WaitOptions = {}): Promise<WorkflowRun> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const pollMs = options.pollMs ?? 500;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await this.#get(id, options.signal);
      if (endedRunStatuses.has(answer.body.status)) return answer.body;
      const left = deadline - Date.now();
      if (left <= 0) throw new RunWaitTimeoutError(id, answer.body, timeoutMs);
      const delay = parseRetryAfter(answer.headers.get('retry-after')) ?? pollMs;
      await sleep(Math.min(delay, left), options.signal);
    }
  }

  #get(id: string, signal?: AbortSignal) {
    return this.http.call<WorkflowRun>({
      method: 'GET',
      path: `/v1/workflow-runs/${segment(id)}`,
      signal,
      retryOnNetworkError: true,
    });
  }
}

/** Circuit breakers' shared state; reach them as `client.breakers`. */
export class BreakersClient {
  /** @internal */
  constructor(private readonly http: Transport) {}

  /** Every breaker with its state (closed, open until when, half-open). */
  async list(): Promise<Breaker[]> {
    const answer = await this.http.call<{ items: Breaker[] }>({
      method: 'GET',
      path: '/v1/breakers',
      retryOnNetworkError: true,
    });
    return answer.body.items;
  }

  /** Closes breaker `name` in every process (needs `admin`). */
  async reset(name: string): Promise<Breaker> {
    const answer = await this.http.call<Breaker>({
      method: 'POST',
      path: `/v1/breakers/${segment(name)}/reset`,
      body: {},
      retryOnNetworkError: true,
    });
    return answer.body;
  }
}
