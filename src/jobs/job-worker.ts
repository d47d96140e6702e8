/**
 * The in-process worker of one job type: a manual-ack consumer of the type's ticket queue that
 * runs the handler with the type's timeout, rate limit and cancellation, then settles the job
 * through {@link JobAttempts}. The queue consumer keeps the ticket's lease while the handler
 * runs; concurrency is the consumer's.
 *
 * Cancellation of a running job reaches the handler as an aborted `signal`: at once when the
 * cancel happens in this process, otherwise at the next status check (every `cancelCheckMs`).
 */
import type { TimerHandle } from '../core/clock.js';
import { errorCatalogue, RetryAfterError, SpoolError } from '../core/errors.js';
import { CircuitOpenError, LimitReachedError } from '../core/wait-errors.js';
import type { CircuitBreaker } from '../breakers/breakers.js';
import type { JsonValue } from '../core/message.js';
import type { QueueConsumer } from '../engine/queue-consumer.js';
import type { Message } from '../engine/received-message.js';
import type { Spool } from '../engine/spool.js';
import {
  type ActiveAttempt,
  type JobAttempts,
  JobOutcome,
  JobSuspension,
  type JobTicket,
  jobQueueName,
} from './job-attempts.js';
import { type Job, toJob } from './job.js';
import { jobFields, messageFields } from '../telemetry/logging.js';
import { activeSpan, markFailed, SpoolAttributes } from '../telemetry/tracing.js';
import type { RateLimiter } from './rate-limiter.js';
import { beginWithinLimits } from './start-limits.js';
import type { ResolvedJobType } from './job-types.js';

/** What a handler gets besides the job. */
export interface JobContext {
  /** Aborted on timeout, on cancel, or when the worker loses the job's lease. */
  readonly signal: AbortSignal;
  /** This run's number (1 for the first). */
  readonly attempt: number;
  /** Reports progress (0–100) and optional details, visible to pollers and live events. */
  progress(progress: number, data?: JsonValue): Promise<void>;
  /**
   * Logs a line with the job, shown on its page in the dashboard and in `GET /v1/jobs/{id}`
   * (`logs`): what the run did, for whoever investigates it. The job keeps its last 200 lines.
   */
  readonly log: (message: string, level?: 'info' | 'warn' | 'error') => Promise<void>;
  /** The job's children (for a parent job), with their results. */
  children(): Promise<Job[]>;
}

/** Runs one job; its resolved value is the job's result (JSON). */
export type JobHandler<P = JsonValue, R = JsonValue> = (
  job: Job<P, R>,
  context: JobContext,
) => Promise<R | void> | R | void;

/**
 * The error a job fails with when its handler runs past `timeoutMs` (`SPOOL_JOB_TIMEOUT`); the
 * handler's signal aborts with it. The attempt is retried while the job has attempts left.
 */
export class JobTimeoutError extends SpoolError {
  constructor(readonly timeoutMs: number) {
    super(errorCatalogue.JOB_TIMEOUT, `the job did not finish within its timeout of ${timeoutMs} ms`, {
      timeoutMs,
    });
  }
}

/** The reason a running job's signal is aborted with when it is cancelled (`SPOOL_JOB_CANCELLED`). */
export class JobCancelledError extends SpoolError {
  constructor() {
    super(errorCatalogue.JOB_CANCELLED, 'the job was cancelled');
  }
}

export class JobWorker {
  readonly #running = new Map<string, AbortController>();
  #consumer: QueueConsumer<JobTicket> | undefined;

  constructor(
    private readonly spool: Spool,
    private readonly attempts: JobAttempts,
    private readonly type: ResolvedJobType,
    private readonly handler: JobHandler<JsonValue, JsonValue>,
    private readonly limiter: RateLimiter | null,
    private readonly cancelCheckMs: number,
    private readonly breaker: CircuitBreaker | null,
  ) {}

