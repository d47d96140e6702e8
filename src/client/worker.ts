/**
 * A remote job worker: runs jobs of the given types in this process, talking to the server only
 * over the network (claim → heartbeat → complete | fail).
 *
 * - **Takes jobs** over the job stream (`GET /v1/jobs/stream`, one WebSocket; docs/streaming.md):
 *   the server pushes a job as soon as a slot is free (`concurrency` slots), and completes,
 *   fails and heartbeats go back on the same connection. With `transport: 'poll'` (or against a
 *   server without the stream) it claims with HTTP long polls instead. A lost connection is
 *   reopened; jobs running meanwhile keep their leases and finish over HTTP.
 * - **Heartbeats** every `leaseMs / 3` while the handler runs, so the lease never runs out. A
 *   heartbeat answered 409 means the job was cancelled (or is otherwise no longer this worker's):
 *   the handler's `signal` is aborted and its outcome is discarded.
 * - **Completes** with the handler's return value, or **fails** with `{ name, message }` of what it
 *   threw — `retryable: false` when the error's name is `NonRetryableError` (the job goes dead at
 *   once), else the server retries it with backoff until its attempts are used up.
 * - **close()** stops claiming, lets running handlers finish for up to `timeoutMs`, then aborts
 *   the ones still running and fails their attempts (retryable), so they run again soon.
 */
import {
  activeSpan,
  markFailed,
  SpoolAttributes,
  traceProcess,
  tracingEnabled,
} from '../telemetry/tracing.js';
import { injectActiveContext } from '../telemetry/tracing-http.js';
import { boundStack } from '../core/message.js';
import { jobDefaults } from '../core/options.js';
import { SpoolHttpError } from './errors.js';
import { sleep } from './http.js';
import type { SpoolClient } from './client.js';
import type { StreamConnection, SettledResult } from './stream-connection.js';
import type { Job, LeasedJob, ProblemDocument } from './types.js';

/** What a handler gets besides the job. */
export interface JobContext {
  /** Aborted when the job is cancelled (a heartbeat answered 409) or the worker closes past its timeout. */
  readonly signal: AbortSignal;
  /** Reports progress (0–100) and optional details. */
  readonly progress: (percent: number, data?: unknown) => Promise<void>;
  /** Logs a line with the job (its page shows the last 200), as `context.log` in process. */
  readonly log: (message: string, level?: 'info' | 'warn' | 'error') => Promise<void>;
  /** The lease of this attempt. */
  readonly lease: string;
}

/** Runs one job; its return value (any JSON value) becomes the job's result. */
export type JobHandler = (job: Job, context: JobContext) => unknown;

/** Options of a {@link Worker}. */
export interface WorkerOptions {
  /** The job types to run. */
  types: string[];
  handler: JobHandler;
  /** Jobs run at once. @defaultValue 1 */
  concurrency?: number;
  /** The lease per claim and heartbeat (at least 1000); heartbeats go every third of it. @defaultValue 30000 */
  leaseMs?: number;
  /** How long a claim waits for a job (at most 20000; `poll` only). @defaultValue 20000 */
  waitMs?: number;
  /**
   * `stream`: one WebSocket on which jobs are pushed and settled. `poll`: HTTP long polls
   * (`POST /v1/jobs/claim`) and one request per heartbeat, complete and fail.
   * @defaultValue 'stream'
   */
  transport?: 'stream' | 'poll';
  /**
   * Called with errors the worker handles itself: a failing claim (retried with backoff), a
   * heartbeat, complete or fail that did not go through. @defaultValue logs with `console.error`
   */
  onError?: (error: unknown, job?: Job) => void;
}

/** Options of {@link Worker.close}. */
export interface WorkerCloseOptions {
  /** How long running handlers may take to finish. @defaultValue 10000 */
  timeoutMs?: number;
}

interface Running {
  readonly job: Job;
  readonly lease: string;
  readonly controller: AbortController;
  /** Set when the server no longer lets this worker settle the job (cancelled). */
  lost: boolean;
  done: Promise<void>;
}

/**
 * A worker that runs jobs claimed from a Spool server.
 *
 * @example
 * ```ts
 * const worker = new Worker(client, {
 *   types: ['thumbnail'],
 *   concurrency: 4,
 *   handler: async (job, { signal, progress }) => {
 *     await progress(50);
 *     return { url: await render(job.payload, { signal }) };
 *   },
 * });
 * worker.start();
 * process.once('SIGTERM', () => void worker.close());
 * ```
 */
export class Worker {
  readonly #client: SpoolClient;
  readonly #options: Required<Omit<WorkerOptions, 'onError'>> & Pick<WorkerOptions, 'onError'>;
  readonly #running = new Map<string, Running>();
  #loop: Promise<void> | undefined;
  /** The job stream, while the worker runs on one. */
  #stream: StreamConnection | undefined;
  #closing = false;
  #claimAbort = new AbortController();
  #slotFreed: (() => void) | undefined;

