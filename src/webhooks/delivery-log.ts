/**
 * The delivery log: one event per delivery attempt on the topic `spool.webhook-deliveries`
 * (one partition, so offsets order all attempts and serve as the paging cursor; kept 7 days by
 * default). A topic rather than a table because it is append-only, trimmed by age for free, and
 * readable or tailable with the ordinary topic API by anyone who wants more than this listing.
 *
 * Listing scans forward from a cursor (or a time) and filters; a call scans a bounded number of
 * events, so a filter that matches rarely returns a short page with a cursor to continue.
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { Spool } from '../engine/spool.js';
import type { Topic } from '../engine/topic.js';

/** The delivery log's topic. */
export const webhookDeliveriesTopic = 'spool.webhook-deliveries';

/**
 * What an attempt led to. `delivered`: 2xx. `retrying`: it failed and will be tried again.
 * `dead-lettered`: it failed for good and the delivery is in the queue's DLQ. `skipped`: not
 * sent because the endpoint is disabled; dead-lettered too.
 */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'dead-lettered' | 'skipped';

/** One delivery attempt, as logged. */
export interface DeliveryAttempt {
  readonly webhookId: string;
  readonly url: string;
  readonly event: string;
  /** 1 for the first attempt; counts again from 1 after a redrive. */
  readonly attempt: number;
  /** The receiver's HTTP status; null when there was no response. */
  readonly status: number | null;
  readonly outcome: DeliveryOutcome;
  readonly durationMs: number;
  /** Why it failed (absent when delivered). */
  readonly error?: string;
  /** When the attempt started (ms since epoch). */
  readonly at: number;
}

/** A logged attempt with its position in the log. */
export interface LoggedDeliveryAttempt extends DeliveryAttempt {
  readonly offset: number;
}

/** Which attempts to list; all filters must match. */
export interface DeliveryQuery {
  webhookId?: string;
  /** Attempts of webhooks whose id starts with this (a job's completion webhooks: see job-callbacks.ts). */
  webhookIdPrefix?: string;
  url?: string;
  event?: string;
  outcome?: DeliveryOutcome;
  /** Start at attempts logged at or after this time (ignored when `cursor` is given). */
  since?: Date | number;
  /** Continue from a previous page's `next`. */
  cursor?: number;
  /** At most this many items. @defaultValue 100 (at most 1000) */
  limit?: number;
}

/** A page of attempts, oldest first. */
export interface DeliveryPage {
  readonly items: LoggedDeliveryAttempt[];
  /** Pass as `cursor` for the next page; null when the end of the log was reached. */
  readonly next: number | null;
}

/** Events examined per listing call, whatever the filter. */
const SCAN_BUDGET = 10_000;
const READ_CHUNK = 1_000;

/** Writes and lists the delivery log. */
export class DeliveryLog {
  #topic: Topic<DeliveryAttempt> | undefined;

  constructor(
    private readonly spool: Spool,
    private readonly retentionMs: number,
  ) {}

  /** Creates the topic if needed (and applies the retention). */
  async open(): Promise<void> {
    this.#topic = await this.spool.topic<DeliveryAttempt>(webhookDeliveriesTopic, {
      partitions: 1,
      retentionMs: this.retentionMs,
    });
  }

  /** Appends one attempt. */
  async record(attempt: DeliveryAttempt): Promise<void> {
    await this.#require().publish(attempt, { partition: 0 });
  }

  /** Attempts matching `query`, oldest first, a page at a time. */
  async list(query: DeliveryQuery = {}): Promise<DeliveryPage> {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new InvalidArgumentError('limit must be an integer from 1 to 1000', { field: 'limit' });
    }
    const topic = this.#require();
    let offset = await this.#start(topic, query);
    const items: LoggedDeliveryAttempt[] = [];
    for (let scanned = 0; scanned < SCAN_BUDGET && items.length < limit;) {
      const { events, endOffset } = await topic.read(0, offset, READ_CHUNK);
      for (const event of events) {
        offset = event.offset + 1;
        scanned++;
        if (matches(event.body, query)) items.push({ ...event.body, offset: event.offset });
        if (items.length === limit) break;
      }
      if (events.length === 0 || offset >= endOffset) return { items, next: null };
    }
    return { items, next: offset };
  }

  async #start(topic: Topic<DeliveryAttempt>, query: DeliveryQuery): Promise<number> {
    if (query.cursor !== undefined) {
      if (!Number.isInteger(query.cursor) || query.cursor < 0) {
        throw new InvalidArgumentError('cursor must be an integer >= 0', { field: 'cursor' });
      }
      return query.cursor;
    }
    return query.since === undefined ? 0 : topic.offsetForTime(0, query.since);
  }

  #require(): Topic<DeliveryAttempt> {
    if (!this.#topic) throw new Error('DeliveryLog.open() was not awaited');
    return this.#topic;
  }
}

function matches(attempt: DeliveryAttempt, query: DeliveryQuery): boolean {
  return (
    (query.webhookId === undefined || attempt.webhookId === query.webhookId) &&
    (query.webhookIdPrefix === undefined || attempt.webhookId.startsWith(query.webhookIdPrefix)) &&
    (query.url === undefined || attempt.url === query.url) &&
    (query.event === undefined || attempt.event === query.event) &&
    (query.outcome === undefined || attempt.outcome === query.outcome)
  );
}
