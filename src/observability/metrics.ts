/**
 * Prometheus metrics for one Spool (prom-client), named per the conventions: prefix `spool_`,
 * base units, counters ending in `_total`, and only low-cardinality labels (queue, topic, group,
 * partition, job type, state, outcome, HTTP method/route pattern/status — never an id).
 *
 * Two sources:
 * - **hooks** — the engine reports sends, acks, retries, dead letters, handler durations and store
 *   commits to a {@link MetricsRecorder} (cheap counters, attached with `spool.instrument`);
 *   HTTP requests are observed by the server.
 * - **the store, at scrape time** — depths, oldest age, offsets, lag and job counts are read in the
 *   registry's `collect()` through the {@link StatsCollector}, whose 1 s cache keeps a fast scraper
 *   from hammering the store.
 *
 * Each `SpoolMetrics` has its own `Registry` (never prom-client's global one): two Spools in one
 * process, or an application that already uses prom-client, do not collide. Node.js process
 * metrics (`collectDefaultMetrics`) are off unless asked for.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type Breakers, breakersOf } from '../breakers/breakers.js';
import type { Spool } from '../engine/spool.js';
import type { Instrumentation, WebhookAttemptOutcome } from '../engine/instrumentation.js';
import { ExportedHistogram, type HistogramSeries } from './metrics-exported-histogram.js';
import { httpDurationBuckets } from './metrics-histogram.js';
import { MetricsRecorder, webhookOutcomes } from './metrics-recorder.js';
import { jobStatuses } from '../jobs/job-states.js';
import { StatsCollector, type TopicSnapshot } from './stats.js';

export interface SpoolMetricsOptions {
  /**
   * Also expose Node.js process metrics (CPU, memory, event-loop lag, GC: prom-client's
   * `collectDefaultMetrics`) in this registry. @defaultValue false
   */
  collectDefaultMetrics?: boolean;
  /** Register into this registry instead of a new one (e.g. your application's). */
  registry?: Registry;
  /** How long store reads (depths, offsets, job counts) are reused, ms. @defaultValue 1000 */
  cacheMs?: number;
}

/** HTTP methods kept as label values; anything else is counted as `other`. */
const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Prometheus label values for the webhook outcomes (snake_case, like the state labels). */
const outcomeLabel: Readonly<Record<WebhookAttemptOutcome, string>> = {
  delivered: 'delivered',
  retrying: 'retrying',
  'dead-lettered': 'dead_lettered',
  skipped: 'skipped',
};

export class SpoolMetrics {
  /** The registry every Spool metric is in: what `/metrics` renders. */
  readonly registry: Registry;
  /** The counters the engine hooks feed. */
  readonly recorder: MetricsRecorder;
  /** The JSON stats over the same numbers (`GET /v1/stats`). */
  readonly stats: StatsCollector;
  readonly #httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly #httpDuration: Histogram<'method' | 'route'>;
  readonly #detach: () => void;

