/** The token bucket behind rate limits: the per-process one (src/jobs) and the stores' shared ones. */

/**
 * One take from a token bucket of `limit` tokens refilled evenly over `intervalMs` (full when
 * new): the bucket afterwards, and 0 when a token was taken or else how long until one is there.
 */
export function takeToken(
  bucket: { tokens: number; refilledAt: number } | null,
  limit: number,
  intervalMs: number,
  now: number,
): { tokens: number; refilledAt: number; waitMs: number } {
  const elapsed = bucket ? Math.max(0, now - bucket.refilledAt) : 0;
  const available = bucket ? Math.min(limit, bucket.tokens + (elapsed * limit) / intervalMs) : limit;
  if (available >= 1) return { tokens: available - 1, refilledAt: now, waitMs: 0 };
  return { tokens: available, refilledAt: now, waitMs: Math.ceil(((1 - available) * intervalMs) / limit) };
}
