/**
 * Queue configuration, enqueue (with dedup and the depth bound), and the queue's read side:
 * stats, next delivery time, browsing, purge. Leases live in lease-ops.ts.
 *
 * Enqueue has two paths:
 *
 * - Messages without dedup ids into an unbounded queue (the common send) are ONE statement in
 *   autocommit mode: look up the queue, register keys (key-heads.ts; the head decision needs
 *   only the count the key-row upsert returns, so it fits in the same statement) and insert.
 *   One round trip, one commit, and concurrent sends to a queue share it (coalescer.ts).
 * - Sends with dedup ids or into a bounded queue run in a transaction, in this order: (1) read
 *   the configuration; for a
 *   bounded queue, lock its row (`FOR NO KEY UPDATE`); (2) for a bounded queue, count the depth
 *   and refuse a send that would exceed it BEFORE writing anything (inside a caller's
 *   transaction nothing must be left behind by a refused send); (3) claim dedup ids; (4)
 *   register keys (key-heads.ts); (5) insert and notify.
 *
 * maxDepth is enforced with a count, not a counter row. A counter updated by every enqueue and
 * every ack would make every write of a queue queue up on one hot row, bounded or not. Instead
 * only sends into a BOUNDED queue serialise (on the queue row, which nothing else on the hot
 * path locks), and each counts the queue's messages, stopping as soon as the answer is known,
 * so it reads at most `maxDepth` index entries. Acks never wait for it; an ack in flight is
 * still counted, which can only refuse a send, never admit one too many.
 *
 * Dedup ids are claimed race-free with one upsert: `ON CONFLICT DO UPDATE … WHERE expired`
 * takes the row (waiting for a concurrent sender of the same id to commit or roll back) and
 * returns it only if this send now owns the id; an id it did not get is a duplicate.
 */
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
  decodeCursor,
  decodeErrors,
  decodeHeaders,
  decodePayload,
  encodeCursor,
  encodePayload,
  fromJson,
  toInt,
} from './codec.js';
import type { SchemaNames } from './connection.js';
import { Coalescer, type Outcome, coalescing, unwrap } from './coalescer.js';
import type { CommitMeter } from './commit-meter.js';
import type { FairGroups } from './fair-groups.js';
import type { KeyHeads } from './key-heads.js';
import type { Sql } from './sql.js';
import { EnqueuePlan, expiresAt, fullAtDepth, queueFullRetryAfterMs, storedQueueConfig } from '../rules.js';

/** Messages deleted per transaction by purge, so that no purge holds locks for long. */
const purgeChunk = 5_000;

/** A queue's id (what its rows reference) and configuration. */
export interface QueueRef {
  readonly id: number;
  readonly config: QueueConfig;
}

type Int = number | string;

interface MessageRow {
  seq: Int;
  id: string;
  payload_text: string | null;
  payload_bytes: Buffer | null;
  headers: unknown;
  key: string | null;
  priority: number;
  enqueued_at: Int;
  visible_at: Int;
  expires_at: Int | null;
  attempts: number;
  lease_token: string | null;
  errors: unknown;
}

interface StatsRow {
  ready: Int;
  delayed: Int;
  in_flight: Int;
  oldest: Int | null;
  dead_lettered: Int;
  paused_at: Int | null;
}

const messageColumns =
  'seq, id, payload_text, payload_bytes, headers, key, priority, enqueued_at, visible_at, expires_at, attempts, lease_token, errors';

export class QueueOps {
  readonly #clock: Clock;
  readonly #keys: KeyHeads;
  /** Queues last seen with a maxDepth: their sends skip the one-statement path, which would refuse them. */
  readonly #bounded = new Set<string>();
  readonly #sends: Coalescer<readonly EnqueueMessage[], EnqueueResult[] | null>;
  readonly #sql: Record<
    | 'find'
    | 'save'
    | 'list'
    | 'delete'
    | 'pause'
    | 'send'
    | 'lockQueue'
    | 'knownDedupIds'
    | 'depth'
    | 'claimDedupIds'
    | 'insert'
    | 'stats'
    | 'nextDelivery'
    | 'firstPage'
    | 'pageAfter'
    | 'purgeBound'
    | 'purgeChunk',
    string
  >;

