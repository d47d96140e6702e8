/**
 * Rate limits for job types: at most `limit` starts per `intervalMs`, per type and optionally per
 * job key (e.g. per customer). A token bucket per (type, key), refilled continuously, so bursts up
 * to `limit` pass and the long-run rate is `limit / intervalMs`.
 *
 * The buckets live in the worker process: with several processes working one type, each applies
 * the limit to its own starts.
 */
import type { Clock } from '../core/clock.js';
import { takeToken } from '../core/token-bucket.js';

export interface RateLimit {
  /** Starts allowed per interval. */
  readonly limit: number;
  readonly intervalMs: number;
  /** Apply the limit to each job key separately (jobs without a key share one bucket). */
  readonly perKey?: boolean;
}

export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; refilledAt: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {}

  /** Takes a token for `key` and resolves 0, or returns how long to wait (ms) for one. */
  take(key: string | null): number {
    const bucketKey = this.limit.perKey ? (key ?? '') : '';
    const taken = takeToken(
      this.#buckets.get(bucketKey) ?? null,
      this.limit.limit,
      this.limit.intervalMs,
      this.clock.now(),
    );
    this.#buckets.set(bucketKey, { tokens: taken.tokens, refilledAt: taken.refilledAt });
    return taken.waitMs;
  }
}
