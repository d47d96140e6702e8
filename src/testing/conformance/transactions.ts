/**
 * Transactions: the writes of one `transaction()` call (enqueue, ack, append, commitOffset,
 * markProcessed) become visible together when `work` resolves, or not at all when it throws.
 * That is what lets a consumer settle its input and publish its output exactly once. Stores
 * without `capabilities.transactions` skip these tests.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ClaimedMessage } from '../../store/port.js';
import { rejectsWithCode, type Suite, type TestEnv } from './harness.js';

interface Fixture {
  readonly input: ClaimedMessage;
  readonly source: string;
  readonly target: string;
  readonly topic: string;
}

const group = 'billing';
const memberId = 'member-a';

/** A message leased from `source`, an empty `target` queue, and a topic whose only partition member-a owns. */
async function prepare(env: TestEnv): Promise<Fixture> {
  const { store, msg, queue, topic } = env;
  const source = await queue('source');
  const target = await queue('target');
  const t = await topic('results', { partitions: 1 });
  await store.joinGroup(t, group, { memberId, sessionTimeoutMs: 60_000, startFrom: 'earliest' });
  await store.enqueue(source, [msg()]);
  const input = await env.claimOne(source, 1_000);
  return { input, source, target, topic: t };
}

async function committedOffset(env: TestEnv, topic: string): Promise<number | undefined> {
  const state = await env.store.groupState(topic, group);
  return state?.committed.find((c) => c.partition === 0)?.offset;
}

