/**
 * Remote workers' claims: leases up to `max` runnable jobs of some types, waiting for one up to
 * `waitMs`. Each claimed job is `active` until its worker completes or fails it, or its lease runs
 * out without a heartbeat — then it is run again.
 *
 * A claim starts jobs under the limits across processes (`globalRateLimit`, `globalConcurrency`,
 * `keyConcurrency`) of the types this process defines, as the type's own workers do
 * (start-limits.ts). A job a limit holds back — or one that is not due yet — is not in the answer:
 * its ticket goes back uncounted for the wait, and the claim goes on with the others.
 */
import { InvalidArgumentError, RetryAfterError } from '../core/errors.js';
import { jobDefaults } from '../core/options.js';
import type { Message } from '../engine/received-message.js';
import type { Spool } from '../engine/spool.js';
import { traceContextHeaders } from '../telemetry/tracing.js';
import { type ActiveAttempt, type JobAttempts, type JobTicket, jobQueueName } from './job-attempts.js';
import { type Job, toJob } from './job.js';
import type { ResolvedJobType } from './job-types.js';
import { beginWithinLimits } from './start-limits.js';

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

/** Options of a remote worker's claim (`jobs.claim`). */
export interface ClaimOptions {
  max?: number;
  waitMs?: number;
  leaseMs?: number;
  signal?: AbortSignal;
  /**
   * Hears of each job found but held back — by a limit (`LimitReachedError`, which names it) or
   * because it is not due yet — whose ticket went back for the error's `retryAfterMs`.
   */
  onHeldBack?: (error: RetryAfterError) => void;
}

/**
 * Claims for a remote worker; the ticket queues of `types` exist already. `typeOf` answers the
 * types this process defines, whose limits apply (null: none).
 */
export async function claimJobs(
  spool: Spool,
  attempts: JobAttempts,
  types: readonly string[],
  options: ClaimOptions,
  closed: () => boolean,
  typeOf: (type: string) => ResolvedJobType | null = () => null,
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
  // A start that failed for another reason than a wait: thrown if the claim has nothing to answer.
  let failed: Error | undefined;
  for (;;) {
    for (const [typeIndex, queue] of queues.entries()) {
      if (leased.length >= max) break;
      const messages = await queue.receive({ max: max - leased.length, visibilityTimeoutMs: leaseMs });
      const type = typeOf(types[typeIndex]!);
      // Started together, so they share one transaction (after their rate tokens, if any).
      const { started, failure } = await startEach(
        messages,
        (message) => beginWithinLimits(spool, attempts, type, message),
        options.onHeldBack,
      );
      failed ??= failure;
      for (const { message, attempt } of started) {
        leased.push({
          job: toJob(attempt.job),
          lease: `${message.queue}/${message.receipt}`,
          leaseExpiresAt: message.leaseExpiresAt,
          ...traceContextHeaders(message.headers),
        });
      }
    }
    if (failed !== undefined) {
      if (leased.length === 0) throw failed;
      spool.logger.error({ err: failed }, 'a claimed job could not start; its ticket went back');
      return leased;
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

/**
 * Starts each of `messages` with `begin`, one failure not failing the others: a job held back
 * (a `RetryAfterError`: a limit, or not due) has its ticket released uncounted for the wait and
 * is reported to `onHeldBack`; any other failure releases its ticket at once and is answered as
 * `failure` (the first), beside the jobs that did start, so that those are never stranded.
 */
async function startEach(
  messages: readonly Message<JobTicket>[],
  begin: (message: Message<JobTicket>) => Promise<ActiveAttempt | null>,
  onHeldBack: ((error: RetryAfterError) => void) | undefined,
): Promise<{
  started: { message: Message<JobTicket>; attempt: ActiveAttempt }[];
  failure: Error | undefined;
}> {
  const outcomes = await Promise.allSettled(messages.map(begin));
  const started: { message: Message<JobTicket>; attempt: ActiveAttempt }[] = [];
  let failure: Error | undefined;
  await Promise.all(
    outcomes.map(async (outcome, index) => {
      const message = messages[index]!;
      if (outcome.status === 'fulfilled') {
        if (outcome.value) started.push({ message, attempt: outcome.value });
        return;
      }
      const error = outcome.reason as unknown;
      if (error instanceof RetryAfterError) {
        // A release that fails leaves the ticket to come back when its lease runs out.
        await message.release({ delayMs: Math.max(0, error.retryAfterMs) }).catch(() => undefined);
        onHeldBack?.(error);
        return;
      }
      failure ??=
        error instanceof Error ? error : new Error('a claimed job could not start', { cause: error });
      await message.release().catch(() => undefined);
    }),
  );
  return { started, failure };
}