  /** Starts counting what `spool` does (attaches to it); {@link SpoolMetrics.close} stops. */
  constructor(spool: Spool, options: SpoolMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    this.recorder = new MetricsRecorder(() => spool.clock.now());
    this.stats = new StatsCollector({
      spool,
      recorder: this.recorder,
      ...(options.cacheMs === undefined ? {} : { cacheMs: options.cacheMs }),
    });
    if (options.collectDefaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.#registerQueueMetrics();
    this.#registerTopicAndJobMetrics(breakersOf(spool));
    this.#registerEngineHistograms();
    this.#httpRequests = new Counter({
      name: 'spool_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern (unmatched for unknown paths) and status code.',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.#httpDuration = new Histogram({
      name: 'spool_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method and route pattern. Long polls wait up to 20 s.',
      labelNames: ['method', 'route'],
      buckets: [...httpDurationBuckets],
      registers: [this.registry],
    });
    this.#detach = spool.instrument(this.recorder satisfies Instrumentation);
  }

  /** The `Content-Type` of {@link SpoolMetrics.metrics}' text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Counts one answered HTTP request. `route` must be the route's pattern (`/v1/queues/:name`),
   * never the raw URL; pass null for a request no route matched.
   */
  observeHttpRequest(method: string, route: string | null, status: number, seconds: number): void {
    const methodLabel = knownMethods.has(method) ? method : 'other';
    const routeLabel = route ?? 'unmatched';
    this.#httpRequests.inc({ method: methodLabel, route: routeLabel, status: String(status) });
    this.#httpDuration.observe({ method: methodLabel, route: routeLabel }, seconds);
  }

  /** Stops counting (detaches from the Spool). The registry keeps its metrics. */
  close(): void {
    this.#detach();
  }

  #registerQueueMetrics(): void {
    const { stats, recorder, registry } = this;
    const registers = [registry];
    new Gauge({
      name: 'spool_queue_messages',
      help: 'Messages in a queue by state: ready (deliverable now), delayed (waiting for a delay or retry backoff), in_flight (leased to a consumer).',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        const state = await stats.storeState();
        this.reset();
        for (const queue of state.queues) {
          this.set({ queue: queue.name, state: 'ready' }, queue.ready);
          this.set({ queue: queue.name, state: 'delayed' }, queue.delayed);
          this.set({ queue: queue.name, state: 'in_flight' }, queue.inFlight);
        }
      },
    });
    new Gauge({
      name: 'spool_queue_dead_letter_messages',
      help: "Messages in a queue's dead-letter queue.",
      labelNames: ['queue'],
      registers,
      async collect() {
        const state = await stats.storeState();
        this.reset();
        for (const queue of state.queues) this.set({ queue: queue.name }, queue.deadLettered);
      },
    });
    new Gauge({
      name: 'spool_queue_oldest_message_age_seconds',
      help: 'Age of the oldest message in a queue, any state (0 when the queue is empty).',
      labelNames: ['queue'],
      registers,
      async collect() {
        const state = await stats.storeState();
        this.reset();
        for (const queue of state.queues) this.set({ queue: queue.name }, queue.oldestAgeMs / 1000);
      },
    });
    const counter = (
      name: string,
      help: string,
      value: (counters: ReturnType<MetricsRecorder['queue']>) => number,
    ) =>
      new Counter({
        name,
        help,
        labelNames: ['queue'],
        registers,
        async collect() {
          // Every existing queue gets a series (zero until something happens), so rate() works
          // from the first event; queues deleted since keep theirs.
          const state = await stats.storeState();
          for (const queue of state.queues) recorder.queue(queue.name);
          this.reset();
          for (const [queue, counters] of recorder.queues()) this.inc({ queue }, value(counters));
        },
      });
    counter(
      'spool_messages_sent_total',
      'Messages stored by sends through this process (duplicates by dedup id excluded).',
      (c) => c.sent,
    );
    counter('spool_messages_acked_total', 'Messages acked through this process.', (c) => c.acked);
    counter(
      'spool_messages_retried_total',
      'Messages nacked for another delivery through this process: handler failures and nacks before the last attempt (a release, which hands a message back untried, is not counted).',
      (c) => c.retried,
    );
    counter(
      'spool_messages_dead_lettered_total',
      'Messages dead-lettered through this process (handler failures, explicit calls, nacks of the last attempt). Leases that expire on the last attempt are dead-lettered by the store and show in spool_queue_dead_letter_messages only.',
      (c) => c.deadLettered,
    );
  }

  #registerTopicAndJobMetrics(breakers: Breakers): void {
    const { stats, recorder, registry } = this;
    const registers = [registry];
    new Gauge({
      name: 'spool_topic_end_offset',
      help: 'The offset the next event appended to a topic partition gets.',
      labelNames: ['topic', 'partition'],
      registers,
      async collect() {
        const state = await stats.storeState();
        this.reset();
        for (const topic of state.topics) {
          for (const p of topic.partitions)
            this.set({ topic: topic.name, partition: p.partition }, p.endOffset);
        }
      },
    });
    type GroupPartition = TopicSnapshot['groups'][number]['partitions'][number];
    // Committed offset and lag share their labels and their walk over the groups' partitions.
    const groupPartitionGauge = (name: string, help: string, value: (p: GroupPartition) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['topic', 'group', 'partition'],
        registers,
        async collect() {
          const state = await stats.storeState();
          this.reset();
          for (const topic of state.topics) {
            for (const group of topic.groups) {
              for (const p of group.partitions) {
                this.set({ topic: topic.name, group: group.name, partition: p.partition }, value(p));
              }
            }
          }
        },
      });
    groupPartitionGauge(
      'spool_consumer_group_committed_offset',
      'The next offset a consumer group will read in a partition.',
      (p) => p.committedOffset,
    );
    groupPartitionGauge(
      'spool_consumer_group_lag_messages',
      'Events of a partition not yet committed by a consumer group.',
      (p) => p.lag,
    );
    new Gauge({
      name: 'spool_jobs',
      help: 'Jobs by type and state (every state of every type present, zeros included).',
      labelNames: ['type', 'state'],
      registers,
      async collect() {
        const state = await stats.storeState();
        this.reset();
        for (const { type, byState } of state.jobs.byType) {
          for (const status of jobStatuses) this.set({ type, state: status }, byState[status]);
        }
      },
    });
    new Gauge({
      name: 'spool_circuit_breaker_state',
      help: "Each circuit breaker's shared state: 1 for the state it is in (closed, open, half_open), 0 for the others.",
      labelNames: ['breaker', 'state'],
      registers,
      async collect() {
        const views = await breakers.list();
        this.reset();
        for (const view of views) {
          for (const state of ['closed', 'open', 'half-open'] as const) {
            this.set({ breaker: view.name, state: state.replace('-', '_') }, view.state === state ? 1 : 0);
          }
        }
      },
    });
    new Gauge({
      name: 'spool_circuit_breaker_opened',
      help: 'Times each circuit breaker has opened, in every process on the store.',
      labelNames: ['breaker'],
      registers,
      async collect() {
        const views = await breakers.list();
        this.reset();
        for (const view of views) this.set({ breaker: view.name }, view.opened);
      },
    });
    new Counter({
      name: 'spool_circuit_breaker_calls_total',
      help: 'Calls through each circuit breaker in this process, by outcome: success, failure (counted by the breaker), rejected (refused while open: the dependency was not called).',
      labelNames: ['breaker', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const { name, counters } of breakers.counters()) {
          this.inc({ breaker: name, outcome: 'success' }, counters.calls - counters.failures);
          this.inc({ breaker: name, outcome: 'failure' }, counters.failures);
          this.inc({ breaker: name, outcome: 'rejected' }, counters.rejected);
        }
      },
    });
    new Counter({
      name: 'spool_webhook_deliveries_total',
      help: 'Webhook delivery attempts made by this process, by outcome: delivered (2xx), retrying, dead_lettered (failed for good), skipped (endpoint disabled).',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        for (const outcome of webhookOutcomes) {
          this.inc({ outcome: outcomeLabel[outcome] }, recorder.webhookAttempts.get(outcome) ?? 0);
        }
      },
    });
  }

  #registerEngineHistograms(): void {
    const { recorder, registry } = this;
    function* perQueue(pick: (queue: ReturnType<MetricsRecorder['queue']>) => HistogramSeries['histogram']) {
      for (const [queue, counters] of recorder.queues())
        yield { labels: { queue }, histogram: pick(counters) };
    }
    new ExportedHistogram(
      'spool_message_processing_duration_seconds',
      'Time a process() consumer of this process spent on a message: handler run plus settlement (ack, retry or dead-letter).',
      () => perQueue((c) => c.processing),
    ).register(registry);
    new ExportedHistogram(
      'spool_message_end_to_end_latency_seconds',
      'Time from a message’s first send to its ack (delays, retries and redrives included), for acks made through this process by consumers that received the message (not acks by bare receipt over HTTP).',
      () => perQueue((c) => c.endToEnd),
    ).register(registry);
    new ExportedHistogram(
      'spool_store_commit_duration_seconds',
      'Duration of one durable store commit (a group commit of many writes, or a transaction’s COMMIT).',
      () => [{ labels: {}, histogram: recorder.commitDuration }],
    ).register(registry);
    new ExportedHistogram(
      'spool_store_commit_batch_size',
      'Write operations carried by one durable store commit: the group-commit batching factor.',
      () => [{ labels: {}, histogram: recorder.commitBatchSize }],
    ).register(registry);
    new ExportedHistogram(
      'spool_webhook_delivery_duration_seconds',
      'Duration of one webhook delivery attempt made by this process.',
      () => [{ labels: {}, histogram: recorder.webhookDuration }],
    ).register(registry);
  }
}
