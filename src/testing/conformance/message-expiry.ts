/**
 * Message expiry (TTL): a message with a `ttlMs` of its own, or in a queue with a
 * `messageTtlMs`, expires that long after its send. An expired message is never delivered: the
 * next claim moves it to the dead letters with a `MessageExpired` error, whatever its key, and
 * a key it blocked is handed on. A message under a live lease is being worked on and settles as
 * usual; once that lease runs out it is dead-lettered instead of delivered again.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { ids, type Suite } from './harness.js';

export function messageExpiryTests(suite: Suite): void {
  void describe('message expiry', () => {
    suite.test(
      'a message past its ttlMs is dead-lettered with MessageExpired, never delivered',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        const q = await queue();
        const [doomed, kept] = [msg({ ttlMs: 1_000 }), msg()];
        await store.enqueue(q, [doomed, kept]);
        const [, listedKept] = (await store.listMessages(q, { limit: 10, after: null })).items;
        assert.equal(listedKept?.expiresAt, null, 'a message without a ttl never expires');
        await clock.advance(999);
        assert.equal((await store.queueStats(q)).ready, 2, 'not expired before its ttlMs');
        await clock.advance(1);
        assert.deepEqual(ids(await claim(q)), [kept.id]);
        const stats = await store.queueStats(q);
        assert.equal(stats.deadLettered, 1);
        assert.equal(stats.ready + stats.delayed + stats.inFlight, 1);
        const [dead] = (await store.listDeadLetters(q, { limit: 10 })).items;
        assert.ok(dead);
        assert.equal(dead.id, doomed.id);
        assert.equal(dead.attempts, 0, 'never delivered');
        const last = dead.errors.at(-1);
        assert.ok(last);
        assert.equal(last.name, 'MessageExpired');
        assert.equal(last.at, clock.now());
      },
    );

    suite.test("the queue's messageTtlMs applies unless the message has its own ttlMs", async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue('expiring', { messageTtlMs: 1_000 });
      const [byQueue, ownLonger] = [msg(), msg({ ttlMs: 5_000 })];
      await store.enqueue(q, [byQueue, ownLonger]);
      const sentAt = clock.now();
      assert.deepEqual(
        (await store.listMessages(q, { limit: 10, after: null })).items.map((m) => [m.id, m.expiresAt]),
        [
          [byQueue.id, sentAt + 1_000],
          [ownLonger.id, sentAt + 5_000],
        ],
        'browsing shows when each message expires',
      );
      await clock.advance(2_000);
      assert.deepEqual(ids(await claim(q)), [ownLonger.id]);
      assert.deepEqual(
        (await store.listDeadLetters(q, { limit: 10 })).items.map((dead) => dead.id),
        [byQueue.id],
      );
    });

    suite.test('expiry holds on a bounded queue (maxDepth) and frees its depth', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue('bounded', { maxDepth: 2, messageTtlMs: 1_000 });
      await store.enqueue(q, [msg(), msg()]);
      await clock.advance(1_000);
      assert.deepEqual(await claim(q), []);
      assert.equal((await store.queueStats(q)).deadLettered, 2);
      const fresh = [msg(), msg()];
      await store.enqueue(q, fresh);
      assert.deepEqual(ids(await claim(q)), ids(fresh));
    });

    suite.test('an expired message of a key hands the key on, head or not', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      const [head, second, third] = [
        msg({ key: 'k', ttlMs: 1_000 }),
        msg({ key: 'k' }),
        msg({ key: 'k', ttlMs: 1_000 }),
      ];
      const fourth = msg({ key: 'k' });
      await store.enqueue(q, [head, second, third, fourth]);
      await clock.advance(1_000);
      // By this claim or the next: a backend may sweep after a claim (PostgreSQL does, as for
      // expired last attempts), and then the key's next message is its head for the next claim.
      const claimTwice = async () => {
        const first = await claim(q);
        return first.length > 0 ? first : claim(q);
      };
      const [delivered] = await claimTwice();
      assert.equal(delivered?.id, second.id, 'the expired head is skipped');
      await store.ack(q, delivered.receipt);
      assert.deepEqual(ids(await claimTwice()), [fourth.id], 'the expired third is skipped too');
      assert.equal((await store.queueStats(q)).deadLettered, 2);
    });

    suite.test(
      'a leased message settles as usual; expired with its lease run out, it is dead-lettered',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        const q = await queue();
        const [acked, abandoned] = [msg({ ttlMs: 1_000 }), msg({ ttlMs: 1_000 })];
        await store.enqueue(q, [acked, abandoned]);
        const leased = await claim(q, 10, 5_000);
        assert.deepEqual(ids(leased), [acked.id, abandoned.id]);
        await clock.advance(2_000);
        assert.deepEqual(await claim(q), [], 'live leases are not taken back');
        await store.ack(q, leased[0]!.receipt);
        await clock.advance(3_001);
        assert.deepEqual(await claim(q), [], 'an expired message is not redelivered when its lease runs out');
        const [dead] = (await store.listDeadLetters(q, { limit: 10 })).items;
        assert.equal(dead?.id, abandoned.id);
        assert.equal(dead.attempts, 1);
        assert.equal(dead.errors.at(-1)?.name, 'MessageExpired');
      },
    );

    suite.test('ackAndClaim dead-letters expired messages instead of delivering them', async (env) => {
      const { store, clock, msg, queue } = env;
      const q = await queue();
      const [first, doomed, kept] = [msg(), msg({ ttlMs: 1_000 }), msg()];
      await store.enqueue(q, [first]);
      const [lease] = await store.claim(q, { max: 1, visibilityTimeoutMs: 30_000 });
      await store.enqueue(q, [doomed, kept]);
      await clock.advance(1_000);
      const { stale, claimed } = await store.ackAndClaim(q, [lease!.receipt], {
        max: 10,
        visibilityTimeoutMs: 30_000,
      });
      assert.deepEqual(stale, []);
      assert.deepEqual(ids(claimed), [kept.id]);
      assert.equal((await store.queueStats(q)).deadLettered, 1);
    });

    suite.test('a redriven expired message is delivered: it starts over without the expiry', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      const doomed = msg({ ttlMs: 1_000 });
      await store.enqueue(q, [doomed]);
      await clock.advance(1_000);
      assert.deepEqual(await claim(q), []);
      assert.equal(await store.redrive(q, {}), 1);
      await clock.advance(10_000);
      assert.deepEqual(ids(await claim(q)), [doomed.id]);
    });
  });
}
