/**
 * Fairness groups (tenants) across processes: claims of a queue whose messages carry groups take
 * work round-robin across the groups, so that one group's backlog cannot starve another's.
 *
 * `queue_groups` holds, per queue, the groups that have messages and the turn each was last
 * served at (drawn from the sequence `queue_group_turns`; 0: not yet). grp '' stands for the
 * messages without a group, which count as one group of their own; its row is added with the
 * queue's first group and stays, so ungrouped sends never register anything. A queue without rows
 * never saw a group, and its claims are the one statement they always were (lease-ops.ts), which
 * only adds an index probe of this table.
 *
 * A grouped claim is one statement too ({@link FairGroups.claim}):
 *
 * 1. the first groups in serving order (least recently served first, never served first), a few
 *    more than the claim wants;
 * 2. for each, its best deliverable messages (priority, then enqueue order) from the group's own
 *    index (`messages_grouped`, or `messages_claimable` for the ungrouped): a bounded share per
 *    group, so the statement reads O(groups × share) index entries whatever the backlog. The
 *    share is at least 64 even for a claim of one: concurrent claimers (each consumer's
 *    ack-and-claim) see the same candidates and skip each other's locked ones, so a share of one
 *    would leave all but one of them empty-handed;
 * 3. ranked by turn (a group's 1st message, then its 2nd, …) and, within a turn, by the groups'
 *    order, locked `FOR UPDATE SKIP LOCKED` in that order until the claim has what it wants
 *    (concurrent claimers skip each other's rows), and leased;
 * 4. the turns recorded: each group taken from gets a new turn in the order of its last take,
 *    after the groups that had nothing deliverable (which go behind the ones not walked). A
 *    group row some other claimer is bumping is skipped (`SKIP LOCKED`), never waited for.
 *
 * When a claim got fewer than it wanted while some group had more than its share, or groups were
 * left unwalked, the caller claims again for the rest.
 *
 * A group's row goes when the group has no messages. Removing it races with a send of the group,
 * so both go through the row: a send inserts the row if missing and then holds `FOR KEY SHARE` on
 * it until its commit (retrying when a removal got there first); a removal ({@link prune}) locks
 * the row `FOR UPDATE`, and only then, in a later statement (a later snapshot, which sees every
 * message of senders that held the row before), checks that the group has no messages. Sends of
 * one group share the lock; a claim's turn update (`FOR NO KEY UPDATE`) does not conflict with it.
 */
import type { SchemaNames } from './connection.js';
import type { Sql } from './sql.js';

/** Deliverable (as the plain claim has it): a due key head, not an exhausted lease, not expired. */
function claimable(alias: string): string {
  return `${alias}key_head AND ${alias}visible_at <= $2
    AND NOT (${alias}lease_token IS NOT NULL AND ${alias}attempts >= (SELECT max_attempts FROM q))
    AND (${alias}expires_at IS NULL OR ${alias}expires_at > $2)`;
}

/**
 * The `q` of a claim statement (this module's and lease-ops.ts's): queue $1 with its max attempts,
 * whether it is paused, whether it has a `globalConcurrency` that the caller does not hold (the
 * boolean parameter `holdsBound`; such a claim leases nothing), whether it has fairness groups,
 * and two probes at time $2: expired last attempts, and TTL expiries, for the sweep after the
 * claim. Each probe is an ordered LIMIT 1 computed once: written as EXISTS in the select list it
 * ran once per claimed row, and the generic plan of the prepared statement chose a sequential
 * scan for it (EXISTS looks cheap to satisfy by scanning), which took a second with 300,000 rows.
 */
export function claimedQueue(names: SchemaNames, holdsBound: string): string {
  const { messages } = names;
  return `
    SELECT id, max_attempts, paused, bounded,
           (SELECT visible_at FROM ${messages}
            WHERE queue_id = queue.id AND lease_token IS NOT NULL AND visible_at <= $2
              AND attempts >= queue.max_attempts
            ORDER BY visible_at LIMIT 1) IS NOT NULL AS expired,
           (SELECT expires_at FROM ${messages}
            WHERE queue_id = queue.id AND expires_at <= $2 AND (lease_token IS NULL OR visible_at <= $2)
            ORDER BY expires_at LIMIT 1) IS NOT NULL AS ttl_expired,
           EXISTS (SELECT 1 FROM ${names.queueGroups} WHERE queue_id = queue.id) AS grouped
    FROM (SELECT id, (config->>'maxAttempts')::int AS max_attempts, paused_at IS NOT NULL AS paused,
                 config->>'globalConcurrency' IS NOT NULL AND NOT ${holdsBound}::boolean AS bounded
          FROM ${names.queues} WHERE name = $1) AS queue`;
}

export class FairGroups {
  readonly #register: string;
  readonly #hold: string;
  readonly #lockForRemoval: string;
  readonly #remove: string;
  /**
   * The grouped claim: $1 queue name, $2 now, $3 lease token, $4 lease expiry, $5 how many, $6 how
   * many groups to walk, $7 whether the caller holds the queue's `globalConcurrency` (else a
   * bounded queue leases nothing and answers `bounded`, as lease-ops.ts's plain claim does). Its rows are like the plain claim's, plus `more` (claim again for the
   * rest) and `empty` (groups with no messages left, for {@link prune}), ordered as delivered.
   */
  readonly claim: string;

