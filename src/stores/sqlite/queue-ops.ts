/**
 * Queue configuration, enqueue (with dedup and the depth bound), and the queue's read side:
 * stats, next delivery time, browsing, purge. Leases live in lease-ops.ts.
 *
 * Every method is synchronous and runs inside whatever transaction the caller (the write
 * batcher) opened; statements are prepared once per store.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import { QueueFullError, QueueNotFoundError } from '../../core/errors.js';
import type { QueueConfig } from '../../core/options.js';
import type {
  EnqueueMessage,
  EnqueueResult,
  Page,
  PageRequest,
  QueueStats,
  QueuedMessage,
} from '../../store/port.js';
import {
  type PayloadColumn,
  decodeCursor,
  decodeErrors,
  decodeHeaders,
  decodePayload,
  encodeCursor,
  encodeHeaders,
} from './codec.js';
import { EnqueuePlan, expiresAt, fullAtDepth, queueFullRetryAfterMs, storedQueueConfig } from '../rules.js';
import type { MessageBookkeeping } from './message-bookkeeping.js';
import type { FairGroups } from './fair-groups.js';

interface QueueRow {
  config: string;
  depth: number;
  paused_at: number | null;
}

interface MessageRow {
  seq: number;
  id: string;
  payload: PayloadColumn;
  headers: string;
  key: string | null;
  priority: number;
  enqueued_at: number;
  visible_at: number;
  expires_at: number | null;
  attempts: number;
  lease_token: string | null;
  errors: string;
}

interface StatsRow {
  ready: number | null;
  delayed: number | null;
  in_flight: number | null;
  oldest: number | null;
  dead_lettered: number;
}

const messageColumns =
  'seq, id, payload, headers, key, priority, enqueued_at, visible_at, expires_at, attempts, lease_token, errors';

export class QueueOps {
  readonly #clock: Clock;
  readonly #selectQueue: Database.Statement<[string], QueueRow>;
  readonly #pauseQueue: Database.Statement<{ pausedAt: number | null; queue: string }>;
  readonly #selectConfigs: Database.Statement<[], { config: string }>;
  readonly #upsertQueue: Database.Statement<[string, string]>;
  readonly #deleteQueue: Database.Statement<[string]>;
  readonly #deleteMessages: Database.Statement<[string]>;
  readonly #deleteDeadLetters: Database.Statement<[string]>;
  readonly #deleteDedupIds: Database.Statement<[string]>;
  readonly #selectDedup: Database.Statement<[string, string, number], { message_id: string }>;
  readonly #upsertDedup: Database.Statement<[string, string, string, number]>;
  readonly #insertMessage: Database.Statement<
    [
      string,
      string,
      EnqueueMessage['payload'],
      string,
      string | null,
      string | null,
      number,
      number,
      number,
      0 | 1,
      number | null,
    ]
  >;
  readonly #stats: Database.Statement<{ queue: string; now: number }, StatsRow>;
  readonly #nextDelivery: Database.Statement<{ queue: string; now: number }, { next: number | null }>;
  readonly #firstPage: Database.Statement<[string, number], MessageRow>;
  readonly #pageAfter: Database.Statement<
    { queue: string; priority: number; seq: number; limit: number },
    MessageRow
  >;

  readonly #configs = new Map<string, { text: string; config: QueueConfig }>();

  readonly #bookkeeping: MessageBookkeeping;
  readonly #groups: FairGroups;

  constructor(db: Database.Database, clock: Clock, bookkeeping: MessageBookkeeping, groups: FairGroups) {
    this.#clock = clock;
    this.#bookkeeping = bookkeeping;
    this.#groups = groups;
    this.#selectQueue = db.prepare('SELECT config, depth, paused_at FROM queues WHERE name = ?');
    // Pausing a paused queue keeps the time it was first paused.
    this.#pauseQueue = db.prepare(
      `UPDATE queues SET paused_at = CASE WHEN @pausedAt IS NULL THEN NULL ELSE coalesce(paused_at, @pausedAt) END
       WHERE name = @queue`,
    );
    this.#selectConfigs = db.prepare('SELECT config FROM queues ORDER BY name');
    this.#upsertQueue = db.prepare(
      'INSERT INTO queues (name, config) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET config = excluded.config',
    );
    this.#deleteQueue = db.prepare('DELETE FROM queues WHERE name = ?');
    this.#deleteMessages = db.prepare('DELETE FROM messages WHERE queue = ?');
    this.#deleteDeadLetters = db.prepare('DELETE FROM dead_letters WHERE queue = ?');
    this.#deleteDedupIds = db.prepare('DELETE FROM dedup WHERE queue = ?');
    this.#selectDedup = db.prepare(
      'SELECT message_id FROM dedup WHERE queue = ? AND dedup_id = ? AND expires_at > ?',
    );
    this.#upsertDedup = db.prepare(
      `INSERT INTO dedup (queue, dedup_id, message_id, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (queue, dedup_id) DO UPDATE SET message_id = excluded.message_id, expires_at = excluded.expires_at`,
    );
    this.#insertMessage = db.prepare(
      `INSERT INTO messages (id, queue, payload, headers, key, grp, priority, enqueued_at, visible_at, key_blocked, expires_at, attempts, lease_token, errors)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, '[]')`,
    );
    // An expired lease counts as ready: the message is deliverable again.
    this.#stats = db.prepare(
      `SELECT sum(visible_at <= @now) AS ready,
              sum(visible_at > @now AND lease_token IS NULL) AS delayed,
              sum(visible_at > @now AND lease_token IS NOT NULL) AS in_flight,
              min(enqueued_at) AS oldest,
              (SELECT count(*) FROM dead_letters WHERE queue = @queue) AS dead_lettered
       FROM messages WHERE queue = @queue`,
    );
    // Two partial-index lookups, each O(log n): waiting messages and leases.
    this.#nextDelivery = db.prepare(
      `SELECT min(next) AS next FROM (
         SELECT min(visible_at) AS next FROM messages
         WHERE queue = @queue AND lease_token IS NULL AND visible_at > enqueued_at AND visible_at > @now
         UNION ALL
         SELECT min(visible_at) FROM messages WHERE queue = @queue AND lease_token IS NOT NULL AND visible_at > @now)`,
    );
    this.#firstPage = db.prepare(
      `SELECT ${messageColumns} FROM messages WHERE queue = ? ORDER BY priority DESC, seq LIMIT ?`,
    );
    // "After (priority, seq)" as two index ranges (the rest of this priority, then the lower
    // priorities) merged in order; one range with an OR would rescan the queue from its head.
    this.#pageAfter = db.prepare(
      `SELECT ${messageColumns} FROM messages WHERE queue = @queue AND priority = @priority AND seq > @seq
       UNION ALL
       SELECT ${messageColumns} FROM messages WHERE queue = @queue AND priority < @priority
       ORDER BY priority DESC, seq LIMIT @limit`,
    );
  }

  /** The queue's configuration, current depth and pause; throws `QueueNotFoundError`. */
  require(queue: string): { config: QueueConfig; depth: number; pausedAt: number | null } {
    const row = this.#selectQueue.get(queue);
    if (!row) throw new QueueNotFoundError(queue);
    return { config: this.#parseConfig(queue, row.config), depth: row.depth, pausedAt: row.paused_at };
  }

  pause(queue: string, pausedAt: number | null): boolean {
    return this.#pauseQueue.run({ pausedAt, queue }).changes === 1;
  }

  /**
   * Every send and claim reads its queue's row; the configuration in it rarely changes, so the
   * parsed object is kept while the stored text stays the same (comparing the text is far
   * cheaper than parsing it). Callers only read the object.
   */
  #parseConfig(queue: string, text: string): QueueConfig {
    const cached = this.#configs.get(queue);
    if (cached?.text === text) return cached.config;
    const config = storedQueueConfig(JSON.parse(text) as QueueConfig);
    this.#configs.set(queue, { text, config });
    return config;
  }

  save(config: QueueConfig): QueueConfig {
    const stored = JSON.stringify(config);
    this.#upsertQueue.run(config.name, stored);
    return storedQueueConfig(JSON.parse(stored) as QueueConfig);
  }

  get(queue: string): QueueConfig | null {
    const row = this.#selectQueue.get(queue);
    return row ? storedQueueConfig(JSON.parse(row.config) as QueueConfig) : null;
  }

  list(): QueueConfig[] {
    return this.#selectConfigs.all().map((row) => storedQueueConfig(JSON.parse(row.config) as QueueConfig));
  }

  delete(queue: string): boolean {
    this.#configs.delete(queue);
    if (this.#deleteQueue.run(queue).changes === 0) return false;
    this.#deleteMessages.run(queue);
    this.#deleteDeadLetters.run(queue);
    this.#deleteDedupIds.run(queue);
    this.#groups.dropQueue(queue);
    return true;
  }

  /**
   * Stores `messages` in order. Dedup ids are checked first (against the table and against
   * earlier messages of the same call), so the depth check counts only what would be stored and
   * a full queue stores nothing.
   */
  enqueue(queue: string, messages: readonly EnqueueMessage[]): EnqueueResult[] {
    const { config, depth } = this.require(queue);
    const now = this.#clock.now();
    const plan = new EnqueuePlan(messages, config);
    for (const dedupId of plan.firstWithId.keys()) {
      const original = this.#selectDedup.get(queue, dedupId, now)?.message_id;
      if (original !== undefined) plan.originals.set(dedupId, original);
    }
    const toStore = plan.toStore();
    if (
      config.maxDepth !== null &&
      toStore.length > 0 &&
      depth >= fullAtDepth(config.maxDepth, toStore.length)
    ) {
      throw new QueueFullError(queue, config.maxDepth, queueFullRetryAfterMs);
    }
    for (const message of toStore) {
      this.#insertMessage.run(
        message.id,
        queue,
        message.payload,
        encodeHeaders(message.headers),
        message.key,
        message.group ?? null,
        message.priority,
        now,
        message.availableAt,
        this.#bookkeeping.blockedOnInsert(queue, message.key),
        expiresAt(message, config, now),
      );
      const dedupId = plan.dedupIdOf(message);
      if (dedupId !== null) this.#upsertDedup.run(queue, dedupId, message.id, now + config.dedupWindowMs);
    }
    this.#bookkeeping.depthChanged(queue, toStore.length);
    this.#groups.added(
      queue,
      toStore.map((message) => message.group),
    );
    return plan.results();
  }

  stats(queue: string): QueueStats {
    const { pausedAt } = this.require(queue);
    const now = this.#clock.now();
    const row = this.#stats.get({ queue, now })!;
    return {
      queue,
      ready: row.ready ?? 0,
      delayed: row.delayed ?? 0,
      inFlight: row.in_flight ?? 0,
      deadLettered: row.dead_lettered,
      oldestAgeMs: row.oldest === null ? 0 : Math.max(0, now - row.oldest),
      pausedAt,
    };
  }

  nextDeliveryAt(queue: string): number | null {
    return this.#nextDelivery.get({ queue, now: this.#clock.now() })!.next;
  }

  /** Delivery order: priority descending, then enqueue order. The cursor is the last (priority, seq). */
  listMessages(queue: string, page: PageRequest): Page<QueuedMessage> {
    this.require(queue);
    const limit = Math.max(0, page.limit);
    let rows: MessageRow[];
    if (page.after) {
      const [priority, seq] = decodeCursor(page.after, 2) as [number, number];
      rows = this.#pageAfter.all({ queue, priority, seq, limit: limit + 1 });
    } else {
      rows = this.#firstPage.all(queue, limit + 1);
    }
    const now = this.#clock.now();
    const items = rows.slice(0, limit).map((row) => toQueuedMessage(row, now));
    const last = rows[limit - 1];
    return { items, next: rows.length > limit && last ? encodeCursor([last.priority, last.seq]) : null };
  }

  purge(queue: string): number {
    this.require(queue);
    const purged = this.#deleteMessages.run(queue).changes;
    this.#bookkeeping.depthChanged(queue, -purged);
    return purged;
  }
}

function toQueuedMessage(row: MessageRow, now: number): QueuedMessage {
  const leased = row.lease_token !== null && row.visible_at > now;
  return {
    id: row.id,
    payload: decodePayload(row.payload),
    headers: decodeHeaders(row.headers),
    key: row.key,
    priority: row.priority,
    enqueuedAt: row.enqueued_at,
    // For a leased message visible_at is its lease expiry: when it becomes available again.
    availableAt: row.visible_at,
    expiresAt: row.expires_at,
    attempts: row.attempts,
    state: leased ? 'in-flight' : row.visible_at > now ? 'delayed' : 'ready',
    errors: decodeErrors(row.errors),
  };
}
