/** The client object: one transport shared by the queue, topic and job operations. */
import { Transport, type TransportOptions } from './http.js';
import { JobsClient } from './jobs.js';
import { BreakersClient, WorkflowsClient } from './workflows.js';
import { QueuesClient } from './queues.js';
import { SchedulesClient } from './schedules.js';
import { WorkersClient } from './workers.js';
import { readEventStream } from './sse.js';
import { TopicsClient } from './topics.js';
import type { ServerAlerts, ServerStats, SpoolEventData, SpoolEventMessage } from './types.js';

/** Options of {@link SpoolClient.events}. */
export interface EventsOptions {
  /** Only events of jobs of this type. */
  jobType?: string;
  /** Only events of this job. */
  jobId?: string;
  /** Only events about this queue (its queue events and its alerts). */
  queue?: string;
  /** Resume after this event id (the `id` of the last event you processed). */
  lastEventId?: string;
  /** Start at this event id instead of "new events only" (ignored with `lastEventId`). */
  from?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
}

/** Options of a {@link SpoolClient}. */
export type SpoolClientOptions = TransportOptions;

/**
 * A client of a Spool server's HTTP API.
 *
 * @example
 * ```ts
 * import { SpoolClient } from 'spool/client';
 * const client = new SpoolClient({ url: 'http://127.0.0.1:7460', token: process.env.SPOOL_TOKEN });
 * await client.queues.put('emails', { maxAttempts: 5 });
 * await client.queues.send('emails', { to: 'ada@example.com' });
 * for (const message of await client.queues.receive('emails', { max: 10, waitMs: 20_000 })) {
 *   await deliver(message.body);
 *   await message.ack();
 * }
 * const { id } = await client.jobs.add('thumbnail', { image: 'cat.png' });
 * const job = await client.jobs.wait(id);
 * ```
 */
export class SpoolClient {
  /** Queues: configuration, send, receive, settle, dead letters. */
  readonly queues: QueuesClient;
  /** Topics: configuration, publish, replay, consumer groups. */
  readonly topics: TopicsClient;
  /** Jobs: add, get, search, cancel, retry, wait, live events, and the remote-worker protocol. */
  readonly jobs: JobsClient;
  /** Workflow runs: start, get with every step, list, send events, cancel, wait. */
  readonly workflows: WorkflowsClient;
  /** Circuit breakers: their shared state, and reset. */
  readonly breakers: BreakersClient;
  /** Schedules: cron or interval rules that add jobs; list, put, delete, run now. */
  readonly schedules: SchedulesClient;
  /** The workers registry: who consumes what, in every process; remove stale records. */
  readonly workers: WorkersClient;
  /** The server's base URL, without a trailing slash. */
  readonly url: string;

  readonly #http: Transport;

  constructor(options: SpoolClientOptions) {
    const http = new Transport(options);
    this.#http = http;
    this.url = http.baseUrl;
    this.queues = new QueuesClient(http);
    this.topics = new TopicsClient(http);
    this.jobs = new JobsClient(http);
    this.workflows = new WorkflowsClient(http);
    this.breakers = new BreakersClient(http);
    this.schedules = new SchedulesClient(http);
    this.workers = new WorkersClient(http);
  }

  /**
   * Closes the client's pooled keep-alive connections; calls made afterwards fail with
   * `SpoolClientError`. Open event streams end through their own `signal`. Idle connections
   * never keep the process alive, so a short script may skip this; a long-running service that
   * replaces clients should close the old one.
   */
  async close(): Promise<void> {
    await this.#http.close();
  }

  /**
   * The server's numbers in one document: queue depths and counters, processing-time
   * percentiles, topic offsets and group lag, jobs by state and type, firing alerts. Counters
   * are this server process's since it started (`startedAt`).
   */
  async stats(options: { signal?: AbortSignal } = {}): Promise<ServerStats> {
    return (
      await this.#http.call<ServerStats>({
        method: 'GET',
        path: '/v1/stats',
        retryOnNetworkError: true,
        signal: options.signal,
      })
    ).body;
  }

  /** The server's alert rules and the alerts firing now. */
  async alerts(options: { signal?: AbortSignal } = {}): Promise<ServerAlerts> {
    return (
      await this.#http.call<ServerAlerts>({
        method: 'GET',
        path: '/v1/alerts',
        retryOnNetworkError: true,
        signal: options.signal,
      })
    ).body;
  }

  /**
   * Every live event, job, queue and alert alike (`GET /v1/events`), reconnecting with
   * `Last-Event-ID` when the connection drops. Use `client.jobs.events()` for job events only.
   *
   * @example
   * ```ts
   * for await (const { event, data } of client.events({ queue: 'orders' })) {
   *   if (event === 'alert.firing') page(data);
   * }
   * ```
   */
  async *events(options: EventsOptions = {}): AsyncGenerator<SpoolEventMessage> {
    const stream = readEventStream(this.#http, {
      path: '/v1/events',
      query: {
        jobType: options.jobType,
        jobId: options.jobId,
        queue: options.queue,
        from: options.lastEventId === undefined ? options.from : undefined,
      },
      lastEventId: options.lastEventId,
      signal: options.signal,
    });
    for await (const event of stream) {
      yield { id: event.id, event: event.event, data: JSON.parse(event.data) as SpoolEventData };
    }
  }
}
