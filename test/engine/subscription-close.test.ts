// Subscription.close({ timeoutMs }) bounds the wait for running handlers, as queue consumers'
// close does: after the timeout the handlers' signals fire, the member stops waiting, leaves the
// group without committing the unfinished event (it is delivered again), and close resolves.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { EventContext } from '../../src/engine/subscription.js';
import type { TopicEvent } from '../../src/engine/topic.js';
import { deferred, openTestSpool, until, type TestSpool } from '../helpers.js';

interface Order {
  n: number;
}

/** Resolves with how long `closing` took; rejects (instead of hanging the test) after `limitMs`. */
async function closesWithin(closing: Promise<void>, limitMs: number): Promise<number> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`close did not finish within ${limitMs} ms`)), limitMs);
  });
  try {
    await Promise.race([closing, limit]);
  } finally {
    clearTimeout(timer);
  }
  return Date.now() - started;
}

describe('topic subscription: close timeout', () => {
  let t: TestSpool;
  beforeEach(async () => {
    t = await openTestSpool({ safetyPollMs: 50 });
  });
  // Bounded, so that a close that hangs fails the test instead of stalling the run.
  afterEach(() => closesWithin(t.dispose(), 5000).then(() => undefined));

  it('close({ timeoutMs: 300 }) with a never-ending handler resolves in time and aborts its signal', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 1 });
    await topic.publish({ n: 0 });
    let signal: AbortSignal | undefined;
    const subscription = topic.subscribe('billing', (_event, context) => {
      signal = context.signal;
      return new Promise(() => {}); // never settles, ignores its signal
    });
    await until(() => signal !== undefined);
    const took = await closesWithin(subscription.close({ timeoutMs: 300 }), 1000);
    assert.ok(took >= 250, `close waited for the handler first (${took} ms)`);
    assert.equal(signal?.aborted, true, 'the handler was told to stop');
    const state = await t.spool.store.groupState('orders', 'billing');
    assert.deepEqual(state?.members, [], 'the member left the group');
  });

  it('commits what finished before the stuck event, never the stuck event: the next subscription gets it', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 1 });
    await topic.publishBatch([0, 1, 2].map((n) => ({ body: { n } })));
    const stuck = deferred();
    const seen: number[] = [];
    const first = topic.subscribe('billing', async (event) => {
      seen.push(event.body.n);
      if (event.body.n === 1) await stuck.promise; // ignores its signal
    });
    await until(() => seen.includes(1));
    await closesWithin(first.close({ timeoutMs: 300 }), 1000);
    // The abandoned handler settles after all: its event must not be committed by that.
    stuck.resolve();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const lag = await topic.groupLag('billing');
    assert.equal(lag.totalLag, 2, 'event 0 committed; events 1 and 2 not');

    const again: TopicEvent<Order>[] = [];
    const second = topic.subscribe('billing', (event) => void again.push(event));
    await until(() => again.length === 2, 5000, 'the next subscription gets the unfinished events');
    await second.close();
    assert.deepEqual(
      again.map((event) => event.body.n),
      [1, 2],
    );
    assert.deepEqual(seen, [0, 1]);
    assert.equal((await topic.groupLag('billing')).totalLag, 0);
  });

  it('hands the unfinished event to another member of the group', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 1 });
    const seenBy: string[] = [];
    let signal: AbortSignal | undefined;
    const stuckMember = topic.subscribe(
      'billing',
      (_event, context) => {
        seenBy.push('stuck');
        signal = context.signal;
        return new Promise(() => {});
      },
      { sessionTimeoutMs: 600 },
    );
    await stuckMember.ready();
    const other = topic.subscribe('billing', () => void seenBy.push('other'), { sessionTimeoutMs: 600 });
    await other.ready();
    await topic.publish({ n: 0 });
    await until(() => seenBy.length === 1);
    assert.deepEqual(seenBy, ['stuck'], 'the partition is the first member’s');
    await closesWithin(stuckMember.close({ timeoutMs: 300 }), 1000);
    assert.equal(signal?.aborted, true);
    await until(() => seenBy.includes('other'), 5000, 'the other member takes the event over');
    await other.close();
    assert.deepEqual(seenBy, ['stuck', 'other']);
    assert.equal((await topic.groupLag('billing')).totalLag, 0);
  });

  it('an aborted handler that throws on its last attempt is not dead-lettered: it is delivered again', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 1 });
    await topic.publish({ n: 0 });
    const errors: unknown[] = [];
    let running = false;
    const handler = (_event: TopicEvent<Order>, context: EventContext) => {
      running = true;
      return new Promise((_resolve, reject) => {
        context.signal.addEventListener('abort', () => reject(new Error('aborted')));
      });
    };
    const options = {
      maxAttempts: 1,
      deadLetterQueue: 'orders-dlq',
      onError: (e: unknown) => errors.push(e),
    };
    const first = topic.subscribe('billing', handler, options);
    await until(() => running);
    await closesWithin(first.close({ timeoutMs: 300 }), 1000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(errors, [], 'the abort at close is not a failure of the event');
    const dlq = await t.spool.queue('orders-dlq');
    assert.equal((await dlq.stats()).ready, 0, 'nothing dead-lettered');
    assert.equal((await topic.groupLag('billing')).totalLag, 1, 'the event is not committed');
  });

  it('spool.close() finishes with a handler that never settles', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 2 });
    await topic.publishBatch([
      { body: { n: 0 }, partition: 0 },
      { body: { n: 1 }, partition: 1 },
    ]);
    const signals: AbortSignal[] = [];
    topic.subscribe('billing', (_event, context) => {
      signals.push(context.signal);
      return new Promise(() => {});
    });
    await until(() => signals.length === 2);
    await closesWithin(t.spool.close({ timeoutMs: 300 }), 1500);
    assert.deepEqual(
      signals.map((signal) => signal.aborted),
      [true, true],
    );
  });
});
