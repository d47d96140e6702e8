/**
 * External transactions (the transactional outbox): `transaction(work, { connection })` joins a
 * transaction the caller opened on its own connection, so the writes made through `tx` exist if
 * and only if the caller commits. The suite opens that transaction through
 * `ConformanceOptions.externalTransaction`; stores without `capabilities.externalTransactions`
 * skip these tests, and so do stores whose backend gives no hook.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Store } from '../../store/port.js';
import type { Suite, TestEnv, TestRequirements } from './harness.js';

/** A transaction the caller opened on a connection of the backend's own kind. */
export interface ExternalTransaction {
  /** What `transaction(work, { connection })` is given, e.g. a `pg` client after `BEGIN`. */
  readonly connection: unknown;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/** Opens an external transaction against the same database as `store`. */
export type OpenExternalTransaction = (store: Store) => Promise<ExternalTransaction>;

const group = 'billing';
const memberId = 'member-a';

/**
 * Runs `body` with an open external transaction and ends it: `body` returns whether to commit.
 * A failing body rolls the transaction back, so no test leaves a connection in a transaction.
 */
async function withExternal(
  open: OpenExternalTransaction,
  store: Store,
  body: (external: ExternalTransaction) => Promise<'commit' | 'rollback'>,
): Promise<void> {
  const external = await open(store);
  let outcome: 'commit' | 'rollback' = 'rollback';
  try {
    outcome = await body(external);
  } finally {
    await (outcome === 'commit' ? external.commit() : external.rollback());
  }
}

/** A leased input message, an empty target queue and a topic whose one partition member-a owns. */
async function prepare(
  env: TestEnv,
): Promise<{ source: string; target: string; topic: string; receipt: string }> {
  const { store, msg, queue, topic } = env;
  const source = await queue('source');
  const target = await queue('target');
  const t = await topic('results', { partitions: 1 });
  await store.joinGroup(t, group, { memberId, sessionTimeoutMs: 60_000, startFrom: 'earliest' });
  await store.enqueue(source, [msg()]);
  const { receipt } = await env.claimOne(source, 1_000);
  return { source, target, topic: t, receipt };
}

export function externalTransactionTests(suite: Suite, open: OpenExternalTransaction | undefined): void {
  const needs: TestRequirements = open
    ? { capability: 'externalTransactions' }
    : {
        capability: 'externalTransactions',
        unavailable: 'ConformanceOptions.externalTransaction is not set',
      };
  const opener: OpenExternalTransaction = (store) => {
    if (!open) throw new Error('unreachable: the test is skipped without an opener');
    return open(store);
  };

  void describe('external transactions', () => {
    suite.test(
      'writes joined to an external transaction appear only when it commits',
      async (env) => {
        const { store, msg, event, claim } = env;
        const f = await prepare(env);
        const output = msg();
        const published = event(0);
        await withExternal(opener, store, async ({ connection }) => {
          const result = await store.transaction(
            async (tx) => {
              await tx.enqueue(f.target, [output]);
              await tx.ack(f.source, f.receipt);
              await tx.append(f.topic, [published]);
              await tx.commitOffset(f.topic, group, memberId, 0, 1);
              return tx.markProcessed('consumer', output.id);
            },
            { connection },
          );
          assert.equal(result, true, 'transaction resolves with the value of work');
          assert.equal((await store.queueStats(f.target)).ready, 0, 'nothing is visible before the commit');
          assert.equal((await store.queueStats(f.source)).inFlight, 1);
          assert.deepEqual((await store.read(f.topic, 0, 0, 10)).events, []);
          return 'commit';
        });
        assert.deepEqual(
          (await claim(f.target)).map((m) => m.id),
          [output.id],
        );
        assert.deepEqual(await claim(f.target), [], 'the message was stored once');
        const source = await store.queueStats(f.source);
        assert.deepEqual([source.ready, source.delayed, source.inFlight], [0, 0, 0]);
        assert.deepEqual(
          (await store.read(f.topic, 0, 0, 10)).events.map((e) => e.id),
          [published.id],
        );
        const state = await store.groupState(f.topic, group);
        assert.equal(state?.committed.find((c) => c.partition === 0)?.offset, 1);
        assert.equal(await store.markProcessed('consumer', output.id), false);
      },
      needs,
    );

    suite.test(
      'writes joined to an external transaction vanish when it rolls back',
      async (env) => {
        const { store, clock, msg, event, claim } = env;
        const f = await prepare(env);
        const output = msg();
        await withExternal(opener, store, async ({ connection }) => {
          await store.transaction(
            async (tx) => {
              await tx.enqueue(f.target, [output]);
              await tx.ack(f.source, f.receipt);
              await tx.append(f.topic, [event(0)]);
              await tx.markProcessed('consumer', output.id);
            },
            { connection },
          );
          return 'rollback';
        });
        assert.equal((await store.queueStats(f.target)).ready, 0, 'nothing was enqueued');
        assert.deepEqual(await store.partitionOffsets(f.topic), [
          { partition: 0, startOffset: 0, endOffset: 0 },
        ]);
        assert.equal(await store.markProcessed('consumer', output.id), true);
        assert.equal((await store.queueStats(f.source)).inFlight, 1, 'the ack was rolled back');
        await clock.advance(1_001);
        assert.equal((await claim(f.source)).length, 1, 'the input is delivered again');
      },
      needs,
    );
  });
}
