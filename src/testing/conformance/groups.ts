/**
 * Consumer groups. A partition moves between members in three steps, so that two members never
 * read it at once:
 *
 *   assigned to B, owned by A --A releases--> free --B heartbeats--> owned by B
 *
 * Assignment follows membership (live members sorted by id, partition p to member p % count) and
 * changes at once; ownership changes only through release, leave or session expiry, then a
 * heartbeat of the new assignee. Every test here re-checks "one owner per partition" after each step.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { GroupMembership, GroupState, JoinGroupRequest, Store } from '../../store/port.js';
import { rejectsWithCode, sortedNumbers, type Suite } from './harness.js';

const group = 'billing';

function member(memberId: string, startFrom: JoinGroupRequest['startFrom'] = 'earliest'): JoinGroupRequest {
  return { memberId, sessionTimeoutMs: 10_000, startFrom };
}

/** Fails if any partition is owned by two members; resolves with the group state. */
async function assertSingleOwners(store: Store, topic: string): Promise<GroupState> {
  const state = await store.groupState(topic, group);
  assert.ok(state, 'the group exists');
  const owners = new Map<number, string>();
  for (const m of state.members) {
    for (const partition of m.owned) {
      const other = owners.get(partition);
      assert.equal(other, undefined, `partition ${partition} owned by ${other} and ${m.memberId}`);
      owners.set(partition, m.memberId);
    }
  }
  return state;
}

function view(membership: GroupMembership): { assigned: number[]; owned: number[] } {
  return { assigned: sortedNumbers(membership.assigned), owned: sortedNumbers(membership.owned) };
}

function committed(state: GroupState | null): Record<number, number> {
  assert.ok(state, 'the group exists');
  return Object.fromEntries(state.committed.map((c) => [c.partition, c.offset]));
}