  async start(): Promise<void> {
    const queue = await this.spool.queue<JobTicket>(jobQueueName(this.type.name));
    this.#consumer = queue.process((message) => this.#run(message), {
      concurrency: this.type.concurrency,
      ack: 'manual',
      visibilityTimeoutMs: this.type.leaseMs,
      worker: { kind: 'job-worker', serves: { jobTypes: [this.type.name] } },
      onError: (error, message) => {
        if (error instanceof RetryAfterError) return;
        this.spool.logger.error(
          { jobType: this.type.name, ...(message ? messageFields(message) : {}), err: error },
          'job worker error',
        );
      },
    });
  }

  /** Aborts the job if it runs here; resolves whether it did. */
  abort(jobId: string): boolean {
    const controller = this.#running.get(jobId);
    controller?.abort(new JobCancelledError());
    return controller !== undefined;
  }

  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.#consumer?.close(options);
  }

  async #run(message: Message<JobTicket>): Promise<void> {
    const { limiter } = this;
    const attempt = await beginWithinLimits(
      this.spool,
      this.attempts,
      this.type,
      message,
      limiter &&
        (async (keyOf) => {
          const { name, rateLimit } = this.type;
          const key = rateLimit?.perKey ? await keyOf() : null;
          const waitMs = limiter.take(key);
          // Not yet: the ticket goes back, uncounted, with the wait as its delay; the job stays queued.
          if (waitMs > 0 && rateLimit) {
            throw new LimitReachedError(`job type "${name}" is at its rateLimit`, waitMs, {
              jobType: name,
              option: 'rateLimit',
              limit: rateLimit.limit,
              intervalMs: rateLimit.intervalMs,
              key,
            });
          }
        }),
    );
    if (!attempt) return;
    await this.#execute(attempt, message.headers);
  }

  /** Runs one attempt; `headers` are its ticket's, which carry the job's trace context. */
  async #execute(attempt: ActiveAttempt, headers: Readonly<Record<string, string>>): Promise<void> {
    const { job } = attempt;
    // The ticket's process span (see queue.process) is this attempt's span: name the job on it.
    activeSpan()?.setAttributes({
      [SpoolAttributes.jobId]: job.id,
      [SpoolAttributes.jobType]: job.type,
      [SpoolAttributes.attempt]: job.attempts,
    });
    const { logger } = this.spool;
    const controller = new AbortController();
    this.#running.set(job.id, controller);
    const { clock } = this.spool;
    const timer = clock.setTimer(
      () => controller.abort(new JobTimeoutError(this.type.timeoutMs)),
      this.type.timeoutMs,
    );
    // A cancel made by another process only shows in the store: look every cancelCheckMs.
    let finished = false;
    let cancelCheck: TimerHandle | undefined;
    const scheduleCheck = () => {
      if (finished || controller.signal.aborted) return;
      cancelCheck = clock.setTimer(() => {
        void this.spool.store.getJob(job.id).then((current) => {
          if (current?.status === 'cancelled') controller.abort(new JobCancelledError());
          else scheduleCheck();
        }, scheduleCheck);
      }, this.cancelCheckMs);
    };
    scheduleCheck();
    try {
      const context: JobContext = {
        signal: controller.signal,
        attempt: job.attempts,
        progress: async (progress, data) => {
          await this.attempts.progress(job.id, progress, data);
        },
        log: async (message, level = 'info') => {
          await this.attempts.log(job.id, [{ message, level }]);
        },
        children: async () => {
          const page = await this.spool.store.listJobs({ parentId: job.id }, { limit: 1000 });
          return page.items.map((child) => toJob(child));
        },
      };
      const aborted = new Promise<never>((_, reject) => {
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), {
          once: true,
        });
      });
      aborted.catch(() => undefined);
      let result: unknown;
      try {
        const { breaker } = this;
        const run = () => this.handler(toJob(job), context);
        result = await Promise.race([breaker ? breaker.run(run) : run(), aborted]);
      } catch (error) {
        if (error instanceof JobCancelledError) {
          // The cancel already wrote the job's final state; only the ticket is left to settle.
          await attempt.message.ack().catch(() => undefined);
          return;
        }
        if (error instanceof JobSuspension) {
          await this.attempts.suspend(attempt, error);
          return;
        }
        if (error instanceof CircuitOpenError) {
          // The call was not made: the job waits for the breaker without using an attempt.
          const wakeAt = this.spool.clock.now() + error.retryAfterMs;
          await this.attempts.suspend(attempt, new JobSuspension(wakeAt, () => Promise.resolve(false)));
          return;
        }
        if (error instanceof JobOutcome) {
          await this.attempts.end(attempt, error);
          return;
        }
        markFailed(activeSpan(), error);
        const failed = await this.attempts.fail(attempt, error, this.type);
        if (failed?.status === 'dead') {
          logger.warn({ ...jobFields(job, headers), attempt: job.attempts, err: error }, 'job dead');
        } else if (logger.isLevelEnabled('debug')) {
          logger.debug({ ...jobFields(job, headers), attempt: job.attempts, err: error }, 'job failed');
        }
        return;
      }
      await this.attempts.succeed(attempt, result);
      if (logger.isLevelEnabled('debug')) {
        logger.debug({ ...jobFields(job, headers), attempt: job.attempts }, 'job completed');
      }
    } finally {
      finished = true;
      clock.clearTimer(timer);
      if (cancelCheck) clock.clearTimer(cancelCheck);
      this.#running.delete(job.id);
    }
  }
}