export function transactionTests(suite: Suite): void {
  const needs = { capability: 'transactions' } as const;

  void describe('transactions', () => {
    suite.test(
      'writes made through a transaction commit together',
      async (env) => {
        const { store, msg, event } = env;
        const f = await prepare(env);
        const output = msg();
        const published = event(0);
        const result = await store.transaction(async (tx) => {
          await tx.enqueue(f.target, [output]);
          await tx.ack(f.source, f.input.receipt);
          await tx.append(f.topic, [published]);
          await tx.commitOffset(f.topic, group, memberId, 0, 1);
          return tx.markProcessed('consumer', f.input.id);
        });
        assert.equal(result, true, 'transaction resolves with the value of work');
        const source = await store.queueStats(f.source);
        assert.deepEqual([source.ready, source.delayed, source.inFlight], [0, 0, 0]);
        assert.equal((await store.queueStats(f.target)).ready, 1);
        const read = await store.read(f.topic, 0, 0, 10);
        assert.deepEqual(
          read.events.map((e) => e.id),
          [published.id],
        );
        assert.equal(await committedOffset(env, f.topic), 1);
        assert.equal(await store.markProcessed('consumer', f.input.id), false);
      },
      needs,
    );

    suite.test(
      'a throw inside a transaction rolls back every write',
      async (env) => {
        const { store, clock, msg, event, claim } = env;
        const f = await prepare(env);
        const failure = new Error('handler failed');
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.enqueue(f.target, [msg()]);
            await tx.ack(f.source, f.input.receipt);
            await tx.append(f.topic, [event(0)]);
            await tx.commitOffset(f.topic, group, memberId, 0, 1);
            assert.equal(await tx.markProcessed('consumer', f.input.id), true);
            throw failure;
          }),
          (error: unknown) => error === failure,
          'transaction rejects with the error work threw',
        );
        assert.equal((await store.queueStats(f.source)).inFlight, 1, 'the ack was rolled back');
        assert.deepEqual(await claim(f.source), [], 'the input is still leased');
        assert.equal((await store.queueStats(f.target)).ready, 0);
        assert.deepEqual(await store.partitionOffsets(f.topic), [
          { partition: 0, startOffset: 0, endOffset: 0 },
        ]);
        assert.equal(await committedOffset(env, f.topic), 0);
        assert.equal(await store.markProcessed('consumer', f.input.id), true);
        await clock.advance(1_001);
        const again = await env.claimOne(f.source);
        assert.deepEqual([again.id, again.attempt], [f.input.id, 2]);
      },
      needs,
    );

    suite.test(
      'a store error inside a transaction rolls back the writes before it',
      async (env) => {
        const { store, msg, event } = env;
        const f = await prepare(env);
        await rejectsWithCode(
          () =>
            store.transaction(async (tx) => {
              await tx.enqueue(f.target, [msg()]);
              await tx.append(f.topic, [event(0)]);
              await tx.ack(f.source, 'not-a-receipt');
            }),
          'SPOOL_STALE_RECEIPT',
        );
        assert.equal((await store.queueStats(f.target)).ready, 0);
        assert.deepEqual(await store.partitionOffsets(f.topic), [
          { partition: 0, startOffset: 0, endOffset: 0 },
        ]);
        await store.ack(f.source, f.input.receipt);
      },
      needs,
    );

    suite.test(
      'without savepoints, a failed write fails the whole transaction even if work swallows its error',
      async (env) => {
        const { store, msg } = env;
        const f = await prepare(env);
        const outcome = await store
          .transaction(
            async (tx) => {
              await tx.enqueue(f.target, [msg()]);
              await tx.ack(f.source, 'not-a-receipt').catch(() => undefined);
            },
            { savepoints: false },
          )
          .then(
            () => 'committed',
            () => 'refused',
          );
        // SQLite keeps its per-write savepoints (cheap there): only the failed write is undone.
        const sqlite = store.backend === 'sqlite';
        assert.equal(outcome, sqlite ? 'committed' : 'refused');
        assert.equal((await store.queueStats(f.target)).ready, sqlite ? 1 : 0, 'nothing half-committed');
        await store.ack(f.source, f.input.receipt);
      },
      needs,
    );

    suite.test(
      'without synchronousCommit, a transaction commits and rolls back as any other',
      async (env) => {
        const { store, msg } = env;
        const f = await prepare(env);
        await store.transaction(
          async (tx) => {
            await tx.enqueue(f.target, [msg(), msg()]);
            await tx.ack(f.source, f.input.receipt);
          },
          { synchronousCommit: false, savepoints: false },
        );
        assert.equal((await store.queueStats(f.target)).ready, 2);
        assert.equal((await store.queueStats(f.source)).inFlight, 0, 'the ack committed with the sends');
        await assert.rejects(
          store.transaction(
            async (tx) => {
              await tx.enqueue(f.target, [msg()]);
              throw new Error('work failed');
            },
            { synchronousCommit: false },
          ),
          /work failed/,
        );
        assert.equal((await store.queueStats(f.target)).ready, 2, 'the failed one left nothing');
        // The next transaction on the same connection is synchronous again.
        await store.transaction(async (tx) => void (await tx.enqueue(f.target, [msg()])));
        assert.equal((await store.queueStats(f.target)).ready, 3);
      },
      needs,
    );

    suite.test(
      'events appended after commit are in the log when the transaction resolves, in commit order; a rollback leaves none',
      async (env) => {
        const { store, event, topic } = env;
        const log = await topic('log', { partitions: 1 });
        const first = event(0);
        await store.transaction(async (tx) => {
          await tx.appendAfterCommit(log, [first]);
        });
        assert.deepEqual(
          (await store.read(log, 0, 0, 10)).events.map((e) => e.id),
          [first.id],
          'in the log once the transaction resolved',
        );
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.appendAfterCommit(log, [event(0)]);
            throw new Error('changed my mind');
          }),
          /changed my mind/,
        );
        await rejectsWithCode(
          () => store.transaction((tx) => tx.appendAfterCommit(log, [event(3)])),
          'SPOOL_OFFSET_OUT_OF_RANGE',
          'a partition the topic does not have is refused in the transaction',
        );
        // Many at once (each its own transaction), then one after another: every event once,
        // and one transaction's events in their order.
        const concurrent = Array.from({ length: 20 }, () => [event(0), event(0)]);
        await Promise.all(
          concurrent.map((pair) => store.transaction((tx) => tx.appendAfterCommit(log, pair))),
        );
        const last = event(0);
        await store.transaction((tx) => tx.appendAfterCommit(log, [last]));
        const ids = (await store.read(log, 0, 0, 100)).events.map((e) => e.id);
        assert.equal(ids.length, 1 + 40 + 1, 'nothing lost, nothing twice');
        assert.equal(ids[0], first.id);
        assert.equal(ids.at(-1), last.id, 'a later transaction comes later');
        // A transaction's events keep their order (those of transactions staging at the same
        // moment may interleave: PostgreSQL numbers staged rows as they are inserted).
        for (const [a, b] of concurrent) assert.ok(ids.indexOf(b!.id) > ids.indexOf(a!.id));
      },
      needs,
    );
  });
}
