/**
 * Which messages a claim may hand out, and which an enqueue may store.
 *
 * Delivery order: higher priority first, then enqueue order. A message waits while its
 * `availableAt` is in the future, and a keyed message waits while an earlier message of its key is
 * still in the queue (ready, delayed or in flight). Admission: a dedup id seen within the window
 * makes a duplicate (nothing stored), and a send that would take the queue over `maxDepth` stores
 * nothing at all.
 *
 * Ids are generated so that id order differs from enqueue order: a backend that sorts by id
 * instead of by enqueue sequence fails here.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import type { EnqueueMessage } from '../../store/port.js';
import { collectPages, ids, rejectsWithCode, type Suite, type TestEnv } from './harness.js';

/** One message per override, with ids that sort in the reverse of their position. */
function reverseIdMessages(env: TestEnv, overrides: Partial<EnqueueMessage>[]): EnqueueMessage[] {
  const fresh = overrides.map(() => uuidv7()).reverse();
  return overrides.map((override, index) => env.msg({ ...override, id: fresh[index]! }));
}

export function queueOrderingTests(suite: Suite): void {
  void describe('queue delivery order', () => {
    suite.test('higher priority is claimed first and FIFO holds within a priority', async (env) => {
      const { store, queue, claim } = env;
      const q = await queue();
      const [a, b, c, d, e] = reverseIdMessages(env, [
        { priority: 0 },
        { priority: 5 },
        { priority: 0 },
        { priority: 5 },
        { priority: 10 },
      ]);
      await store.enqueue(q, [a!, b!]);
      await store.enqueue(q, [c!, d!, e!]);
      assert.equal((await env.claimOne(q)).id, e!.id);
      assert.equal((await env.claimOne(q)).id, b!.id);
      assert.deepEqual(ids(await claim(q)), ids([d!, a!, c!]));
    });

    suite.test('a delayed message is not claimed before its availableAt, then is', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      const delayed = msg({ availableAt: clock.now() + 10_000 });
      const past = msg({ availableAt: clock.now() - 10_000 });
      await store.enqueue(q, [delayed, past]);
      assert.deepEqual(ids(await claim(q)), [past.id]);
      const stats = await store.queueStats(q);
      assert.deepEqual([stats.ready, stats.delayed, stats.inFlight], [0, 1, 1]);
      await clock.advance(9_999);
      assert.deepEqual(await claim(q), []);
      await clock.advance(1);
      assert.deepEqual(ids(await claim(q)), [delayed.id]);
    });

    suite.test('per-key FIFO: only the oldest message of each key is claimable', async (env) => {
      const { store, queue, claim } = env;
      const q = await queue();
      const [a1, a2, b1] = reverseIdMessages(env, [{ key: 'A' }, { key: 'A' }, { key: 'B' }]);
      await store.enqueue(q, [a1!, a2!, b1!]);
      const claimed = await claim(q, 10);
      assert.deepEqual(ids(claimed), ids([a1!, b1!]));
      assert.deepEqual(await claim(q), []);
      await store.ack(q, claimed[0]!.receipt);
      assert.deepEqual(ids(await claim(q)), [a2!.id]);
    });

    suite.test('per-key FIFO: after a lease expires the same head is redelivered', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      const [a1, a2] = [msg({ key: 'A' }), msg({ key: 'A' })];
      await store.enqueue(q, [a1, a2]);
      await env.claimOne(q, 1_000);
      await clock.advance(1_001);
      const again = await claim(q);
      assert.deepEqual(ids(again), [a1.id]);
      assert.equal(again[0]!.attempt, 2);
    });

    suite.test('per-key FIFO: the next message waits while the released head is delayed', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      const [a1, a2] = [msg({ key: 'A' }), msg({ key: 'A' })];
      await store.enqueue(q, [a1, a2]);
      const head = await env.claimOne(q);
      await store.release(q, head.receipt, { delayMs: 5_000 });
      assert.deepEqual(await claim(q), []);
      await clock.advance(5_000);
      const again = await claim(q);
      assert.deepEqual(ids(again), [a1.id]);
      await store.ack(q, again[0]!.receipt);
      assert.deepEqual(ids(await claim(q)), [a2.id]);
    });

    suite.test('per-key FIFO: dead-lettering the head makes the next message claimable', async (env) => {
      const { store, msg, queue, claim } = env;
      const q = await queue();
      const [a1, a2] = [msg({ key: 'A' }), msg({ key: 'A' })];
      await store.enqueue(q, [a1, a2]);
      const head = await env.claimOne(q);
      assert.deepEqual(await claim(q), []);
      await store.deadLetter(q, head.receipt, { name: 'Error', message: 'poison' });
      assert.deepEqual(ids(await claim(q)), [a2.id]);
    });

    suite.test(
      'per-key FIFO: a head dead-lettered by its expired last lease, a nack or a batch ack frees the next',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        const q = await queue('jobs', { maxAttempts: 1 });
        const [a1, a2, a3, a4] = [msg({ key: 'A' }), msg({ key: 'A' }), msg({ key: 'A' }), msg({ key: 'A' })];
        await store.enqueue(q, [a1, a2, a3, a4]);
        await env.claimOne(q, 1_000);
        await clock.advance(1_001);
        // A claim sweeps the expired last attempt to the dead letters; the new head is claimable
        // at once (SQLite) or from the next claim (PostgreSQL: one statement, one snapshot).
        let second = await claim(q, 10);
        if (second.length === 0) second = await claim(q, 10);
        assert.deepEqual(ids(second), [a2.id]);
        assert.equal(await store.release(q, second[0]!.receipt, { delayMs: 0 }), 'dead-lettered');
        const third = await claim(q, 10);
        assert.deepEqual(ids(third), [a3.id]);
        const { stale, claimed } = await store.ackAndClaim(q, [third[0]!.receipt], {
          max: 10,
          visibilityTimeoutMs: 30_000,
        });
        assert.deepEqual([stale, ids(claimed)], [[], [a4.id]]);
      },
    );

    suite.test('per-key FIFO holds for redriven messages of one key, and after a purge', async (env) => {
      const { store, msg, queue, claim } = env;
      const q = await queue('jobs', { maxAttempts: 1 });
      const [a1, a2, b1] = [msg({ key: 'A' }), msg({ key: 'A' }), msg({ key: 'B' })];
      await store.enqueue(q, [a1, a2, b1]);
      for (const expected of [[a1.id, b1.id], [a2.id]]) {
        const claimed = await claim(q, 10);
        assert.deepEqual(ids(claimed).sort(), [...expected].sort());
        for (const message of claimed)
          await store.deadLetter(q, message.receipt, { name: 'E', message: 'x' });
      }
      const a3 = msg({ key: 'A' });
      await store.enqueue(q, [a3]);
      // Redriven messages join the end of the queue: behind a3, and each behind the older of its key.
      assert.equal(await store.redrive(q, {}), 3);
      const first = await claim(q, 10);
      assert.deepEqual(ids(first).sort(), [a3.id, b1.id].sort());
      await store.ackAndClaim(
        q,
        first.map((m) => m.receipt),
        { max: 0, visibilityTimeoutMs: 1 },
      );
      assert.deepEqual(ids(await claim(q, 10)), [a1.id]);
      await store.purge(q);
      const [c1, c2] = [msg({ key: 'A' }), msg({ key: 'A' })];
      await store.enqueue(q, [c1, c2]);
      assert.deepEqual(ids(await claim(q, 10)), [c1.id]);
    });

    suite.test('per-key FIFO holds over a later message of higher priority', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      const a1 = msg({ key: 'A', priority: 0, availableAt: clock.now() + 5_000 });
      const a2 = msg({ key: 'A', priority: 10 });
      const unkeyed = msg({ priority: 5 });
      await store.enqueue(q, [a1, a2, unkeyed]);
      assert.deepEqual(ids(await claim(q)), [unkeyed.id]);
      await clock.advance(5_000);
      const head = await claim(q);
      assert.deepEqual(ids(head), [a1.id]);
      await store.ack(q, head[0]!.receipt);
      assert.deepEqual(ids(await claim(q)), [a2.id]);
    });
  });

  void describe('queue admission', () => {
    suite.test(
      'a dedup id seen within the window is a duplicate: original id, nothing stored',
      async (env) => {
        const { store, clock, msg, queue } = env;
        const q = await queue('jobs', { dedupWindowMs: 60_000 });
        const original = msg({ dedupId: 'order-1' });
        assert.deepEqual(await store.enqueue(q, [original]), [{ id: original.id, duplicate: false }]);
        await clock.advance(59_999);
        const results = await store.enqueue(q, [msg({ dedupId: 'order-1' })]);
        assert.deepEqual(results, [{ id: original.id, duplicate: true }]);
        assert.equal((await store.queueStats(q)).ready, 1);
        const listed = await collectPages((page) => store.listMessages(q, page), 10, 1);
        assert.deepEqual(ids(listed), [original.id]);
      },
    );

    suite.test('a dedup id is stored anew once its window has passed', async (env) => {
      const { store, clock, msg, queue } = env;
      const q = await queue('jobs', { dedupWindowMs: 60_000 });
      await store.enqueue(q, [msg({ dedupId: 'order-1' })]);
      await clock.advance(60_000);
      const again = msg({ dedupId: 'order-1' });
      assert.deepEqual(await store.enqueue(q, [again]), [{ id: again.id, duplicate: false }]);
      assert.equal((await store.queueStats(q)).ready, 2);
    });

    suite.test('a dedup id is still a duplicate after its message was acked', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue('jobs', { dedupWindowMs: 60_000 });
      const original = msg({ dedupId: 'order-1' });
      await store.enqueue(q, [original]);
      await store.ack(q, (await env.claimOne(q)).receipt);
      const results = await store.enqueue(q, [msg({ dedupId: 'order-1' })]);
      assert.deepEqual(results, [{ id: original.id, duplicate: true }]);
      assert.equal((await store.queueStats(q)).ready, 0);
    });

    suite.test('a repeated dedup id within one enqueue call is a duplicate of the first', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue();
      const batch = [msg({ dedupId: 'x' }), msg({ dedupId: 'x' }), msg({ dedupId: 'y' }), msg()];
      const results = await store.enqueue(q, batch);
      assert.deepEqual(results, [
        { id: batch[0]!.id, duplicate: false },
        { id: batch[0]!.id, duplicate: true },
        { id: batch[2]!.id, duplicate: false },
        { id: batch[3]!.id, duplicate: false },
      ]);
      assert.equal((await store.queueStats(q)).ready, 3);
    });

    suite.test('dedup ids are scoped to their queue', async (env) => {
      const { store, msg, queue } = env;
      const first = await queue('first');
      const second = await queue('second');
      await store.enqueue(first, [msg({ dedupId: 'same' })]);
      const other = msg({ dedupId: 'same' });
      assert.deepEqual(await store.enqueue(second, [other]), [{ id: other.id, duplicate: false }]);
    });

    suite.test(
      'an enqueue that would exceed maxDepth throws QueueFullError and stores nothing',
      async (env) => {
        const { store, msg, queue } = env;
        const q = await queue('jobs', { maxDepth: 3 });
        const stored = [msg(), msg()];
        await store.enqueue(q, stored);
        await rejectsWithCode(() => store.enqueue(q, [msg(), msg()]), 'SPOOL_QUEUE_FULL');
        assert.equal((await store.queueStats(q)).ready, 2);
        const listed = await collectPages((page) => store.listMessages(q, page), 10, 2);
        assert.deepEqual(ids(listed), ids(stored));
        await store.enqueue(q, [msg()]);
        await rejectsWithCode(() => store.enqueue(q, [msg()]), 'SPOOL_QUEUE_FULL');
        assert.equal((await store.queueStats(q)).ready, 3);
      },
    );

    suite.test(
      'in-flight and delayed messages fill maxDepth; ack and dead-lettering free room',
      async (env) => {
        const { store, clock, msg, queue } = env;
        const q = await queue('jobs', { maxDepth: 2 });
        await store.enqueue(q, [msg(), msg({ availableAt: clock.now() + 60_000 })]);
        const inFlight = await env.claimOne(q);
        await rejectsWithCode(() => store.enqueue(q, [msg()]), 'SPOOL_QUEUE_FULL');
        await store.ack(q, inFlight.receipt);
        await store.enqueue(q, [msg()]);
        await rejectsWithCode(() => store.enqueue(q, [msg()]), 'SPOOL_QUEUE_FULL');
        const poisoned = await env.claimOne(q);
        await store.deadLetter(q, poisoned.receipt, { name: 'Error', message: 'poison' });
        await store.enqueue(q, [msg()]);
        await rejectsWithCode(() => store.enqueue(q, [msg()]), 'SPOOL_QUEUE_FULL');
      },
    );

    suite.test(
      'maxDepth counts through expired leases, nacks to the dead letters, batch acks, purge and redrive',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        const q = await queue('jobs', { maxDepth: 3, maxAttempts: 1 });
        await store.enqueue(q, [msg(), msg(), msg()]);
        await rejectsWithCode(() => store.enqueue(q, [msg()]), 'SPOOL_QUEUE_FULL');
        await env.claimOne(q, 1_000);
        await clock.advance(1_001);
        const [nacked] = await claim(q, 1); // the sweep dead-letters the expired one: 2 left
        assert.equal(await store.release(q, nacked!.receipt, { delayMs: 0 }), 'dead-lettered');
        const [acked] = await claim(q, 1);
        await store.ackAndClaim(q, [acked!.receipt], { max: 0, visibilityTimeoutMs: 1_000 });
        await store.enqueue(q, [msg(), msg(), msg()]);
        await rejectsWithCode(() => store.enqueue(q, [msg()]), 'SPOOL_QUEUE_FULL');
        assert.equal(await store.purge(q), 3);
        await store.enqueue(q, [msg()]);
        // A redrive may pass maxDepth (an operator action); what it adds counts from then on.
        assert.equal(await store.redrive(q, {}), 2);
        await rejectsWithCode(() => store.enqueue(q, [msg()]), 'SPOOL_QUEUE_FULL');
        const stats = await store.queueStats(q);
        assert.deepEqual([stats.ready, stats.deadLettered], [3, 0]);
      },
    );

    suite.test('duplicates do not count towards maxDepth', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue('jobs', { maxDepth: 2 });
      const original = msg({ dedupId: 'x' });
      await store.enqueue(q, [original, msg()]);
      const results = await store.enqueue(q, [msg({ dedupId: 'x' })]);
      assert.deepEqual(results, [{ id: original.id, duplicate: true }]);
      const fresh = await queue('fresh', { maxDepth: 1 });
      const batch = [msg({ dedupId: 'y' }), msg({ dedupId: 'y' })];
      assert.equal((await store.enqueue(fresh, batch)).filter((r) => r.duplicate).length, 1);
      assert.equal((await store.queueStats(fresh)).ready, 1);
    });
  });
}
