/**
 * The two derived facts of the messages table, kept by the statements that add and remove rows:
 *
 * - `queues.depth`: messages in the queue in any state (the maxDepth check reads it instead of
 *   counting);
 * - `messages.key_blocked`: of the messages of one (queue, key), exactly the oldest has 0. Only a
 *   head is ever claimed, so only a head is ever leased, and every delete but a purge or an
 *   expiry removes a leased message: a head.
 *
 * Until schema v7 row triggers kept both. A trigger runs a sub-program for every row, and on the
 * ack path that was a third of the store's CPU per processed message (25 → 19 µs measured); here a
 * batch of acks costs one depth update, and a keyless message costs nothing more.
 */
import type Database from 'better-sqlite3';

export class MessageBookkeeping {
  readonly #depth: Database.Statement<[number, string]>;
  readonly #keyHasMessages: Database.Statement<[string, string], number>;
  readonly #unblockHead: Database.Statement<[string, string]>;
  readonly #blockNewDuplicates: Database.Statement<[number, string]>;

  constructor(db: Database.Database) {
    this.#depth = db.prepare('UPDATE queues SET depth = depth + ? WHERE name = ?');
    this.#keyHasMessages = db
      .prepare<[string, string], number>('SELECT EXISTS (SELECT 1 FROM messages WHERE queue = ? AND key = ?)')
      .pluck();
    this.#unblockHead = db.prepare(
      `UPDATE messages SET key_blocked = 0
       WHERE seq = (SELECT min(seq) FROM messages WHERE queue = ? AND key = ?) AND key_blocked = 1`,
    );
    // Rows added by one INSERT … SELECT cannot see each other while it runs: after it, every new
    // row with an older message of its key is blocked.
    this.#blockNewDuplicates = db.prepare(
      `UPDATE messages SET key_blocked = 1
       WHERE seq > ? AND queue = ? AND key IS NOT NULL AND key_blocked = 0
         AND EXISTS (SELECT 1 FROM messages AS older
                     WHERE older.queue = messages.queue AND older.key = messages.key AND older.seq < messages.seq)`,
    );
  }

  /** The `key_blocked` value of a message about to be added with `key`. */
  blockedOnInsert(queue: string, key: string | null): 0 | 1 {
    return key !== null && this.#keyHasMessages.get(queue, key) === 1 ? 1 : 0;
  }

  /** After rows with seq above `lastSeqBefore` were added in one statement. */
  blockAddedDuplicates(queue: string, lastSeqBefore: number): void {
    this.#blockNewDuplicates.run(lastSeqBefore, queue);
  }

  /** After the head of `key` was removed: the next message of the key becomes its head. */
  headRemoved(queue: string, key: string | null): void {
    if (key !== null) this.#unblockHead.run(queue, key);
  }

  /** Adds `delta` (negative for removals) to the queue's depth. */
  depthChanged(queue: string, delta: number): void {
    if (delta !== 0) this.#depth.run(delta, queue);
  }
}
