/**
 * Pausing a consumer group: its subscribers and polled members read nothing until it resumes,
 * keeping their partitions and committed offsets. A pause made by another Spool on the same
 * file (as another process would) is seen within a second; one made here at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { createSpool } from '../../src/engine/spool.js';
import type { Spool } from '../../src/engine/spool.js';
import { openTestSpool, until, type TestSpool } from '../helpers.js';

describe('consumer group pause', () => {
  let t: TestSpool;
  let other: Spool;

  before(async () => {
    t = await openTestSpool({ safetyPollMs: 100 });
    // A second engine on the same file: it shares nothing in memory with the first.
    other = createSpool({ store: await openSqliteStore({ path: t.path }), safetyPollMs: 100 });
  });
  after(async () => {
    await other.close({ timeoutMs: 2000 });
    await t.dispose();
  });

  it('stops and restarts a subscriber, whichever process pauses; offsets and members stay', async () => {
    const topic = await t.spool.topic('orders', { partitions: 2 });
    const seen: number[] = [];
    const subscription = topic.subscribe(
      'billing',
      (event) => void seen.push((event.body as { n: number }).n),
    );
    try {
      await topic.publish({ n: 1 });
      await until(() => seen.length === 1, 5000, 'the first event');

      // Paused here: seen at once.
      await topic.pauseGroup('billing');
      const paused = await topic.group('billing');
      assert.ok(paused?.pausedAt instanceof Date);
      assert.equal(paused.members.length, 1, 'the member stays');
      await topic.publish({ n: 2 });
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.deepEqual(seen, [1], 'nothing is read while paused');
      await topic.resumeGroup('billing');
      await until(() => seen.length === 2, 2000, 'the event published while paused');

      // Paused by the other engine: seen within a second, and so is its resume.
      const remote = await other.openTopic('orders');
      await remote.pauseGroup('billing');
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      await topic.publish({ n: 3 });
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.deepEqual(seen, [1, 2], 'a pause made elsewhere holds within a second');
      const resumedAt = Date.now();
      await remote.resumeGroup('billing');
      await until(() => seen.length === 3, 3000, 'the event published while paused elsewhere');
      assert.ok(Date.now() - resumedAt < 1_500, `resumed after ${Date.now() - resumedAt} ms`);
      assert.equal((await topic.group('billing'))?.pausedAt, null);
    } finally {
      await subscription.close();
    }
  });

  it('answers polls of a paused group with no events and paused: true', async () => {
    const topic = await t.spool.topic('clicks', { partitions: 1 });
    await topic.publish({ n: 1 });
    const first = await topic.poll('audit', { memberId: 'm1' });
    assert.equal(first.events.length, 1);
    assert.equal(first.paused, false);
    await topic.commit('audit', 'm1', [{ partition: 0, offset: 1 }]);
    await topic.publish({ n: 2 });
    await topic.pauseGroup('audit');
    const started = Date.now();
    const during = await topic.poll('audit', { memberId: 'm1', waitMs: 300 });
    assert.deepEqual([during.events.length, during.paused], [0, true]);
    assert.ok(Date.now() - started >= 250, 'a long poll of a paused group waits its waitMs');
    await topic.resumeGroup('audit');
    const afterResume = await topic.poll('audit', { memberId: 'm1' });
    assert.deepEqual(
      afterResume.events.map((event) => event.body),
      [{ n: 2 }],
    );
    await assert.rejects(topic.pauseGroup('no-such-group'), { code: 'SPOOL_GROUP_NOT_FOUND' });
    await assert.rejects(topic.resumeGroup('no-such-group'), { code: 'SPOOL_GROUP_NOT_FOUND' });
  });
});
