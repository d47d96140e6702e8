import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { openTestSpool, until, type TestSpool } from '../helpers.js';

interface Order {
  n: number;
}

describe('delivery guarantees', () => {
  let t: TestSpool;
  let clock: TestClock;
  beforeEach(async () => {
    clock = new TestClock();
    t = await openTestSpool({ clock });
  });
  afterEach(() => t.dispose());

  it('at-least-once: a message whose consumer vanished is delivered again', async () => {
    const queue = await t.spool.queue('orders', { visibilityTimeoutMs: 1000 });
    await queue.send('work');
    const [taken] = await queue.receive();
    assert.ok(taken, 'the first consumer took it and then "crashed" without acking');
    await clock.advance(1000);
    const [again] = await queue.receive();
    assert.equal(again?.id, taken.id);
    assert.equal(again?.attempt, 2);
  });

  it('transactional consume-and-produce: outputs exist only if the ack commits', async () => {
    // No jitter: a full-jitter draw can be 0 ms, and the retry would then run at once.
    const input = await t.spool.queue<Order>('input', { backoff: { jitter: 'none' } });
    const output = await t.spool.queue<Order>('output');
    const events = await t.spool.topic<Order>('events', { partitions: 1 });
    await input.sendBatch([{ body: { n: 1 } }, { body: { n: 2 } }]);
    const consumer = input.process(
      async (message, { tx }) => {
        await tx!.send('output', { n: message.body.n * 10 });
        await tx!.publish('events', { n: message.body.n });
        if (message.body.n === 2 && message.attempt === 1) throw new Error('fail after producing');
      },
      { transactional: true, onError: () => {} },
    );
    await until(async () => (await input.stats()).delayed === 1, 5000, 'message 2 waiting for retry');
    let received = await output.receive({ max: 10 });
    assert.deepEqual(
      received.map((m) => m.body.n),
      [10],
      'the failed attempt produced nothing',
    );
    assert.equal((await events.offsets())[0]!.endOffset, 1);
    for (const message of received) await message.ack();
    await clock.advance(60_000);
    await until(async () => {
      const stats = await input.stats();
      return stats.ready + stats.delayed + stats.inFlight === 0;
    });
    await consumer.close();
    received = await output.receive({ max: 10 });
    assert.deepEqual(
      received.map((m) => m.body.n),
      [20],
    );
    assert.equal((await events.offsets())[0]!.endOffset, 2);
  });

  it('transactional consume-and-produce from a topic: output and offset commit together', async () => {
    const source = await t.spool.topic<Order>('source', { partitions: 1 });
    const sink = await t.spool.queue<Order>('sink');
    await source.publishBatch([1, 2, 3].map((n) => ({ body: { n } })));
    const subscription = source.subscribe(
      'copier',
      async (event, { tx }) => {
        await tx!.send('sink', { n: event.body.n });
      },
      { transactional: true },
    );
    await until(async () => (await sink.stats()).ready === 3);
    await until(async () => (await source.groupLag('copier')).totalLag === 0);
    await subscription.close();
    const messages = await sink.receive({ max: 10 });
    assert.deepEqual(
      messages.map((m) => m.body.n),
      [1, 2, 3],
    );
  });

  it('effectively-once: spool.once() skips a redelivered message that was already processed', async () => {
    const queue = await t.spool.queue<Order>('payments', { visibilityTimeoutMs: 1000 });
    const ledger = await t.spool.queue<Order>('ledger');
    await queue.send({ n: 42 });
    const [first] = await queue.receive();
    const outcome = await t.spool.once('billing', first!.id, async (tx) => {
      await tx.send('ledger', { n: first!.body.n });
      return 'charged';
    });
    assert.deepEqual(outcome, { ran: true, result: 'charged' });
    // The consumer dies before acking: the lease expires and the message comes back.
    await clock.advance(1000);
    const [second] = await queue.receive();
    assert.equal(second?.id, first!.id);
    const repeat = await t.spool.once('billing', second.id, async (tx) => {
      await tx.send('ledger', { n: second.body.n });
      return 'charged';
    });
    assert.deepEqual(repeat, { ran: false });
    await second.ack();
    assert.equal((await ledger.stats()).ready, 1, 'the ledger entry was written once');
  });

  it('a failed transaction leaves no processed marker, so the retry runs', async () => {
    await assert.rejects(
      t.spool.once('billing', 'message-1', () => Promise.reject(new Error('downstream down'))),
      /downstream down/,
    );
    const retry = await t.spool.once('billing', 'message-1', () => Promise.resolve('ok'));
    assert.deepEqual(retry, { ran: true, result: 'ok' });
  });
});
