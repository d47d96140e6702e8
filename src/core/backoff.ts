/**
 * Retry delays: exponential backoff with a cap and jitter. Full jitter (a uniform draw between
 * zero and the exponential delay) is the default because it spreads retries of a failure burst
 * best; see "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015).
 */

/** How retry delays grow. */
export interface BackoffOptions {
  /**
   * Delay before the first retry, before jitter.
   * @defaultValue 1000
   */
  baseMs: number;
  /**
   * The largest delay, before jitter.
   * @defaultValue 300000 (5 minutes)
   */
  capMs: number;
  /**
   * `full`: uniform in [0, d]; `equal`: uniform in [d/2, d]; `none`: exactly d.
   * @defaultValue 'full'
   */
  jitter: 'full' | 'equal' | 'none';
}

export const defaultBackoff: Readonly<BackoffOptions> = Object.freeze({
  baseMs: 1000,
  capMs: 300_000,
  jitter: 'full',
});

/**
 * The delay before retry number `attempt` (1 for the first retry).
 * @param random - a source of numbers in [0, 1); injectable so tests are deterministic.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = defaultBackoff,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 52);
  const delay = Math.min(options.capMs, options.baseMs * 2 ** exponent);
  switch (options.jitter) {
    case 'full':
      return Math.floor(random() * delay);
    case 'equal':
      return Math.floor(delay / 2 + random() * (delay / 2));
    case 'none':
      return delay;
  }
}
