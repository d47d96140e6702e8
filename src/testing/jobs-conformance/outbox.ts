/**
 * The outbox: `spool.transaction(work)` delivers what `work` sends and publishes through `tx`
 * if and only if `work` resolves; with `{ connection }` (stores with
 * `capabilities.externalTransactions`) the writes join the caller's own transaction, and are
 * delivered only when `work` resolved AND the caller committed. A job handler that sends
 * through a transaction and then fails leaves nothing behind for the next attempt to repeat.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Spool } from '../../engine/spool.js';
import type { JobsSuite, JobsTestRequirements } from './harness.js';

interface Delivered {
  messages: unknown[];
  events: unknown[];
}

/** What reached queue `orders.outbox` (read and acked) and topic `orders.events` since `fromOffset`. */
async function delivered(spool: Spool, fromOffset: number, waitMs: number): Promise<Delivered> {
  const queue = await spool.queue('orders.outbox');
  const messages: unknown[] = [];
  for (;;) {
    const batch = await queue.receive({ max: 100, waitMs: messages.length === 0 ? waitMs : 0 });
    if (batch.length === 0) break;
    for (const message of batch) {
      messages.push(message.body);
      await message.ack();
    }
  }
  const topic = await spool.topic('orders.events');
  const { events } = await topic.read(0, fromOffset, 100);
  return { messages, events: events.map((event) => event.body) };
}

async function prepare(spool: Spool): Promise<number> {
  await spool.queue('orders.outbox');
  const topic = await spool.topic('orders.events', { partitions: 1 });
  const [partition] = await topic.offsets();
  return partition!.endOffset;
}

class WorkFailed extends Error {
  constructor() {
    super('work failed after its writes');
    this.name = 'WorkFailed';
  }
}

export function outboxTests(suite: JobsSuite): void {
  void describe('outbox', () => {
    suite.test('a transaction delivers its sends and publishes when its work resolves', async (env) => {
      const spool = await env.spool();
      const from = await prepare(spool);
      const result = await spool.transaction(async (tx) => {
        await tx.send('orders.outbox', { order: 1 });
        await tx.publish('orders.events', { type: 'order.placed', order: 1 });
        return 'placed';
      });
      assert.equal(result, 'placed');
      assert.deepEqual(await delivered(spool, from, 2_000), {
        messages: [{ order: 1 }],
        events: [{ type: 'order.placed', order: 1 }],
      });
    });

    suite.test('a transaction whose work throws after tx.send delivers nothing', async (env) => {
      const spool = await env.spool();
      const from = await prepare(spool);
      await assert.rejects(
        spool.transaction(async (tx) => {
          await tx.send('orders.outbox', { order: 2 });
          await tx.publish('orders.events', { type: 'order.placed', order: 2 });
          throw new WorkFailed();
        }),
        WorkFailed,
        "the work's own error comes back",
      );
      assert.deepEqual(await delivered(spool, from, 300), { messages: [], events: [] });
      const stats = await (await spool.queue('orders.outbox')).stats();
      assert.equal(stats.ready + stats.delayed + stats.inFlight, 0);
    });

    suite.test(
      "a job handler's transaction that throws delivers nothing; the retry delivers once",
      async (env) => {
        const spool = await env.spool();
        const from = await prepare(spool);
        const jobs = env.jobs(spool);
        jobs.define(
          'place-order',
          async (job, { attempt }) => {
            await spool.transaction(async (tx) => {
              await tx.send('orders.outbox', { order: job.payload, attempt });
              if (attempt === 1) throw new WorkFailed();
            });
            return 'placed';
          },
          { maxAttempts: 2, backoff: { baseMs: 50, capMs: 50, jitter: 'none' } },
        );
        await jobs.start();
        const added = await jobs.add('place-order', 3);
        const done = await env.finished(jobs, added.id, 5_000);
        assert.equal(done.status, 'completed');
        assert.equal(done.history[0]?.error?.name, 'WorkFailed');
        assert.deepEqual(await delivered(spool, from, 2_000), {
          messages: [{ order: 3, attempt: 2 }],
          events: [],
        });
      },
    );

    suite.test('a job added inside a transaction whose work throws is not left behind', async (env) => {
      // `jobs.add` takes no `tx`: inside `work` it may join the transaction or be refused, but
      // it must not commit on its own while the work around it rolls back.
      const spool = await env.spool();
      const from = await prepare(spool);
      const jobs = env.jobs(spool);
      jobs.define('ship', null);
      await jobs.add('ship', 'before'); // the job machinery (queues, events topic) exists already
      const outcome = await spool
        .transaction(async (tx) => {
          await tx.send('orders.outbox', { order: 5 });
          await jobs.add('ship', 'inside');
          throw new WorkFailed();
        })
        .then(
          () => 'resolved',
          (error: unknown) => (error instanceof Error ? error.name : String(error)),
        );
      assert.notEqual(outcome, 'resolved');
      const payloads = (await jobs.list({ type: 'ship' })).items.map((job) => job.payload);
      assert.deepEqual(payloads, ['before'], `the transaction failed (${outcome}), yet its job was added`);
      assert.deepEqual(await delivered(spool, from, 300), { messages: [], events: [] });
    });

    const external = suite.externalTransaction;
    const needs: JobsTestRequirements = external
      ? { capability: 'externalTransactions' }
      : {
          capability: 'externalTransactions',
          unavailable: 'JobsConformanceOptions.externalTransaction is not set',
        };
    const cases = [
      { work: 'resolves', caller: 'commit', deliveredIf: true },
      { work: 'resolves', caller: 'rollback', deliveredIf: false },
      { work: 'throws after tx.send', caller: 'commit', deliveredIf: false },
      { work: 'throws after tx.send', caller: 'rollback', deliveredIf: false },
    ] as const;
    for (const { work, caller, deliveredIf } of cases) {
      suite.test(
        `in the caller's transaction: work ${work}, the caller ${caller === 'commit' ? 'commits' : 'rolls back'}: ${deliveredIf ? 'delivered' : 'nothing is delivered'}`,
        async (env) => {
          if (!external) throw new Error('unreachable: skipped without an opener');
          const spool = await env.spool();
          const from = await prepare(spool);
          const opened = await external(spool.store);
          let ended = false;
          try {
            const running = spool.transaction(
              async (tx) => {
                await tx.send('orders.outbox', { order: 4 });
                await tx.publish('orders.events', { type: 'order.placed', order: 4 });
                if (work !== 'resolves') throw new WorkFailed();
                return 'done';
              },
              { connection: opened.connection },
            );
            if (work === 'resolves') assert.equal(await running, 'done');
            else await assert.rejects(running, WorkFailed, "the work's own error comes back");
            ended = true;
            await (caller === 'commit' ? opened.commit() : opened.rollback());
          } finally {
            if (!ended) await opened.rollback();
          }
          const expected: Delivered = deliveredIf
            ? { messages: [{ order: 4 }], events: [{ type: 'order.placed', order: 4 }] }
            : { messages: [], events: [] };
          assert.deepEqual(await delivered(spool, from, deliveredIf ? 2_000 : 300), expected);
        },
        needs,
      );
    }
  });
}
