import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import {
  NonRetryableError,
  QueueFullError,
  RetryAfterError,
  StaleReceiptError,
} from '../../src/core/errors.js';
import { CircuitOpenError } from '../../src/core/wait-errors.js';
import type { Message } from '../../src/engine/received-message.js';
import { deferred, openTestSpool, tick, until, type TestSpool } from '../helpers.js';

const noJitter = { baseMs: 1000, capMs: 60_000, jitter: 'none' } as const;

describe('queue: send and receive', () => {
  let t: TestSpool;
  let clock: TestClock;
  beforeEach(async () => {
    clock = new TestClock();
    t = await openTestSpool({ clock });
  });
  afterEach(() => t.dispose());

  it('delivers body, headers and key as sent, and ack removes the message', async () => {
    const queue = await t.spool.queue('orders');
    const sent = await queue.send({ order: 1 }, { headers: { traceparent: 'x' }, key: 'customer-1' });
    assert.equal(sent.duplicate, false);
    const [message] = await queue.receive();
    assert.ok(message);
    assert.equal(message.id, sent.id);
    assert.deepEqual(message.body, { order: 1 });
    assert.deepEqual(message.headers, { traceparent: 'x' });
    assert.equal(message.key, 'customer-1');
    assert.equal(message.attempt, 1);
    await message.ack();
    assert.deepEqual(await queue.receive(), []);
    const stats = await queue.stats();
    assert.equal(stats.ready + stats.delayed + stats.inFlight, 0);
  });

  it('refuses options it does not know instead of ignoring them, and stores nothing', async () => {
    const queue = await t.spool.queue('orders');
    const unknownSend = { expiresIn: 60_000 } as Parameters<typeof queue.send>[1];
    await assert.rejects(queue.send({ order: 1 }, unknownSend), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'SPOOL_INVALID_ARGUMENT');
      assert.match(
        error.message,
        /send: unknown option expiresIn; the options are body, headers, key, priority/,
      );
      return true;
    });
    assert.equal((await queue.stats()).ready, 0, 'nothing was stored');
    await assert.rejects(
      t.spool.queue('typo', { maxAttemps: 3 } as Parameters<typeof t.spool.queue>[1]),
      /queue "typo": unknown option maxAttemps; the options are visibilityTimeoutMs, maxAttempts/,
    );
    await assert.rejects(
      t.spool.queue('typo', { backoff: { base: 10 } } as Parameters<typeof t.spool.queue>[1]),
      /queue "typo": backoff: unknown option base/,
    );
    await assert.rejects(
      t.spool.topic('clicks', { partition: 3 } as Parameters<typeof t.spool.topic>[1]),
      /topic "clicks": unknown option partition; the options are partitions/,
    );
    const topic = await t.spool.topic('clicks');
    await assert.rejects(
      topic.publish({ n: 1 }, { partitions: 1 } as Parameters<typeof topic.publish>[1]),
      /publish: unknown option partitions/,
    );
    // Undefined values are absent, as elsewhere in the API.
    await queue.send({ order: 2 }, { key: undefined });
  });

  it('never delivers an expired message: ttlMs or the queue messageTtlMs sends it to the dead letters', async () => {
    const queue = await t.spool.queue('offers', { messageTtlMs: 60_000 });
    assert.equal(queue.config.messageTtlMs, 60_000);
    const short = await queue.send({ offer: 'flash' }, { ttlMs: 1_000 });
    const byQueue = await queue.send({ offer: 'daily' });
    const long = await queue.send({ offer: 'weekly' }, { ttlMs: 600_000 });
    await clock.advance(1_000);
    const [first] = await queue.receive({ max: 1 });
    assert.equal(first?.id, byQueue.id, 'the expired message is skipped');
    await first.ack();
    await clock.advance(59_000);
    const [second] = await queue.receive({ max: 5 });
    assert.equal(second?.id, long.id);
    const { items } = await queue.listDeadLetters();
    assert.deepEqual(
      items.map((dead) => [dead.id, dead.errors.at(-1)?.name]),
      [[short.id, 'MessageExpired']],
    );
    for (const ttlMs of [0, -1, 1.5, 2 ** 31]) {
      await assert.rejects(queue.send('x', { ttlMs }), /send: ttlMs must be a whole number of milliseconds/);
    }
    await assert.rejects(t.spool.queue('bad', { messageTtlMs: 0 }), /queue "bad": messageTtlMs/);
  });

  it('redelivers after the lease expires and rejects the stale receipt', async () => {
    const queue = await t.spool.queue('orders', { visibilityTimeoutMs: 1000 });
    await queue.send('job');
    const [first] = await queue.receive();
    assert.deepEqual(await queue.receive(), [], 'leased message is invisible');
    await clock.advance(1001);
    const [second] = await queue.receive();
    assert.ok(first && second);
    assert.equal(second.id, first.id);
    assert.equal(second.attempt, 2);
    await assert.rejects(first.ack(), StaleReceiptError);
    await second.ack();
  });

  it('long-polls: a waiting receive is woken by a send, without the clock moving', async () => {
    const queue = await t.spool.queue('orders');
    const waiting = queue.receive({ waitMs: 60_000 });
    await tick();
    await queue.send('wake up');
    const [message] = await waiting;
    assert.equal(message?.body, 'wake up');
  });

  it('does not deliver a delayed message before its time', async () => {
    const queue = await t.spool.queue('orders');
    await queue.send('later', { delayMs: 5000 });
    assert.deepEqual(await queue.receive(), []);
    assert.equal((await queue.stats()).delayed, 1);
    await clock.advance(5000);
    const [message] = await queue.receive();
    assert.equal(message?.body, 'later');
  });

  it('delivers higher priority first, FIFO within a priority', async () => {
    const queue = await t.spool.queue('orders');
    await queue.sendBatch([
      { body: 'low-1' },
      { body: 'high-1', priority: 10 },
      { body: 'low-2' },
      { body: 'high-2', priority: 10 },
    ]);
    const messages = await queue.receive({ max: 10 });
    assert.deepEqual(
      messages.map((m) => m.body),
      ['high-1', 'high-2', 'low-1', 'low-2'],
    );
  });

  it('returns the original id for a duplicate dedup id and stores nothing', async () => {
    const queue = await t.spool.queue('orders');
    const first = await queue.send('charge', { dedupId: 'payment-7' });
    const again = await queue.send('charge', { dedupId: 'payment-7' });
    assert.deepEqual(again, { id: first.id, duplicate: true });
    assert.equal((await queue.stats()).ready, 1);
  });

  it('refuses a send over maxDepth with QueueFullError and a retry hint', async () => {
    const queue = await t.spool.queue('orders', { maxDepth: 2 });
    await queue.sendBatch([{ body: 1 }, { body: 2 }]);
    await assert.rejects(queue.send(3), (error: unknown) => {
      assert.ok(error instanceof QueueFullError);
      assert.equal(error.code, 'SPOOL_QUEUE_FULL');
      assert.ok(error.retryAfterMs > 0);
      return true;
    });
    assert.equal((await queue.stats()).ready, 2, 'nothing of the refused send was stored');
  });

  it('validates send options with typed errors', async () => {
    const queue = await t.spool.queue('orders');
    await assert.rejects(queue.send('x', { priority: 1.5 }), { code: 'SPOOL_INVALID_ARGUMENT' });
    await assert.rejects(queue.send('x', { delayMs: -1 }), { code: 'SPOOL_INVALID_ARGUMENT' });
    await assert.rejects(queue.send('x', { headers: { a: 1 as never } }), { code: 'SPOOL_INVALID_ARGUMENT' });
  });
});

