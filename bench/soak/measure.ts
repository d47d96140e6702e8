/** Counting and pacing for the soak: a mergeable latency histogram, per-seq ledgers, a token bucket. */
import { performance } from 'node:perf_hooks';

/** Relative width of a histogram bucket: percentiles are exact to within 2 %. */
const growth = 1.02;
const smallestMs = 0.001;
const bucketCount = Math.ceil(Math.log(1e7 / smallestMs) / Math.log(growth)) + 1;

/**
 * A latency histogram in ms with log-spaced buckets (2 % wide, 1 µs – 10,000 s): constant memory
 * however many values it holds, and two of them merge exactly, so per-sample histograms add up to
 * a phase's. Percentiles answer a bucket's upper edge (never below the true value, at most 2 % over)
 * capped at the largest value seen.
 */
export class LatencyHistogram {
  readonly counts = new Uint32Array(bucketCount);
  count = 0;
  max = 0;
  sum = 0;

  record(ms: number): void {
    const value = Math.max(ms, 0);
    const index =
      value <= smallestMs
        ? 0
        : Math.min(bucketCount - 1, Math.ceil(Math.log(value / smallestMs) / Math.log(growth)));
    this.counts[index]!++;
    this.count++;
    this.sum += value;
    if (value > this.max) this.max = value;
  }

  merge(other: LatencyHistogram): this {
    for (let i = 0; i < bucketCount; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
    return this;
  }

  /** The `p`-th percentile (0–100), nearest rank; NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < bucketCount; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, smallestMs * growth ** i);
    }
    return this.max;
  }

  static merged(histograms: Iterable<LatencyHistogram>): LatencyHistogram {
    const total = new LatencyHistogram();
    for (const histogram of histograms) total.merge(histogram);
    return total;
  }
}

const chunkSize = 1 << 20;

/**
 * One byte per sequence number, growing in 1 MiB chunks: a saturating counter (0–255) for
 * "how often was seq n seen". Seven million messages an hour cost 7 MB.
 */
export class SeqCounter {
  readonly #chunks: Uint8Array[] = [];

  /** Adds one to `seq`'s counter (stays at 255); answers the counter before. */
  increment(seq: number): number {
    const chunk = this.#chunk(seq);
    const before = chunk[seq % chunkSize]!;
    if (before < 255) chunk[seq % chunkSize] = before + 1;
    return before;
  }

  get(seq: number): number {
    return this.#chunks[Math.floor(seq / chunkSize)]?.[seq % chunkSize] ?? 0;
  }

  #chunk(seq: number): Uint8Array {
    const index = Math.floor(seq / chunkSize);
    while (this.#chunks.length <= index) this.#chunks.push(new Uint8Array(chunkSize));
    return this.#chunks[index]!;
  }
}

interface Waiter {
  readonly max: number;
  readonly resolve: (tokens: number) => void;
}

/**
 * Paces many senders at one rate: tokens accrue at `rate` per second up to `burst`; `take(max)`
 * resolves with 1 to `max` tokens as soon as one is there, first come first served, from one timer
 * (not one per waiting sender). When every sender is busy, tokens pile up only to `burst`, so a
 * server that cannot keep up sees its own pace instead of an ever-growing burst.
 */
export class TokenBucket {
  #tokens = 0;
  #last = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #waiters: Waiter[] = [];

  constructor(
    readonly rate: number,
    readonly burst: number,
  ) {}

  /** Resolves with how many tokens were taken (at least 1), or 0 once stopped. */
  take(max: number): Promise<number> {
    if (this.#stopped) return Promise.resolve(0);
    return new Promise((resolve) => {
      this.#waiters.push({ max, resolve });
      this.#pump();
    });
  }

  /** Wakes every waiter with 0; later takes answer 0 at once. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(0);
  }

  #pump(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    const now = performance.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.rate) / 1000);
    this.#last = now;
    while (this.#waiters.length > 0 && this.#tokens >= 1) {
      const waiter = this.#waiters.shift()!;
      const granted = Math.min(waiter.max, Math.floor(this.#tokens));
      this.#tokens -= granted;
      waiter.resolve(granted);
    }
    if (this.#waiters.length === 0) return;
    const waitMs = Math.max(1, ((1 - this.#tokens) * 1000) / this.rate);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, waitMs);
  }
}
