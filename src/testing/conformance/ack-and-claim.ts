/**
 * `ackAndClaim`: a consumer's round trip in one write. The acks come first and are checked one
 * by one (a stale receipt is reported, not thrown), then the claim behaves exactly like `claim`,
 * seeing the acks' effects; an unknown queue fails the whole call and acks nothing.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { ids, rejectsWithCode, type Suite } from './harness.js';

export function ackAndClaimTests(suite: Suite): void {
  void describe('ack and claim in one write', () => {
    suite.test('ackAndClaim deletes the acked messages and leases the next ones', async (env) => {
      const { store, msg, queue, claim } = env;
      const q = await queue();
      const messages = [msg(), msg(), msg(), msg(), msg()];
      await store.enqueue(q, messages);
      const first = await claim(q, 2);
      const result = await store.ackAndClaim(
        q,
        first.map((m) => m.receipt),
        { max: 2, visibilityTimeoutMs: 1_000 },
      );
      assert.deepEqual(result.stale, []);
      assert.deepEqual(ids(result.claimed), ids(messages.slice(2, 4)));
      for (const claimed of result.claimed) {
        assert.equal(claimed.attempt, 1);
        assert.equal(claimed.leaseExpiresAt, env.clock.now() + 1_000);
      }
      const stats = await store.queueStats(q);
      assert.equal(stats.inFlight, 2);
      assert.equal(stats.ready, 1);
      // The acked messages are gone for good: their leases expiring redelivers nothing.
      await env.clock.advance(30_001);
      assert.deepEqual(ids(await claim(q, 10)), ids(messages.slice(2)));
    });

    suite.test('ackAndClaim reports a stale receipt and still applies the other acks', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue();
      const [a, b, c] = [msg(), msg(), msg()];
      await store.enqueue(q, [a, b, c]);
      const [leasedA, leasedB] = await claim(q, 2, 1_000);
      assert.ok(leasedA && leasedB);
      // a's lease expires and somebody else claims it: the first receipt goes stale.
      await clock.advance(1_001);
      const [again] = await claim(q, 1);
      assert.equal(again?.id, a.id);
      const result = await store.ackAndClaim(q, [leasedA.receipt, leasedB.receipt, 'not-a-receipt'], {
        max: 5,
        visibilityTimeoutMs: 1_000,
      });
      assert.deepEqual(result.stale, [leasedA.receipt, 'not-a-receipt']);
      assert.deepEqual(ids(result.claimed), [c.id]);
      // b was acked; a is still leased by its new holder, whose receipt still works.
      await store.ack(q, again.receipt);
      assert.deepEqual(await store.queueStats(q).then((s) => s.ready + s.inFlight + s.delayed), 1);
    });

    suite.test('ackAndClaim sees its own acks: the next message of an acked key is claimed', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue();
      const [k1, k2] = [msg({ key: 'K' }), msg({ key: 'K' })];
      await store.enqueue(q, [k1, k2]);
      const head = await env.claimOne(q);
      assert.equal(head.id, k1.id);
      const result = await store.ackAndClaim(q, [head.receipt], { max: 5, visibilityTimeoutMs: 1_000 });
      assert.deepEqual(result.stale, []);
      assert.deepEqual(ids(result.claimed), [k2.id]);
    });

    suite.test('acks of several heads in one batch each free their key’s next message', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue();
      const [a1, a2, plain, b1, b2] = [
        msg({ key: 'A' }),
        msg({ key: 'A' }),
        msg(),
        msg({ key: 'B' }),
        msg({ key: 'B' }),
      ];
      await store.enqueue(q, [a1, a2, plain, b1, b2]);
      const heads = await store.claim(q, { max: 5, visibilityTimeoutMs: 1_000 });
      assert.deepEqual(ids(heads).sort(), [a1.id, plain.id, b1.id].sort());
      const result = await store.ackAndClaim(
        q,
        heads.map((m) => m.receipt),
        { max: 5, visibilityTimeoutMs: 1_000 },
      );
      assert.deepEqual(result.stale, []);
      assert.deepEqual(ids(result.claimed).sort(), [a2.id, b2.id].sort());
    });

    suite.test('ackAndClaim with max 0 only acks, and with no receipts only claims', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue();
      const [a, b] = [msg(), msg()];
      await store.enqueue(q, [a, b]);
      const onlyClaim = await store.ackAndClaim(q, [], { max: 1, visibilityTimeoutMs: 1_000 });
      assert.deepEqual(ids(onlyClaim.claimed), [a.id]);
      const onlyAck = await store.ackAndClaim(q, [onlyClaim.claimed[0]!.receipt], {
        max: 0,
        visibilityTimeoutMs: 1_000,
      });
      assert.deepEqual(onlyAck, { stale: [], claimed: [] });
      const stats = await store.queueStats(q);
      assert.deepEqual([stats.ready, stats.inFlight], [1, 0]);
    });

    suite.test('ackAndClaim on an unknown queue throws QueueNotFoundError', async (env) => {
      const { store } = env;
      await rejectsWithCode(
        () => store.ackAndClaim('missing', ['1.x'], { max: 1, visibilityTimeoutMs: 1_000 }),
        'SPOOL_QUEUE_NOT_FOUND',
      );
    });
  });
}