  constructor(client: SpoolClient, options: WorkerOptions) {
    if (options.types.length === 0) throw new TypeError('Worker: give at least one job type');
    this.#client = client;
    this.#options = {
      concurrency: 1,
      leaseMs: jobDefaults.leaseMs,
      waitMs: 20_000,
      transport: 'stream',
      ...options,
    };
  }

  /** Jobs running now. */
  get active(): number {
    return this.#running.size;
  }

  /** Starts claiming and running jobs; does nothing if already started. */
  start(): this {
    if (this.#closing) throw new Error('Worker: closed workers cannot start again');
    this.#loop ??= this.#options.transport === 'stream' ? this.#streamOrPoll() : this.#claimLoop();
    return this;
  }

  /**
   * Stops claiming and waits for running handlers, at most `timeoutMs`; handlers still running
   * then get their signal aborted and their attempts failed (retryable). Safe to call twice.
   */
  async close(options: WorkerCloseOptions = {}): Promise<void> {
    this.#closing = true;
    this.#claimAbort.abort();
    this.#slotFreed?.();
    await this.#loop;
    const timeoutMs = options.timeoutMs ?? 10_000;
    const finished = this.#drained();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      finished.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!timedOut) {
      await this.#stream?.close();
      return;
    }
    await Promise.all(
      [...this.#running.values()].map(async (entry) => {
        entry.lost = true;
        entry.controller.abort(new Error('the worker is closing'));
        await this.#client.jobs
          .fail(entry.job.id, entry.lease, {
            name: 'WorkerClosed',
            message: 'the worker closed before the job finished',
          })
          .catch((error: unknown) => this.#report(error, entry.job));
      }),
    );
    await this.#stream?.close();
  }

  /** Resolves once no job runs (jobs the stream pushed while closing run too). */
  async #drained(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running.values()].map((entry) => entry.done));
  }

  /** Runs on the job stream; falls back to polling against a server that has none (404). */
  async #streamOrPoll(): Promise<void> {
    const { types, concurrency, leaseMs } = this.#options;
    try {
      // Kept before it connects: jobs may arrive (and finish) before start() resolves.
      this.#stream = this.#client.jobs.openStream({
        label: `job stream of ${types.join(', ')}`,
        // A (re)connection grants a slot per job not running now.
        query: () => ({ types: types.join(','), credit: concurrency - this.#running.size, leaseMs }),
        onReady: () => {},
        onFrame: (frame) => {
          if (frame.type !== 'jobs') return;
          for (const entry of frame.jobs as LeasedJob[]) this.#run(entry);
        },
        onError: (error) => this.#report(error),
      });
      await this.#stream.start();
    } catch (error) {
      this.#stream = undefined;
      if (this.#closing) return;
      if (error instanceof SpoolHttpError && error.status === 404) return this.#claimLoop();
      this.#report(error);
      // Refused (a token without the consume scope, …) or unreachable: polling reports the same
      // errors with its own backoff, and keeps trying.
      return this.#claimLoop();
    }
  }

  async #claimLoop(): Promise<void> {
    const { types, concurrency, leaseMs, waitMs } = this.#options;
    let failures = 0;
    while (!this.#closing) {
      const free = concurrency - this.#running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.#slotFreed = resolve));
        this.#slotFreed = undefined;
        continue;
      }
      let leased: LeasedJob[];
      try {
        leased = await this.#client.jobs.claim({
          types,
          max: Math.min(free, 100),
          waitMs: Math.min(waitMs, 20_000),
          leaseMs,
          signal: this.#claimAbort.signal,
        });
        failures = 0;
      } catch (error) {
        if (this.#closing) break;
        this.#report(error);
        failures++;
        await sleep(Math.min(30_000, 250 * 2 ** Math.min(failures, 7)) * (0.5 + Math.random() / 2));
        continue;
      }
      for (const entry of leased) this.#run(entry);
    }
  }

  #run({ job, lease, traceparent, tracestate }: LeasedJob): void {
    const controller = new AbortController();
    const entry: Running = { job, lease, controller, lost: false, done: Promise.resolve() };
    this.#running.set(job.id, entry);
    const heartbeat = setInterval(
      () => void this.#heartbeat(entry),
      Math.max(100, Math.floor(this.#options.leaseMs / 3)),
    );
    const context: JobContext = {
      signal: controller.signal,
      lease,
      log: async (message, level = 'info') => {
        await this.#client.jobs.log(job.id, [{ message, level }], lease);
      },
      progress: async (percent, data) => {
        await this.#client.jobs.progress(job.id, percent, data, lease);
      },
    };
    const attempt = async () => {
      let outcome: { ok: true; result: unknown } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, result: await this.#options.handler(job, context) };
      } catch (error) {
        outcome = { ok: false, error };
        markFailed(activeSpan(), error);
      }
      clearInterval(heartbeat);
      if (entry.lost) return;
      if (outcome.ok) await this.#complete(entry, outcome.result ?? null);
      else await this.#fail(entry, describeError(outcome.error), !isNonRetryable(outcome.error));
    };
    entry.done = (async () => {
      try {
        // The job's trace continues here: a `process jobs.<type>` span whose parent is the add.
        // Complete and fail go inside it, so a retry's ticket stays in the trace.
        if (!tracingEnabled()) await attempt();
        else {
          await traceProcess(
            {
              destination: `jobs.${job.type}`,
              headers: {
                ...(traceparent === undefined ? {} : { traceparent }),
                ...(tracestate === undefined ? {} : { tracestate }),
              },
              attributes: {
                [SpoolAttributes.jobId]: job.id,
                [SpoolAttributes.jobType]: job.type,
                [SpoolAttributes.attempt]: job.attempts,
              },
            },
            attempt,
          );
        }
      } catch (error) {
        this.#report(error, job);
      } finally {
        clearInterval(heartbeat);
        this.#running.delete(job.id);
        this.#slotFreed?.();
      }
    })();
  }

  /** Completes over the stream when it is open (granting the freed slot), else over HTTP. */
  async #complete(entry: Running, result: unknown): Promise<void> {
    const stream = this.#stream;
    if (!stream?.open) {
      await this.#client.jobs.complete(entry.job.id, entry.lease, result);
      return;
    }
    const [answer] = await stream.request({
      type: 'complete',
      items: [{ job: entry.job.id, lease: entry.lease, result, ...traceHeaders() }],
      ...this.#regrant(),
    });
    if (!answer?.ok) throw settleError(answer, entry.job.id, 'complete');
  }

  async #fail(
    entry: Running,
    error: { name: string; message: string; stack?: string },
    retryable: boolean,
  ): Promise<void> {
    const stream = this.#stream;
    if (!stream?.open) {
      await this.#client.jobs.fail(entry.job.id, entry.lease, error, retryable);
      return;
    }
    const [answer] = await stream.request({
      type: 'fail',
      items: [{ job: entry.job.id, lease: entry.lease, error, retryable, ...traceHeaders() }],
      ...this.#regrant(),
    });
    if (!answer?.ok) throw settleError(answer, entry.job.id, 'fail');
  }

  /** The credit a settle gives back: its slot, unless the worker is closing. */
  #regrant(): { credit?: number } {
    return this.#closing ? {} : { credit: 1 };
  }

  async #heartbeat(entry: Running): Promise<void> {
    if (entry.lost) return;
    const stream = this.#stream;
    try {
      if (stream?.open) {
        const [answer] = await stream.request({
          type: 'heartbeat',
          items: [{ job: entry.job.id, lease: entry.lease, leaseMs: this.#options.leaseMs }],
        });
        if (!answer?.ok) throw settleError(answer, entry.job.id, 'heartbeat');
      } else {
        await this.#client.jobs.heartbeat(entry.job.id, entry.lease, this.#options.leaseMs);
      }
    } catch (error) {
      if (error instanceof SpoolHttpError && (error.status === 409 || error.status === 404)) {
        // Cancelled (or gone): stop the handler; its outcome can no longer be recorded.
        entry.lost = true;
        entry.controller.abort(error);
        return;
      }
      this.#report(error, entry.job);
    }
  }

  #report(error: unknown, job?: Job): void {
    if (this.#options.onError) this.#options.onError(error, job);
    else
      console.error(
        `spool worker: ${job ? `job ${job.id}: ` : ''}${error instanceof Error ? error.message : String(error)}`,
      );
  }
}

