/**
 * The dead-letter queue. A message enters it from a lease (`deadLetter`, or a lease expiring on
 * the last attempt) with its full error history; it leaves by `redrive` (back into the queue as a
 * fresh message: attempts 0, same id, body and history) or `purgeDeadLetters` (gone for good).
 * No move may lose or duplicate a message.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import type { DeadLetter, QueuedMessage } from '../../store/port.js';
import { collectPages, history, ids, rejectsWithCode, type Suite, type TestEnv } from './harness.js';

/** Enqueues `count` messages, claims each and dead-letters it; resolves with their ids in that order. */
async function deadLetterSome(env: TestEnv, q: string, count: number): Promise<string[]> {
  const { store, clock, msg } = env;
  const fresh = Array.from({ length: count }, () => uuidv7()).reverse();
  await store.enqueue(
    q,
    fresh.map((id) => msg({ id })),
  );
  const deadIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const claimed = await env.claimOne(q);
    await store.deadLetter(q, claimed.receipt, { name: 'Error', message: `failure ${i}` });
    deadIds.push(claimed.id);
    await clock.advance(100);
  }
  return deadIds;
}

async function listAllDeadLetters(env: TestEnv, q: string): Promise<DeadLetter[]> {
  return collectPages((page) => env.store.listDeadLetters(q, page), 2, 100);
}

async function listAllMessages(env: TestEnv, q: string): Promise<QueuedMessage[]> {
  return collectPages((page) => env.store.listMessages(q, page), 4, 100);
}

function sortedIds(items: readonly { id: string }[]): string[] {
  return ids(items).sort();
}

