/**
 * Consumer groups: membership, partition ownership and committed offsets (the protocol is the
 * `GroupMembership` TSDoc of the port).
 *
 * Membership is lazy: nothing runs in the background, so members whose session ran out are
 * removed by the next join or heartbeat of anyone in the group (a member's own late heartbeat
 * included: it then learns it was removed). Every removal and every new member raises the
 * generation.
 *
 * Ownership is a row per partition in `group_owners`; its primary key makes "at most one owner"
 * a constraint, and acquiring is `INSERT OR IGNORE` of an assigned partition. Owners are only
 * ever removed by their member (release, leave) or by that member's expiry, which is what keeps
 * two members off one partition while a rebalance hands it over.
 */
import type Database from 'better-sqlite3';
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
  GroupMembership,
  GroupState,
  JoinGroupRequest,
  StartPosition,
} from '../../store/port.js';
import { assignedPartitions } from '../rules.js';

interface GroupKey {
  topic: string;
  group: string;
}

interface MemberKey extends GroupKey {
  member: string;
}

interface PartitionKey extends GroupKey {
  partition: number;
}

interface GroupRow {
  generation: number;
  seek_epoch: number;
  paused_at: number | null;
}

interface MemberRow {
  member_id: string;
  last_heartbeat_at: number;
  session_timeout_ms: number;
}

interface PartitionRow {
  partition: number;
  start_offset: number;
  next_offset: number;
}

export class GroupOps {
  readonly #clock: Clock;
  readonly #partitions: Database.Statement<[string], PartitionRow>;
  readonly #selectGroup: Database.Statement<GroupKey, GroupRow>;
  readonly #insertGroup: Database.Statement<GroupKey>;
  readonly #bumpGeneration: Database.Statement<GroupKey>;
  readonly #bumpSeekEpoch: Database.Statement<GroupKey>;
  readonly #pause: Database.Statement<GroupKey & { pausedAt: number | null }>;
  readonly #listGroups: Database.Statement<[string], { name: string }>;
  readonly #members: Database.Statement<GroupKey, MemberRow>;
  readonly #expiredMembers: Database.Statement<GroupKey & { now: number }, { member_id: string }>;
  readonly #insertMember: Database.Statement<MemberKey & { now: number; sessionTimeoutMs: number }>;
  readonly #heartbeat: Database.Statement<MemberKey & { now: number }>;
  readonly #deleteMember: Database.Statement<MemberKey>;
  readonly #memberExists: Database.Statement<MemberKey, { found: number }>;
  readonly #acquire: Database.Statement<PartitionKey & { member: string }>;
  readonly #owner: Database.Statement<PartitionKey, { member_id: string }>;
  readonly #owned: Database.Statement<MemberKey, { partition: number }>;
  readonly #releaseAll: Database.Statement<MemberKey>;
  readonly #releaseGroup: Database.Statement<GroupKey>;
  readonly #release: Database.Statement<MemberKey & { partitions: string }>;
  readonly #setOffset: Database.Statement<PartitionKey & { offset: number }>;
  readonly #advanceOffset: Database.Statement<PartitionKey & { offset: number }>;
  readonly #offsets: Database.Statement<GroupKey, { partition: number; offset: number }>;
  readonly #deleteGroup: readonly Database.Statement<GroupKey>[];

