/**
 * A queue's dead letters: listing (oldest first), redrive and purge.
 *
 * Redrive is an operator action: it moves messages back even when that takes the queue past its
 * `maxDepth`, and it does not consult dedup ids (the messages were accepted once already).
 * Redriven messages go to the END of the queue (new enqueue sequence numbers) with attempts
 * reset, so per-key order among them follows their dead-lettering order.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import type { DeadLetter, DeadLetterSelection, Page, PageRequest } from '../../store/port.js';
import {
  type PayloadColumn,
  decodeCursor,
  decodeErrors,
  decodeHeaders,
  decodePayload,
  encodeCursor,
} from './codec.js';
import type { QueueOps } from './queue-ops.js';
import type { MessageBookkeeping } from './message-bookkeeping.js';
import type { FairGroups } from './fair-groups.js';

interface DeadLetterRow {
  seq: number;
  id: string;
  payload: PayloadColumn;
  headers: string;
  key: string | null;
  priority: number;
  enqueued_at: number;
  dead_lettered_at: number;
  attempts: number;
  errors: string;
}

/** Statements that act on all of a queue's dead letters, or on those with the given ids. */
interface SelectionStatements {
  readonly redrive: Database.Statement<{ queue: string; ids: string; now: number }>;
  readonly delete: Database.Statement<{ queue: string; ids: string }>;
}

export class DeadLetterOps {
  readonly #clock: Clock;
  readonly #queues: QueueOps;
  readonly #page: Database.Statement<[string, number, number], DeadLetterRow>;
  readonly #all: SelectionStatements;
  readonly #byId: SelectionStatements;
  readonly #lastSeq: Database.Statement<[], number>;
  readonly #bookkeeping: MessageBookkeeping;
  readonly #groups: FairGroups;

  constructor(
    db: Database.Database,
    clock: Clock,
    queues: QueueOps,
    bookkeeping: MessageBookkeeping,
    groups: FairGroups,
  ) {
    this.#clock = clock;
    this.#queues = queues;
    this.#bookkeeping = bookkeeping;
    this.#groups = groups;
    this.#lastSeq = db.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM messages').pluck();
    this.#page = db.prepare(
      `SELECT seq, id, payload, headers, key, priority, enqueued_at, dead_lettered_at, attempts, errors
       FROM dead_letters WHERE queue = ? AND seq > ? ORDER BY seq LIMIT ?`,
    );
    const statements = (where: string): SelectionStatements => ({
      redrive: db.prepare(
        `INSERT INTO messages (id, queue, payload, headers, key, grp, priority, enqueued_at, visible_at, attempts, lease_token, errors)
         SELECT id, queue, payload, headers, key, grp, priority, enqueued_at, @now, 0, NULL, errors
         FROM dead_letters WHERE ${where} ORDER BY seq`,
      ),
      delete: db.prepare(`DELETE FROM dead_letters WHERE ${where}`),
    });
    // Both variants are bound with the same object; better-sqlite3 ignores the unused `ids`.
    this.#all = statements('queue = @queue');
    this.#byId = statements('queue = @queue AND id IN (SELECT value FROM json_each(@ids))');
  }

  /** Oldest first; the cursor is the last dead-lettering sequence number. */
  list(queue: string, page: PageRequest): Page<DeadLetter> {
    this.#queues.require(queue);
    const limit = Math.max(0, page.limit);
    const after = page.after ? decodeCursor(page.after, 1)[0]! : 0;
    const rows = this.#page.all(queue, after, limit + 1);
    const last = rows[limit - 1];
    return {
      items: rows.slice(0, limit).map((row) => toDeadLetter(queue, row)),
      next: rows.length > limit && last ? encodeCursor([last.seq]) : null,
    };
  }

  redrive(queue: string, selection: DeadLetterSelection): number {
    this.#queues.require(queue);
    const statements = selection.ids ? this.#byId : this.#all;
    const params = { queue, ids: JSON.stringify(selection.ids ?? []) };
    const lastSeq = this.#lastSeq.get()!;
    const moved = statements.redrive.run({ ...params, now: this.#clock.now() }).changes;
    statements.delete.run(params);
    if (moved > 0) {
      this.#bookkeeping.blockAddedDuplicates(queue, lastSeq);
      this.#bookkeeping.depthChanged(queue, moved);
      this.#groups.addedSince(queue, lastSeq);
    }
    return moved;
  }

  purge(queue: string, selection: DeadLetterSelection): number {
    this.#queues.require(queue);
    const statements = selection.ids ? this.#byId : this.#all;
    return statements.delete.run({ queue, ids: JSON.stringify(selection.ids ?? []) }).changes;
  }
}

function toDeadLetter(queue: string, row: DeadLetterRow): DeadLetter {
  return {
    id: row.id,
    queue,
    payload: decodePayload(row.payload),
    headers: decodeHeaders(row.headers),
    key: row.key,
    priority: row.priority,
    enqueuedAt: row.enqueued_at,
    deadLetteredAt: row.dead_lettered_at,
    attempts: row.attempts,
    errors: decodeErrors(row.errors),
  };
}
