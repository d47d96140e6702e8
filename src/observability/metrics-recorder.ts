/**
 * The counting side of metrics: an engine {@link Instrumentation} sink that keeps totals and
 * histograms per queue in plain numbers. Hooks run on the engine's hot paths, so each one is a
 * map lookup and a few increments; Prometheus exposition and the JSON stats read these numbers
 * when asked (metrics.ts, stats.ts).
 *
 * Everything here counts since the recorder was created (`startedAt`), in this process only:
 * several processes on one PostgreSQL store each count their own, as Prometheus expects (it sums
 * across instances).
 */
import type { Instrumentation, WebhookAttemptOutcome } from '../engine/instrumentation.js';
import {
  BucketHistogram,
  commitBatchSizeBuckets,
  commitDurationBuckets,
  endToEndBuckets,
  processingBuckets,
  RecentQuantiles,
} from './metrics-histogram.js';

/** What one queue did, as seen by this process. */
export class QueueCounters {
  /** Messages stored by sends (duplicates excluded). */
  sent = 0;
  acked = 0;
  /** Nacks for another delivery: handler failures and nacks before the last attempt. */
  retried = 0;
  deadLettered = 0;
  /** Handler run plus settlement, per message of `process()` consumers. */
  readonly processing = new BucketHistogram(processingBuckets);
  /** The same durations, last minute only, for p50/p99. */
  readonly recentProcessing = new RecentQuantiles();
  /** First send to ack, for acks that knew when the message was sent. */
  readonly endToEnd = new BucketHistogram(endToEndBuckets);
}

/** The webhook delivery outcomes, in a stable order (every one is exposed, zeros included). */
export const webhookOutcomes: readonly WebhookAttemptOutcome[] = [
  'delivered',
  'retrying',
  'dead-lettered',
  'skipped',
];

export class MetricsRecorder implements Instrumentation {
  /** When counting started (ms since epoch). */
  readonly startedAt: number;
  readonly #queues = new Map<string, QueueCounters>();
  readonly #now: () => number;
  /** Duration of each durable store commit. */
  readonly commitDuration = new BucketHistogram(commitDurationBuckets);
  /** Write operations each commit carried: the group-commit batching factor. */
  readonly commitBatchSize = new BucketHistogram(commitBatchSizeBuckets);
  readonly webhookAttempts = new Map<WebhookAttemptOutcome, number>(
    webhookOutcomes.map((outcome) => [outcome, 0]),
  );
  readonly webhookDuration = new BucketHistogram(processingBuckets);

  /** @param now - the time source for the one-minute windows (ms). @defaultValue Date.now */
  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.startedAt = now();
  }

  /** The counters of `queue` (created on first use). */
  queue(queue: string): QueueCounters {
    let counters = this.#queues.get(queue);
    if (!counters) {
      counters = new QueueCounters();
      this.#queues.set(queue, counters);
    }
    return counters;
  }

  /** Queues something was counted for, in first-seen order. */
  queues(): IterableIterator<[string, QueueCounters]> {
    return this.#queues.entries();
  }

  /** The time source of the windows, for readers that compute quantiles "now". */
  now(): number {
    return this.#now();
  }

  // --- Instrumentation -----------------------------------------------------------------------

  messagesSent(queue: string, count: number): void {
    this.queue(queue).sent += count;
  }

  messageAcked(queue: string, endToEndSeconds: number | undefined): void {
    const counters = this.queue(queue);
    counters.acked++;
    if (endToEndSeconds !== undefined) counters.endToEnd.observe(endToEndSeconds);
  }

  messageRetried(queue: string): void {
    this.queue(queue).retried++;
  }

  messageDeadLettered(queue: string): void {
    this.queue(queue).deadLettered++;
  }

  messageProcessed(queue: string, seconds: number): void {
    const counters = this.queue(queue);
    counters.processing.observe(seconds);
    counters.recentProcessing.observe(seconds, this.#now());
  }

  storeCommitted(seconds: number, operations: number): void {
    this.commitDuration.observe(seconds);
    this.commitBatchSize.observe(operations);
  }

  webhookAttempted(outcome: WebhookAttemptOutcome, seconds: number): void {
    this.webhookAttempts.set(outcome, (this.webhookAttempts.get(outcome) ?? 0) + 1);
    this.webhookDuration.observe(seconds);
  }
}
