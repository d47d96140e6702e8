/**
 * Per-key FIFO across processes: of the messages of one (queue, key), exactly the oldest is the
 * key's head (`messages.key_head`), and only heads are claimed. Since a head is deleted only by
 * settling it (ack, dead-letter, purge), one key never has two messages in flight and its
 * messages are delivered in enqueue order.
 *
 * Why a flag and not a check at claim time: `FOR UPDATE SKIP LOCKED` makes concurrent claimers
 * skip each other's rows, but it cannot serialise two claimers choosing "the oldest message of a
 * key" from snapshots that differ, and an enqueue's sequence number is drawn before it commits,
 * so a message with a LOWER seq can become visible after one with a higher seq was already
 * claimed. Both races are closed by making every change to a key's set of messages go through
 * that key's row in `message_keys` (queue, key, number of messages):
 *
 * - Adding (enqueue, redrive) first upserts the key row, adding the number of new messages. The
 *   upsert takes the row lock (waiting for a concurrent holder to commit) and returns the new
 *   count: a message becomes the head iff it is the first of its key in the call and the count
 *   is what the call added (the key had no messages). That reads no other message, so the
 *   one-statement send does the same in its own statement (queue-ops.ts).
 * - Removing a head (ack, dead-letter, lease-expiry dead-letter, purge) first decrements the key
 *   row (taking its lock), then, in a LATER statement, marks the oldest remaining message of the
 *   key as head. That statement's snapshot is taken after the lock was granted, so it sees every
 *   message committed by an enqueue that held the lock before; an enqueue waiting for the lock
 *   sees the decremented count afterwards. A key row that reaches zero is deleted.
 *
 * Row locks live in the tuple, not in the shared lock table, so a call touching thousands of
 * keys cannot exhaust `max_locks_per_transaction` (as one advisory lock per key could). Locks are
 * taken in key order, so two multi-key calls cannot deadlock on them. A hot key
 * serialises its writers, which per-key ordering requires anyway; unkeyed messages never touch
 * this table.
 */
import type { SchemaNames } from './connection.js';
import type { Sql } from './sql.js';

export class KeyHeads {
  readonly #add: string;
  readonly #decrement: string;
  readonly #promote: string;

  constructor(names: SchemaNames) {
    // Both lock key rows in the primary key's order: the upsert by its ORDER BY, the decrement
    // by its index scan of `key = ANY(…)`, which visits the array's values in index order.
    this.#add = `
      INSERT INTO ${names.messageKeys} AS k (queue_id, key, messages)
      SELECT $1::bigint, d.key, d.added FROM unnest($2::text[], $3::int[]) AS d(key, added) ORDER BY d.key
      ON CONFLICT (queue_id, key) DO UPDATE SET messages = k.messages + excluded.messages
      RETURNING k.key, k.messages`;
    // $2 holds distinct keys; $3 how many messages of each left.
    this.#decrement = `
      UPDATE ${names.messageKeys} SET messages = messages - ($3::int[])[array_position($2::text[], key)]
      WHERE queue_id = $1 AND key = ANY($2::text[])`;
    // Idempotent: if the oldest message already is the head, nothing changes.
    this.#promote = `
      WITH emptied AS (
        DELETE FROM ${names.messageKeys} WHERE queue_id = $1 AND key = ANY($2::text[]) AND messages <= 0)
      UPDATE ${names.messages} SET key_head = true
      WHERE seq = ANY(ARRAY(SELECT min(seq) FROM ${names.messages}
                            WHERE queue_id = $1 AND key = ANY($2::text[]) GROUP BY key))
        AND NOT key_head`;
  }

  /**
   * Registers messages about to be inserted, in their insertion order, and resolves with whether
   * each one is the head of its key (always true for an unkeyed message). Must run in the same
   * transaction as the insert.
   */
  async add(sql: Sql, queueId: number, keys: readonly (string | null)[]): Promise<boolean[]> {
    const added = new Map<string, number>();
    for (const key of keys) if (key !== null) added.set(key, (added.get(key) ?? 0) + 1);
    if (added.size === 0) return keys.map(() => true);
    const rows = await sql.rows<{ key: string; messages: number }>(this.#add, [
      queueId,
      [...added.keys()],
      [...added.values()],
    ]);
    const hadMessages = new Set(
      rows.filter((row) => row.messages - added.get(row.key)! > 0).map((row) => row.key),
    );
    const seen = new Set<string>();
    return keys.map((key) => {
      if (key === null) return true;
      const head = !seen.has(key) && !hadMessages.has(key);
      seen.add(key);
      return head;
    });
  }

  /**
   * Hands each key's head on after messages were deleted: `keys` has one entry per deleted
   * keyed message. Must run in the same transaction as the delete. Resolves with how many
   * messages became heads (and so may be claimable now).
   */
  async removed(sql: Sql, queueId: number, keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const removed = new Map<string, number>();
    for (const key of keys) removed.set(key, (removed.get(key) ?? 0) + 1);
    await sql.count(this.#decrement, [queueId, [...removed.keys()], [...removed.values()]]);
    return sql.count(this.#promote, [queueId, [...removed.keys()]]);
  }
}
