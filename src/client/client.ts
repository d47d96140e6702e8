/** The client object: one transport shared by the queue, topic and job operations. */
import { Transport, type TransportOptions } from './http.js';
import { JobsClient } from './jobs.js';
import { QueuesClient } from './queues.js';
import { TopicsClient } from './topics.js';

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
  /** The server's base URL, without a trailing slash. */
  readonly url: string;

  constructor(options: SpoolClientOptions) {
    const http = new Transport(options);
    this.url = http.baseUrl;
    this.queues = new QueuesClient(http);
    this.topics = new TopicsClient(http);
    this.jobs = new JobsClient(http);
  }
}
