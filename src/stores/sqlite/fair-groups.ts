/**
 * Fairness groups (tenants): claims of a queue whose messages carry groups take work
 * round-robin across the groups, so that one group's backlog cannot starve another's.
 *
 * `queue_groups` holds, per queue, the groups that have messages and the turn each was last
 * served at (0: not yet). grp '' stands for the messages without a group: they count as one group
 * of their own. Its row is added with the queue's first group and stays (so an ungrouped send
 * never has to register anything); a queue without rows has never seen a group, and its claims
 * take the path they always took (one ordered walk of `messages_claimable`).
 *
 * A claim of `max` from a grouped queue ({@link FairGroups.take}):
 *
 * 1. walks the groups in the order they were served (least recently first; never-served groups
 *    first), taking the best deliverable message of each (priority, then enqueue order), and
 *    leasing it at once, so that the next probe of the same group finds the one after;
 * 2. while it has fewer than `max`, takes one more from each group that gave one in the previous
 *    turn, in the same order, until `max` or until no group has anything deliverable;
 * 3. records the turns: each group it took from gets a new turn number in the order of its last
 *    take; a group with nothing deliverable now (all delayed or in flight) goes behind the ones
 *    not walked but ahead of the ones served, and a group with no messages at all loses its row.
 *
 * Each probe is one seek in an index per (queue, group) (`messages_grouped`, or
 * `messages_claimable` for the ungrouped), so a claim costs O(groups walked + max) seeks whatever
 * the backlog; groups with nothing deliverable are walked once and then wait their turn again.
 */
import type Database from 'better-sqlite3';
import type { PayloadColumn } from './codec.js';
import { firstRows } from './rows.js';

/** The row a claim reads for each message it may lease (lease-ops.ts). */
export interface ClaimableRow {
  seq: number;
  id: string;
  payload: PayloadColumn;
  headers: string;
  key: string | null;
  grp: string | null;
  priority: number;
  enqueued_at: number;
  attempts: number;
  errors: string;
}

interface GroupRow {
  grp: string;
  served: number;
}

/** Group rows read per page while walking. */
const pageSize = 64;

export const claimColumns = 'seq, id, payload, headers, key, grp, priority, enqueued_at, attempts, errors';

export class FairGroups {
  readonly #register: Database.Statement<[string, string]>;
  readonly #registerAdded: Database.Statement<{ queue: string; seq: number }>;
  readonly #firstPage: Database.Statement<[string], GroupRow>;
  readonly #pageAfter: Database.Statement<[string, number, string], GroupRow>;
  readonly #lastTurn: Database.Statement<[string], number>;
  readonly #serve: Database.Statement<[number, string, string]>;
  readonly #hasMessages: Database.Statement<[string, string], number>;
  readonly #drop: Database.Statement<[string, string]>;
  readonly #dropQueue: Database.Statement<[string]>;
  readonly #takeGroup: Database.Statement<{ queue: string; grp: string; now: number }, ClaimableRow>;
  /** Deliverable messages without a group, in delivery order: also the claim of a queue without groups. */
  readonly ungrouped: Database.Statement<{ queue: string; now: number }, ClaimableRow>;

