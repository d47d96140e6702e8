/**
 * The numbers of one Spool at a glance, as one JSON document: depths and oldest age per queue
 * with what this process counted for it, end offsets and consumer-group lag per topic, jobs by
 * type and state, and the firing alerts. `GET /v1/stats` (and its SSE stream), the dashboard and
 * `spool stats` show it; the Prometheus gauges (metrics.ts) are read from the same snapshot.
 *
 * State that lives in the store (depths, offsets, job counts) is read at most once per
 * `cacheMs` (1 s): a fast scraper, several dashboards and `/metrics` together cost the store one
 * round of reads per second, whatever they ask. Callers arriving while a read is running share it.
 * Counters (sent, acked, …) come from the process's {@link MetricsRecorder} and are always current.
 */
import type { Spool } from '../engine/spool.js';
import { jobQueuePrefix } from '../engine/reserved-names.js';
import { jobStatuses } from '../jobs/job-states.js';
import type { JobStatus } from '../store/port.js';
import type { AlertWire } from './alerts-schema.js';
import type { MetricsRecorder } from './metrics-recorder.js';

/** One queue in {@link StatsSnapshot}. */
export interface QueueSnapshot {
  readonly name: string;
  readonly ready: number;
  readonly delayed: number;
  readonly inFlight: number;
  /** In the dead-letter queue. */
  readonly deadLettered: number;
  /** Age of the oldest message in the queue (any state); null when the queue is empty. */
  readonly oldestMessageAgeSeconds: number | null;
  /** Paused: it takes sends and delivers nothing until resumed. */
  readonly paused: boolean;
  /** Counted by this process since `startedAt`. */
  readonly sentTotal: number;
  readonly ackedTotal: number;
  readonly retriedTotal: number;
  readonly deadLetteredTotal: number;
  /** Handler run plus settlement of `process()` consumers in this process over the last 60 s (±5 %). */
  readonly processingSeconds: { readonly p50: number | null; readonly p99: number | null };
}

/** One topic in {@link StatsSnapshot}. */
export interface TopicSnapshot {
  readonly name: string;
  readonly partitions: { readonly partition: number; readonly endOffset: number }[];
  readonly groups: {
    readonly name: string;
    /** Events published but not yet committed by the group, over all partitions. */
    readonly lag: number;
    readonly partitions: {
      readonly partition: number;
      /** The next offset the group will read. */
      readonly committedOffset: number;
      readonly lag: number;
    }[];
  }[];
}

export type JobCountsByState = Record<JobStatus, number>;

/** The document of `GET /v1/stats`. */
export interface StatsSnapshot {
  /** When the store state was read (ISO 8601). */
  readonly time: string;
  /** When this process started counting the totals (ISO 8601). */
  readonly startedAt: string;
  readonly queues: QueueSnapshot[];
  readonly topics: TopicSnapshot[];
  readonly jobs: {
    readonly byState: JobCountsByState;
    readonly byType: {
      readonly type: string;
      readonly byState: JobCountsByState;
      readonly paused: boolean;
    }[];
  };
  /** Firing alerts; empty when none fire or no alert rules are configured. */
  readonly alerts: AlertWire[];
}

/** What the store says, read at most once per cache period. */
interface StoreState {
  readonly readAt: number;
  readonly queues: readonly {
    readonly name: string;
    readonly ready: number;
    readonly delayed: number;
    readonly inFlight: number;
    readonly deadLettered: number;
    readonly oldestAgeMs: number;
    readonly paused: boolean;
  }[];
  readonly topics: TopicSnapshot[];
  readonly jobs: StatsSnapshot['jobs'];
}

export interface StatsCollectorOptions {
  readonly spool: Spool;
  readonly recorder: MetricsRecorder;
  /** How long store reads are reused. @defaultValue 1000 */
  readonly cacheMs?: number;
}

export class StatsCollector {
  readonly #spool: Spool;
  readonly #recorder: MetricsRecorder;
  readonly #cacheMs: number;
  #cached: StoreState | undefined;
  /** When the cached state was read, on the monotonic clock: a test clock must not freeze the cache. */
  #cachedAt = 0;
  #reading: Promise<StoreState> | undefined;

  constructor(options: StatsCollectorOptions) {
    this.#spool = options.spool;
    this.#recorder = options.recorder;
    this.#cacheMs = options.cacheMs ?? 1000;
  }

