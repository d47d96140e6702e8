/**
 * Consumer groups: membership, partition ownership and committed offsets (the protocol is the
 * `GroupMembership` TSDoc of the port), in tables, so that members in different processes and
 * on different machines rebalance against one shared state.
 *
 * Membership is lazy: nothing runs in the background, so members whose session ran out are
 * removed by the next join or heartbeat of anyone in the group (a member's own late heartbeat
 * included: it then learns it was removed). Every removal and every new member raises the
 * generation. Joins, heartbeats and seeks lock the group row (`FOR UPDATE`) first, so one
 * group's membership changes one at a time, each seeing the previous one's result.
 *
 * Ownership is a row per partition in `group_owners`; its primary key makes "at most one owner"
 * a constraint, and acquiring is `INSERT … ON CONFLICT DO NOTHING` of an assigned partition.
 * Owners are only ever removed by their member (release, leave), by that member's expiry, or by
 * a seek, which is what keeps two members off one partition while a rebalance hands it over.
 *
 * A commit is fenced by ownership in one statement: it takes a share lock on the committing
 * member's owner row and only then moves the offset (never backwards). A release, leave, expiry
 * or seek deletes that row, so it either waits for the commit to finish or the commit finds no
 * row and is refused; a commit can never land after its member lost the partition.
 */
import type { Clock } from '../../core/clock.js';
import {
  GroupNotEmptyError,
  NotPartitionOwnerError,
  OffsetOutOfRangeError,
  TopicNotFoundError,
  UnknownMemberError,
} from '../../core/errors.js';
import type {
  CommittedOffset,
  GroupMember,
  GroupMembership,
  GroupState,
  JoinGroupRequest,
} from '../../store/port.js';
import { fromJson, toInt } from './codec.js';
import type { SchemaNames } from './connection.js';
import type { LogOps, TopicRef } from './log-ops.js';
import type { Sql } from './sql.js';
import { assignedPartitions } from '../rules.js';

type Int = number | string;

interface ViewRow {
  generation: Int;
  seek_epoch: Int;
  owned: number[];
}

interface StateRow {
  generation: Int;
  paused_at: Int | null;
  members: unknown;
  committed: unknown;
}

export class GroupOps {
  readonly #clock: Clock;
  readonly #logs: LogOps;
  readonly #sql: Record<
    | 'create'
    | 'lock'
    | 'expire'
    | 'heartbeat'
    | 'addMember'
    | 'members'
    | 'acquire'
    | 'commit'
    | 'isMember'
    | 'release'
    | 'leave'
    | 'setOffsets'
    | 'seek'
    | 'state'
    | 'list'
    | 'pause'
    | 'pausedAt'
    | 'deleteGroup',
    string
  >;

