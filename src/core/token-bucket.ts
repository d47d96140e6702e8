/** The token bucket behind rate limits: the per-process one (src/jobs) and the stores' shared ones. */

/** A bucket as kept: its tokens (a fraction while one refills) when it was last refilled. */
export interface TokenBucket {
  readonly tokens: number;
  readonly refilledAt: number;
}

/**
 * The tokens in a bucket of `limit` tokens refilled evenly over `intervalMs` at `now`, with
 * what refilled since it was kept; null (never used) is full.
 */
function tokensAt(bucket: TokenBucket | null, limit: number, intervalMs: number, now: number): number {
  if (!bucket) return limit;
  const elapsed = Math.max(0, now - bucket.refilledAt);
  return Math.min(limit, bucket.tokens + (elapsed * limit) / intervalMs);
}

/**
 * One take from a token bucket of `limit` tokens refilled evenly over `intervalMs` (full when
 * new): the bucket afterwards, and 0 when a token was taken or else how long until one is there.
 */
export function takeToken(
  bucket: TokenBucket | null,
  limit: number,
  intervalMs: number,
  now: number,
): { tokens: number; refilledAt: number; waitMs: number } {
  const available = tokensAt(bucket, limit, intervalMs, now);
  if (available >= 1) return { tokens: available - 1, refilledAt: now, waitMs: 0 };
  return { tokens: available, refilledAt: now, waitMs: Math.ceil(((1 - available) * intervalMs) / limit) };
}

/** What a bucket lets through at a moment, read without taking anything (see {@link bucketBudget}). */
export interface BucketBudget {
  /** Whole tokens there now: how many takes succeed at once. */
  readonly remaining: number;
  /**
   * How long until the next whole token is there (0 < it <= intervalMs / limit): within it, no
   * more than `remaining` takes succeed. For a full bucket, counted from when one is taken.
   */
  readonly nextTokenMs: number;
  /** How long until the bucket is full again without takes (0: it is full). */
  readonly fullMs: number;
}

/** The budget of a bucket of `limit` tokens refilled evenly over `intervalMs`, at `now`. */
export function bucketBudget(
  bucket: TokenBucket | null,
  limit: number,
  intervalMs: number,
  now: number,
): BucketBudget {
  const available = tokensAt(bucket, limit, intervalMs, now);
  const remaining = Math.floor(available);
  const perTokenMs = intervalMs / limit;
  return {
    remaining,
    nextTokenMs: Math.max(1, Math.ceil((1 - (available - remaining)) * perTokenMs)),
    fullMs: Math.max(0, Math.ceil((limit - available) * perTokenMs)),
  };
}
