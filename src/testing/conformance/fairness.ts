/**
 * Fairness groups (`EnqueueMessage.group`, a tenant): a queue whose messages carry groups hands
 * out work round-robin across the groups, the group served least recently first, one per group
 * per turn; within a group, priority then enqueue order. Messages without a group count as one
 * group of their own. Per-key FIFO, delays, leases, dead letters and redrive work as without
 * groups, and a redriven message keeps its group.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { EnqueueMessage } from '../../store/port.js';
import { ids, type Suite, type TestEnv } from './harness.js';

/** `count` messages of `group` (null: none), optionally keyed. */
function messages(
  env: TestEnv,
  group: string | null,
  count: number,
  key: string | null = null,
): EnqueueMessage[] {
  return Array.from({ length: count }, () => env.msg({ group, key }));
}

/** Claims one at a time (acking each) until nothing is left; the ids in delivery order. */
async function drainOneByOne(env: TestEnv, queue: string, limit: number): Promise<string[]> {
  const order: string[] = [];
  while (order.length < limit) {
    const [message] = await env.claim(queue, 1);
    if (!message) break;
    order.push(message.id);
    await env.store.ack(queue, message.receipt);
  }
  return order;
}

export function fairnessTests(suite: Suite): void {
  void describe('fairness groups', () => {
    suite.test("a group's backlog does not starve another group", async (env) => {
      const { store, queue } = env;
      const q = await queue();
      const big = messages(env, 'A', 1_000);
      for (let at = 0; at < big.length; at += 250) await store.enqueue(q, big.slice(at, at + 250));
      const small = messages(env, 'B', 10);
      await store.enqueue(q, small);
      const first = await drainOneByOne(env, q, 20);
      const smallIds = new Set(ids(small));
      assert.equal(first.filter((id) => smallIds.has(id)).length, 10, 'all of B within the first 20 claims');
      // Within each group, send order.
      assert.deepEqual(
        first.filter((id) => smallIds.has(id)),
        ids(small),
      );
      assert.deepEqual(
        first.filter((id) => !smallIds.has(id)),
        ids(big.slice(0, 10)),
      );
    });

    suite.test('a claim of several takes one per group per turn', async (env) => {
      const { store, queue, claim } = env;
      const q = await queue();
      const a = messages(env, 'A', 20);
      const b = messages(env, 'B', 3);
      const c = messages(env, 'C', 1);
      await store.enqueue(q, [...a, ...b, ...c]);
      const claimed = ids(await claim(q, 10));
      assert.deepEqual(claimed, ids([a[0]!, b[0]!, c[0]!, a[1]!, b[1]!, a[2]!, b[2]!, a[3]!, a[4]!, a[5]!]));
      // C has nothing left and B's messages are all in flight: A is the only group with work.
      assert.deepEqual(ids(await claim(q, 2)), ids([a[6]!, a[7]!]));
    });

    suite.test('messages without a group count as one group of their own', async (env) => {
      const { store, queue } = env;
      const q = await queue();
      const plain = messages(env, null, 200);
      await store.enqueue(q, plain);
      const tenant = messages(env, 'X', 3);
      await store.enqueue(q, tenant);
      const first = await drainOneByOne(env, q, 6);
      assert.deepEqual(
        first.filter((id) => ids(tenant).includes(id)),
        ids(tenant),
        'the group is served within the first 6 claims',
      );
      assert.deepEqual(
        first.filter((id) => !ids(tenant).includes(id)),
        ids(plain.slice(0, 3)),
      );
      // Everything is delivered exactly once.
      const rest = await drainOneByOne(env, q, 1_000);
      assert.equal(first.length + rest.length, 203);
      assert.equal(new Set([...first, ...rest]).size, 203);
    });

    suite.test('per-key FIFO and priority hold within groups', async (env) => {
      const { store, queue, claim } = env;
      const q = await queue();
      const [a1, a2] = messages(env, 'A', 2, 'k');
      const urgent = env.msg({ group: 'A', priority: 5 });
      const [b1, b2] = messages(env, 'B', 2, 'k');
      await store.enqueue(q, [a1!, a2!, urgent, b1!, b2!]);
      // Key k's head is a1: a2, b1 and b2 wait behind it, whatever their group.
      const claimed = await claim(q, 10);
      assert.deepEqual(ids(claimed), ids([urgent, a1!]));
      assert.deepEqual(await claim(q, 10), []);
      await store.ack(q, claimed[1]!.receipt);
      assert.deepEqual(ids(await claim(q, 10)), [a2!.id]);
    });

    suite.test('delays, expired leases, dead letters and redrive keep the round-robin', async (env) => {
      const { store, clock, queue, claim } = env;
      const q = await queue('fair', { maxAttempts: 5 });
      await store.enqueue(q, messages(env, 'A', 100));
      const later = env.msg({ group: 'B', availableAt: clock.now() + 5_000 });
      await store.enqueue(q, [later]);
      const firstRound = await claim(q, 4, 1_000);
      assert.ok(
        firstRound.every((message) => message.id !== later.id),
        'a delayed message waits',
      );
      for (const message of firstRound) await store.ack(q, message.receipt);
      await clock.advance(5_000);
      const [due] = await claim(q, 1, 1_000);
      assert.equal(due?.id, later.id, 'once due, it is served before the backlog');
      // Its lease runs out: it is delivered again within one turn, not behind A's backlog.
      await clock.advance(1_001);
      const again = (await claim(q, 2)).find((message) => message.id === later.id);
      assert.equal(again?.attempt, 2);
      await store.deadLetter(q, again.receipt, { name: 'Error', message: 'boom' });
      assert.equal(await store.redrive(q, {}), 1);
      const redriven = await claim(q, 2);
      assert.ok(ids(redriven).includes(later.id), 'a redriven message keeps its group');
    });

    suite.test('a group that emptied and comes back is served at once', async (env) => {
      const { store, queue } = env;
      const q = await queue();
      await store.enqueue(q, messages(env, 'A', 300));
      for (let round = 0; round < 3; round++) {
        const [b] = messages(env, 'B', 1);
        await store.enqueue(q, [b!]);
        const order = await drainOneByOne(env, q, 2);
        assert.ok(order.includes(b!.id), `round ${round}: B within two claims`);
      }
      const stats = await store.queueStats(q);
      assert.equal(stats.ready, 300 - 3);
    });
  });
}
