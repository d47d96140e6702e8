/**
 * The store as a whole: what it reports about itself, processed markers, background upkeep
 * (`maintain` forgets only what has expired, so consumers see no difference) and the end of its
 * life (`close`: every later call rejects with `ClosedError`, no timer is left behind).
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { resolveQueueConfig, resolveTopicConfig } from '../../core/options.js';
import { rejectsWithCode, type Suite } from './harness.js';

export function upkeepTests(suite: Suite): void {
  void describe('store upkeep and lifecycle', () => {
    suite.test('the store reports its backend name, clock and capabilities', ({ store, clock }) => {
      assert.equal(typeof store.backend, 'string');
      assert.ok(store.backend.length > 0);
      assert.equal(store.clock, clock);
      assert.equal(typeof store.capabilities.transactions, 'boolean');
      return Promise.resolve();
    });

    suite.test(
      'markProcessed resolves true the first time and false after, per consumer',
      async ({ store }) => {
        assert.equal(await store.markProcessed('mailer', 'message-1'), true);
        assert.equal(await store.markProcessed('mailer', 'message-1'), false);
        assert.equal(await store.markProcessed('auditor', 'message-1'), true);
        assert.equal(await store.markProcessed('mailer', 'message-2'), true);
      },
    );

    suite.test('maintain keeps dedup ids within their window and forgets expired ones', async (env) => {
      const { store, clock, msg, queue } = env;
      const q = await queue('jobs', { dedupWindowMs: 1_000 });
      const original = msg({ dedupId: 'd' });
      await store.enqueue(q, [original]);
      await clock.advance(500);
      await store.maintain({ processedRetentionMs: 60_000 });
      assert.deepEqual(await store.enqueue(q, [msg({ dedupId: 'd' })]), [
        { id: original.id, duplicate: true },
      ]);
      await clock.advance(1_500);
      await store.maintain({ processedRetentionMs: 60_000 });
      const later = msg({ dedupId: 'd' });
      assert.deepEqual(await store.enqueue(q, [later]), [{ id: later.id, duplicate: false }]);
      assert.equal((await store.queueStats(q)).ready, 2, 'maintain leaves messages alone');
    });

    suite.test(
      'maintain forgets processed markers older than the retention only',
      async ({ store, clock }) => {
        await store.markProcessed('mailer', 'old');
        await clock.advance(6_000);
        await store.markProcessed('mailer', 'recent');
        await store.maintain({ processedRetentionMs: 10_000 });
        assert.equal(await store.markProcessed('mailer', 'old'), false, 'a 6 s old marker is kept');
        await clock.advance(5_000); // 'old' is now 11 s old, 'recent' 5 s
        await store.maintain({ processedRetentionMs: 10_000 });
        assert.equal(await store.markProcessed('mailer', 'recent'), false);
        assert.equal(await store.markProcessed('mailer', 'old'), true, 'an expired marker is forgotten');
      },
    );

    suite.test('maintain applies the retention of every topic', async (env) => {
      const { store, clock, event, topic } = env;
      const byAge = await topic('by-age', { partitions: 1, retentionMs: 1_000 });
      const bySize = await topic('by-size', { partitions: 1, retentionMs: null, retentionBytes: 10 });
      await store.append(byAge, [event(0), event(0)]);
      await store.append(bySize, [
        event(0, { payload: 'x'.repeat(8) }),
        event(0, { payload: 'y'.repeat(8) }),
      ]);
      await clock.advance(2_000);
      await store.append(byAge, [event(0)]);
      await store.maintain({ processedRetentionMs: 60_000 });
      assert.deepEqual(await store.partitionOffsets(byAge), [{ partition: 0, startOffset: 2, endOffset: 3 }]);
      assert.deepEqual(await store.partitionOffsets(bySize), [
        { partition: 0, startOffset: 1, endOffset: 2 },
      ]);
    });

    suite.test('after close every call rejects with ClosedError', async (env) => {
      const { store, msg, event, queue, topic } = env;
      const q = await queue();
      const t = await topic('orders', { partitions: 1 });
      await store.enqueue(q, [msg()]);
      const { receipt } = await env.claimOne(q);
      const transactions = store.capabilities.transactions;
      await env.closeStore();
      const member = { memberId: 'member-a', sessionTimeoutMs: 10_000, startFrom: 'earliest' } as const;
      const calls: Record<string, () => Promise<unknown>> = {
        saveQueue: () => store.saveQueue(resolveQueueConfig('late')),
        getQueue: () => store.getQueue(q),
        listQueues: () => store.listQueues(),
        deleteQueue: () => store.deleteQueue(q),
        enqueue: () => store.enqueue(q, [msg()]),
        claim: () => store.claim(q, { max: 1, visibilityTimeoutMs: 1_000 }),
        ack: () => store.ack(q, receipt),
        release: () => store.release(q, receipt, { delayMs: 0 }),
        extend: () => store.extend(q, receipt, 1_000),
        deadLetter: () => store.deadLetter(q, receipt, { name: 'Error', message: 'x' }),
        queueStats: () => store.queueStats(q),
        nextDeliveryAt: () => store.nextDeliveryAt(q),
        listMessages: () => store.listMessages(q, { limit: 10 }),
        purge: () => store.purge(q),
        listDeadLetters: () => store.listDeadLetters(q, { limit: 10 }),
        redrive: () => store.redrive(q, {}),
        purgeDeadLetters: () => store.purgeDeadLetters(q, {}),
        saveTopic: () => store.saveTopic(resolveTopicConfig('late')),
        getTopic: () => store.getTopic(t),
        listTopics: () => store.listTopics(),
        deleteTopic: () => store.deleteTopic(t),
        append: () => store.append(t, [event(0)]),
        read: () => store.read(t, 0, 0, 10),
        partitionOffsets: () => store.partitionOffsets(t),
        offsetForTime: () => store.offsetForTime(t, 0, 0),
        trim: () => store.trim(t),
        joinGroup: () => store.joinGroup(t, 'g', member),
        heartbeat: () => store.heartbeat(t, 'g', 'member-a'),
        releasePartitions: () => store.releasePartitions(t, 'g', 'member-a', [0]),
        leaveGroup: () => store.leaveGroup(t, 'g', 'member-a'),
        seekGroup: () => store.seekGroup(t, 'g', [{ partition: 0, offset: 0 }]),
        groupState: () => store.groupState(t, 'g'),
        listGroups: () => store.listGroups(t),
        commitOffset: () => store.commitOffset(t, 'g', 'member-a', 0, 0),
        markProcessed: () => store.markProcessed('mailer', 'message-1'),
        saveWorkers: () => store.saveWorkers([]),
        listWorkers: () => store.listWorkers(),
        deleteWorkers: () => store.deleteWorkers(['w']),
        maintain: () => store.maintain({ processedRetentionMs: 1_000 }),
        ...(transactions ? { transaction: () => store.transaction(() => Promise.resolve()) } : {}),
      };
      for (const [method, call] of Object.entries(calls)) {
        await rejectsWithCode(call, 'SPOOL_CLOSED', `${method} after close`);
      }
    });

    suite.test('close leaves no timer pending on the clock', async (env) => {
      const { store, clock, msg, event, queue, topic } = env;
      const q = await queue();
      const t = await topic('orders', { partitions: 1 });
      await store.enqueue(q, [msg({ availableAt: clock.now() + 5_000 })]);
      await store.append(t, [event(0)]);
      await store.joinGroup(t, 'g', {
        memberId: 'member-a',
        sessionTimeoutMs: 10_000,
        startFrom: 'earliest',
      });
      await env.closeStore();
      assert.equal(clock.pendingTimers, 0);
    });
  });
}
