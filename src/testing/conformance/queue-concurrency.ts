/**
 * A queue's `globalConcurrency`: the most of its messages leased at once, by every consumer of
 * every process on the store together. A claim takes only what is left; an ack, a release or an
 * expired lease gives its place back; claims racing each other never lease more than the bound.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Suite } from './harness.js';

export function queueConcurrencyTests(suite: Suite): void {
  void describe('queue global concurrency', () => {
    suite.test(
      'claims lease no more than globalConcurrency at once; acks, releases and expired leases give places back',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        const q = await queue('bounded', { globalConcurrency: 3 });
        await store.enqueue(
          q,
          Array.from({ length: 10 }, () => msg()),
        );
        const first = await claim(q, 5, 1_000);
        assert.equal(first.length, 3, 'only what the bound leaves');
        assert.equal((await claim(q, 5, 1_000)).length, 0, 'nothing left while three are leased');
        assert.equal(
          (await store.ackAndClaim(q, [], { max: 5, visibilityTimeoutMs: 1_000 })).claimed.length,
          0,
        );
        await store.ack(q, first[0]!.receipt);
        const second = await claim(q, 5, 1_000);
        assert.equal(second.length, 1, 'an ack gives one place back');
        await store.release(q, first[1]!.receipt, { delayMs: 60_000, countAttempt: false });
        assert.equal((await claim(q, 5, 1_000)).length, 1, 'so does a release');
        const acked = await store.ackAndClaim(q, [second[0]!.receipt], {
          max: 5,
          visibilityTimeoutMs: 1_000,
        });
        assert.equal(acked.claimed.length, 1, 'ack and claim: the acked place is taken again');
        await clock.advance(1_001);
        assert.equal((await claim(q, 10, 1_000)).length, 3, 'expired leases no longer count');
        assert.equal((await store.queueStats(q)).inFlight, 3);
      },
    );

    suite.test('claims racing each other never lease more than globalConcurrency', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue('raced', { globalConcurrency: 4 });
      await store.enqueue(
        q,
        Array.from({ length: 50 }, () => msg()),
      );
      const claimed = await Promise.all(
        Array.from({ length: 20 }, () => store.claim(q, { max: 2, visibilityTimeoutMs: 60_000 })),
      );
      assert.equal(claimed.flat().length, 4);
      assert.equal(new Set(claimed.flat().map((message) => message.id)).size, 4);
    });

    suite.test('globalConcurrency holds for a queue with fairness groups too', async (env) => {
      const { store, msg, queue, claim } = env;
      const q = await queue('tenants', { globalConcurrency: 2 });
      await store.enqueue(q, [
        ...Array.from({ length: 5 }, () => msg({ group: 'big' })),
        ...Array.from({ length: 2 }, () => msg({ group: 'small' })),
      ]);
      const first = await claim(q, 5);
      assert.equal(first.length, 2);
      assert.equal((await claim(q, 5)).length, 0);
      await store.ack(q, first[0]!.receipt);
      assert.equal((await claim(q, 5)).length, 1);
    });

    suite.test(
      'a queue without globalConcurrency leases what is asked; the bound can be lifted',
      async (env) => {
        const { store, msg, queue, claim } = env;
        const q = await queue('free', { globalConcurrency: 1 });
        await store.enqueue(
          q,
          Array.from({ length: 6 }, () => msg()),
        );
        assert.equal((await claim(q, 5)).length, 1);
        const config = await store.getQueue(q);
        assert.equal(config?.globalConcurrency, 1);
        await store.saveQueue({ ...config, globalConcurrency: null });
        assert.equal((await claim(q, 5)).length, 5);
      },
    );
  });
}