  /**
   * The whole document: store state (cached up to `cacheMs`) and current counters, with the
   * firing `alerts` given (the server passes its alert evaluator's; none without one).
   */
  async snapshot(options: { alerts?: readonly AlertWire[]; fresh?: boolean } = {}): Promise<StatsSnapshot> {
    // `fresh` (the history's samples) reads the store now and leaves the cache alone, so a
    // background sample never makes a caller's next read a second stale.
    const state = options.fresh ? await this.#read() : await this.storeState();
    const now = this.#recorder.now();
    const recorder = this.#recorder;
    return {
      time: new Date(state.readAt).toISOString(),
      startedAt: new Date(recorder.startedAt).toISOString(),
      queues: state.queues.map((queue) => {
        const counters = recorder.queue(queue.name);
        const [p50, p99] = counters.recentProcessing.quantiles([0.5, 0.99], now);
        const empty = queue.ready + queue.delayed + queue.inFlight === 0;
        return {
          name: queue.name,
          ready: queue.ready,
          delayed: queue.delayed,
          inFlight: queue.inFlight,
          deadLettered: queue.deadLettered,
          oldestMessageAgeSeconds: empty ? null : queue.oldestAgeMs / 1000,
          paused: queue.paused,
          sentTotal: counters.sent,
          ackedTotal: counters.acked,
          retriedTotal: counters.retried,
          deadLetteredTotal: counters.deadLettered,
          processingSeconds: { p50: roundSeconds(p50 ?? null), p99: roundSeconds(p99 ?? null) },
        };
      }),
      topics: state.topics,
      jobs: state.jobs,
      alerts: [...(options.alerts ?? [])],
    };
  }

  /** The store-side state, from the cache when it is fresh enough. */
  storeState(): Promise<StoreState> {
    const cached = this.#cached;
    if (cached && performance.now() - this.#cachedAt < this.#cacheMs) return Promise.resolve(cached);
    this.#reading ??= this.#read().then(
      (state) => {
        this.#cached = state;
        this.#cachedAt = performance.now();
        this.#reading = undefined;
        return state;
      },
      (error: unknown) => {
        this.#reading = undefined;
        throw error;
      },
    );
    return this.#reading;
  }

  async #read(): Promise<StoreState> {
    const spool = this.#spool;
    const { store } = spool;
    const [queueConfigs, topicConfigs, jobCounts] = await Promise.all([
      spool.listQueues(),
      spool.listTopics(),
      store.countJobs(),
    ]);
    const [queues, topics] = await Promise.all([
      // A queue or topic deleted between the listing and its read is skipped, not an error.
      Promise.all(queueConfigs.map((config) => store.queueStats(config.name).catch(() => null))),
      Promise.all(topicConfigs.map((config) => this.#readTopic(config.name).catch(() => null))),
    ]);
    const read = queues
      .filter((stats) => stats !== null)
      .map((stats) => ({
        name: stats.queue,
        ready: stats.ready,
        delayed: stats.delayed,
        inFlight: stats.inFlight,
        deadLettered: stats.deadLettered,
        oldestAgeMs: stats.oldestAgeMs,
        paused: stats.pausedAt !== null,
      }));
    // A job type is paused when its ticket queue is.
    const pausedTypes = new Set(
      read
        .filter((queue) => queue.paused && queue.name.startsWith(jobQueuePrefix))
        .map((queue) => queue.name.slice(jobQueuePrefix.length)),
    );
    return {
      readAt: spool.clock.now(),
      queues: read,
      topics: topics.filter((topic) => topic !== null),
      jobs: jobsByState(jobCounts, pausedTypes),
    };
  }

  async #readTopic(name: string): Promise<TopicSnapshot> {
    const { store } = this.#spool;
    const [offsets, groupNames] = await Promise.all([store.partitionOffsets(name), store.listGroups(name)]);
    const states = await Promise.all(groupNames.map((group) => store.groupState(name, group)));
    return {
      name,
      partitions: offsets.map((p) => ({ partition: p.partition, endOffset: p.endOffset })),
      groups: groupNames.map((group, index) => {
        const committed = new Map(states[index]?.committed.map((c) => [c.partition, c.offset]));
        // A partition the group never committed reads from its start: that is its position.
        const partitions = offsets.map((p) => {
          const at = Math.max(committed.get(p.partition) ?? p.startOffset, p.startOffset);
          return { partition: p.partition, committedOffset: at, lag: Math.max(0, p.endOffset - at) };
        });
        return { name: group, lag: partitions.reduce((sum, p) => sum + p.lag, 0), partitions };
      }),
    };
  }
}

function zeroCounts(): Record<JobStatus, number> {
  return Object.fromEntries(jobStatuses.map((status) => [status, 0])) as Record<JobStatus, number>;
}

function jobsByState(
  counts: readonly { type: string; status: JobStatus; count: number }[],
  pausedTypes: ReadonlySet<string>,
): StatsSnapshot['jobs'] {
  const total = zeroCounts();
  const byType = new Map<string, Record<JobStatus, number>>();
  for (const { type, status, count } of counts) {
    total[status] += count;
    let ofType = byType.get(type);
    if (!ofType) byType.set(type, (ofType = zeroCounts()));
    ofType[status] += count;
  }
  return {
    byState: total,
    byType: [...byType]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([type, byState]) => ({ type, byState, paused: pausedTypes.has(type) })),
  };
}

/** Four significant digits: the window's buckets are 5 % wide, more digits would be noise. */
function roundSeconds(value: number | null): number | null {
  return value === null ? null : Number(value.toPrecision(4));
}
