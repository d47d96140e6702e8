/**
 * A queue's dead letters: listing (oldest first), redrive and purge.
 *
 * Redrive is an operator action: it moves messages back even when that takes the queue past its
 * `maxDepth`, and it does not consult dedup ids (the messages were accepted once already).
 * Redriven messages go to the END of the queue (new enqueue sequence numbers) with attempts
 * reset, so per-key order among them follows their dead-lettering order; their keys are
 * registered like an enqueue's (key-heads.ts).
 *
 * Both redrive and purge work through the dead letters that existed when they started, a chunk
 * per transaction, so that moving or deleting millions never holds locks for long. A chunk is
 * atomic (nothing is lost or duplicated between the two tables); the whole operation is not, so
 * a concurrent reader can see it half done.
 */
import type { Clock } from '../../core/clock.js';
import type { DeadLetter, DeadLetterSelection, Page, PageRequest } from '../../store/port.js';
import { decodeCursor, decodeErrors, decodeHeaders, decodePayload, encodeCursor, toInt } from './codec.js';
import type { SchemaNames } from './connection.js';
import type { FairGroups } from './fair-groups.js';
import type { KeyHeads } from './key-heads.js';
import type { QueueOps } from './queue-ops.js';
import type { Sql } from './sql.js';

type Int = number | string;

interface DeadLetterRow {
  seq: Int;
  id: string;
  payload_text: string | null;
  payload_bytes: Buffer | null;
  headers: unknown;
  key: string | null;
  priority: number;
  enqueued_at: Int;
  dead_lettered_at: Int;
  attempts: number;
  errors: unknown;
}

/** Dead letters moved or deleted per transaction. */
const chunkSize = 1_000;

export class DeadLetterOps {
  readonly #clock: Clock;
  readonly #queues: QueueOps;
  readonly #keys: KeyHeads;
  readonly #sql: Record<'page' | 'bound' | 'redriveChunk' | 'move' | 'purgeChunk', string>;

  readonly #groups: FairGroups;

  constructor(names: SchemaNames, clock: Clock, queues: QueueOps, keys: KeyHeads, groups: FairGroups) {
    this.#clock = clock;
    this.#queues = queues;
    this.#keys = keys;
    this.#groups = groups;
    const { deadLetters, messages } = names;
    // $3 is the selection: null for all dead letters of the queue, or an array of ids.
    const selected = `queue_id = $1 AND seq <= $2 AND ($3::text[] IS NULL OR id = ANY($3::text[]))`;
    this.#sql = {
      page: `
        SELECT seq, id, payload_text, payload_bytes, headers, key, priority, enqueued_at, dead_lettered_at, attempts, errors
        FROM ${deadLetters} WHERE queue_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      bound: `SELECT max(seq) AS max FROM ${deadLetters}`,
      redriveChunk: `SELECT seq, key, grp FROM ${deadLetters} WHERE ${selected} ORDER BY seq LIMIT $4 FOR UPDATE`,
      move: `
        WITH moved AS (DELETE FROM ${deadLetters} WHERE seq = ANY($1::bigint[]) RETURNING *)
        INSERT INTO ${messages} (queue_id, id, payload_text, payload_bytes, headers, key, grp, priority, enqueued_at,
                                 visible_at, attempts, key_head, errors)
        SELECT d.queue_id, d.id, d.payload_text, d.payload_bytes, d.headers, d.key, d.grp, d.priority, d.enqueued_at,
               $3::bigint, 0, h.key_head, d.errors
        FROM moved d JOIN unnest($1::bigint[], $2::bool[]) WITH ORDINALITY AS h(seq, key_head, ord) ON h.seq = d.seq
        ORDER BY h.ord`,
      purgeChunk: `DELETE FROM ${deadLetters} WHERE seq = ANY(ARRAY(SELECT seq FROM ${deadLetters} WHERE ${selected} LIMIT $4))`,
    };
  }

  /** Oldest first; the cursor is the last dead-lettering sequence number. */
  async list(sql: Sql, queue: string, page: PageRequest): Promise<Page<DeadLetter>> {
    const { id } = await this.#queues.require(sql, queue);
    const limit = Math.max(0, page.limit);
    const after = page.after ? decodeCursor(page.after, 1)[0]! : 0;
    const rows = await sql.rows<DeadLetterRow>(this.#sql.page, [id, after, limit + 1]);
    const last = rows[limit - 1];
    return {
      items: rows.slice(0, limit).map((row) => toDeadLetter(queue, row)),
      next: rows.length > limit && last ? encodeCursor([toInt(last.seq)]) : null,
    };
  }

  async redrive(sql: Sql, queue: string, selection: DeadLetterSelection): Promise<number> {
    const { id } = await this.#queues.require(sql, queue);
    const bound = await this.#bound(sql, selection);
    if (bound === null) return 0;
    const params = [id, bound, selection.ids ?? null, chunkSize];
    let moved = 0;
    for (;;) {
      const chunk = await sql.atomic(async (tx) => {
        const rows = await tx.rows<{ seq: Int; key: string | null; grp: string | null }>(
          this.#sql.redriveChunk,
          params,
        );
        if (rows.length === 0) return 0;
        await this.#groups.added(
          tx,
          id,
          rows.map((row) => row.grp),
        );
        const heads = await this.#keys.add(
          tx,
          id,
          rows.map((row) => row.key),
        );
        await tx.count(this.#sql.move, [rows.map((row) => row.seq), heads, this.#clock.now()]);
        await tx.notify('queue', queue);
        return rows.length;
      });
      moved += chunk;
      if (chunk < chunkSize) return moved;
    }
  }

  async purge(sql: Sql, queue: string, selection: DeadLetterSelection): Promise<number> {
    const { id } = await this.#queues.require(sql, queue);
    const bound = await this.#bound(sql, selection);
    if (bound === null) return 0;
    let purged = 0;
    for (;;) {
      const chunk = await sql.count(this.#sql.purgeChunk, [id, bound, selection.ids ?? null, chunkSize]);
      purged += chunk;
      if (chunk < chunkSize) return purged;
    }
  }

  /** The highest dead-letter sequence number now: the operation ends there. Null when there is nothing to do. */
  async #bound(sql: Sql, selection: DeadLetterSelection): Promise<number | null> {
    if (selection.ids?.length === 0) return null;
    const [row] = await sql.rows<{ max: Int | null }>(this.#sql.bound);
    return row?.max == null ? null : toInt(row.max);
  }
}

function toDeadLetter(queue: string, row: DeadLetterRow): DeadLetter {
  return {
    id: row.id,
    queue,
    payload: decodePayload(row.payload_text, row.payload_bytes),
    headers: decodeHeaders(row.headers),
    key: row.key,
    priority: row.priority,
    enqueuedAt: toInt(row.enqueued_at),
    deadLetteredAt: toInt(row.dead_lettered_at),
    attempts: row.attempts,
    errors: decodeErrors(row.errors),
  };
}