describe('queue: process()', () => {
  let t: TestSpool;
  let clock: TestClock;
  beforeEach(async () => {
    clock = new TestClock();
    t = await openTestSpool({ clock });
  });
  afterEach(() => t.dispose());

  it('acks after the handler resolves', async () => {
    const queue = await t.spool.queue<{ n: number }>('orders');
    await queue.sendBatch([{ body: { n: 1 } }, { body: { n: 2 } }, { body: { n: 3 } }]);
    const seen: number[] = [];
    const consumer = queue.process((message) => {
      seen.push(message.body.n);
    });
    await until(() => seen.length === 3);
    await until(async () => (await queue.stats()).inFlight === 0, 5000, 'acks');
    await consumer.close();
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(consumer.processed, 3);
    const stats = await queue.stats();
    assert.equal(stats.ready + stats.inFlight, 0);
  });

  it('retries with exponential backoff, recording each error, then succeeds', async () => {
    const queue = await t.spool.queue('orders', { maxAttempts: 5, backoff: noJitter });
    await queue.send('flaky');
    const deliveries: Message[] = [];
    const consumer = queue.process((message) => {
      deliveries.push(message);
      if (message.attempt < 3) throw new Error(`boom ${message.attempt}`);
    });
    await until(() => deliveries.length === 1);
    await tick(20);
    assert.equal((await queue.stats()).delayed, 1, 'waiting for its backoff');
    await clock.advance(999);
    assert.equal(deliveries.length, 1, 'not before the 1000 ms backoff');
    await clock.advance(1);
    await until(() => deliveries.length === 2);
    await clock.advance(2000);
    await until(() => deliveries.length === 3);
    await until(async () => (await queue.stats()).inFlight === 0);
    await consumer.close();
    assert.deepEqual(
      deliveries[2]!.errors.map((e) => [e.attempt, e.message]),
      [
        [1, 'boom 1'],
        [2, 'boom 2'],
      ],
    );
    assert.equal(consumer.processed, 1);
    assert.equal(consumer.failed, 2);
  });

  it('dead-letters after maxAttempts with the attempt history, and redrive brings it back', async () => {
    const queue = await t.spool.queue('orders', { maxAttempts: 2, backoff: { ...noJitter, baseMs: 10 } });
    await queue.send({ order: 9 });
    let fail = true;
    const deadLettered = deferred<Message<unknown>>();
    let handled = 0;
    const consumer = queue.process(
      () => {
        handled++;
        if (fail) throw new TypeError('card declined');
      },
      { onDeadLetter: (message) => deadLettered.resolve(message) },
    );
    await until(() => handled === 1);
    await clock.advance(10);
    const dead = await deadLettered.promise;
    assert.equal(dead.attempt, 2);
    const { items } = await queue.listDeadLetters();
    assert.equal(items.length, 1);
    assert.deepEqual(items[0]!.body, { order: 9 });
    assert.equal(items[0]!.attempts, 2);
    assert.deepEqual(
      items[0]!.errors.map((e) => [e.attempt, e.name, e.message]),
      [
        [1, 'TypeError', 'card declined'],
        [2, 'TypeError', 'card declined'],
      ],
    );
    fail = false;
    assert.equal(await queue.redrive(), 1);
    await until(() => handled === 3, 5000, 'redriven message processed');
    await until(async () => (await queue.stats()).inFlight === 0);
    await consumer.close();
    assert.equal((await queue.stats()).deadLettered, 0);
  });

  it('dead-letters at once on NonRetryableError', async () => {
    const queue = await t.spool.queue('orders', { maxAttempts: 10 });
    await queue.send('bad');
    const consumer = queue.process(() => {
      throw new NonRetryableError('malformed order');
    });
    await until(async () => (await queue.stats()).deadLettered === 1);
    await consumer.close();
    const { items } = await queue.listDeadLetters();
    assert.equal(items[0]!.attempts, 1);
    assert.equal(items[0]!.errors.at(-1)!.message, 'malformed order');
  });

  it('retries at the time a RetryAfterError asks for', async () => {
    const queue = await t.spool.queue('orders', { backoff: noJitter });
    await queue.send('rate limited');
    let handled = 0;
    const consumer = queue.process(() => {
      handled++;
      if (handled === 1) throw new RetryAfterError(30_000);
    });
    await until(() => handled === 1);
    await tick(20);
    await clock.advance(29_999);
    assert.equal(handled, 1);
    await clock.advance(1);
    await until(() => handled === 2);
    await consumer.close();
  });

  it('a CircuitOpenError hands the message back for its retryAfterMs without using an attempt', async () => {
    const queue = await t.spool.queue('sms', { maxAttempts: 1 });
    await queue.send('text');
    const attempts: number[] = [];
    const consumer = queue.process((message) => {
      attempts.push(message.attempt);
      if (attempts.length <= 3) throw new CircuitOpenError('sms', 10_000);
    });
    for (let refusal = 1; refusal <= 3; refusal++) {
      await until(() => attempts.length === refusal);
      await tick(20);
      await clock.advance(10_000);
    }
    await until(async () => (await queue.stats()).ready + (await queue.stats()).inFlight === 0);
    await consumer.close();
    assert.deepEqual(attempts, [1, 1, 1, 1], 'each refused delivery is handed back uncounted');
    assert.equal((await queue.stats()).deadLettered, 0, 'maxAttempts 1, yet nothing was dead-lettered');
  });

  it('extends the lease while a long handler runs, so nobody else gets the message', async () => {
    const queue = await t.spool.queue('orders', { visibilityTimeoutMs: 1000 });
    await queue.send('slow');
    const release = deferred();
    let started = 0;
    const consumer = queue.process(async () => {
      started++;
      await release.promise;
    });
    await until(() => started === 1);
    for (let i = 0; i < 10; i++) await clock.advance(500);
    assert.deepEqual(await queue.receive(), [], 'still leased after 5 s of a 1 s visibility timeout');
    release.resolve();
    await until(async () => (await queue.stats()).inFlight === 0);
    await consumer.close();
    assert.equal(started, 1);
  });

  it('delivers each key in send order and never two of one key at once', async () => {
    const queue = await t.spool.queue<{ key: string; n: number }>('orders');
    const batch = [];
    for (let n = 0; n < 10; n++) for (const key of ['a', 'b', 'c']) batch.push({ body: { key, n }, key });
    await queue.sendBatch(batch);
    const active = new Map<string, number>();
    const order = new Map<string, number[]>();
    let overlap = false;
    const consumer = queue.process(
      async (message) => {
        const { key, n } = message.body;
        active.set(key, (active.get(key) ?? 0) + 1);
        if (active.get(key)! > 1) overlap = true;
        await tick(2);
        order.set(key, [...(order.get(key) ?? []), n]);
        active.set(key, active.get(key)! - 1);
      },
      { concurrency: 10 },
    );
    await until(() => [...order.values()].reduce((sum, list) => sum + list.length, 0) === 30);
    await consumer.close();
    assert.equal(overlap, false);
    for (const key of ['a', 'b', 'c']) assert.deepEqual(order.get(key), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('at-most-once acks before the handler: a failure does not redeliver', async () => {
    const queue = await t.spool.queue('orders');
    await queue.send('once');
    let handled = 0;
    const consumer = queue.process(
      () => {
        handled++;
        throw new Error('lost by choice');
      },
      { delivery: 'at-most-once', onError: () => {} },
    );
    await until(() => handled === 1);
    await clock.advance(60_000);
    await tick(20);
    await consumer.close();
    assert.equal(handled, 1);
    const stats = await queue.stats();
    assert.equal(stats.ready + stats.delayed + stats.inFlight + stats.deadLettered, 0);
  });

  it('close() waits for in-flight handlers to finish and ack', async () => {
    const queue = await t.spool.queue('orders');
    await queue.send('in flight');
    const release = deferred();
    let started = false;
    const consumer = queue.process(async () => {
      started = true;
      await release.promise;
    });
    await until(() => started);
    let closed = false;
    const closing = consumer.close().then(() => (closed = true));
    await tick(10);
    assert.equal(closed, false, 'close waits for the handler');
    release.resolve();
    await closing;
    const stats = await queue.stats();
    assert.equal(stats.inFlight + stats.ready, 0, 'the in-flight message was acked');
  });
});

describe('queue: wake-ups instead of polling', () => {
  it('an idle consumer claims only on sends, delays and the safety poll', async () => {
    const clock = new TestClock();
    const t = await openTestSpool({ clock, safetyPollMs: 10_000 });
    try {
      let claims = 0;
      const store = t.spool.store;
      const claim = store.claim.bind(store);
      store.claim = (queue, request) => {
        claims++;
        return claim(queue, request);
      };
      const queue = await t.spool.queue('orders');
      const handled: unknown[] = [];
      const consumer = queue.process((message) => {
        handled.push(message.body);
      });
      await tick(20);
      const idleClaims = claims;
      for (let i = 0; i < 9; i++) await clock.advance(1000);
      assert.equal(claims, idleClaims, 'no claims while idle within the safety-poll interval');
      await queue.send('now');
      await until(() => handled.length === 1, 2000, 'woken by the send');
      await queue.send('in 3 s', { delayMs: 3000 });
      await tick(20);
      await clock.advance(3000);
      await until(() => handled.length === 2, 2000, 'woken by the delay timer');
      await consumer.close();
    } finally {
      await t.dispose();
    }
  });
});
