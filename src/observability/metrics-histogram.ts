/**
 * Histogram accumulators fed from the engine's hot paths: an observation is a few number
 * increments, never an allocation (prom-client's own `observe` hashes its label set into a new
 * string on every call). Two kinds:
 *
 * - {@link BucketHistogram}: cumulative since start, with fixed upper bounds — what Prometheus
 *   scrapes (`_bucket{le}`, `_sum`, `_count`) and computes quantiles from with `histogram_quantile`.
 * - {@link RecentQuantiles}: the last minute only, with fine log-spaced buckets, for the p50/p99
 *   the JSON stats show ("how is it doing now", which a cumulative histogram cannot answer).
 */

/** Buckets for handler durations (seconds): 1 ms to 1 min. */
export const processingBuckets = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

/** Buckets for sent→acked latency (seconds): it includes delays and retry backoff, so up to an hour. */
export const endToEndBuckets = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
] as const;

/** Buckets for one durable commit (seconds): an fsync takes from tens of µs to tens of ms. */
export const commitDurationBuckets = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
] as const;

/** Buckets for write operations per commit: powers of two up to the SQLite batcher's cap. */
export const commitBatchSizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] as const;

/** Buckets for HTTP request durations (seconds). Long polls land in the top ones. */
export const httpDurationBuckets = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;

/** A cumulative histogram with fixed upper bounds (`le`), as Prometheus exposes it. */
export class BucketHistogram {
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const { bounds } = this;
    let index = 0;
    // A dozen bounds: a linear scan beats a binary search's branches.
    while (index < bounds.length && value > bounds[index]!) index++;
    this.#counts[index]!++;
    this.#sum += value;
    this.#count++;
  }

  get sum(): number {
    return this.#sum;
  }

  get count(): number {
    return this.#count;
  }

  /** Cumulative counts per bound (`le`), in bound order; `count` is the `+Inf` bucket. */
  cumulative(): number[] {
    let running = 0;
    return this.bounds.map((_bound, index) => (running += this.#counts[index]!));
  }
}

/** Log-spaced buckets of {@link RecentQuantiles}: 10 µs to ~3 h, 5 % apart (the quantile error). */
const recentMin = 0.00001;
const recentFactor = 1.05;
const recentBuckets = Math.ceil(Math.log(10_000 / recentMin) / Math.log(recentFactor)) + 1;
const logFactor = Math.log(recentFactor);

/**
 * Quantiles of the observations made in the last `windowMs`, within ±5 %. The window is a ring
 * of slots (six of 10 s for a minute); a slot is cleared when time comes back round to it, so
 * the window slides in slot steps and memory stays constant.
 */
export class RecentQuantiles {
  readonly #slotMs: number;
  readonly #slots: Float64Array[];
  /** Which slot number (time / slotMs) each ring position currently holds. */
  readonly #slotEpochs: Float64Array;

  constructor(options: { windowMs?: number; slots?: number } = {}) {
    const slots = options.slots ?? 6;
    this.#slotMs = (options.windowMs ?? 60_000) / slots;
    this.#slots = Array.from({ length: slots }, () => new Float64Array(recentBuckets));
    this.#slotEpochs = new Float64Array(slots).fill(-1);
  }

  /** Records `value` observed at `nowMs` (ms; any monotonic-enough clock). */
  observe(value: number, nowMs: number): void {
    const epoch = Math.floor(nowMs / this.#slotMs);
    const position = epoch % this.#slots.length;
    const slot = this.#slots[position]!;
    if (this.#slotEpochs[position] !== epoch) {
      slot.fill(0);
      this.#slotEpochs[position] = epoch;
    }
    slot[bucketOf(value)]!++;
  }

  /**
   * The `q` quantile (0..1) of the observations of the window ending at `nowMs`, as the upper
   * bound of the bucket holding it; null when there were none.
   */
  quantile(q: number, nowMs: number): number | null {
    return this.quantiles([q], nowMs)[0] ?? null;
  }

  /** Several quantiles in one pass over the window. */
  quantiles(qs: readonly number[], nowMs: number): (number | null)[] {
    const epoch = Math.floor(nowMs / this.#slotMs);
    const merged = new Float64Array(recentBuckets);
    let total = 0;
    this.#slots.forEach((slot, position) => {
      const age = epoch - this.#slotEpochs[position]!;
      if (age < 0 || age >= this.#slots.length) return;
      for (let index = 0; index < recentBuckets; index++) {
        merged[index]! += slot[index]!;
        total += slot[index]!;
      }
    });
    return qs.map((q) => {
      if (total === 0) return null;
      const rank = Math.max(1, Math.ceil(q * total));
      let seen = 0;
      for (let index = 0; index < recentBuckets; index++) {
        seen += merged[index]!;
        if (seen >= rank) return upperBoundOf(index);
      }
      return upperBoundOf(recentBuckets - 1);
    });
  }
}

function bucketOf(value: number): number {
  if (!(value > recentMin)) return 0;
  return Math.min(recentBuckets - 1, Math.ceil(Math.log(value / recentMin) / logFactor));
}

function upperBoundOf(index: number): number {
  return recentMin * recentFactor ** index;
}