export function groupTests(suite: Suite): void {
  void describe('consumer groups', () => {
    suite.test('joinGroup creates the group at the earliest or the latest offsets', async (env) => {
      const { store, event, topic } = env;
      const t = await topic('orders', { partitions: 3 });
      await store.append(t, [event(0), event(0), event(0), event(1)]);
      await store.joinGroup(t, 'from-start', member('member-a', 'earliest'));
      await store.joinGroup(t, 'from-end', member('member-a', 'latest'));
      assert.deepEqual(committed(await store.groupState(t, 'from-start')), { 0: 0, 1: 0, 2: 0 });
      assert.deepEqual(committed(await store.groupState(t, 'from-end')), { 0: 3, 1: 1, 2: 0 });
      await store.joinGroup(t, 'from-start', member('member-b', 'latest'));
      assert.deepEqual(
        committed(await store.groupState(t, 'from-start')),
        { 0: 0, 1: 0, 2: 0 },
        'startFrom only applies when the join creates the group',
      );
    });

    suite.test('a single member is assigned and owns every partition', async (env) => {
      const { store, clock, topic } = env;
      const t = await topic('orders', { partitions: 4 });
      const joined = await store.joinGroup(t, group, member('member-a'));
      assert.deepEqual(view(joined), { assigned: [0, 1, 2, 3], owned: [0, 1, 2, 3] });
      assert.deepEqual(view(await store.heartbeat(t, group, 'member-a')), view(joined));
      const state = await assertSingleOwners(store, t);
      assert.deepEqual([state.topic, state.group], [t, group]);
      assert.deepEqual(
        state.members.map((m) => [m.memberId, m.lastHeartbeatAt, m.sessionTimeoutMs, sortedNumbers(m.owned)]),
        [['member-a', clock.now(), 10_000, [0, 1, 2, 3]]],
      );
    });

    suite.test(
      'a joining member owns its assigned partitions only after the old owner releases them',
      async (env) => {
        const { store, topic } = env;
        const t = await topic('orders', { partitions: 4 });
        const a1 = await store.joinGroup(t, group, member('member-a'));
        const b1 = await store.joinGroup(t, group, member('member-b'));
        assert.ok(b1.generation > a1.generation);
        assert.deepEqual(view(b1), { assigned: [1, 3], owned: [] });
        await assertSingleOwners(store, t);
        const a2 = await store.heartbeat(t, group, 'member-a');
        assert.deepEqual(
          view(a2),
          { assigned: [0, 2], owned: [0, 1, 2, 3] },
          'a heartbeat never drops ownership',
        );
        await assertSingleOwners(store, t);
        assert.deepEqual(view(await store.heartbeat(t, group, 'member-b')).owned, []);
        await assertSingleOwners(store, t);
        await store.releasePartitions(t, group, 'member-a', [1, 3]);
        await assertSingleOwners(store, t);
        assert.deepEqual(view(await store.heartbeat(t, group, 'member-b')).owned, [1, 3]);
        const state = await assertSingleOwners(store, t);
        assert.deepEqual(state.members.map((m) => [m.memberId, sortedNumbers(m.owned)]).sort(), [
          ['member-a', [0, 2]],
          ['member-b', [1, 3]],
        ]);
      },
    );

    suite.test('partitions are assigned p % count over members sorted by id', async (env) => {
      const { store, topic } = env;
      const t = await topic('orders', { partitions: 4 });
      await store.joinGroup(t, group, member('member-c'));
      await store.joinGroup(t, group, member('member-a'));
      await assertSingleOwners(store, t);
      await store.joinGroup(t, group, member('member-b'));
      await assertSingleOwners(store, t);
      const c = await store.heartbeat(t, group, 'member-c');
      assert.deepEqual(view(c), { assigned: [2], owned: [0, 1, 2, 3] });
      await store.releasePartitions(t, group, 'member-c', [0, 1, 3]);
      await assertSingleOwners(store, t);
      assert.deepEqual(view(await store.heartbeat(t, group, 'member-a')), {
        assigned: [0, 3],
        owned: [0, 3],
      });
      await assertSingleOwners(store, t);
      assert.deepEqual(view(await store.heartbeat(t, group, 'member-b')), { assigned: [1], owned: [1] });
      await assertSingleOwners(store, t);
      await store.releasePartitions(t, group, 'member-unknown', [0]);
      await assertSingleOwners(store, t);
    });

    suite.test('a member whose session expires is removed and its partitions are acquired', async (env) => {
      const { store, clock, topic } = env;
      const t = await topic('orders', { partitions: 4 });
      await store.joinGroup(t, group, member('member-a'));
      await store.releasePartitions(t, group, 'member-a', [1, 3]);
      const joinedB = await store.joinGroup(t, group, member('member-b'));
      assert.deepEqual(view(joinedB).owned, [1, 3]);
      await clock.advance(6_000);
      await store.heartbeat(t, group, 'member-a');
      await assertSingleOwners(store, t);
      await clock.advance(6_000); // member-b: 12 s without a heartbeat; member-a: 6 s
      const a = await store.heartbeat(t, group, 'member-a');
      assert.deepEqual(view(a), { assigned: [0, 1, 2, 3], owned: [0, 1, 2, 3] });
      assert.ok(a.generation > joinedB.generation);
      const state = await assertSingleOwners(store, t);
      assert.deepEqual(
        state.members.map((m) => m.memberId),
        ['member-a'],
      );
      await rejectsWithCode(() => store.heartbeat(t, group, 'member-b'), 'SPOOL_UNKNOWN_MEMBER');
      await rejectsWithCode(() => store.commitOffset(t, group, 'member-b', 1, 0), 'SPOOL_UNKNOWN_MEMBER');
    });

    suite.test('commitOffset by the owner is stored and never moves backwards', async (env) => {
      const { store, event, topic } = env;
      const t = await topic('orders', { partitions: 2 });
      await store.append(
        t,
        Array.from({ length: 10 }, () => event(0)),
      );
      await store.joinGroup(t, group, member('member-a'));
      await store.commitOffset(t, group, 'member-a', 0, 5);
      assert.equal(committed(await store.groupState(t, group))[0], 5);
      await store.commitOffset(t, group, 'member-a', 0, 3);
      assert.equal(committed(await store.groupState(t, group))[0], 5, 'a lower commit is ignored');
      await store.commitOffset(t, group, 'member-a', 0, 7);
      assert.deepEqual(committed(await store.groupState(t, group)), { 0: 7, 1: 0 });
    });

    suite.test('commitOffset by a member that does not own the partition throws', async (env) => {
      const { store, event, topic } = env;
      const t = await topic('orders', { partitions: 2 });
      await store.append(t, [event(0), event(1)]);
      await store.joinGroup(t, group, member('member-a'));
      await store.joinGroup(t, group, member('member-b')); // assigned 1, but member-a still owns it
      await rejectsWithCode(
        () => store.commitOffset(t, group, 'member-b', 1, 1),
        'SPOOL_NOT_PARTITION_OWNER',
      );
      await rejectsWithCode(
        () => store.commitOffset(t, group, 'member-b', 0, 1),
        'SPOOL_NOT_PARTITION_OWNER',
      );
      await rejectsWithCode(() => store.commitOffset(t, group, 'member-ghost', 0, 1), 'SPOOL_UNKNOWN_MEMBER');
      assert.deepEqual(committed(await store.groupState(t, group)), { 0: 0, 1: 0 });
    });

    suite.test('leaveGroup removes the member and frees its partitions', async (env) => {
      const { store, topic } = env;
      const t = await topic('orders', { partitions: 4 });
      await store.joinGroup(t, group, member('member-a'));
      const b = await store.joinGroup(t, group, member('member-b'));
      await store.leaveGroup(t, group, 'member-a');
      await assertSingleOwners(store, t);
      const after = await store.heartbeat(t, group, 'member-b');
      assert.deepEqual(view(after), { assigned: [0, 1, 2, 3], owned: [0, 1, 2, 3] });
      assert.ok(after.generation > b.generation);
      const state = await assertSingleOwners(store, t);
      assert.deepEqual(
        state.members.map((m) => m.memberId),
        ['member-b'],
      );
      await rejectsWithCode(() => store.heartbeat(t, group, 'member-a'), 'SPOOL_UNKNOWN_MEMBER');
      await store.leaveGroup(t, group, 'member-a'); // unknown now: ignored
    });

    suite.test('generation rises on membership changes only', async (env) => {
      const { store, clock, topic } = env;
      const t = await topic('orders', { partitions: 2 });
      const g1 = (await store.joinGroup(t, group, member('member-a'))).generation;
      const g2 = (await store.joinGroup(t, group, member('member-b'))).generation;
      assert.ok(g2 > g1);
      await clock.advance(1_000);
      assert.equal((await store.heartbeat(t, group, 'member-a')).generation, g2);
      const rejoined = await store.joinGroup(t, group, member('member-a'));
      assert.equal(rejoined.generation, g2, 'joining again with a known id only heartbeats');
      const state = await store.groupState(t, group);
      assert.ok(state);
      assert.equal(state.generation, g2);
      assert.equal(state.members.find((m) => m.memberId === 'member-a')?.lastHeartbeatAt, clock.now());
      await store.leaveGroup(t, group, 'member-b');
      assert.ok((await store.heartbeat(t, group, 'member-a')).generation > g2);
    });

    suite.test('seekGroup sets committed offsets, backwards too, and raises the seek epoch', async (env) => {
      const { store, event, topic } = env;
      const t = await topic('orders', { partitions: 2 });
      await store.append(
        t,
        Array.from({ length: 10 }, (_, i) => event(i % 2)),
      );
      const before = await store.joinGroup(t, group, member('member-a'));
      await store.commitOffset(t, group, 'member-a', 0, 4);
      await store.seekGroup(t, group, [
        { partition: 0, offset: 1 },
        { partition: 1, offset: 3 },
      ]);
      assert.deepEqual(committed(await store.groupState(t, group)), { 0: 1, 1: 3 });
      const after = await store.heartbeat(t, group, 'member-a');
      assert.ok(after.seekEpoch > before.seekEpoch);
      assert.deepEqual(view(after).owned, [0, 1], 'partitions freed by the seek are re-acquired');
      await store.commitOffset(t, group, 'member-a', 0, 2);
      assert.equal(committed(await store.groupState(t, group))[0], 2, 'commits continue from the seek');
      await store.seekGroup(t, 'replay', [{ partition: 1, offset: 2 }]);
      assert.equal(committed(await store.groupState(t, 'replay'))[1], 2, 'seek creates a missing group');
    });

    suite.test(
      'seekGroup frees owned partitions so a commit from before the seek is refused',
      async (env) => {
        const { store, event, topic } = env;
        const t = await topic('orders', { partitions: 2 });
        await store.append(
          t,
          Array.from({ length: 10 }, (_, i) => event(i % 2)),
        );
        await store.joinGroup(t, group, member('member-a'));
        await store.seekGroup(t, group, [{ partition: 0, offset: 0 }]);
        const state = await assertSingleOwners(store, t);
        assert.deepEqual(
          state.members.map((m) => [m.memberId, [...m.owned]]),
          [['member-a', []]],
        );
        // member-a was at offset 4 before the seek; its commit must not undo the seek.
        await rejectsWithCode(
          () => store.commitOffset(t, group, 'member-a', 0, 4),
          'SPOOL_NOT_PARTITION_OWNER',
        );
        assert.equal(committed(await store.groupState(t, group))[0], 0);
        assert.deepEqual(view(await store.heartbeat(t, group, 'member-a')).owned, [0, 1]);
      },
    );

    suite.test('groupState and listGroups describe only the groups of their topic', async (env) => {
      const { store, topic } = env;
      const t = await topic('orders');
      const other = await topic('other');
      assert.equal(await store.groupState(t, group), null);
      assert.deepEqual(await store.listGroups(t), []);
      await store.joinGroup(t, 'g2', member('member-a'));
      await store.joinGroup(t, 'g1', member('member-a'));
      await store.joinGroup(other, 'g3', member('member-a'));
      assert.deepEqual((await store.listGroups(t)).sort(), ['g1', 'g2']);
      assert.deepEqual(await store.listGroups(other), ['g3']);
      assert.equal(await store.groupState(other, 'g1'), null);
    });

    suite.test('deleteGroup refuses while a member is live, then forgets the group', async (env) => {
      const { store, clock, event, topic } = env;
      const t = await topic('orders', { partitions: 2 });
      await store.append(t, [event(0), event(1)]);
      await store.joinGroup(t, group, member('member-a'));
      await store.commitOffset(t, group, 'member-a', 0, 1);
      await store.joinGroup(t, 'other', member('member-a'));
      await rejectsWithCode(() => store.deleteGroup(t, group), 'SPOOL_GROUP_NOT_EMPTY');
      assert.deepEqual(committed(await store.groupState(t, group)), { 0: 1, 1: 0 }, 'nothing changed');
      await clock.advance(10_001);
      assert.equal(await store.deleteGroup(t, group), true, 'a member whose session expired does not count');
      assert.equal(await store.groupState(t, group), null);
      assert.deepEqual(await store.listGroups(t), ['other']);
      assert.equal(await store.deleteGroup(t, group), false, 'an unknown group');
      await rejectsWithCode(() => store.deleteGroup('no-such-topic', group), 'SPOOL_TOPIC_NOT_FOUND');
      // The name is free again: a new group of that name starts over.
      await store.joinGroup(t, group, member('member-b', 'latest'));
      assert.deepEqual(committed(await store.groupState(t, group)), { 0: 1, 1: 1 });
      const state = await store.groupState(t, group);
      assert.deepEqual(
        state?.members.map((m) => m.memberId),
        ['member-b'],
      );
    });

    suite.test('pauseGroup pauses and resumes a group, keeping the first pause time', async (env) => {
      const { store, clock, event, topic } = env;
      const t = await topic('orders', { partitions: 2 });
      await store.append(t, [event(0)]);
      await store.joinGroup(t, group, member('member-a'));
      await store.commitOffset(t, group, 'member-a', 0, 1);
      assert.equal(await store.groupPausedAt(t, group), null);
      assert.equal((await store.groupState(t, group))?.pausedAt, null);
      const pausedAt = clock.now();
      assert.equal(await store.pauseGroup(t, group, pausedAt), true);
      await clock.advance(500);
      assert.equal(await store.pauseGroup(t, group, clock.now()), true, 'idempotent');
      assert.equal(await store.groupPausedAt(t, group), pausedAt, 'a second pause keeps the first time');
      const state = await store.groupState(t, group);
      assert.equal(state?.pausedAt, pausedAt);
      assert.deepEqual(committed(state), { 0: 1, 1: 0 }, 'offsets stay');
      assert.deepEqual(
        state?.members.map((m) => m.memberId),
        ['member-a'],
        'members stay',
      );
      assert.equal(await store.pauseGroup(t, group, null), true);
      assert.equal(await store.groupPausedAt(t, group), null);
      assert.equal(await store.pauseGroup(t, 'no-such-group', clock.now()), false);
      assert.equal(await store.groupPausedAt(t, 'no-such-group'), null);
      await rejectsWithCode(
        () => store.pauseGroup('no-such-topic', group, clock.now()),
        'SPOOL_TOPIC_NOT_FOUND',
      );
    });

    suite.test('two groups on one topic keep independent offsets', async (env) => {
      const { store, event, topic } = env;
      const t = await topic('orders', { partitions: 1 });
      await store.append(
        t,
        Array.from({ length: 6 }, () => event(0)),
      );
      await store.joinGroup(t, 'g1', member('member-a'));
      await store.joinGroup(t, 'g2', member('member-a'));
      await store.commitOffset(t, 'g1', 'member-a', 0, 5);
      assert.deepEqual(committed(await store.groupState(t, 'g2')), { 0: 0 });
      await store.commitOffset(t, 'g2', 'member-a', 0, 2);
      assert.deepEqual(committed(await store.groupState(t, 'g1')), { 0: 5 });
      assert.deepEqual(committed(await store.groupState(t, 'g2')), { 0: 2 });
    });
  });
}
