/**
 * What the client commands run against: a Spool server over HTTP (`--url`), or the embedded store
 * of a data directory opened in this process (`--data`, direct mode). Both answer in the HTTP
 * API's JSON shapes, so each command formats its output once, whichever backend it got.
 *
 * Only the operations the commands use are here. Failures of either backend are errors whose
 * message is `CODE: detail` (exit 1); usage errors stay usage errors (exit 2).
 */
import type {
  AddJobOptions,
  CommitOptions,
  DeadLetterPage,
  Job,
  JobAccepted,
  JobPage,
  JobQuery,
  OutgoingEvent,
  OutgoingMessage,
  PageQuery,
  PollOptions,
  PollResult,
  PublishOptions,
  PublishResult,
  QueueWithStats,
  ReceivedMessageData,
  SendOptions,
  SendResult,
  SettleResult,
  TopicConfig,
  TopicWithStats,
} from '../../../client/index.js';
import { GroupMembershipHttpError, type SpoolClient } from '../../../client/index.js';
import { type ClientFlags, clientFor, usageError } from './client-options.js';

/** Queue operations of the commands. */
export interface QueueBackend {
  list(): Promise<QueueWithStats[]>;
  get(queue: string): Promise<QueueWithStats>;
  send(queue: string, body: unknown, options: Omit<SendOptions, 'idempotencyKey'>): Promise<SendResult>;
  sendBatch(queue: string, messages: readonly OutgoingMessage[]): Promise<SendResult[]>;
  receive(
    queue: string,
    options: { max: number; waitMs: number; visibilityMs?: number },
  ): Promise<ReceivedMessageData[]>;
  ack(queue: string, receipts: readonly string[]): Promise<SettleResult[]>;
  nack(
    queue: string,
    receipts: readonly string[],
    options: { delayMs?: number; error?: string },
  ): Promise<SettleResult[]>;
  deadLetters(queue: string, page: PageQuery): Promise<DeadLetterPage>;
  redrive(queue: string, ids?: readonly string[]): Promise<number>;
  purgeDeadLetters(queue: string, ids?: readonly string[]): Promise<number>;
}

/** Topic operations of the commands. */
export interface TopicBackend {
  list(): Promise<TopicConfig[]>;
  get(topic: string): Promise<TopicWithStats>;
  publish(topic: string, body: unknown, options: PublishOptions): Promise<PublishResult>;
  publishBatch(topic: string, events: readonly OutgoingEvent[]): Promise<PublishResult[]>;
  poll(topic: string, group: string, options: PollOptions): Promise<PollResult>;
  /**
   * Commits the member's offsets; false (nothing committed) when it no longer owns one of the
   * partitions: they moved to another member, so poll again without a cursor.
   */
  commit(topic: string, group: string, options: CommitOptions): Promise<boolean>;
  leave(topic: string, group: string, member: string): Promise<void>;
}

/** Job operations of the commands. */
export interface JobBackend {
  add(type: string, payload: unknown, options: AddJobOptions): Promise<JobAccepted>;
  /** The job once it is completed, dead or cancelled; `SPOOL_WAIT_TIMEOUT` after `timeoutMs`. */
  wait(id: string, options: { timeoutMs: number }): Promise<Job>;
  get(id: string): Promise<Job>;
  list(query: JobQuery): Promise<JobPage>;
  cancel(id: string): Promise<Job>;
  retry(id: string): Promise<Job>;
}

/** A backend, opened for one command run. */
export interface SpoolBackend {
  /** `server <url>` or `data <dir>`, for messages. */
  readonly description: string;
  readonly queues: QueueBackend;
  readonly topics: TopicBackend;
  readonly jobs: JobBackend;
  /** Releases what the backend holds (in direct mode: closes the store). Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Opens the backend the flags choose, runs `work` with it and closes it, however `work` ends —
 * in direct mode the store is closed (and every write flushed) before the command exits.
 */
export async function withBackend<T>(
  flags: ClientFlags,
  work: (backend: SpoolBackend) => Promise<T>,
): Promise<T> {
  const backend = await openBackend(flags);
  try {
    return await work(backend);
  } finally {
    await backend.close();
  }
}

/** The backend the flags choose: direct mode when `--data` is set (see `client-options.ts`). */
export async function openBackend(flags: ClientFlags): Promise<SpoolBackend> {
  if (flags.data === undefined) return httpBackend(clientFor(flags));
  if (flags.data.trim() === '') throw usageError('--data: give a directory');
  // Loaded only in direct mode: the server path does not need the engine or SQLite.
  const { openEngineBackend } = await import('./engine-backend.js');
  return openEngineBackend(flags.data);
}

/** The HTTP client as a backend. */
export function httpBackend(client: SpoolClient): SpoolBackend {
  const { queues, topics, jobs } = client;
  return {
    description: `server ${client.url}`,
    queues: {
      list: () => queues.list(),
      get: (queue) => queues.get(queue),
      send: (queue, body, options) => queues.send(queue, body, options),
      sendBatch: (queue, messages) => queues.sendBatch(queue, messages),
      receive: (queue, options) => queues.receive(queue, options),
      ack: (queue, receipts) => queues.ack(queue, receipts),
      nack: (queue, receipts, options) => queues.nack(queue, receipts, options),
      deadLetters: (queue, page) => queues.deadLetters(queue, page),
      redrive: (queue, ids) => queues.redrive(queue, ids),
      purgeDeadLetters: (queue, ids) => queues.purgeDeadLetters(queue, ids),
    },
    topics: {
      list: () => topics.list(),
      get: (topic) => topics.get(topic),
      publish: (topic, body, options) => topics.publish(topic, body, options),
      publishBatch: (topic, events) => topics.publishBatch(topic, events),
      poll: (topic, group, options) => topics.poll(topic, group, options),
      commit: async (topic, group, options) => {
        try {
          await topics.commit(topic, group, options);
          return true;
        } catch (error) {
          if (error instanceof GroupMembershipHttpError) return false;
          throw error;
        }
      },
      leave: (topic, group, member) => topics.leave(topic, group, member),
    },
    jobs: {
      add: (type, payload, options) => jobs.add(type, payload, options),
      wait: (id, options) => jobs.wait(id, options),
      get: (id) => jobs.get(id),
      list: (query) => jobs.list(query),
      cancel: (id) => jobs.cancel(id),
      retry: (id) => jobs.retry(id),
    },
    close: async () => {},
  };
}
