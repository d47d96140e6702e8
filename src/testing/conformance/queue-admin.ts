/**
 * Queue configuration and the views that take no lease: stats, the next delivery time,
 * browsing, purge, and the exact round-trip of what a message carries.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Payload } from '../../core/message.js';
import { resolveQueueConfig } from '../../core/options.js';
import type { QueuedMessage } from '../../store/port.js';
import { assertBytes, collectPages, history, ids, rejectsWithCode, type Suite } from './harness.js';

function byName<T extends { name: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function assertPayload(actual: Payload, expected: Payload): void {
  if (typeof expected === 'string') {
    assert.equal(typeof actual, 'string', 'a JSON text payload must come back as a string');
    assert.equal(actual, expected);
  } else {
    assertBytes(actual, expected);
  }
}

export function queueAdminTests(suite: Suite): void {
  void describe('queue views and configuration', () => {
    suite.test('queueStats counts messages by state and the age of the oldest', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      await store.enqueue(q, [msg(), msg(), msg({ availableAt: clock.now() + 10_000 })]);
      await clock.advance(1_000);
      await store.enqueue(q, [msg(), msg()]);
      const [inFlight, failed] = await claim(q, 2);
      await store.deadLetter(q, failed!.receipt, { name: 'Error', message: 'x' });
      assert.deepEqual(await store.queueStats(q), {
        queue: q,
        ready: 2,
        delayed: 1,
        inFlight: 1,
        deadLettered: 1,
        oldestAgeMs: 1_000,
        pausedAt: null,
      });
      await clock.advance(500);
      await store.ack(q, inFlight!.receipt);
      assert.equal((await store.queueStats(q)).oldestAgeMs, 1_500, 'the delayed message is the oldest');
      await store.purge(q);
      assert.deepEqual(await store.queueStats(q), {
        queue: q,
        ready: 0,
        delayed: 0,
        inFlight: 0,
        deadLettered: 1,
        oldestAgeMs: 0,
        pausedAt: null,
      });
    });

    suite.test(
      'pauseQueue: a paused queue takes sends and delivers nothing, a saved config keeps the pause, resume delivers',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        const q = await queue();
        await store.enqueue(q, [msg(), msg(), msg()]);
        const [leased] = await claim(q, 1);
        assert.equal(await store.pauseQueue('no-such-queue', clock.now()), false);
        assert.equal(await store.pauseQueue(q, clock.now()), true);
        const pausedAt = clock.now();
        await clock.advance(1_000);
        assert.equal(await store.pauseQueue(q, clock.now()), true, 'pausing again');
        assert.equal((await store.queueStats(q)).pausedAt, pausedAt, 'keeps the first pause time');
        await store.enqueue(q, [msg()]);
        assert.deepEqual(await claim(q, 10), [], 'a paused queue delivers nothing');
        // A consumer's round still settles its acks while the queue is paused.
        const round = await store.ackAndClaim(q, [leased!.receipt], { max: 10, visibilityTimeoutMs: 30_000 });
        assert.deepEqual([round.stale, round.claimed], [[], []]);
        await store.saveQueue(resolveQueueConfig(q, { maxAttempts: 7 }));
        assert.deepEqual(await claim(q, 10), [], 'saving the configuration keeps the pause');
        assert.equal((await store.queueStats(q)).ready, 3);

        assert.equal(await store.pauseQueue(q, null), true);
        assert.equal((await store.queueStats(q)).pausedAt, null);
        assert.equal((await claim(q, 10)).length, 3, 'a resumed queue delivers what waited');
      },
    );

    suite.test(
      'nextDeliveryAt is the earliest delay or lease expiry, null when nothing waits',
      async (env) => {
        const { store, clock, msg, queue } = env;
        const q = await queue();
        const t0 = clock.now();
        assert.equal(await store.nextDeliveryAt(q), null);
        await store.enqueue(q, [msg({ availableAt: t0 + 5_000 })]);
        assert.equal(await store.nextDeliveryAt(q), t0 + 5_000);
        await store.enqueue(q, [msg()]);
        const leased = await env.claimOne(q, 1_000);
        assert.equal(await store.nextDeliveryAt(q), t0 + 1_000);
        await store.ack(q, leased.receipt);
        assert.equal(await store.nextDeliveryAt(q), t0 + 5_000);
        await clock.setTime(t0 + 5_000);
        const delayed = await env.claimOne(q, 1_000);
        assert.equal(await store.nextDeliveryAt(q), t0 + 6_000);
        await store.ack(q, delayed.receipt);
        assert.equal(await store.nextDeliveryAt(q), null);
      },
    );

    suite.test('listMessages pages through every message exactly once in delivery order', async (env) => {
      const { store, msg, queue, claim } = env;
      const q = await queue();
      const priorities = [0, 3, 0, 3, 1, 0, 3];
      const sent = priorities.map((priority) => msg({ priority }));
      for (const message of sent) await store.enqueue(q, [message]);
      const expected = [...sent].sort((a, b) => b.priority - a.priority); // stable: FIFO within
      const listed = await collectPages((page) => store.listMessages(q, page), 3, sent.length);
      assert.deepEqual(ids(listed), ids(expected));
      const claimed = await claim(q, 10);
      assert.deepEqual(ids(claimed), ids(expected), 'listing takes no lease');
      assert.ok(claimed.every((m) => m.attempt === 1));
    });

    suite.test('listMessages shows each message state, attempts and errors', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      const t0 = clock.now();
      const [leased, ready, delayed] = [msg(), msg(), msg({ availableAt: t0 + 10_000 })];
      await store.enqueue(q, [leased]);
      await store.enqueue(q, [ready, delayed]);
      const lease = await env.claimOne(q);
      const find = async (id: string): Promise<QueuedMessage> => {
        const all = await collectPages((page) => store.listMessages(q, page), 10, 3);
        const found = all.find((m) => m.id === id);
        assert.ok(found, `message ${id} is listed`);
        return found;
      };
      const r = await find(ready.id);
      assert.deepEqual([r.state, r.attempts, r.enqueuedAt, r.availableAt], ['ready', 0, t0, t0]);
      const d = await find(delayed.id);
      assert.deepEqual([d.state, d.attempts, d.availableAt], ['delayed', 0, t0 + 10_000]);
      const l = await find(leased.id);
      assert.deepEqual([l.state, l.attempts], ['in-flight', 1]);
      await store.release(q, lease.receipt, { delayMs: 1_000, error: { name: 'Error', message: 'retry' } });
      const released = await find(leased.id);
      assert.deepEqual([released.state, released.attempts, released.availableAt], ['delayed', 1, t0 + 1_000]);
      assert.deepEqual(history(released.errors), [{ attempt: 1, at: t0, name: 'Error', message: 'retry' }]);
      assert.deepEqual(ids(await claim(q)), [ready.id]);
    });

    suite.test('purge deletes every message of the queue but not its dead letters', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      await store.enqueue(q, [msg(), msg(), msg(), msg({ availableAt: clock.now() + 10_000 })]);
      const [dead, inFlight] = await claim(q, 2);
      await store.deadLetter(q, dead!.receipt, { name: 'Error', message: 'x' });
      assert.equal(await store.purge(q), 3);
      const stats = await store.queueStats(q);
      assert.deepEqual([stats.ready, stats.delayed, stats.inFlight, stats.deadLettered], [0, 0, 0, 1]);
      await clock.advance(60_000);
      assert.deepEqual(await claim(q), []);
      await rejectsWithCode(() => store.ack(q, inFlight!.receipt), 'SPOOL_STALE_RECEIPT');
      assert.equal(await store.purge(q), 0);
    });

    suite.test('saveQueue creates a queue that getQueue and listQueues return', async ({ store }) => {
      const alpha = resolveQueueConfig('alpha', {
        visibilityTimeoutMs: 5_000,
        maxAttempts: 3,
        backoff: { baseMs: 10, capMs: 1_000, jitter: 'none' },
        maxDepth: 100,
        dedupWindowMs: 0,
      });
      const beta = resolveQueueConfig('beta');
      assert.deepEqual(await store.saveQueue(beta), beta);
      assert.deepEqual(await store.saveQueue(alpha), alpha);
      assert.deepEqual(await store.getQueue('alpha'), alpha);
      assert.equal(await store.getQueue('missing'), null);
      assert.deepEqual(byName(await store.listQueues()), [alpha, beta]);
    });

    suite.test('saveQueue again replaces the configuration and keeps the messages', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue('jobs', { maxAttempts: 2 });
      await store.enqueue(q, [msg(), msg()]);
      const changed = resolveQueueConfig(q, { maxAttempts: 9, maxDepth: 50 });
      assert.deepEqual(await store.saveQueue(changed), changed);
      assert.deepEqual(await store.getQueue(q), changed);
      assert.equal((await store.queueStats(q)).ready, 2);
      assert.equal((await store.listQueues()).length, 1);
    });

    suite.test('deleteQueue removes the queue with its messages, dead letters and dedup ids', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue();
      const kept = await queue('kept');
      await store.enqueue(q, [msg({ dedupId: 'd' }), msg()]);
      await store.enqueue(kept, [msg()]);
      await store.deadLetter(q, (await env.claimOne(q)).receipt, { name: 'Error', message: 'x' });
      assert.equal(await store.deleteQueue(q), true);
      assert.equal(await store.getQueue(q), null);
      assert.deepEqual(
        (await store.listQueues()).map((c) => c.name),
        [kept],
      );
      await rejectsWithCode(() => store.queueStats(q), 'SPOOL_QUEUE_NOT_FOUND');
      assert.equal(await store.deleteQueue(q), false);
      await queue(q);
      const stats = await store.queueStats(q);
      assert.deepEqual([stats.ready, stats.inFlight, stats.deadLettered], [0, 0, 0]);
      const again = msg({ dedupId: 'd' });
      assert.deepEqual(await store.enqueue(q, [again]), [{ id: again.id, duplicate: false }]);
      assert.equal((await store.queueStats(kept)).ready, 1);
    });

    suite.test('payloads, headers, keys and priorities round-trip unchanged', async (env) => {
      const { store, msg, queue, claim } = env;
      const q = await queue();
      const backing = Uint8Array.of(9, 9, 0, 1, 2, 127, 128, 254, 255, 9);
      const payloads: Payload[] = [
        JSON.stringify({ emoji: '😀', accents: 'ünïcödé', nested: [1, { b: null }], big: 2 ** 53 - 1 }),
        JSON.stringify('just a string'),
        backing.subarray(2, 9), // a view into a larger buffer: only its own bytes are the payload
        new Uint8Array(0),
      ];
      const headers = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', empty: '' };
      const sent = payloads.map((payload, i) =>
        msg({ payload, headers: i === 0 ? headers : {}, key: i === 0 ? 'ключ-1' : null, priority: 2 - i }),
      );
      await store.enqueue(q, sent);
      const check = (
        label: string,
        got: readonly {
          id: string;
          payload: Payload;
          headers: object;
          key: string | null;
          priority: number;
        }[],
      ): void => {
        assert.equal(got.length, sent.length, label);
        for (const expected of sent) {
          const item = got.find((g) => g.id === expected.id);
          assert.ok(item, `${label}: ${expected.id} present`);
          assertPayload(item.payload, expected.payload);
          assert.deepEqual({ ...item.headers }, expected.headers, label);
          assert.equal(item.key, expected.key, label);
          assert.equal(item.priority, expected.priority, label);
        }
      };
      check('listMessages', await collectPages((page) => store.listMessages(q, page), 10, sent.length));
      const claimed = await claim(q, 10);
      check('claim', claimed);
      for (const m of claimed) await store.deadLetter(q, m.receipt, { name: 'Error', message: 'x' });
      check('listDeadLetters', await collectPages((page) => store.listDeadLetters(q, page), 10, sent.length));
    });
  });
}
