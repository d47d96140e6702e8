/**
 * The limits a job type puts on its jobs' starts in every process on the store together —
 * `globalRateLimit` (a token bucket in the store), `globalConcurrency` and `keyConcurrency`
 * (slots taken in the start's transaction) — applied alike by the type's in-process workers
 * (job-worker.ts) and by the claims of remote workers (remote-claims.ts); and the read of a rate
 * limit's budget without taking from it.
 */
import { bucketBudget } from '../core/token-bucket.js';
import { LimitReachedError } from '../core/wait-errors.js';
import type { Message } from '../engine/received-message.js';
import type { Spool } from '../engine/spool.js';
import type { ActiveAttempt, JobAttempts, JobTicket } from './job-attempts.js';
import { RateLimitNotFoundError } from './job-errors.js';
import type { ResolvedJobType } from './job-types.js';
import type { RateLimit } from './rate-limiter.js';

/** The store's bucket of a type's `globalRateLimit`: one per type, or per type and job key. */
export function rateBucketName(type: string, key: string | null): string {
  return `job:${type}${key === null ? '' : `:${key}`}`;
}

/**
 * Starts the job `message` points to under `type`'s limits across processes: a token of its
 * `globalRateLimit` first (in a unit of its own, see `takeRateToken`), then `local` (an in-process
 * worker's own `rateLimit`), then the start's transaction, which takes its `globalConcurrency`
 * and `keyConcurrency` slots. Throws `LimitReachedError` when a limit refuses: nothing started,
 * and the ticket is to be released uncounted for `retryAfterMs`. A type this process does not
 * define (`null`) starts without limits. Resolves as `attempts.begin` does.
 */
export async function beginWithinLimits(
  spool: Spool,
  attempts: JobAttempts,
  type: ResolvedJobType | null,
  message: Message<JobTicket>,
  local: ((keyOf: () => Promise<string | null>) => Promise<void>) | null = null,
): Promise<ActiveAttempt | null> {
  if (!type) return attempts.begin(message);
  // The job's key, read at most once, and only for a limit per key.
  let key: Promise<string | null> | undefined;
  const keyOf = () => (key ??= spool.store.getJob(message.body.jobId).then((job) => job?.key ?? null));
  const global = type.globalRateLimit;
  if (global) {
    const perKey = global.perKey ? await keyOf() : null;
    const waitMs = await spool.store.takeRateToken(
      rateBucketName(type.name, perKey),
      global.limit,
      global.intervalMs,
    );
    if (waitMs > 0) {
      throw new LimitReachedError(`job type "${type.name}" is at its globalRateLimit`, waitMs, {
        jobType: type.name,
        option: 'globalRateLimit',
        limit: global.limit,
        intervalMs: global.intervalMs,
        key: perKey,
      });
    }
  }
  if (local) await local(keyOf);
  return attempts.begin(message, type);
}

/** What a job type's `globalRateLimit` lets start now, in every process together. */
export interface RateLimitBudget {
  readonly type: string;
  /** The job key whose bucket this is (`perKey`); null for the type's one bucket. */
  readonly key: string | null;
  readonly limit: number;
  readonly intervalMs: number;
  readonly perKey: boolean;
  /** Jobs that may start at once now. */
  readonly remaining: number;
  /** Until the next start is allowed after `remaining` (ms): within it, no more than `remaining` start. */
  readonly nextTokenMs: number;
  /** Until the budget is back at `limit` if nothing starts (ms; 0: it is). */
  readonly resetMs: number;
}

/** Options of `jobs.rateBudget`. */
export interface RateBudgetOptions {
  /** The job key whose budget to read, for a `perKey` limit (ignored otherwise). */
  key?: string | null;
  /** The type's `globalRateLimit`, for a type this process does not define. */
  globalRateLimit?: RateLimit;
}

/**
 * The budget of `rate` (job type `type`'s `globalRateLimit`) for job key `key` — the type's
 * bucket without `perKey`, whatever the key — read from the store, taking nothing. No `rate`:
 * `RateLimitNotFoundError`.
 */
export async function readRateBudget(
  spool: Spool,
  type: string,
  rate: RateLimit | null | undefined,
  key: string | null,
): Promise<RateLimitBudget> {
  if (!rate) throw new RateLimitNotFoundError(type);
  const perKey = rate.perKey === true;
  const bucketKey = perKey ? key : null;
  const bucket = await spool.store.readRateBucket(rateBucketName(type, bucketKey));
  const budget = bucketBudget(bucket, rate.limit, rate.intervalMs, spool.clock.now());
  return {
    type,
    key: bucketKey,
    limit: rate.limit,
    intervalMs: rate.intervalMs,
    perKey,
    remaining: budget.remaining,
    nextTokenMs: budget.nextTokenMs,
    resetMs: budget.fullMs,
  };
}