  constructor(names: SchemaNames) {
    const { queueGroups, messages } = names;
    this.#register = `
      INSERT INTO ${queueGroups} (queue_id, grp, served)
      SELECT $1::bigint, g, 0 FROM unnest($2::text[]) AS g ORDER BY g
      ON CONFLICT (queue_id, grp) DO NOTHING`;
    this.#hold = `SELECT grp FROM ${queueGroups} WHERE queue_id = $1 AND grp = ANY($2::text[]) ORDER BY grp FOR KEY SHARE`;
    this.#lockForRemoval = `
      SELECT grp FROM ${queueGroups} WHERE queue_id = $1 AND grp = ANY($2::text[]) AND grp <> '' ORDER BY grp FOR UPDATE`;
    this.#remove = `
      DELETE FROM ${queueGroups} g
      WHERE queue_id = $1 AND grp = ANY($2::text[]) AND grp <> ''
        AND NOT EXISTS (SELECT 1 FROM ${messages} m WHERE m.queue_id = $1 AND m.grp = g.grp)`;
    const queueId = '(SELECT id FROM q)';
    this.claim = `
      WITH q AS (${claimedQueue(names, '$7')}),
      g AS (
        SELECT grp, row_number() OVER (ORDER BY served, grp) AS ord
        FROM (SELECT grp, served FROM ${queueGroups}
              WHERE queue_id = ${queueId} AND NOT (SELECT paused OR bounded FROM q)
              ORDER BY served, grp LIMIT $6) walked),
      share AS (SELECT greatest(64, least($5::int, ceil($5 * 4.0 / greatest(count(*), 1))::int)) AS n FROM g),
      cand AS (
        SELECT c.seq, g.grp, g.ord, row_number() OVER (PARTITION BY g.grp ORDER BY c.priority DESC, c.seq) AS turn
        FROM g CROSS JOIN LATERAL (
          (SELECT seq, priority FROM ${messages}
           WHERE queue_id = ${queueId} AND g.grp <> '' AND grp = g.grp AND ${claimable('')}
           ORDER BY priority DESC, seq LIMIT (SELECT n FROM share))
          UNION ALL
          (SELECT seq, priority FROM ${messages}
           WHERE queue_id = ${queueId} AND g.grp = '' AND grp IS NULL AND ${claimable('')}
           ORDER BY priority DESC, seq LIMIT (SELECT n FROM share))) c),
      ranked AS (SELECT ARRAY(SELECT seq FROM cand ORDER BY turn, ord) AS seqs),
      locked AS (
        SELECT seq FROM ${messages} m
        WHERE seq = ANY((SELECT seqs FROM ranked)::bigint[]) AND ${claimable('m.')}
        ORDER BY array_position((SELECT seqs FROM ranked), seq)
        LIMIT $5
        FOR UPDATE SKIP LOCKED),
      picked AS (SELECT seq, grp, ord, turn FROM locked JOIN cand USING (seq)),
      leased AS (
        UPDATE ${messages} SET attempts = attempts + 1, lease_token = $3, visible_at = $4
        WHERE seq = ANY(ARRAY(SELECT seq FROM picked))
        RETURNING seq, id, payload_text, payload_bytes, headers, key, priority, enqueued_at, attempts, errors),
      turns AS (
        SELECT o.grp, nextval('${names.groupTurns}') AS turn
        FROM (SELECT g.grp FROM g LEFT JOIN (SELECT grp, max(turn) AS last FROM picked GROUP BY grp) p USING (grp)
              WHERE p.grp IS NOT NULL OR NOT EXISTS (SELECT 1 FROM cand WHERE cand.grp = g.grp)
              ORDER BY p.last NULLS FIRST, g.ord) o),
      bumped AS (
        UPDATE ${queueGroups} qg SET served = turns.turn FROM turns
        WHERE qg.queue_id = ${queueId} AND qg.grp = turns.grp
          AND qg.grp = ANY(ARRAY(SELECT grp FROM ${queueGroups}
                                 WHERE queue_id = ${queueId} AND grp IN (SELECT grp FROM turns)
                                 FOR NO KEY UPDATE SKIP LOCKED))
        RETURNING 1)
      SELECT q.id AS queue_id, q.expired, q.ttl_expired, q.grouped, q.bounded,
             (SELECT count(*) FROM g) >= $6
               OR EXISTS (SELECT 1 FROM cand, share WHERE cand.turn >= share.n) AS more,
             ARRAY(SELECT g.grp FROM g
                   WHERE g.grp <> '' AND NOT EXISTS (SELECT 1 FROM cand WHERE cand.grp = g.grp)
                     AND NOT EXISTS (SELECT 1 FROM ${messages} WHERE queue_id = ${queueId} AND grp = g.grp)) AS empty,
             (SELECT count(*) FROM bumped) AS bumped,
             l.*
      FROM q LEFT JOIN (leased l JOIN picked p USING (seq)) ON true
      ORDER BY p.turn, p.ord`;
  }

  /**
   * Registers the groups of messages about to be inserted and holds their rows until the
   * transaction ends (see the header). Must run in the inserting transaction, before the insert.
   */
  async added(sql: Sql, queueId: number, groups: readonly (string | null | undefined)[]): Promise<void> {
    const named = [...new Set(groups.filter((group): group is string => typeof group === 'string'))].sort();
    if (named.length === 0) return;
    await sql.count(this.#register, [queueId, ['', ...named]]);
    for (;;) {
      const held = await sql.rows<{ grp: string }>(this.#hold, [queueId, named]);
      if (held.length === named.length) return;
      // A removal took a row between the insert and the lock: insert it again.
      await sql.count(this.#register, [queueId, named]);
    }
  }

  /** Removes the rows of `groups` that have no messages left (a claim found them empty). */
  async prune(sql: Sql, queueId: number, groups: readonly string[]): Promise<void> {
    if (groups.length === 0) return;
    await sql.atomic(async (tx) => {
      await tx.rows(this.#lockForRemoval, [queueId, groups]);
      await tx.count(this.#remove, [queueId, groups]);
    });
  }
}
