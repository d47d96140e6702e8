/**
 * The last hour of the stats document, kept by the server so the dashboard's charts start from
 * history on every page load instead of from empty (`GET /v1/stats/history`).
 *
 * A sample is the whole document (`StatsSnapshot`: depths, lag, job counts, the `*Total`
 * counters and processing quantiles) taken every `intervalMs` — 10 s, 360 samples an hour. A
 * sample grows with the number of queues, topics and job types, so the history also keeps at
 * most `maxEntries` of those over all its samples (oldest dropped first): a few dozen queues keep
 * the whole hour, a thousand keep the last few minutes, and memory stays bounded either way. Rates are what a reader computes between two
 * samples' counters, as the dashboard already does between live ones; a restart of the server
 * starts the counters and the history over (`startedAt` says so). Not persisted: it is a view of
 * this process, like the counters it holds.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { StatsSnapshot } from './stats.js';

export interface StatsSample {
  /** When the sample was taken (epoch ms). */
  readonly at: number;
  readonly stats: StatsSnapshot;
}

export interface StatsHistoryOptions {
  /** @defaultValue 10000 */
  readonly intervalMs?: number;
  /** How far back samples are kept. @defaultValue 3600000 (1 hour) */
  readonly keepMs?: number;
  /** Queues + topics + job types kept over all samples. @defaultValue 20000 */
  readonly maxEntries?: number;
}

/** What a sample costs: one entry per queue, topic and job type, and one for the rest. */
function entriesOf(stats: StatsSnapshot): number {
  return stats.queues.length + stats.topics.length + stats.jobs.byType.length + 1;
}

export class StatsHistory {
  readonly intervalMs: number;
  readonly keepMs: number;
  readonly maxEntries: number;
  readonly #samples: StatsSample[] = [];
  #entries = 0;
  #timer: TimerHandle | undefined;
  #closed = false;

  constructor(
    private readonly take: () => Promise<StatsSnapshot>,
    private readonly clock: Clock,
    options: StatsHistoryOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.keepMs = options.keepMs ?? 3_600_000;
    this.maxEntries = options.maxEntries ?? 20_000;
  }

  /** Takes a sample now, then every `intervalMs` until `close()` (the clock's timers are unref'd). */
  start(): void {
    void this.#sample();
  }

  /** The samples taken at or after `since` (epoch ms), oldest first. */
  since(since: number): StatsSample[] {
    return this.#samples.filter((sample) => sample.at >= since);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) this.clock.clearTimer(this.#timer);
  }

  async #sample(): Promise<void> {
    if (this.#closed) return;
    try {
      const stats = await this.take();
      const at = this.clock.now();
      this.#samples.push({ at, stats });
      this.#entries += entriesOf(stats);
      const oldest = at - this.keepMs;
      while (this.#samples.length > 1 && (this.#samples[0]!.at < oldest || this.#entries > this.maxEntries)) {
        this.#entries -= entriesOf(this.#samples.shift()!.stats);
      }
    } catch {
      // A store hiccup leaves a gap in the history; the next sample may succeed.
    }
    if (!this.#closed) this.#timer = this.clock.setTimer(() => void this.#sample(), this.intervalMs);
  }
}
