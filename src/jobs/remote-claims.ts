/**
 * Remote workers' claims: leases up to `max` runnable jobs of some types, waiting for one up to
 * `waitMs`. Each claimed job is `active` until its worker completes or fails it, or its lease runs
 * out without a heartbeat — then it is run again.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { jobDefaults } from '../core/options.js';
import type { Spool } from '../engine/spool.js';
import { traceContextHeaders } from '../telemetry/tracing.js';
import { type JobAttempts, type JobTicket, jobQueueName } from './job-attempts.js';
import { type Job, toJob } from './job.js';

/** A job leased to a remote worker: settle it with its `lease`. */
export interface LeasedJob {
  readonly job: Job;
  /** Proof of the lease (the ticket's receipt and queue). */
  readonly lease: string;
  readonly leaseExpiresAt: Date;
  /** The job's trace context (W3C), for the remote worker to continue the trace the add began. */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/** Job types under this prefix are Spool's own (`spool.workflow.<name>`: workflow runs). */
const ownTypePrefix = 'spool.';

/** Claims for a remote worker; the ticket queues of `types` exist already. */
export async function claimJobs(
  spool: Spool,
  attempts: JobAttempts,
  types: readonly string[],
  options: { max?: number; waitMs?: number; leaseMs?: number; signal?: AbortSignal },
  closed: () => boolean,
): Promise<LeasedJob[]> {
  const own = types.find((type) => type.startsWith(ownTypePrefix));
  if (own !== undefined) {
    throw new InvalidArgumentError(
      `job type "${own}" is Spool's own (the runs of a workflow): they run in the processes that define the workflow, never in a remote worker; claim your own job types`,
      { field: 'types' },
    );
  }
  const max = options.max ?? 1;
  const leaseMs = options.leaseMs ?? jobDefaults.leaseMs;
  const deadline = spool.clock.now() + (options.waitMs ?? 0);
  const queues = await Promise.all(types.map((type) => spool.queue<JobTicket>(jobQueueName(type))));
  const leased: LeasedJob[] = [];
  for (;;) {
    for (const queue of queues) {
      if (leased.length >= max) break;
      const messages = await queue.receive({ max: max - leased.length, visibilityTimeoutMs: leaseMs });
      // Started together, so they share one transaction.
      const started = await Promise.all(messages.map((message) => attempts.begin(message)));
      for (const [index, attempt] of started.entries()) {
        if (!attempt) continue;
        const message = messages[index]!;
        leased.push({
          job: toJob(attempt.job),
          lease: `${message.queue}/${message.receipt}`,
          leaseExpiresAt: message.leaseExpiresAt,
          ...traceContextHeaders(message.headers),
        });
      }
    }
    const left = deadline - spool.clock.now();
    if (leased.length > 0 || left <= 0 || options.signal?.aborted || closed()) return leased;
    await spool.waitForWrites(
      { queues: queues.map((queue) => queue.name) },
      Math.min(left, 1_000),
      options.signal,
    );
  }
}
