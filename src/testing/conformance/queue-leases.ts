/**
 * Queue messages under a lease. A message moves between these states:
 *
 *   ready/delayed --claim--> in flight --ack--> deleted
 *                               |--release(delay), a nack--> delayed or ready (attempts kept:
 *                               |                            next claim attempt + 1) or, on
 *                               |                            the last attempt, dead letter
 *                               |                            with the nack's error
 *                               |--release(delay, countAttempt: false)--> delayed or ready
 *                               |                            (the delivery is taken back: next
 *                               |                            claim has the same attempt)
 *                               |--extend--> in flight (later expiry)
 *                               |--deadLetter--> dead letter
 *                               `--lease expires--> ready again (next claim: attempt + 1,
 *                                                   new receipt) or, on the last attempt,
 *                                                   dead letter with a LeaseExpired error
 *
 * Each claim issues a new receipt; only the current receipt may settle the message.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { history, ids, rejectsWithCode, type Suite } from './harness.js';

export function queueLeaseTests(suite: Suite): void {
  void describe('queue leases', () => {
    suite.test('enqueue returns one result per message, in order', async ({ store, msg, queue, claim }) => {
      const q = await queue();
      const messages = [msg(), msg(), msg()];
      const results = await store.enqueue(q, messages);
      assert.deepEqual(
        results,
        messages.map((m) => ({ id: m.id, duplicate: false })),
      );
      assert.deepEqual(ids(await claim(q)), ids(messages));
    });

    suite.test('claim of a new message leases it as attempt 1', async ({ store, clock, msg, queue }) => {
      const q = await queue();
      const sent = msg({ headers: { 'ce-type': 'order.placed' }, key: 'customer-7', priority: 3 });
      await store.enqueue(q, [sent]);
      const enqueuedAt = clock.now();
      await clock.advance(250);
      const [claimed] = await store.claim(q, { max: 5, visibilityTimeoutMs: 1_000 });
      assert.ok(claimed);
      assert.equal(claimed.id, sent.id);
      assert.equal(claimed.queue, q);
      assert.equal(claimed.payload, sent.payload);
      assert.deepEqual({ ...claimed.headers }, sent.headers);
      assert.equal(claimed.key, 'customer-7');
      assert.equal(claimed.priority, 3);
      assert.equal(claimed.enqueuedAt, enqueuedAt);
      assert.equal(claimed.attempt, 1);
      assert.equal(typeof claimed.receipt, 'string');
      assert.ok(claimed.receipt.length > 0);
      assert.equal(claimed.leaseExpiresAt, clock.now() + 1_000);
      assert.deepEqual(history(claimed.errors), []);
    });

    suite.test('a leased message is invisible to other claims until the lease expires', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      await store.enqueue(q, [msg()]);
      const first = await env.claimOne(q, 1_000);
      assert.deepEqual(await claim(q), []);
      await clock.advance(999);
      assert.deepEqual(await claim(q), []);
      assert.equal((await store.queueStats(q)).inFlight, 1);
      await clock.advance(2);
      const again = await claim(q);
      assert.deepEqual(ids(again), [first.id]);
    });

    suite.test('an expired lease is redelivered with attempt + 1 and a new receipt', async (env) => {
      const { store, clock, msg, queue } = env;
      const q = await queue();
      await store.enqueue(q, [msg()]);
      const first = await env.claimOne(q, 1_000);
      await clock.advance(1_001);
      const second = await env.claimOne(q, 5_000);
      assert.equal(second.id, first.id);
      assert.equal(second.attempt, 2);
      assert.notEqual(second.receipt, first.receipt);
      assert.equal(second.leaseExpiresAt, clock.now() + 5_000);
      assert.equal(second.enqueuedAt, first.enqueuedAt);
    });

    suite.test('a redelivered message is claimable exactly at its lease expiry', async (env) => {
      const { store, clock, msg, queue } = env;
      const q = await queue();
      await store.enqueue(q, [msg()]);
      const first = await env.claimOne(q, 1_000);
      assert.equal(await store.nextDeliveryAt(q), first.leaseExpiresAt);
      await clock.setTime(first.leaseExpiresAt);
      // nextDeliveryAt is when consumers wake up; the message must be there when they do.
      assert.equal((await env.claimOne(q)).attempt, 2);
    });

    suite.test(
      'after redelivery the old receipt is stale for ack, extend, release and deadLetter',
      async (env) => {
        const { store, clock, msg, queue } = env;
        const q = await queue();
        await store.enqueue(q, [msg()]);
        const first = await env.claimOne(q, 1_000);
        await clock.advance(1_001);
        const second = await env.claimOne(q, 1_000);
        await rejectsWithCode(() => store.ack(q, first.receipt), 'SPOOL_STALE_RECEIPT');
        await rejectsWithCode(() => store.extend(q, first.receipt, 1_000), 'SPOOL_STALE_RECEIPT');
        await rejectsWithCode(() => store.release(q, first.receipt, { delayMs: 0 }), 'SPOOL_STALE_RECEIPT');
        await rejectsWithCode(
          () => store.release(q, first.receipt, { delayMs: 0, countAttempt: false }),
          'SPOOL_STALE_RECEIPT',
        );
        await rejectsWithCode(
          () => store.deadLetter(q, first.receipt, { name: 'Error', message: 'late' }),
          'SPOOL_STALE_RECEIPT',
        );
        // The stale calls changed nothing: the current lease still holds and settles.
        const stats = await store.queueStats(q);
        assert.deepEqual([stats.inFlight, stats.deadLettered], [1, 0]);
        await store.ack(q, second.receipt);
        assert.equal((await store.queueStats(q)).inFlight, 0);
      },
    );

    suite.test('a receipt never issued by the queue is stale', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue();
      const other = await queue('other');
      await store.enqueue(q, [msg()]);
      const claimed = await env.claimOne(q);
      await rejectsWithCode(() => store.ack(q, 'not-a-receipt'), 'SPOOL_STALE_RECEIPT');
      await rejectsWithCode(() => store.ack(other, claimed.receipt), 'SPOOL_STALE_RECEIPT');
      assert.equal((await store.queueStats(q)).inFlight, 1);
    });

    suite.test('ack after the lease time but before a re-claim is accepted', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      await store.enqueue(q, [msg()]);
      const claimed = await env.claimOne(q, 1_000);
      await clock.advance(5_000);
      await store.ack(q, claimed.receipt);
      assert.deepEqual(await claim(q), []);
      const stats = await store.queueStats(q);
      assert.deepEqual([stats.ready, stats.delayed, stats.inFlight, stats.deadLettered], [0, 0, 0, 0]);
    });

    suite.test('ack deletes the message: it leaves the stats and is never redelivered', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      const [acked, kept] = [msg(), msg()];
      await store.enqueue(q, [acked, kept]);
      const claimed = await env.claimOne(q, 1_000);
      assert.equal(claimed.id, acked.id);
      await store.ack(q, claimed.receipt);
      const stats = await store.queueStats(q);
      assert.deepEqual([stats.ready, stats.inFlight], [1, 0]);
      await clock.advance(60_000);
      assert.deepEqual(ids(await claim(q)), [kept.id]);
      await rejectsWithCode(() => store.ack(q, claimed.receipt), 'SPOOL_STALE_RECEIPT');
    });

    suite.test(
      'extend moves the lease expiry so the message is not redelivered at the old one',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        const q = await queue();
        await store.enqueue(q, [msg()]);
        const claimed = await env.claimOne(q, 1_000);
        await clock.advance(500);
        const expiresAt = await store.extend(q, claimed.receipt, 2_000);
        assert.equal(expiresAt, clock.now() + 2_000);
        await clock.advance(600); // past the original expiry
        assert.deepEqual(await claim(q), []);
        assert.equal(await store.nextDeliveryAt(q), expiresAt);
        await clock.setTime(expiresAt + 1);
        const again = await env.claimOne(q);
        assert.equal(again.attempt, 2);
      },
    );

    suite.test('extend after the lease expired throws StaleReceiptError', async (env) => {
      const { store, clock, msg, queue } = env;
      const q = await queue();
      await store.enqueue(q, [msg()]);
      const claimed = await env.claimOne(q, 1_000);
      await clock.advance(1_500);
      await rejectsWithCode(() => store.extend(q, claimed.receipt, 1_000), 'SPOOL_STALE_RECEIPT');
    });

    suite.test('release with a delay makes the message claimable again after the delay', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      await store.enqueue(q, [msg()]);
      const claimed = await env.claimOne(q, 10_000);
      await clock.advance(100);
      const releasedAt = clock.now();
      const outcome = await store.release(q, claimed.receipt, {
        delayMs: 5_000,
        error: { name: 'TypeError', message: 'boom' },
      });
      assert.equal(outcome, 'released');
      assert.deepEqual(await claim(q), []);
      const stats = await store.queueStats(q);
      assert.deepEqual([stats.ready, stats.delayed, stats.inFlight], [0, 1, 0]);
      assert.equal(await store.nextDeliveryAt(q), releasedAt + 5_000);
      await clock.advance(4_999);
      assert.deepEqual(await claim(q), []);
      await clock.advance(1);
      const again = await env.claimOne(q);
      assert.equal(again.id, claimed.id);
      assert.equal(again.attempt, 2, 'release keeps the attempt count; the next claim adds one');
      assert.deepEqual(history(again.errors), [
        { attempt: 1, at: releasedAt, name: 'TypeError', message: 'boom' },
      ]);
      await rejectsWithCode(() => store.ack(q, claimed.receipt), 'SPOOL_STALE_RECEIPT');
    });

    suite.test('release without a delay or error makes the message claimable at once', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue();
      await store.enqueue(q, [msg()]);
      const claimed = await env.claimOne(q);
      await store.release(q, claimed.receipt, { delayMs: 0 });
      const again = await env.claimOne(q);
      assert.equal(again.id, claimed.id);
      assert.equal(again.attempt, 2);
      assert.deepEqual(history(again.errors), []);
    });

    suite.test(
      'a nack before the last attempt releases the message; the next claim is attempt + 1',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        const q = await queue('jobs', { maxAttempts: 3 });
        await store.enqueue(q, [msg()]);
        for (const attempt of [1, 2]) {
          const claimed = await env.claimOne(q);
          assert.equal(claimed.attempt, attempt);
          const outcome = await store.release(q, claimed.receipt, {
            delayMs: 0,
            error: { name: 'Error', message: `failure ${attempt}` },
          });
          assert.equal(outcome, 'released');
          assert.equal((await store.queueStats(q)).deadLettered, 0);
        }
        const last = await env.claimOne(q);
        assert.equal(last.attempt, 3);
        assert.deepEqual(
          history(last.errors).map((error) => [error.attempt, error.message]),
          [
            [1, 'failure 1'],
            [2, 'failure 2'],
          ],
        );
        await clock.advance(1);
        assert.deepEqual(await claim(q), []);
      },
    );

    suite.test(
      'a nack of the last allowed attempt dead-letters the message with the nack error',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        const q = await queue('jobs', { maxAttempts: 2 });
        const sent = msg({ headers: { h: 'v' }, priority: 4 });
        await store.enqueue(q, [sent]);
        const first = await env.claimOne(q);
        await store.release(q, first.receipt, { delayMs: 0, error: { name: 'Error', message: 'flaky' } });
        const second = await env.claimOne(q);
        assert.equal(second.attempt, 2);
        await clock.advance(10);
        const nackedAt = clock.now();
        const outcome = await store.release(q, second.receipt, {
          delayMs: 1_000,
          error: { name: 'TypeError', message: 'still broken' },
        });
        assert.equal(outcome, 'dead-lettered');
        const stats = await store.queueStats(q);
        assert.deepEqual([stats.ready, stats.delayed, stats.inFlight, stats.deadLettered], [0, 0, 0, 1]);
        await clock.advance(2_000);
        assert.deepEqual(await claim(q), [], 'a dead-lettered message is not delivered again');
        assert.equal(await store.nextDeliveryAt(q), null);
        const { items } = await store.listDeadLetters(q, { limit: 10 });
        assert.equal(items.length, 1);
        const dead = items[0]!;
        assert.deepEqual([dead.id, dead.payload, dead.priority], [sent.id, sent.payload, 4]);
        assert.deepEqual({ ...dead.headers }, sent.headers);
        assert.equal(dead.attempts, 2);
        assert.equal(dead.deadLetteredAt, nackedAt);
        assert.deepEqual(
          history(dead.errors).map(({ attempt, name, message }) => ({ attempt, name, message })),
          [
            { attempt: 1, name: 'Error', message: 'flaky' },
            { attempt: 2, name: 'TypeError', message: 'still broken' },
          ],
        );
        assert.equal(dead.errors.at(-1)!.at, nackedAt);
        await rejectsWithCode(() => store.ack(q, second.receipt), 'SPOOL_STALE_RECEIPT');
        await rejectsWithCode(() => store.release(q, second.receipt, { delayMs: 0 }), 'SPOOL_STALE_RECEIPT');
      },
    );

    suite.test(
      'a nack without an error on the only allowed attempt dead-letters with a Nacked error',
      async (env) => {
        const { store, msg, queue } = env;
        const q = await queue('jobs', { maxAttempts: 1 });
        await store.enqueue(q, [msg()]);
        const claimed = await env.claimOne(q);
        assert.equal(await store.release(q, claimed.receipt, { delayMs: 0 }), 'dead-lettered');
        const { items } = await store.listDeadLetters(q, { limit: 10 });
        assert.deepEqual(ids(items), [claimed.id]);
        assert.equal(items[0]!.attempts, 1);
        assert.deepEqual(
          history(items[0]!.errors).map(({ attempt, name }) => ({ attempt, name })),
          [{ attempt: 1, name: 'Nacked' }],
        );
      },
    );

    suite.test(
      'a keyed message nacked on its last attempt hands its key on to the next message',
      async (env) => {
        const { store, msg, queue, claim } = env;
        const q = await queue('jobs', { maxAttempts: 1 });
        const [head, next] = [msg({ key: 'customer-1' }), msg({ key: 'customer-1' })];
        await store.enqueue(q, [head, next]);
        const claimed = await env.claimOne(q);
        assert.equal(claimed.id, head.id);
        assert.deepEqual(await claim(q), [], 'the next message of the key waits for its head');
        const outcome = await store.release(q, claimed.receipt, {
          delayMs: 0,
          error: { name: 'Error', message: 'boom' },
        });
        assert.equal(outcome, 'dead-lettered');
        assert.deepEqual(ids(await claim(q)), [next.id]);
        assert.equal((await store.queueStats(q)).deadLettered, 1);
      },
    );

    suite.test(
      'a stale nack on what is now the last attempt neither dead-letters nor releases',
      async (env) => {
        const { store, clock, msg, queue } = env;
        const q = await queue('jobs', { maxAttempts: 2 });
        await store.enqueue(q, [msg()]);
        const first = await env.claimOne(q, 1_000);
        await clock.advance(1_001);
        const second = await env.claimOne(q, 1_000);
        assert.equal(second.attempt, 2);
        await rejectsWithCode(
          () => store.release(q, first.receipt, { delayMs: 0, error: { name: 'Error', message: 'late' } }),
          'SPOOL_STALE_RECEIPT',
        );
        const stats = await store.queueStats(q);
        assert.deepEqual([stats.inFlight, stats.deadLettered], [1, 0]);
        await store.ack(q, second.receipt);
      },
    );

    suite.test(
      'a release that does not count the attempt redelivers with the same attempt, after its delay',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        // One allowed attempt: a counted release would dead-letter; an uncounted one never does.
        const q = await queue('jobs', { maxAttempts: 1 });
        await store.enqueue(q, [msg()]);
        let claimed = await env.claimOne(q, 10_000);
        for (let round = 0; round < 3; round++) {
          await clock.advance(100);
          const releasedAt = clock.now();
          const outcome = await store.release(q, claimed.receipt, { delayMs: 5_000, countAttempt: false });
          assert.equal(outcome, 'released');
          const stats = await store.queueStats(q);
          assert.deepEqual([stats.ready, stats.delayed, stats.inFlight, stats.deadLettered], [0, 1, 0, 0]);
          assert.equal(await store.nextDeliveryAt(q), releasedAt + 5_000);
          await clock.advance(4_999);
          assert.deepEqual(await claim(q), [], 'not before its delay');
          await clock.advance(1);
          const again = await env.claimOne(q, 10_000);
          assert.equal(again.id, claimed.id);
          assert.equal(again.attempt, 1, 'the released delivery did not count');
          assert.deepEqual(history(again.errors), []);
          await rejectsWithCode(() => store.ack(q, claimed.receipt), 'SPOOL_STALE_RECEIPT');
          claimed = again;
        }
        // The delivery that is worked on still counts: its nack dead-letters.
        assert.equal(await store.release(q, claimed.receipt, { delayMs: 0 }), 'dead-lettered');
        const { items } = await store.listDeadLetters(q, { limit: 10 });
        assert.equal(items[0]?.attempts, 1);
      },
    );

    suite.test('a release without counting the attempt at once makes the message claimable', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue('jobs', { maxAttempts: 3 });
      await store.enqueue(q, [msg()]);
      const first = await env.claimOne(q);
      await store.release(q, first.receipt, { delayMs: 0 });
      const second = await env.claimOne(q);
      assert.equal(second.attempt, 2);
      await store.release(q, second.receipt, { delayMs: 0, countAttempt: false });
      const third = await env.claimOne(q);
      assert.equal(third.attempt, 2, 'a counted and an uncounted release: one attempt used');
    });

    suite.test(
      'a lease expiring on the last attempt dead-letters the message with LeaseExpired',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        const q = await queue('jobs', { maxAttempts: 2 });
        const [doomed, next] = [msg(), msg()];
        await store.enqueue(q, [doomed]);
        const first = await env.claimOne(q, 1_000);
        await clock.advance(1_001);
        const second = await env.claimOne(q, 1_000);
        assert.equal(second.attempt, 2);
        await store.enqueue(q, [next]);
        await clock.advance(1_001);
        const claimed = await claim(q);
        assert.ok(!ids(claimed).includes(doomed.id), 'a message past its last attempt is not delivered');
        const stats = await store.queueStats(q);
        assert.equal(stats.deadLettered, 1);
        const { items } = await store.listDeadLetters(q, { limit: 10 });
        assert.equal(items.length, 1);
        const dead = items[0]!;
        assert.equal(dead.id, first.id);
        assert.equal(dead.attempts, 2);
        const last = dead.errors.at(-1);
        assert.ok(last);
        assert.equal(last.name, 'LeaseExpired');
        assert.equal(last.attempt, 2);
        assert.ok(last.at >= second.leaseExpiresAt && last.at <= clock.now());
        // The other message is still delivered, by this claim or the next one.
        const delivered = [...claimed, ...(await claim(q))];
        assert.deepEqual(ids(delivered), [next.id]);
      },
    );

    suite.test('enqueue, claim and queueStats on an unknown queue throw QueueNotFoundError', async (env) => {
      const { store, msg } = env;
      await rejectsWithCode(() => store.enqueue('missing', [msg()]), 'SPOOL_QUEUE_NOT_FOUND');
      await rejectsWithCode(
        () => store.claim('missing', { max: 1, visibilityTimeoutMs: 1_000 }),
        'SPOOL_QUEUE_NOT_FOUND',
      );
      await rejectsWithCode(() => store.queueStats('missing'), 'SPOOL_QUEUE_NOT_FOUND');
    });
  });
}
