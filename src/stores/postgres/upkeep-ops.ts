/**
 * Idempotent-consumer markers and the periodic clean-up (topic retention is in log-ops.ts):
 *
 * - processed markers older than their retention and expired dedup ids are deleted;
 * - rows of deleted queues and topics are deleted. `deleteQueue`/`deleteTopic` only drop the
 *   name (and record the id in `dropped`), so they are instant whatever the size; nothing can
 *   reach rows whose queue or topic id no longer has a name, and here they go in batches. A
 *   tombstone is kept for a while after its rows are gone, for rows that a transaction which
 *   looked the queue up before the deletion committed afterwards.
 *
 * Every delete removes at most {@link batchSize} rows per statement (each its own short
 * transaction), so upkeep never holds locks for long or bloats one transaction. Several
 * processes may run it at once: every step is idempotent.
 */
import type { Clock } from '../../core/clock.js';
import { toInt } from './codec.js';
import type { SchemaNames } from './connection.js';
import type { Sql } from './sql.js';

/** Rows deleted per statement. */
const batchSize = 5_000;

/** How long a tombstone outlives the last rows it found (ms of the store's clock). */
const tombstoneGraceMs = 24 * 3_600_000;

export class UpkeepOps {
  readonly #clock: Clock;
  readonly #markProcessed: string;
  readonly #forgetProcessed: string;
  readonly #forgetDedupIds: string;
  readonly #tombstones: string;
  readonly #dropTombstone: string;
  /** For each kind of tombstone, the batched deletes of its rows, one per table. */
  readonly #sweeps: Readonly<Record<'queue' | 'topic', readonly string[]>>;

  constructor(names: SchemaNames, clock: Clock) {
    this.#clock = clock;
    // ctid = ANY(ARRAY(…)) makes each batch a TID scan of exactly the rows the LIMIT picked.
    const batch = (table: string, where: string): string =>
      `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE ${where} LIMIT ${batchSize}))`;
    this.#markProcessed = `INSERT INTO ${names.processed} (consumer, message_id, processed_at) VALUES ($1, $2, $3)
                           ON CONFLICT DO NOTHING`;
    this.#forgetProcessed = batch(names.processed, 'processed_at < $1');
    // Expired rows are already ignored by enqueue; deleting them only reclaims space.
    this.#forgetDedupIds = batch(names.dedup, 'expires_at <= $1');
    this.#tombstones = `SELECT kind, id, dropped_at FROM ${names.dropped}`;
    this.#dropTombstone = `DELETE FROM ${names.dropped} WHERE kind = $1 AND id = $2`;
    this.#sweeps = {
      queue: [names.messages, names.deadLetters, names.dedup, names.messageKeys, names.queueGroups].map(
        (table) => batch(table, 'queue_id = $1'),
      ),
      topic: [names.events].map((table) => batch(table, 'topic_id = $1')),
    };
  }

  /** True the first time `consumer` marks `messageId`, false after. */
  async markProcessed(sql: Sql, consumer: string, messageId: string): Promise<boolean> {
    return (await sql.count(this.#markProcessed, [consumer, messageId, this.#clock.now()])) === 1;
  }

  /** Forgets processed markers older than `processedRetentionMs` and expired dedup ids. */
  async forgetExpired(sql: Sql, processedRetentionMs: number): Promise<void> {
    const now = this.#clock.now();
    await drain(sql, this.#forgetProcessed, [now - processedRetentionMs]);
    await drain(sql, this.#forgetDedupIds, [now]);
  }

  /** Deletes the rows of deleted queues and topics, and tombstones that have served their time. */
  async sweepDropped(sql: Sql): Promise<void> {
    const now = this.#clock.now();
    const tombstones = await sql.rows<{
      kind: 'queue' | 'topic';
      id: number | string;
      dropped_at: number | string;
    }>(this.#tombstones);
    for (const { kind, id, dropped_at: droppedAt } of tombstones) {
      let found = 0;
      for (const sweep of this.#sweeps[kind]) found += await drain(sql, sweep, [id]);
      if (found === 0 && now - toInt(droppedAt) >= tombstoneGraceMs) {
        await sql.count(this.#dropTombstone, [kind, id]);
      }
    }
  }
}

/** Runs a batched delete until a batch comes back short; resolves with the rows deleted. */
async function drain(sql: Sql, statement: string, values: readonly unknown[]): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await sql.count(statement, values);
    total += deleted;
    if (deleted < batchSize) return total;
  }
}