  constructor(names: SchemaNames, clock: Clock, logs: LogOps) {
    this.#clock = clock;
    this.#logs = logs;
    const { topics, partitions, groups, members, owners, offsets } = names;
    const inGroup = 'topic_id = $1 AND group_name = $2';
    const topicId = `(SELECT id FROM ${topics} WHERE name = $1)`;
    this.#sql = {
      // A new group starts every partition at its first ($3) or next offset.
      create: `
        WITH created AS (
          INSERT INTO ${groups} (topic_id, name, generation, seek_epoch) VALUES ($1, $2, 0, 0)
          ON CONFLICT DO NOTHING RETURNING topic_id)
        INSERT INTO ${offsets} (topic_id, group_name, partition, committed_offset)
        SELECT p.topic_id, $2, p.partition, CASE WHEN $3::boolean THEN p.start_offset ELSE p.next_offset END
        FROM ${partitions} p JOIN created c ON c.topic_id = p.topic_id`,
      lock: `SELECT 1 FROM ${groups} WHERE topic_id = $1 AND name = $2 FOR UPDATE`,
      expire: `
        WITH gone AS (
          DELETE FROM ${members} WHERE ${inGroup} AND last_heartbeat_at + session_timeout_ms < $3
          RETURNING member_id),
        freed AS (DELETE FROM ${owners} WHERE ${inGroup} AND member_id IN (SELECT member_id FROM gone))
        UPDATE ${groups} SET generation = generation + (SELECT count(*) FROM gone)
        WHERE topic_id = $1 AND name = $2 AND EXISTS (SELECT 1 FROM gone)`,
      heartbeat: `UPDATE ${members} SET last_heartbeat_at = $4 WHERE ${inGroup} AND member_id = $3`,
      addMember: `
        WITH added AS (
          INSERT INTO ${members} (topic_id, group_name, member_id, last_heartbeat_at, session_timeout_ms)
          VALUES ($1, $2, $3, $4, $5))
        UPDATE ${groups} SET generation = generation + 1 WHERE topic_id = $1 AND name = $2`,
      // Sorted by id, byte-wise: the order the assignment is computed in, the same in every process.
      members: `SELECT member_id FROM ${members} WHERE ${inGroup} ORDER BY member_id COLLATE "C"`,
      acquire: `
        WITH acquired AS (
          INSERT INTO ${owners} (topic_id, group_name, partition, member_id)
          SELECT $1::bigint, $2, p, $3 FROM unnest($4::int[]) AS p
          ON CONFLICT DO NOTHING RETURNING partition)
        SELECT g.generation, g.seek_epoch,
               ARRAY(SELECT partition FROM ${owners} WHERE ${inGroup} AND member_id = $3
                     UNION SELECT partition FROM acquired ORDER BY 1) AS owned
        FROM ${groups} g WHERE g.topic_id = $1 AND g.name = $2`,
      commit: `
        WITH owner AS (
          SELECT topic_id FROM ${owners}
          WHERE topic_id = ${topicId} AND group_name = $2 AND member_id = $3 AND partition = $4
          FOR SHARE),
        advanced AS (
          UPDATE ${offsets} SET committed_offset = $5
          WHERE topic_id = (SELECT topic_id FROM owner) AND group_name = $2 AND partition = $4
            AND committed_offset < $5)
        SELECT count(*) AS owned FROM owner`,
      isMember: `SELECT 1 FROM ${members} WHERE topic_id = ${topicId} AND group_name = $2 AND member_id = $3`,
      release: `
        DELETE FROM ${owners}
        WHERE topic_id = ${topicId} AND group_name = $2 AND member_id = $3 AND partition = ANY($4::int[])`,
      leave: `
        WITH gone AS (
          DELETE FROM ${members} WHERE topic_id = ${topicId} AND group_name = $2 AND member_id = $3
          RETURNING topic_id),
        freed AS (DELETE FROM ${owners} WHERE topic_id = ${topicId} AND group_name = $2 AND member_id = $3)
        UPDATE ${groups} SET generation = generation + 1
        WHERE topic_id IN (SELECT topic_id FROM gone) AND name = $2`,
      setOffsets: `
        INSERT INTO ${offsets} (topic_id, group_name, partition, committed_offset)
        SELECT $1::bigint, $2, o.partition, o.committed_offset
        FROM unnest($3::int[], $4::bigint[]) AS o(partition, committed_offset)
        ON CONFLICT (topic_id, group_name, partition) DO UPDATE SET committed_offset = excluded.committed_offset`,
      seek: `
        WITH freed AS (DELETE FROM ${owners} WHERE ${inGroup})
        UPDATE ${groups} SET seek_epoch = seek_epoch + 1 WHERE topic_id = $1 AND name = $2`,
      // One statement, so members, owners and offsets come from one snapshot.
      state: `
        SELECT g.generation, g.paused_at,
          coalesce((
            SELECT json_agg(json_build_object(
                     'memberId', m.member_id,
                     'lastHeartbeatAt', m.last_heartbeat_at,
                     'sessionTimeoutMs', m.session_timeout_ms,
                     'owned', ARRAY(SELECT o.partition FROM ${owners} o
                                    WHERE o.topic_id = g.topic_id AND o.group_name = g.name
                                      AND o.member_id = m.member_id ORDER BY o.partition))
                   ORDER BY m.member_id COLLATE "C")
            FROM ${members} m WHERE m.topic_id = g.topic_id AND m.group_name = g.name), '[]') AS members,
          coalesce((
            SELECT json_agg(json_build_object('partition', f.partition, 'offset', f.committed_offset)
                   ORDER BY f.partition)
            FROM ${offsets} f WHERE f.topic_id = g.topic_id AND f.group_name = g.name), '[]') AS committed
        FROM ${topics} t JOIN ${groups} g ON g.topic_id = t.id AND g.name = $2
        WHERE t.name = $1`,
      list: `
        SELECT g.name FROM ${topics} t LEFT JOIN ${groups} g ON g.topic_id = t.id
        WHERE t.name = $1 ORDER BY g.name COLLATE "C"`,
      // Pausing a paused group keeps the time it was first paused. Answers whether the topic exists.
      pause: `
        WITH t AS (SELECT id FROM ${topics} WHERE name = $1),
        paused AS (
          UPDATE ${groups} SET paused_at = CASE WHEN $3::bigint IS NULL THEN NULL ELSE coalesce(paused_at, $3) END
          WHERE topic_id = (SELECT id FROM t) AND name = $2 RETURNING 1)
        SELECT (SELECT count(*) FROM t)::int AS topics, (SELECT count(*) FROM paused)::int AS groups`,
      pausedAt: `
        SELECT g.paused_at FROM ${topics} t JOIN ${groups} g ON g.topic_id = t.id AND g.name = $2
        WHERE t.name = $1`,
      // Run with the group row locked and no member left.
      deleteGroup: `
        WITH owners AS (DELETE FROM ${owners} WHERE ${inGroup}),
        offsets AS (DELETE FROM ${offsets} WHERE ${inGroup})
        DELETE FROM ${groups} WHERE topic_id = $1 AND name = $2`,
    };
  }

  join(sql: Sql, topic: string, group: string, request: JoinGroupRequest): Promise<GroupMembership> {
    return sql.atomic(async (tx) => {
      const ref = await this.#logs.require(tx, topic);
      const now = this.#clock.now();
      await tx.count(this.#sql.create, [ref.id, group, request.startFrom === 'earliest']);
      await tx.rows(this.#sql.lock, [ref.id, group]);
      await tx.count(this.#sql.expire, [ref.id, group, now]);
      const key = [ref.id, group, request.memberId];
      if ((await tx.count(this.#sql.heartbeat, [...key, now])) === 0) {
        await tx.count(this.#sql.addMember, [...key, now, request.sessionTimeoutMs]);
      }
      return this.#membership(tx, ref, group, request.memberId);
    });
  }

  heartbeat(sql: Sql, topic: string, group: string, memberId: string): Promise<GroupMembership> {
    return sql.atomic(async (tx) => {
      const ref = await this.#logs.require(tx, topic);
      const now = this.#clock.now();
      if ((await tx.rows(this.#sql.lock, [ref.id, group])).length === 0) {
        throw new UnknownMemberError(topic, group, memberId);
      }
      await tx.count(this.#sql.expire, [ref.id, group, now]);
      if ((await tx.count(this.#sql.heartbeat, [ref.id, group, memberId, now])) === 0) {
        throw new UnknownMemberError(topic, group, memberId);
      }
      return this.#membership(tx, ref, group, memberId);
    });
  }

  /** Fenced by ownership: only the partition's current owner may commit, and never backwards. */
  async commitOffset(
    sql: Sql,
    topic: string,
    group: string,
    memberId: string,
    partition: number,
    offset: number,
  ): Promise<void> {
    const [row] = await sql.rows<{ owned: Int }>(this.#sql.commit, [
      topic,
      group,
      memberId,
      partition,
      offset,
    ]);
    if (toInt(row!.owned) > 0) return;
    if ((await sql.rows(this.#sql.isMember, [topic, group, memberId])).length === 0) {
      throw new UnknownMemberError(topic, group, memberId);
    }
    throw new NotPartitionOwnerError(topic, group, partition, memberId);
  }

  async releasePartitions(
    sql: Sql,
    topic: string,
    group: string,
    memberId: string,
    partitions: readonly number[],
  ): Promise<void> {
    await sql.count(this.#sql.release, [topic, group, memberId, partitions]);
  }

  async leave(sql: Sql, topic: string, group: string, memberId: string): Promise<void> {
    await sql.count(this.#sql.leave, [topic, group, memberId]);
  }

  /**
   * Sets offsets outright, raises the seek epoch and frees every owned partition, so that a
   * member still working from its pre-seek position cannot commit over the seek (it is no longer
   * the owner); members re-acquire at their next heartbeat. A group created here starts every
   * partition not named in `offsets` at the earliest offset.
   */
  seek(sql: Sql, topic: string, group: string, offsets: readonly CommittedOffset[]): Promise<void> {
    return sql.atomic(async (tx) => {
      const ref = await this.#logs.require(tx, topic);
      for (const { partition } of offsets) {
        if (!Number.isInteger(partition) || partition < 0 || partition >= ref.config.partitions) {
          throw new OffsetOutOfRangeError(`topic "${topic}" has no partition ${partition}`, {
            topic,
            partition,
          });
        }
      }
      await tx.count(this.#sql.create, [ref.id, group, true]);
      await tx.rows(this.#sql.lock, [ref.id, group]);
      await tx.count(this.#sql.setOffsets, [
        ref.id,
        group,
        offsets.map((o) => o.partition),
        offsets.map((o) => o.offset),
      ]);
      await tx.count(this.#sql.seek, [ref.id, group]);
    });
  }

  async state(sql: Sql, topic: string, group: string): Promise<GroupState | null> {
    const [row] = await sql.rows<StateRow>(this.#sql.state, [topic, group]);
    if (!row) return null;
    const members = fromJson<(Omit<GroupMember, 'lastHeartbeatAt'> & { lastHeartbeatAt: Int })[]>(
      row.members,
    );
    const committed = fromJson<{ partition: number; offset: Int }[]>(row.committed);
    return {
      topic,
      group,
      generation: toInt(row.generation),
      pausedAt: row.paused_at === null ? null : toInt(row.paused_at),
      members: members.map((member) => ({
        memberId: member.memberId,
        lastHeartbeatAt: toInt(member.lastHeartbeatAt),
        sessionTimeoutMs: toInt(member.sessionTimeoutMs),
        owned: member.owned,
      })),
      committed: committed.map((entry) => ({ partition: entry.partition, offset: toInt(entry.offset) })),
    };
  }

  /** Deletes the group once no live member is left (expired ones are removed first). */
  delete(sql: Sql, topic: string, group: string): Promise<boolean> {
    return sql.atomic(async (tx) => {
      const ref = await this.#logs.require(tx, topic);
      if ((await tx.rows(this.#sql.lock, [ref.id, group])).length === 0) return false;
      await tx.count(this.#sql.expire, [ref.id, group, this.#clock.now()]);
      const live = await tx.rows<{ member_id: string }>(this.#sql.members, [ref.id, group]);
      if (live.length > 0) {
        throw new GroupNotEmptyError(
          topic,
          group,
          live.map((member) => member.member_id),
        );
      }
      await tx.count(this.#sql.deleteGroup, [ref.id, group]);
      return true;
    });
  }

  /** Pauses (`pausedAt` a time) or resumes (null) the group; false when the topic has no such group. */
  async pause(sql: Sql, topic: string, group: string, pausedAt: number | null): Promise<boolean> {
    const [row] = await sql.rows<{ topics: number; groups: number }>(this.#sql.pause, [
      topic,
      group,
      pausedAt,
    ]);
    if (!row || row.topics === 0) throw new TopicNotFoundError(topic);
    return row.groups === 1;
  }

  /** When the group was paused; null when it reads (or does not exist). */
  async pausedAt(sql: Sql, topic: string, group: string): Promise<number | null> {
    const [row] = await sql.rows<{ paused_at: Int | null }>(this.#sql.pausedAt, [topic, group]);
    return row?.paused_at == null ? null : toInt(row.paused_at);
  }

  async list(sql: Sql, topic: string): Promise<string[]> {
    const rows = await sql.rows<{ name: string | null }>(this.#sql.list, [topic]);
    if (rows.length === 0) throw new TopicNotFoundError(topic);
    return rows.flatMap((row) => (row.name === null ? [] : [row.name]));
  }

  /** Computes the member's assignment, acquires what is assigned and free, and reports its view. */
  async #membership(sql: Sql, topic: TopicRef, group: string, memberId: string): Promise<GroupMembership> {
    const members = await sql.rows<{ member_id: string }>(this.#sql.members, [topic.id, group]);
    const assigned = assignedPartitions(
      members.map((member) => member.member_id),
      memberId,
      topic.config.partitions,
    );
    if (assigned === null) throw new UnknownMemberError(topic.config.name, group, memberId);
    const [view] = await sql.rows<ViewRow>(this.#sql.acquire, [topic.id, group, memberId, assigned]);
    return {
      generation: toInt(view!.generation),
      assigned,
      owned: view!.owned,
      seekEpoch: toInt(view!.seek_epoch),
    };
  }
}