  /** @param pool - what coalesced sends run on: the store's autocommit {@link Sql}. */
  readonly #groups: FairGroups;

  constructor(
    names: SchemaNames,
    clock: Clock,
    keys: KeyHeads,
    pool: Sql,
    meter: CommitMeter,
    groups: FairGroups,
  ) {
    this.#clock = clock;
    this.#keys = keys;
    this.#groups = groups;
    this.#sends = new Coalescer((queue, sends) => this.#send(pool, queue, sends), { ...coalescing, meter });
    const { queues, messages, deadLetters, dedup, dropped } = names;
    const insertColumns =
      'queue_id, id, payload_text, payload_bytes, headers, key, priority, enqueued_at, visible_at, key_head, expires_at';
    this.#sql = {
      find: `SELECT id, config FROM ${queues} WHERE name = $1`,
      save: `INSERT INTO ${queues} (name, config) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET config = excluded.config RETURNING config`,
      list: `SELECT config FROM ${queues} ORDER BY name COLLATE "C"`,
      // Only the name goes now; the rows follow in batches (upkeep-ops.ts).
      delete: `WITH gone AS (DELETE FROM ${queues} WHERE name = $1 RETURNING id)
               INSERT INTO ${dropped} (kind, id, dropped_at) SELECT 'queue', id, $2::bigint FROM gone`,
      // Pausing a paused queue keeps the time it was first paused.
      pause: `UPDATE ${queues} SET paused_at = CASE WHEN $2::bigint IS NULL THEN NULL ELSE coalesce(paused_at, $2) END WHERE name = $1`,
      // $9/$10: the distinct keys and how many messages each gets; $11: whether each message is
      // the first of its key in the call. A message is its key's head iff it is the first and the
      // key had no messages: the upserted count equals what this send adds.
      send: `
        WITH q AS (SELECT id, config FROM ${queues} WHERE name = $1),
        open AS (SELECT id, config FROM q WHERE config->>'maxDepth' IS NULL),
        registered AS (
          INSERT INTO ${names.messageKeys} AS k (queue_id, key, messages)
          SELECT open.id, d.key, d.added FROM open, unnest($9::text[], $10::int[]) AS d(key, added) ORDER BY d.key
          ON CONFLICT (queue_id, key) DO UPDATE SET messages = k.messages + excluded.messages
          RETURNING k.key, k.messages),
        stored AS (
          INSERT INTO ${messages} (${insertColumns})
          SELECT open.id, m.id, m.payload_text, m.payload_bytes, m.headers::json, m.key, m.priority, $2::bigint,
                 m.visible_at,
                 m.key IS NULL OR (m.first AND k.messages = ($10::int[])[array_position($9::text[], m.key)]),
                 $2::bigint + coalesce(m.ttl_ms, (open.config->>'messageTtlMs')::bigint)
          FROM open
          CROSS JOIN unnest($3::text[], $4::text[], $5::bytea[], $6::text[], $7::int[], $8::bigint[], $12::text[],
                            $11::bool[], $13::bigint[])
                  WITH ORDINALITY AS m(id, payload_text, payload_bytes, headers, priority, visible_at, key, first, ttl_ms, ord)
          LEFT JOIN registered k ON k.key = m.key
          ORDER BY m.ord)
        SELECT config FROM q`,
      lockQueue: `SELECT 1 FROM ${queues} WHERE id = $1 FOR NO KEY UPDATE`,
      knownDedupIds: `SELECT dedup_id, message_id FROM ${dedup}
                      WHERE queue_id = $1 AND dedup_id = ANY($2::text[]) AND expires_at > $3`,
      depth: `SELECT count(*) AS depth FROM (SELECT 1 FROM ${messages} WHERE queue_id = $1 LIMIT $2) s`,
      claimDedupIds: `
        INSERT INTO ${dedup} AS d (queue_id, dedup_id, message_id, expires_at)
        SELECT $1::bigint, c.dedup_id, c.message_id, $3::bigint
        FROM unnest($4::text[], $5::text[]) AS c(dedup_id, message_id) ORDER BY c.dedup_id
        ON CONFLICT (queue_id, dedup_id) DO UPDATE
          SET message_id = excluded.message_id, expires_at = excluded.expires_at
          WHERE d.expires_at <= $2
        RETURNING d.dedup_id`,
      insert: `
        INSERT INTO ${messages} (${insertColumns}, grp)
        SELECT $1::bigint, m.id, m.payload_text, m.payload_bytes, m.headers::json, m.key, m.priority, $2::bigint, m.visible_at, m.key_head,
               m.expires_at, m.grp
        FROM unnest($3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::int[], $9::bigint[], $10::bool[],
                    $11::bigint[], $12::text[])
                WITH ORDINALITY AS m(id, payload_text, payload_bytes, headers, key, priority, visible_at, key_head, expires_at, grp, ord)
        ORDER BY m.ord`,
      // An expired lease counts as ready: the message is deliverable again.
      stats: `
        SELECT s.*, (SELECT count(*) FROM ${deadLetters} d WHERE d.queue_id = q.id) AS dead_lettered,
               q.paused_at
        FROM ${queues} q, LATERAL (
          SELECT count(*) FILTER (WHERE visible_at <= $2) AS ready,
                 count(*) FILTER (WHERE visible_at > $2 AND lease_token IS NULL) AS delayed,
                 count(*) FILTER (WHERE visible_at > $2 AND lease_token IS NOT NULL) AS in_flight,
                 min(enqueued_at) AS oldest
          FROM ${messages} WHERE queue_id = q.id) s
        WHERE q.name = $1`,
      // Two partial-index lookups, each O(log n): lease expiries and delayed messages.
      nextDelivery: `
        SELECT least(
          (SELECT min(visible_at) FROM ${messages}
           WHERE queue_id = q.id AND lease_token IS NOT NULL AND visible_at > $2),
          (SELECT min(visible_at) FROM ${messages}
           WHERE queue_id = q.id AND lease_token IS NULL AND visible_at > enqueued_at AND visible_at > $2)
        ) AS next
        FROM ${queues} q WHERE q.name = $1`,
      firstPage: `SELECT ${messageColumns} FROM ${messages} WHERE queue_id = $1 ORDER BY priority DESC, seq LIMIT $2`,
      // "After (priority, seq)" as two index ranges (the rest of this priority, then the lower
      // priorities) merged in order; one range with an OR would rescan the queue from its head.
      pageAfter: `
        (SELECT ${messageColumns} FROM ${messages} WHERE queue_id = $1 AND priority = $2 AND seq > $3
         ORDER BY priority DESC, seq LIMIT $4)
        UNION ALL
        (SELECT ${messageColumns} FROM ${messages} WHERE queue_id = $1 AND priority < $2
         ORDER BY priority DESC, seq LIMIT $4)
        ORDER BY priority DESC, seq LIMIT $4`,
      purgeBound: `SELECT max(seq) AS max FROM ${messages}`,
      purgeChunk: `
        DELETE FROM ${messages} WHERE seq = ANY(ARRAY(
          SELECT seq FROM ${messages} WHERE queue_id = $1 AND seq <= $2 LIMIT $3 FOR UPDATE))
        RETURNING key`,
    };
  }

  async find(sql: Sql, name: string): Promise<QueueRef | null> {
    const [row] = await sql.rows<{ id: Int; config: unknown }>(this.#sql.find, [name]);
    if (!row) return null;
    const config = storedQueueConfig(fromJson<QueueConfig>(row.config));
    if (config.maxDepth === null) this.#bounded.delete(name);
    else this.#bounded.add(name);
    return { id: toInt(row.id), config };
  }

  /** The queue's id and configuration; throws `QueueNotFoundError`. */
  async require(sql: Sql, name: string): Promise<QueueRef> {
    const queue = await this.find(sql, name);
    if (!queue) throw new QueueNotFoundError(name);
    return queue;
  }

  async save(sql: Sql, config: QueueConfig): Promise<QueueConfig> {
    const [row] = await sql.rows<{ config: unknown }>(this.#sql.save, [config.name, JSON.stringify(config)]);
    return storedQueueConfig(fromJson<QueueConfig>(row!.config));
  }

  async get(sql: Sql, name: string): Promise<QueueConfig | null> {
    return (await this.find(sql, name))?.config ?? null;
  }

  async list(sql: Sql): Promise<QueueConfig[]> {
    const rows = await sql.rows<{ config: unknown }>(this.#sql.list);
    return rows.map((row) => storedQueueConfig(fromJson<QueueConfig>(row.config)));
  }

  async pause(sql: Sql, name: string, pausedAt: number | null): Promise<boolean> {
    return (await sql.count(this.#sql.pause, [name, pausedAt])) === 1;
  }

  async delete(sql: Sql, name: string): Promise<boolean> {
    return (await sql.count(this.#sql.delete, [name, this.#clock.now()])) > 0;
  }

  /**
   * Stores `messages` in order; see the header for the two paths. With `coalesce` (writes of
   * the store itself, not of a transaction), concurrent one-statement sends to the queue share
   * a statement (coalescer.ts).
   */
  async enqueue(
    sql: Sql,
    queue: string,
    messages: readonly EnqueueMessage[],
    coalesce = false,
  ): Promise<EnqueueResult[]> {
    // Grouped messages register their groups first (fair-groups.ts): the transactional path.
    if (!this.#bounded.has(queue) && messages.every((m) => m.dedupId === null && !m.group)) {
      const results = coalesce
        ? await this.#sends.submit(queue, messages)
        : unwrap((await this.#send(sql, queue, [messages]))[0]!);
      if (results) return results;
    }
    return sql.atomic((tx) => this.#enqueueInTransaction(tx, queue, messages));
  }

  /**
   * The one-statement path for several sends at once, in their order; each gets its results, or
   * null when the queue turned out to be bounded (the send then takes the transactional path).
   */
  async #send(
    sql: Sql,
    queue: string,
    sends: readonly (readonly EnqueueMessage[])[],
  ): Promise<Outcome<EnqueueResult[] | null>[]> {
    const messages = sends.flat();
    const payloads = messages.map((m) => encodePayload(m.payload));
    const added = new Map<string, number>();
    const first = messages.map((m) => {
      if (m.key === null) return false;
      const count = added.get(m.key) ?? 0;
      added.set(m.key, count + 1);
      return count === 0;
    });
    const [row] = await sql.rows<{ config: unknown }>(this.#sql.send, [
      queue,
      this.#clock.now(),
      messages.map((m) => m.id),
      payloads.map((p) => p.text),
      payloads.map((p) => p.bytes),
      messages.map((m) => JSON.stringify(m.headers)),
      messages.map((m) => m.priority),
      messages.map((m) => m.availableAt),
      [...added.keys()],
      [...added.values()],
      first,
      messages.map((m) => m.key),
      messages.map((m) => m.ttlMs ?? null),
    ]);
    if (!row) return sends.map(() => ({ ok: false, error: new QueueNotFoundError(queue) }));
    if (fromJson<QueueConfig>(row.config).maxDepth !== null) {
      this.#bounded.add(queue);
      return sends.map(() => ({ ok: true, value: null }));
    }
    if (messages.length > 0) await sql.notify('queue', queue);
    return sends.map((send) => ({ ok: true, value: send.map((m) => ({ id: m.id, duplicate: false })) }));
  }

  async #enqueueInTransaction(
    sql: Sql,
    name: string,
    messages: readonly EnqueueMessage[],
  ): Promise<EnqueueResult[]> {
    const queue = await this.require(sql, name);
    const now = this.#clock.now();
    const plan = new EnqueuePlan(messages, queue.config);
    if (queue.config.maxDepth !== null) {
      await sql.rows(this.#sql.lockQueue, [queue.id]);
      if (plan.firstWithId.size > 0) {
        const known = await sql.rows<{ dedup_id: string; message_id: string }>(this.#sql.knownDedupIds, [
          queue.id,
          [...plan.firstWithId.keys()],
          now,
        ]);
        for (const row of known) plan.originals.set(row.dedup_id, row.message_id);
      }
      const storing = plan.toStore().length;
      if (storing > 0) await this.#checkDepth(sql, queue, storing);
    }
    await this.#claimDedupIds(sql, queue, plan.firstWithId, plan.originals, now);
    const toStore = plan.toStore();
    await this.#groups.added(
      sql,
      queue.id,
      toStore.map((m) => m.group),
    );
    const heads = await this.#keys.add(
      sql,
      queue.id,
      toStore.map((m) => m.key),
    );
    if (toStore.length > 0) {
      const payloads = toStore.map((m) => encodePayload(m.payload));
      await sql.count(this.#sql.insert, [
        queue.id,
        now,
        toStore.map((m) => m.id),
        payloads.map((p) => p.text),
        payloads.map((p) => p.bytes),
        toStore.map((m) => JSON.stringify(m.headers)),
        toStore.map((m) => m.key),
        toStore.map((m) => m.priority),
        toStore.map((m) => m.availableAt),
        heads,
        toStore.map((m) => expiresAt(m, queue.config, now)),
        toStore.map((m) => m.group ?? null),
      ]);
      await sql.notify('queue', name);
    }
    return plan.results();
  }

  /** Throws `QueueFullError` if `adding` more messages would take the queue past its maxDepth. */
  async #checkDepth(sql: Sql, queue: QueueRef, adding: number): Promise<void> {
    const maxDepth = queue.config.maxDepth!;
    // The queue is full iff it holds at least this many; counting stops there.
    const fullAt = fullAtDepth(maxDepth, adding);
    const full =
      fullAt <= 0 ||
      toInt((await sql.rows<{ depth: Int }>(this.#sql.depth, [queue.id, fullAt]))[0]!.depth) >= fullAt;
    if (full) throw new QueueFullError(queue.config.name, maxDepth, queueFullRetryAfterMs);
  }

  /**
   * Takes the dedup ids of `firstWithId` that are not known duplicates yet. An id somebody else
   * holds (unexpired) is added to `originals` with the id of that message.
   */
  async #claimDedupIds(
    sql: Sql,
    queue: QueueRef,
    firstWithId: ReadonlyMap<string, EnqueueMessage>,
    originals: Map<string, string>,
    now: number,
  ): Promise<void> {
    const wanted = [...firstWithId.entries()].filter(([dedupId]) => !originals.has(dedupId));
    if (wanted.length === 0) return;
    const taken = await sql.rows<{ dedup_id: string }>(this.#sql.claimDedupIds, [
      queue.id,
      now,
      now + queue.config.dedupWindowMs,
      wanted.map(([dedupId]) => dedupId),
      wanted.map(([, m]) => m.id),
    ]);
    const ours = new Set(taken.map((row) => row.dedup_id));
    const lost = wanted.map(([dedupId]) => dedupId).filter((dedupId) => !ours.has(dedupId));
    if (lost.length === 0) return;
    // The rows are locked by the upsert, so they cannot change before this read.
    const holders = await sql.rows<{ dedup_id: string; message_id: string }>(this.#sql.knownDedupIds, [
      queue.id,
      lost,
      now,
    ]);
    for (const row of holders) originals.set(row.dedup_id, row.message_id);
  }

  async stats(sql: Sql, queue: string): Promise<QueueStats> {
    const now = this.#clock.now();
    const [row] = await sql.rows<StatsRow>(this.#sql.stats, [queue, now]);
    if (!row) throw new QueueNotFoundError(queue);
    return {
      queue,
      ready: toInt(row.ready),
      delayed: toInt(row.delayed),
      inFlight: toInt(row.in_flight),
      deadLettered: toInt(row.dead_lettered),
      oldestAgeMs: row.oldest === null ? 0 : Math.max(0, now - toInt(row.oldest)),
      pausedAt: row.paused_at === null ? null : toInt(row.paused_at),
    };
  }

  async nextDeliveryAt(sql: Sql, queue: string): Promise<number | null> {
    const [row] = await sql.rows<{ next: Int | null }>(this.#sql.nextDelivery, [queue, this.#clock.now()]);
    return row?.next == null ? null : toInt(row.next);
  }

  /** Delivery order: priority descending, then enqueue order. The cursor is the last (priority, seq). */
  async listMessages(sql: Sql, queue: string, page: PageRequest): Promise<Page<QueuedMessage>> {
    const { id } = await this.require(sql, queue);
    const limit = Math.max(0, page.limit);
    let rows: MessageRow[];
    if (page.after) {
      const [priority, seq] = decodeCursor(page.after, 2) as [number, number];
      rows = await sql.rows<MessageRow>(this.#sql.pageAfter, [id, priority, seq, limit + 1]);
    } else {
      rows = await sql.rows<MessageRow>(this.#sql.firstPage, [id, limit + 1]);
    }
    const now = this.#clock.now();
    const items = rows.slice(0, limit).map((row) => toQueuedMessage(row, now));
    const last = rows[limit - 1];
    return {
      items,
      next: rows.length > limit && last ? encodeCursor([last.priority, toInt(last.seq)]) : null,
    };
  }

  /**
   * Deletes the messages that were in the queue when the purge started, a chunk per
   * transaction (a purge of millions holds no lock for long); messages sent meanwhile stay.
   */
  async purge(sql: Sql, queue: string): Promise<number> {
    const { id } = await this.require(sql, queue);
    const [bound] = await sql.rows<{ max: Int | null }>(this.#sql.purgeBound);
    if (bound?.max == null) return 0;
    let purged = 0;
    for (;;) {
      const deleted = await sql.atomic(async (tx) => {
        const gone = await tx.rows<{ key: string | null }>(this.#sql.purgeChunk, [id, bound.max, purgeChunk]);
        const keys = gone.flatMap((row) => (row.key === null ? [] : [row.key]));
        if ((await this.#keys.removed(tx, id, keys)) > 0) await tx.notify('queue', queue);
        return gone.length;
      });
      purged += deleted;
      if (deleted < purgeChunk) return purged;
    }
  }
}

function toQueuedMessage(row: MessageRow, now: number): QueuedMessage {
  const visibleAt = toInt(row.visible_at);
  const leased = row.lease_token !== null && visibleAt > now;
  return {
    id: row.id,
    payload: decodePayload(row.payload_text, row.payload_bytes),
    headers: decodeHeaders(row.headers),
    key: row.key,
    priority: row.priority,
    enqueuedAt: toInt(row.enqueued_at),
    // For a leased message visible_at is its lease expiry: when it becomes available again.
    availableAt: visibleAt,
    expiresAt: row.expires_at === null ? null : toInt(row.expires_at),
    attempts: row.attempts,
    state: leased ? 'in-flight' : visibleAt > now ? 'delayed' : 'ready',
    errors: decodeErrors(row.errors),
  };
}
