// A nack is a failed delivery: it counts as an attempt and dead-letters the message when it was
// the last allowed one. A release hands the message back untried: the attempt does not count.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { StaleReceiptError } from '../../src/core/errors.js';
import type { Message } from '../../src/engine/received-message.js';
import { openTestSpool, tick, until, type TestSpool } from '../helpers.js';

/** Counts what the engine reports through its instrumentation hooks, per queue. */
function countSettlements(t: TestSpool): { retried: number; deadLettered: number } {
  const counts = { retried: 0, deadLettered: 0 };
  t.spool.instrument({
    messageRetried: () => void counts.retried++,
    messageDeadLettered: () => void counts.deadLettered++,
  });
  return counts;
}

describe('queue: nack and release', () => {
  let t: TestSpool;
  let clock: TestClock;
  beforeEach(async () => {
    clock = new TestClock();
    t = await openTestSpool({ clock });
  });
  afterEach(() => t.dispose());

  it('message.nack() on the last allowed attempt dead-letters the message with its error', async () => {
    const counts = countSettlements(t);
    const queue = await t.spool.queue('orders', { maxAttempts: 1 });
    const sent = await queue.send({ order: 1 });
    const [message] = await queue.receive();
    assert.ok(message);
    assert.equal(await message.nack({ error: new TypeError('card declined') }), 'dead-lettered');
    await clock.advance(60_000);
    assert.deepEqual(await queue.receive(), [], 'not delivered again');
    const stats = await queue.stats();
    assert.deepEqual([stats.ready, stats.delayed, stats.inFlight, stats.deadLettered], [0, 0, 0, 1]);
    const { items } = await queue.listDeadLetters();
    assert.equal(items.length, 1);
    assert.equal(items[0]!.id, sent.id);
    assert.equal(items[0]!.attempts, 1);
    assert.deepEqual(
      items[0]!.errors.map((e) => [e.attempt, e.name, e.message]),
      [[1, 'TypeError', 'card declined']],
    );
    assert.deepEqual(counts, { retried: 0, deadLettered: 1 });
  });

  it('queue.nack(receipt) retries with attempt + 1 before the last attempt, then dead-letters', async () => {
    const counts = countSettlements(t);
    const queue = await t.spool.queue('orders', { maxAttempts: 2 });
    await queue.send('flaky');
    const [first] = await queue.receive();
    assert.equal(await queue.nack(first!.receipt, { delayMs: 500, error: 'first' }), 'released');
    assert.deepEqual(await queue.receive(), [], 'waits for its delay');
    await clock.advance(500);
    const [second] = await queue.receive();
    assert.equal(second?.attempt, 2);
    assert.equal(await queue.nack(second.receipt, { error: 'second' }), 'dead-lettered');
    const { items } = await queue.listDeadLetters();
    assert.deepEqual(
      items[0]?.errors.map((e) => [e.attempt, e.message]),
      [
        [1, 'first'],
        [2, 'second'],
      ],
    );
    assert.deepEqual(counts, { retried: 1, deadLettered: 1 });
  });

  it('release hands the message back with the same attempt, after its delay, and never dead-letters', async () => {
    const counts = countSettlements(t);
    const queue = await t.spool.queue('orders', { maxAttempts: 1 });
    await queue.send('later');
    const [first] = await queue.receive();
    assert.ok(first);
    await first.release({ delayMs: 1000 });
    assert.equal((await queue.stats()).delayed, 1);
    await clock.advance(999);
    assert.deepEqual(await queue.receive(), [], 'not before its delay');
    await clock.advance(1);
    const [second] = await queue.receive();
    assert.equal(second?.id, first.id);
    assert.equal(second.attempt, 1, 'the released delivery did not count');
    await queue.release(second.receipt);
    const [third] = await queue.receive();
    assert.equal(third?.attempt, 1);
    assert.deepEqual(third.errors, []);
    assert.equal((await queue.stats()).deadLettered, 0);
    assert.deepEqual(counts, { retried: 0, deadLettered: 0 });
    await assert.rejects(() => first.release(), StaleReceiptError);
    await assert.rejects(() => queue.release(third.receipt, { delayMs: -1 }), {
      code: 'SPOOL_INVALID_ARGUMENT',
    });
    await third.ack();
  });

  it('release rejects a receipt whose lease was lost with StaleReceiptError', async () => {
    const queue = await t.spool.queue('orders', { visibilityTimeoutMs: 1000 });
    await queue.send('x');
    const [first] = await queue.receive();
    await clock.advance(1001);
    const [second] = await queue.receive();
    assert.equal(second?.attempt, 2);
    await assert.rejects(() => first!.release(), StaleReceiptError);
    assert.equal((await queue.stats()).inFlight, 1, 'the current lease still holds');
  });
});

describe('queue: process() retries through nacks', () => {
  let t: TestSpool;
  let clock: TestClock;
  beforeEach(async () => {
    clock = new TestClock();
    t = await openTestSpool({ clock });
  });
  afterEach(() => t.dispose());

  it('retries, then dead-letters after maxAttempts: each failure counted once, onDeadLetter once', async () => {
    const counts = countSettlements(t);
    const queue = await t.spool.queue('orders', {
      maxAttempts: 3,
      backoff: { baseMs: 100, capMs: 1000, jitter: 'none' },
    });
    await queue.send({ order: 7 });
    const attempts: number[] = [];
    const deadLetters: Message<unknown>[] = [];
    const consumer = queue.process(
      (message) => {
        attempts.push(message.attempt);
        throw new Error(`boom ${message.attempt}`);
      },
      { onDeadLetter: (message) => deadLetters.push(message) },
    );
    await until(() => attempts.length === 1);
    await tick(20);
    await clock.advance(100);
    await until(() => attempts.length === 2);
    await tick(20);
    await clock.advance(200);
    await until(() => deadLetters.length === 1, 5000, 'dead-lettered');
    await tick(20);
    await consumer.close();
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.equal(deadLetters.length, 1);
    assert.equal(consumer.failed, 3);
    assert.deepEqual(counts, { retried: 2, deadLettered: 1 });
    const { items } = await queue.listDeadLetters();
    assert.equal(items.length, 1);
    assert.equal(items[0]!.attempts, 3);
    assert.deepEqual(
      items[0]!.errors.map((e) => [e.attempt, e.message]),
      [
        [1, 'boom 1'],
        [2, 'boom 2'],
        [3, 'boom 3'],
      ],
    );
  });

  it('calls onDeadLetter when the store dead-letters a nack (its maxAttempts is lower than the handle knows)', async () => {
    const counts = countSettlements(t);
    const stale = await t.spool.queue('orders', { maxAttempts: 5 });
    await t.spool.queue('orders', { maxAttempts: 1 }); // another process lowered it
    await stale.send('x');
    const deadLetterErrors: unknown[] = [];
    let handled = 0;
    const consumer = stale.process(
      () => {
        handled++;
        throw new Error('nope');
      },
      { onDeadLetter: (_message, error) => deadLetterErrors.push(error) },
    );
    await until(() => deadLetterErrors.length === 1, 5000, 'onDeadLetter');
    assert.equal((deadLetterErrors[0] as Error).message, 'nope');
    await consumer.close();
    assert.equal(handled, 1);
    assert.deepEqual(counts, { retried: 0, deadLettered: 1 });
    const { items } = await stale.listDeadLetters();
    assert.deepEqual(
      items.map((letter) => [letter.attempts, letter.errors.at(-1)?.message]),
      [[1, 'nope']],
    );
  });
});
