import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Static } from '@sinclair/typebox';
import type { TopicEvent } from '../../src/server/schemas/topics.js';
import {
  GroupResponse,
  PollResponse,
  PublishResult,
  PublishResults,
  ReplayResponse,
  SeekResponse,
  TopicWithStats,
} from '../../src/server/schemas/topics.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

type Event = Static<typeof TopicEvent>;

/** Offsets to commit after processing `events`: last offset + 1 per partition. */
function offsetsAfter(events: readonly Event[]): Record<number, number> {
  const offsets: Record<number, number> = {};
  for (const event of events)
    offsets[event.partition] = Math.max(offsets[event.partition] ?? 0, event.offset + 1);
  return offsets;
}

const bodies = (events: readonly Event[]) => events.map((event) => event.body);

describe('topics over HTTP', () => {
  let t: TestServer;
  /** Publishes numbers; number n goes to partition n % 4 (or n % 2 with two partitions). */
  const publish = (topic: string, numbers: number[], partitions = 4) =>
    t.call('POST', `/v1/topics/${topic}/events`, {
      body: { events: numbers.map((body) => ({ body, partition: body % partitions })) },
      returns: PublishResults,
    });
  const poll = (topic: string, group: string, body: Record<string, unknown>) =>
    t.call('POST', `/v1/topics/${topic}/groups/${group}/poll`, { body, returns: PollResponse });
  const commit = (topic: string, group: string, member: string, offsets: Record<number, number>) =>
    t.call('POST', `/v1/topics/${topic}/groups/${group}/commit`, { body: { member, offsets } });
  const group = (topic: string, name: string) =>
    t.call('GET', `/v1/topics/${topic}/groups/${name}`, { returns: GroupResponse });
  const seek = (topic: string, name: string, to: unknown) =>
    t.call('POST', `/v1/topics/${topic}/groups/${name}/seek`, { body: { to }, returns: SeekResponse });

  before(async () => {
    t = await startTestServer();
  });
  after(() => t.dispose());

  it('publishes one event or a batch, and replays a partition by offset', async () => {
    assert.equal((await t.call('PUT', '/v1/topics/replay', { body: { partitions: 2 } })).status, 201);
    const one = await t.call('POST', '/v1/topics/replay/events', {
      body: { body: { n: 0 }, partition: 0 },
      returns: PublishResult,
    });
    assert.equal(one.status, 201);
    assert.deepEqual([one.body.partition, one.body.offset], [0, 0]);
    const batch = await t.call('POST', '/v1/topics/replay/events', {
      body: { events: [1, 2, 3].map((n) => ({ body: { n }, partition: 0, headers: { n: String(n) } })) },
      returns: PublishResults,
    });
    assert.deepEqual(
      batch.body.results.map((result) => result.offset),
      [1, 2, 3],
    );

    const read = await t.call('GET', '/v1/topics/replay/partitions/0/events?from=1&limit=2', {
      returns: ReplayResponse,
    });
    assert.deepEqual(
      read.body.events.map((event) => [event.offset, event.body]),
      [
        [1, { n: 1 }],
        [2, { n: 2 }],
      ],
    );
    assert.equal(read.body.events[0]?.headers.n, '1');
    assert.deepEqual([read.body.startOffset, read.body.endOffset, read.body.nextOffset], [0, 4, 3]);

    const stats = await t.call('GET', '/v1/topics/replay', { returns: TopicWithStats });
    assert.deepEqual(
      stats.body.stats.partitions.map((partition) => partition.endOffset),
      [4, 0],
    );
    assertProblem(
      await t.call('GET', '/v1/topics/replay/partitions/9/events'),
      416,
      'SPOOL_OFFSET_OUT_OF_RANGE',
    );
  });

  it('two remote members split the partitions with no overlap, handing over on poll', async () => {
    await t.call('PUT', '/v1/topics/orders', { body: { partitions: 4 } });
    await publish('orders', [...Array(40).keys()]);

    // m1 alone: it owns every partition and reads everything.
    const alone = await poll('orders', 'billing', { member: 'm1', max: 100 });
    assert.deepEqual(alone.body.partitions, [0, 1, 2, 3]);
    assert.equal(alone.body.events.length, 40);
    assert.equal((await commit('orders', 'billing', 'm1', offsetsAfter(alone.body.events))).status, 204);

    const fresh = [...Array(40).keys()].map((n) => 100 + n);
    await publish('orders', fresh);
    // m2 joins and waits: its partitions are still m1's until m1 polls again.
    const m2Polling = poll('orders', 'billing', { member: 'm2', max: 100, waitMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const m1 = await poll('orders', 'billing', { member: 'm1', max: 100 });
    const m2 = await m2Polling;
    assert.deepEqual(m1.body.partitions, [0, 2]);
    assert.deepEqual(m2.body.partitions, [1, 3]);
    assert.ok(m1.body.events.every((event) => event.partition % 2 === 0));
    assert.ok(m2.body.events.every((event) => event.partition % 2 === 1));
    assert.deepEqual(
      [...bodies(m1.body.events), ...bodies(m2.body.events)].sort((a, b) => Number(a) - Number(b)),
      fresh,
      'every new event exactly once, none of the committed ones',
    );

    // m1 no longer owns partition 1: its commit there is fenced.
    assertProblem(await commit('orders', 'billing', 'm1', { 1: 25 }), 409, 'SPOOL_NOT_PARTITION_OWNER');
    assert.equal((await commit('orders', 'billing', 'm1', offsetsAfter(m1.body.events))).status, 204);
    assert.equal((await commit('orders', 'billing', 'm2', offsetsAfter(m2.body.events))).status, 204);
    const state = await group('orders', 'billing');
    assert.equal(state.body.totalLag, 0);
    assert.deepEqual(
      state.body.members.map((member) => [member.memberId, member.owned]),
      [
        ['m1', [0, 2]],
        ['m2', [1, 3]],
      ],
    );

    // m2 leaves: m1 takes every partition at its next poll.
    const left = await t.call('POST', '/v1/topics/orders/groups/billing/leave', { body: { member: 'm2' } });
    assert.equal(left.status, 204);
    assert.deepEqual((await poll('orders', 'billing', { member: 'm1' })).body.partitions, [0, 1, 2, 3]);
  });

  it('a cursor continues after uncommitted events; without it, reading restarts at the commit', async () => {
    await t.call('PUT', '/v1/topics/cursor', { body: { partitions: 1 } });
    await publish('cursor', [0, 1, 2, 3, 4, 5], 1);
    const first = await poll('cursor', 'g', { member: 'm', max: 2 });
    const next = await poll('cursor', 'g', { member: 'm', max: 2, cursor: first.body.cursor });
    const again = await poll('cursor', 'g', { member: 'm', max: 2 });
    assert.deepEqual(bodies(first.body.events), [0, 1]);
    assert.deepEqual(bodies(next.body.events), [2, 3]);
    assert.deepEqual(bodies(again.body.events), [0, 1], 'nothing committed yet');
    const foreign = await t.call('POST', '/v1/topics/cursor/groups/other/poll', {
      body: { member: 'm', cursor: first.body.cursor },
    });
    assertProblem(foreign, 400, 'SPOOL_INVALID_ARGUMENT');
  });

  it('a long poll is woken by a publish', async () => {
    await t.call('PUT', '/v1/topics/wake', { body: { partitions: 2 } });
    await poll('wake', 'g', { member: 'm' });
    const started = Date.now();
    const polling = poll('wake', 'g', { member: 'm', waitMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await t.call('POST', '/v1/topics/wake/events', { body: { body: 'hello' } });
    assert.deepEqual(bodies((await polling).body.events), ['hello']);
    assert.ok(Date.now() - started < 5000);
  });

  it('seek moves committed offsets, and members re-read from there', async () => {
    await t.call('PUT', '/v1/topics/seek', { body: { partitions: 2 } });
    const before = Date.now();
    await publish('seek', [0, 1, 2, 3, 4, 5], 2);
    const read = await poll('seek', 'g', { member: 'm', max: 100 });
    await commit('seek', 'g', 'm', offsetsAfter(read.body.events));
    assert.equal((await group('seek', 'g')).body.totalLag, 0);

    assert.deepEqual((await seek('seek', 'g', 'earliest')).body.offsets, [
      { partition: 0, offset: 0 },
      { partition: 1, offset: 0 },
    ]);
    const reread = await poll('seek', 'g', { member: 'm', max: 100, cursor: read.body.cursor });
    assert.equal(reread.body.events.length, 6, 'a cursor from before the seek is ignored');

    assert.deepEqual((await seek('seek', 'g', { offsets: { 1: 2 } })).body.offsets, [
      { partition: 1, offset: 2 },
    ]);
    const byTime = await seek('seek', 'g', { timestamp: new Date(before - 60_000).toISOString() });
    assert.deepEqual(
      byTime.body.offsets.map((entry) => entry.offset),
      [0, 0],
    );
    const latest = await seek('seek', 'g', 'latest');
    assert.deepEqual(
      latest.body.offsets.map((entry) => entry.offset),
      [3, 3],
    );
    assert.equal((await group('seek', 'g')).body.totalLag, 0);
  });

  it('pause and resume a group: polls answer no events and paused: true until it resumes', async () => {
    await t.call('PUT', '/v1/topics/paused', { body: { partitions: 1 } });
    await publish('paused', [0], 1);
    const read = await poll('paused', 'g', { member: 'm' });
    assert.equal(read.body.paused, false);
    await commit('paused', 'g', 'm', offsetsAfter(read.body.events));
    await publish('paused', [1], 1);
    const paused = await t.call('POST', '/v1/topics/paused/groups/g/pause', { returns: GroupResponse });
    assert.equal(paused.status, 200);
    assert.equal(paused.body.paused, true);
    assert.ok(paused.body.pausedAt !== null && Date.parse(paused.body.pausedAt) > 0);
    const again = await t.call('POST', '/v1/topics/paused/groups/g/pause', { returns: GroupResponse });
    assert.equal(again.body.pausedAt, paused.body.pausedAt, 'idempotent: the first pause time stays');
    const during = await poll('paused', 'g', { member: 'm', cursor: read.body.cursor });
    assert.deepEqual([during.body.events.length, during.body.paused], [0, true]);
    assert.equal((await group('paused', 'g')).body.totalLag, 1, 'the event waits');
    const resumed = await t.call('POST', '/v1/topics/paused/groups/g/resume', { returns: GroupResponse });
    assert.deepEqual([resumed.body.paused, resumed.body.pausedAt], [false, null]);
    const after = await poll('paused', 'g', { member: 'm', cursor: read.body.cursor });
    assert.deepEqual(bodies(after.body.events), [1]);
    assertProblem(await t.call('POST', '/v1/topics/paused/groups/nope/pause'), 404, 'SPOOL_GROUP_NOT_FOUND');
    assertProblem(await t.call('POST', '/v1/topics/nope/groups/g/resume'), 404, 'SPOOL_TOPIC_NOT_FOUND');
  });

  it('unknown topics and groups are 404', async () => {
    assertProblem(await t.call('GET', '/v1/topics/nope'), 404, 'SPOOL_TOPIC_NOT_FOUND');
    assertProblem(
      await t.call('POST', '/v1/topics/nope/groups/g/poll', { body: { member: 'm' } }),
      404,
      'SPOOL_TOPIC_NOT_FOUND',
    );
    await t.call('PUT', '/v1/topics/exists', { body: {} });
    assertProblem(await t.call('GET', '/v1/topics/exists/groups/none'), 404, 'SPOOL_GROUP_NOT_FOUND');
    assert.equal((await t.call('DELETE', '/v1/topics/exists')).status, 204);
    assertProblem(await t.call('DELETE', '/v1/topics/exists'), 404, 'SPOOL_TOPIC_NOT_FOUND');
  });
});
