/**
 * Rate limits for job types: at most `limit` starts per `intervalMs`, per type and optionally per
 * job key (e.g. per customer). A token bucket per (type, key), refilled continuously, so bursts up
 * to `limit` pass and the long-run rate is `limit / intervalMs`.
 *
 * The buckets live in the worker process: with several processes working one type, each applies
 * the limit to its own starts.
 */
import type { Clock } from '../core/clock.js';

export interface RateLimit {
  /** Starts allowed per interval. */
  readonly limit: number;
  readonly intervalMs: number;
  /** Apply the limit to each job key separately (jobs without a key share one bucket). */
  readonly perKey?: boolean;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {}

  /** Takes a token for `key` and resolves 0, or returns how long to wait (ms) for one. */
  take(key: string | null): number {
    const bucketKey = this.limit.perKey ? (key ?? '') : '';
    const now = this.clock.now();
    const rate = this.limit.limit / this.limit.intervalMs;
    const bucket = this.#buckets.get(bucketKey) ?? { tokens: this.limit.limit, updatedAt: now };
    bucket.tokens = Math.min(this.limit.limit, bucket.tokens + (now - bucket.updatedAt) * rate);
    bucket.updatedAt = now;
    this.#buckets.set(bucketKey, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / rate);
  }
}