  constructor(db: Database.Database) {
    this.#register = db.prepare(
      'INSERT INTO queue_groups (queue, grp, served) VALUES (?, ?, 0) ON CONFLICT (queue, grp) DO NOTHING',
    );
    this.#registerAdded = db.prepare(
      `INSERT OR IGNORE INTO queue_groups (queue, grp, served)
       SELECT DISTINCT queue, grp, 0 FROM messages WHERE queue = @queue AND seq > @seq AND grp IS NOT NULL
       UNION SELECT @queue, '', 0
       WHERE EXISTS (SELECT 1 FROM messages WHERE queue = @queue AND seq > @seq AND grp IS NOT NULL)`,
    );
    this.#firstPage = db.prepare('SELECT grp, served FROM queue_groups WHERE queue = ? ORDER BY served, grp');
    this.#pageAfter = db.prepare(
      'SELECT grp, served FROM queue_groups WHERE queue = ? AND (served, grp) > (?, ?) ORDER BY served, grp',
    );
    this.#lastTurn = db
      .prepare<[string], number>('SELECT coalesce(max(served), 0) FROM queue_groups WHERE queue = ?')
      .pluck();
    this.#serve = db.prepare('UPDATE queue_groups SET served = ? WHERE queue = ? AND grp = ?');
    this.#hasMessages = db
      .prepare<[string, string], number>(
        'SELECT EXISTS (SELECT 1 FROM messages INDEXED BY messages_by_group WHERE queue = ? AND grp = ?)',
      )
      .pluck();
    this.#drop = db.prepare('DELETE FROM queue_groups WHERE queue = ? AND grp = ?');
    this.#dropQueue = db.prepare('DELETE FROM queue_groups WHERE queue = ?');
    // Deliverable: unleased heads of their keys that are due, merged with expired leases (few,
    // and always key heads), in delivery order. INDEXED BY keeps the ordered walk (without
    // statistics SQLite would rather sort); claim abandons it after the rows it needs (rows.ts).
    this.ungrouped = db.prepare(
      `SELECT ${claimColumns} FROM messages INDEXED BY messages_claimable
       WHERE queue = @queue AND lease_token IS NULL AND key_blocked = 0 AND grp IS NULL AND visible_at <= @now
       UNION ALL
       SELECT ${claimColumns} FROM messages INDEXED BY messages_leased
       WHERE queue = @queue AND lease_token IS NOT NULL AND visible_at <= @now AND grp IS NULL
       ORDER BY priority DESC, seq`,
    );
    this.#takeGroup = db.prepare(
      `SELECT ${claimColumns} FROM messages INDEXED BY messages_grouped
       WHERE queue = @queue AND grp = @grp AND lease_token IS NULL AND key_blocked = 0 AND visible_at <= @now
       UNION ALL
       SELECT ${claimColumns} FROM messages INDEXED BY messages_leased
       WHERE queue = @queue AND lease_token IS NOT NULL AND visible_at <= @now AND grp = @grp
       ORDER BY priority DESC, seq`,
    );
  }

  /** Registers the groups of messages being added (`groups`: theirs, null for none). */
  added(queue: string, groups: readonly (string | null | undefined)[]): void {
    let registered: Set<string> | null = null;
    for (const group of groups) {
      if (group === null || group === undefined || registered?.has(group)) continue;
      if (registered === null) {
        registered = new Set();
        this.#register.run(queue, '');
      }
      registered.add(group);
      this.#register.run(queue, group);
    }
  }

  /** Registers the groups of the rows with seq above `lastSeqBefore` (added by one statement). */
  addedSince(queue: string, lastSeqBefore: number): void {
    this.#registerAdded.run({ queue, seq: lastSeqBefore });
  }

  /** The first page of the queue's groups in serving order; empty for a queue that never saw one. */
  firstPage(queue: string): GroupRow[] {
    return firstRows(this.#firstPage.iterate(queue), pageSize);
  }

  /** Forgets the groups of a deleted queue. */
  dropQueue(queue: string): void {
    this.#dropQueue.run(queue);
  }

  /**
   * Takes up to `max` deliverable messages round-robin across the groups (see the header),
   * calling `lease` on each as it is taken. `first` is {@link firstPage}'s answer (not empty).
   */
  take(
    queue: string,
    now: number,
    max: number,
    first: GroupRow[],
    lease: (row: ClaimableRow) => void,
  ): ClaimableRow[] {
    const taken: ClaimableRow[] = [];
    /** Per group taken from: the index in `taken` of its last message. */
    const lastTake = new Map<string, number>();
    const idle: string[] = [];
    /** Takes up to `count` of the group's best deliverable messages; false when it had none. */
    const takeFrom = (grp: string, count: number): boolean => {
      const rows =
        grp === '' ? this.ungrouped.iterate({ queue, now }) : this.#takeGroup.iterate({ queue, grp, now });
      const batch = firstRows(rows, count);
      for (const row of batch) {
        lease(row);
        lastTake.set(grp, taken.length);
        taken.push(row);
      }
      return batch.length > 0;
    };
    const takeOne = (grp: string): boolean => takeFrom(grp, 1);
    let active: string[] = [];
    let page = first;
    walk: for (;;) {
      for (const { grp } of page) {
        if (takeOne(grp)) {
          active.push(grp);
          if (taken.length >= max) break walk;
        } else if (grp !== '' && this.#hasMessages.get(queue, grp) === 0) {
          this.#drop.run(queue, grp);
        } else {
          idle.push(grp);
        }
      }
      const last = page[page.length - 1];
      if (page.length < pageSize || !last) break;
      page = firstRows(this.#pageAfter.iterate(queue, last.served, last.grp), pageSize);
    }
    while (taken.length < max && active.length > 0) {
      // One group left with work: the rest of the claim is its next messages, in one walk.
      if (active.length === 1) {
        takeFrom(active[0]!, max - taken.length);
        break;
      }
      const next: string[] = [];
      for (const grp of active) {
        if (!takeOne(grp)) continue;
        next.push(grp);
        if (taken.length >= max) break;
      }
      active = next;
    }
    const base = this.#lastTurn.get(queue)!;
    idle.forEach((grp, index) => this.#serve.run(base + 1 + index, queue, grp));
    for (const [grp, index] of lastTake) this.#serve.run(base + idle.length + 1 + index, queue, grp);
    return taken;
  }
}