export function deadLetterTests(suite: Suite): void {
  void describe('dead letters', () => {
    suite.test('deadLetter moves a leased message to the dead-letter queue with its history', async (env) => {
      const { store, clock, msg, queue, claim } = env;
      const q = await queue('jobs', { maxAttempts: 5 });
      const t0 = clock.now();
      const sent = msg({ headers: { h: 'v' }, key: 'k', priority: 2 });
      await store.enqueue(q, [sent]);
      for (const failure of ['first', 'second']) {
        const claimed = await env.claimOne(q);
        await clock.advance(10);
        await store.release(q, claimed.receipt, { delayMs: 0, error: { name: 'Error', message: failure } });
      }
      const last = await env.claimOne(q);
      await clock.advance(10);
      await store.deadLetter(q, last.receipt, { name: 'FatalError', message: 'third' });
      const [dead, ...rest] = await listAllDeadLetters(env, q);
      assert.deepEqual(rest, []);
      assert.ok(dead);
      assert.equal(dead.id, sent.id);
      assert.equal(dead.queue, q);
      assert.equal(dead.payload, sent.payload);
      assert.deepEqual({ ...dead.headers }, sent.headers);
      assert.deepEqual([dead.key, dead.priority], ['k', 2]);
      assert.equal(dead.enqueuedAt, t0);
      assert.equal(dead.deadLetteredAt, t0 + 30);
      assert.equal(dead.attempts, 3);
      assert.deepEqual(history(dead.errors), [
        { attempt: 1, at: t0 + 10, name: 'Error', message: 'first' },
        { attempt: 2, at: t0 + 20, name: 'Error', message: 'second' },
        { attempt: 3, at: t0 + 30, name: 'FatalError', message: 'third' },
      ]);
      const stats = await store.queueStats(q);
      assert.deepEqual([stats.ready, stats.delayed, stats.inFlight, stats.deadLettered], [0, 0, 0, 1]);
      assert.deepEqual(await claim(q), []);
      await rejectsWithCode(() => store.ack(q, last.receipt), 'SPOOL_STALE_RECEIPT');
    });

    suite.test('listDeadLetters pages oldest first', async (env) => {
      const q = await env.queue();
      const deadIds = await deadLetterSome(env, q, 5);
      assert.deepEqual(ids(await listAllDeadLetters(env, q)), deadIds);
    });

    suite.test(
      'redrive of all dead letters requeues them at attempt 0 with id and history kept',
      async (env) => {
        const { store, clock, queue, claim } = env;
        const q = await queue();
        const t0 = clock.now();
        const deadIds = await deadLetterSome(env, q, 3);
        const before = await listAllDeadLetters(env, q);
        assert.equal(await store.redrive(q, {}), 3);
        assert.deepEqual(await listAllDeadLetters(env, q), []);
        const stats = await store.queueStats(q);
        assert.deepEqual([stats.ready, stats.deadLettered], [3, 0]);
        const claimed = await claim(q, 10);
        assert.deepEqual(sortedIds(claimed), [...deadIds].sort());
        for (const message of claimed) {
          const dead = before.find((d) => d.id === message.id)!;
          assert.equal(message.attempt, 1, 'attempts were reset by the redrive');
          assert.equal(message.enqueuedAt, t0);
          assert.equal(message.payload, dead.payload);
          assert.deepEqual(history(message.errors), history(dead.errors));
        }
      },
    );

    suite.test('redrive by ids moves only dead letters of this queue with those ids', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue();
      const other = await queue('other');
      const [d1, d2, d3] = await deadLetterSome(env, q, 3);
      const [o1] = await deadLetterSome(env, other, 1);
      const live = msg();
      await store.enqueue(q, [live]);
      assert.equal(await store.redrive(q, { ids: [d1!, d3!, 'unknown', live.id, o1!] }), 2);
      assert.deepEqual(ids(await listAllDeadLetters(env, q)), [d2]);
      assert.deepEqual(ids(await listAllDeadLetters(env, other)), [o1]);
      assert.deepEqual(sortedIds(await listAllMessages(env, q)), [d1!, d3!, live.id].sort());
      assert.equal(await store.redrive(q, { ids: [] }), 0);
      assert.equal((await store.queueStats(q)).deadLettered, 1);
    });

    suite.test('purgeDeadLetters without ids deletes every dead letter of the queue', async (env) => {
      const { store, msg, queue } = env;
      const q = await queue();
      const other = await queue('other');
      await deadLetterSome(env, q, 2);
      await deadLetterSome(env, other, 1);
      await store.enqueue(q, [msg()]);
      assert.equal(await store.purgeDeadLetters(q, {}), 2);
      assert.deepEqual(await listAllDeadLetters(env, q), []);
      const stats = await store.queueStats(q);
      assert.deepEqual([stats.ready, stats.deadLettered], [1, 0]);
      assert.equal((await store.queueStats(other)).deadLettered, 1);
    });

    suite.test('purgeDeadLetters by ids deletes only those dead letters', async (env) => {
      const { store, queue } = env;
      const q = await queue();
      const [d1, d2, d3] = await deadLetterSome(env, q, 3);
      assert.equal(await store.purgeDeadLetters(q, { ids: [d2!, 'unknown'] }), 1);
      assert.deepEqual(ids(await listAllDeadLetters(env, q)), [d1, d3]);
      assert.equal(await store.purgeDeadLetters(q, { ids: [] }), 0);
      assert.equal(await store.redrive(q, { ids: [d2!] }), 0, 'a purged dead letter cannot be redriven');
    });

    suite.test(
      'no message is lost or duplicated across claim, release, dead-letter, redrive and purge',
      async (env) => {
        const { store, clock, msg, queue, claim } = env;
        const q = await queue();
        const all = Array.from({ length: 10 }, () => msg());
        await store.enqueue(q, all);
        const gone = new Set<string>();
        const census = async (): Promise<{ queued: string[]; dead: string[] }> => {
          const queued = ids(await listAllMessages(env, q));
          const dead = ids(await listAllDeadLetters(env, q));
          const seen = [...queued, ...dead, ...gone];
          assert.equal(new Set(seen).size, seen.length, 'a message is in one place only');
          assert.deepEqual([...seen].sort(), ids(all).sort(), 'every message is accounted for');
          const stats = await store.queueStats(q);
          assert.equal(stats.ready + stats.delayed + stats.inFlight, queued.length);
          assert.equal(stats.deadLettered, dead.length);
          return { queued, dead };
        };
        await census();
        const claimed = await claim(q, 6, 1_000);
        assert.equal(claimed.length, 6);
        for (const m of claimed.slice(0, 3)) {
          await store.deadLetter(q, m.receipt, { name: 'Error', message: 'x' });
        }
        await store.release(q, claimed[3]!.receipt, { delayMs: 500 });
        await store.ack(q, claimed[4]!.receipt);
        gone.add(claimed[4]!.id);
        assert.equal((await census()).dead.length, 3);
        assert.equal(await store.redrive(q, { ids: [claimed[0]!.id, claimed[1]!.id] }), 2);
        await census();
        await clock.advance(2_000); // the last lease and the release delay run out
        await claim(q, 1, 1_000);
        await census();
        const purged = await store.purgeDeadLetters(q, {});
        assert.equal(purged, 1);
        gone.add(claimed[2]!.id);
        const { queued, dead } = await census();
        assert.deepEqual([queued.length, dead.length], [8, 0]);
      },
    );
  });
}