  constructor(db: Database.Database, clock: Clock) {
    this.#clock = clock;
    const group = 'topic = @topic AND group_name = @group';
    const member = `${group} AND member_id = @member`;
    this.#partitions = db.prepare(
      'SELECT partition, start_offset, next_offset FROM partitions WHERE topic = ? ORDER BY partition',
    );
    this.#selectGroup = db.prepare(
      'SELECT generation, seek_epoch, paused_at FROM consumer_groups WHERE topic = @topic AND name = @group',
    );
    this.#insertGroup = db.prepare(
      'INSERT INTO consumer_groups (topic, name, generation, seek_epoch) VALUES (@topic, @group, 0, 0)',
    );
    this.#bumpGeneration = db.prepare(
      'UPDATE consumer_groups SET generation = generation + 1 WHERE topic = @topic AND name = @group',
    );
    this.#bumpSeekEpoch = db.prepare(
      'UPDATE consumer_groups SET seek_epoch = seek_epoch + 1 WHERE topic = @topic AND name = @group',
    );
    // Pausing a paused group keeps the time it was first paused.
    this.#pause = db.prepare(
      `UPDATE consumer_groups SET paused_at = CASE WHEN @pausedAt IS NULL THEN NULL ELSE coalesce(paused_at, @pausedAt) END
       WHERE topic = @topic AND name = @group`,
    );
    this.#listGroups = db.prepare('SELECT name FROM consumer_groups WHERE topic = ? ORDER BY name');
    // Sorted by id: the order the assignment is computed in.
    this.#members = db.prepare(
      `SELECT member_id, last_heartbeat_at, session_timeout_ms FROM group_members WHERE ${group} ORDER BY member_id`,
    );
    this.#expiredMembers = db.prepare(
      `SELECT member_id FROM group_members WHERE ${group} AND last_heartbeat_at + session_timeout_ms < @now`,
    );
    this.#insertMember = db.prepare(
      `INSERT INTO group_members (topic, group_name, member_id, last_heartbeat_at, session_timeout_ms)
       VALUES (@topic, @group, @member, @now, @sessionTimeoutMs)`,
    );
    this.#heartbeat = db.prepare(`UPDATE group_members SET last_heartbeat_at = @now WHERE ${member}`);
    this.#deleteMember = db.prepare(`DELETE FROM group_members WHERE ${member}`);
    this.#memberExists = db.prepare(`SELECT 1 AS found FROM group_members WHERE ${member}`);
    this.#acquire = db.prepare(
      `INSERT OR IGNORE INTO group_owners (topic, group_name, partition, member_id)
       VALUES (@topic, @group, @partition, @member)`,
    );
    this.#owner = db.prepare(`SELECT member_id FROM group_owners WHERE ${group} AND partition = @partition`);
    this.#owned = db.prepare(`SELECT partition FROM group_owners WHERE ${member} ORDER BY partition`);
    this.#releaseAll = db.prepare(`DELETE FROM group_owners WHERE ${member}`);
    this.#releaseGroup = db.prepare(`DELETE FROM group_owners WHERE ${group}`);
    this.#release = db.prepare(
      `DELETE FROM group_owners WHERE ${member} AND partition IN (SELECT value FROM json_each(@partitions))`,
    );
    this.#setOffset = db.prepare(
      `INSERT INTO group_offsets (topic, group_name, partition, offset) VALUES (@topic, @group, @partition, @offset)
       ON CONFLICT (topic, group_name, partition) DO UPDATE SET offset = excluded.offset`,
    );
    // Commits only move forward: a lower offset leaves the row as it is.
    this.#advanceOffset = db.prepare(
      `INSERT INTO group_offsets (topic, group_name, partition, offset) VALUES (@topic, @group, @partition, @offset)
       ON CONFLICT (topic, group_name, partition) DO UPDATE SET offset = excluded.offset
       WHERE excluded.offset > group_offsets.offset`,
    );
    this.#offsets = db.prepare(
      `SELECT partition, offset FROM group_offsets WHERE ${group} ORDER BY partition`,
    );
    // The group row first: whether it existed is its `changes`.
    this.#deleteGroup = [
      'DELETE FROM consumer_groups WHERE topic = @topic AND name = @group',
      `DELETE FROM group_members WHERE ${group}`,
      `DELETE FROM group_owners WHERE ${group}`,
      `DELETE FROM group_offsets WHERE ${group}`,
    ].map((sql) => db.prepare<GroupKey>(sql));
  }

  join(topic: string, group: string, request: JoinGroupRequest): GroupMembership {
    const partitions = this.#topicPartitions(topic);
    const now = this.#clock.now();
    this.#ensureGroup(topic, group, partitions, request.startFrom);
    this.#expireMembers(topic, group, now);
    const key = { topic, group, member: request.memberId };
    if (this.#memberExists.get(key)) {
      this.#heartbeat.run({ ...key, now });
    } else {
      this.#insertMember.run({ ...key, now, sessionTimeoutMs: request.sessionTimeoutMs });
      this.#bumpGeneration.run({ topic, group });
    }
    return this.#membership(key, partitions.length);
  }

  heartbeat(topic: string, group: string, memberId: string): GroupMembership {
    const partitions = this.#topicPartitions(topic);
    const now = this.#clock.now();
    this.#expireMembers(topic, group, now);
    const key = { topic, group, member: memberId };
    if (this.#heartbeat.run({ ...key, now }).changes === 0) {
      throw new UnknownMemberError(topic, group, memberId);
    }
    return this.#membership(key, partitions.length);
  }

  /** Fenced by ownership: only the partition's current owner may commit, and never backwards. */
  commitOffset(topic: string, group: string, memberId: string, partition: number, offset: number): void {
    const key = { topic, group, partition };
    if (this.#owner.get(key)?.member_id !== memberId) {
      if (!this.#memberExists.get({ topic, group, member: memberId })) {
        throw new UnknownMemberError(topic, group, memberId);
      }
      throw new NotPartitionOwnerError(topic, group, partition, memberId);
    }
    this.#advanceOffset.run({ ...key, offset });
  }

  releasePartitions(topic: string, group: string, memberId: string, partitions: readonly number[]): void {
    this.#release.run({ topic, group, member: memberId, partitions: JSON.stringify(partitions) });
  }

  leave(topic: string, group: string, memberId: string): void {
    this.#removeMember({ topic, group, member: memberId });
  }

  /**
   * Sets offsets outright, raises the seek epoch and frees every owned partition, so that a
   * member still working from its pre-seek position cannot commit over the seek (it is no longer
   * the owner); members re-acquire at their next heartbeat. A group created here starts every
   * partition not named in `offsets` at the earliest offset.
   */
  seek(topic: string, group: string, offsets: readonly CommittedOffset[]): void {
    const partitions = this.#topicPartitions(topic);
    this.#ensureGroup(topic, group, partitions, 'earliest');
    for (const { partition, offset } of offsets) {
      if (!Number.isInteger(partition) || partition < 0 || partition >= partitions.length) {
        throw new OffsetOutOfRangeError(`topic "${topic}" has no partition ${partition}`, {
          topic,
          partition,
        });
      }
      this.#setOffset.run({ topic, group, partition, offset });
    }
    this.#releaseGroup.run({ topic, group });
    this.#bumpSeekEpoch.run({ topic, group });
  }

  state(topic: string, group: string): GroupState | null {
    const row = this.#selectGroup.get({ topic, group });
    if (!row) return null;
    return {
      topic,
      group,
      generation: row.generation,
      pausedAt: row.paused_at,
      members: this.#members.all({ topic, group }).map((member) => ({
        memberId: member.member_id,
        lastHeartbeatAt: member.last_heartbeat_at,
        sessionTimeoutMs: member.session_timeout_ms,
        owned: this.#owned.all({ topic, group, member: member.member_id }).map((owned) => owned.partition),
      })),
      committed: this.#offsets.all({ topic, group }),
    };
  }

  /** Pauses (`pausedAt` a time) or resumes (null) the group; false when the topic has no such group. */
  pause(topic: string, group: string, pausedAt: number | null): boolean {
    this.#topicPartitions(topic);
    return this.#pause.run({ topic, group, pausedAt }).changes === 1;
  }

  /** When the group was paused; null when it reads (or does not exist). */
  pausedAt(topic: string, group: string): number | null {
    return this.#selectGroup.get({ topic, group })?.paused_at ?? null;
  }

  /** Deletes the group once no live member is left (expired ones are removed first). */
  delete(topic: string, group: string): boolean {
    this.#topicPartitions(topic);
    if (!this.#selectGroup.get({ topic, group })) return false;
    this.#expireMembers(topic, group, this.#clock.now());
    const live = this.#members.all({ topic, group }).map((member) => member.member_id);
    if (live.length > 0) throw new GroupNotEmptyError(topic, group, live);
    const [deleteGroup, ...deleteRest] = this.#deleteGroup;
    deleteGroup!.run({ topic, group });
    for (const statement of deleteRest) statement.run({ topic, group });
    return true;
  }

  list(topic: string): string[] {
    this.#topicPartitions(topic);
    return this.#listGroups.all(topic).map((row) => row.name);
  }

  /** The topic's partitions; throws `TopicNotFoundError` (a topic always has at least one). */
  #topicPartitions(topic: string): PartitionRow[] {
    const partitions = this.#partitions.all(topic);
    if (partitions.length === 0) throw new TopicNotFoundError(topic);
    return partitions;
  }

  /** Creates the group on first use, with a committed offset for every partition. */
  #ensureGroup(
    topic: string,
    group: string,
    partitions: readonly PartitionRow[],
    startFrom: StartPosition,
  ): void {
    if (this.#selectGroup.get({ topic, group })) return;
    this.#insertGroup.run({ topic, group });
    for (const row of partitions) {
      const offset = startFrom === 'earliest' ? row.start_offset : row.next_offset;
      this.#setOffset.run({ topic, group, partition: row.partition, offset });
    }
  }

  #expireMembers(topic: string, group: string, now: number): void {
    for (const expired of this.#expiredMembers.all({ topic, group, now })) {
      this.#removeMember({ topic, group, member: expired.member_id });
    }
  }

  #removeMember(key: MemberKey): void {
    if (this.#deleteMember.run(key).changes === 0) return;
    this.#releaseAll.run(key);
    this.#bumpGeneration.run(key);
  }

  /** Computes the member's assignment, acquires what is assigned and free, and reports its view. */
  #membership(key: MemberKey, partitionCount: number): GroupMembership {
    const members = this.#members.all(key).map((member) => member.member_id);
    // The caller has just joined or heartbeated `key.member` in this transaction, so it is listed.
    const assigned = assignedPartitions(members, key.member, partitionCount) ?? [];
    for (const partition of assigned) this.#acquire.run({ ...key, partition });
    const row = this.#selectGroup.get(key)!;
    return {
      generation: row.generation,
      assigned,
      owned: this.#owned.all(key).map((owned) => owned.partition),
      seekEpoch: row.seek_epoch,
    };
  }
}