/**
 * A job stream's refusal of one item, as the HTTP route would have thrown it: 409 for a job no
 * longer this worker's (cancelled), 404 for an unknown one.
 */
function settleError(answer: SettledResult | undefined, jobId: string, action: string): SpoolHttpError {
  const code = answer?.code ?? 'SPOOL_INTERNAL';
  const status = code === 'SPOOL_JOB_NOT_FOUND' ? 404 : code === 'SPOOL_INTERNAL' ? 500 : 409;
  return SpoolHttpError.from(status, {
    type: 'about:blank',
    title: code,
    status,
    code,
    detail: answer?.detail ?? `${action} of job ${jobId} was not answered`,
  } as ProblemDocument);
}

/** The active span's context, for a settle item (what an HTTP call would carry in headers). */
function traceHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  injectActiveContext(headers);
  return headers;
}

function isNonRetryable(error: unknown): boolean {
  return error instanceof Error && error.name === 'NonRetryableError';
}

/** The failure as the fail route takes it: name, message and the stack's frames, bounded. */
function describeError(error: unknown): { name: string; message: string; stack?: string } {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error).slice(0, 10_000) };
  const stack = boundStack(error.stack);
  return {
    name: error.name.slice(0, 200),
    message: error.message.slice(0, 10_000),
    ...(stack === undefined ? {} : { stack }),
  };
}
