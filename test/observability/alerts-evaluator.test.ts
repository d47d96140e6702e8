import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { type AlertEvent, eventsTopic } from '../../src/engine/events-log.js';
import type { Spool } from '../../src/engine/spool.js';
import { Breakers } from '../../src/breakers/breakers.js';
import { AlertEvaluator, type AlertEvaluatorOptions } from '../../src/observability/alerts-evaluator.js';
import type { AlertRuleInput } from '../../src/observability/alerts-rules.js';
import { openTestSpool, until, type TestSpool } from '../helpers.js';

/** The alert events recorded in the events log, in order. */
async function alertEvents(spool: Spool): Promise<AlertEvent[]> {
  const topic = await spool.topic<AlertEvent>(eventsTopic);
  const { events } = await topic.read(0, 0, 1000);
  return events.map((event) => event.body).filter((body) => body.event.startsWith('alert.'));
}

describe('alerts: evaluator on a real engine', () => {
  let t: TestSpool;
  let clock: TestClock;
  const evaluators: AlertEvaluator[] = [];
  const evaluator = (rules: AlertRuleInput[], options: Partial<AlertEvaluatorOptions> = {}) => {
    const created = new AlertEvaluator(t.spool, { rules, ...options });
    evaluators.push(created);
    return created;
  };
  beforeEach(async () => {
    clock = new TestClock();
    t = await openTestSpool({ clock });
  });
  afterEach(async () => {
    for (const created of evaluators.splice(0)) await created.close();
    await t.dispose();
  });

  it('depth: pending for `for`, then fires once, then resolves once when the queue drains', async () => {
    const queue = await t.spool.queue('orders');
    const alerts = evaluator([
      { name: 'orders-depth', kind: 'depth', queue: 'orders', threshold: 2, for: '10s' },
    ]);
    await queue.sendBatch([{ body: 1 }, { body: 2 }, { body: 3 }]);
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), [], 'pending: the condition has not held for 10 s yet');
    await clock.advance(5000);
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), []);
    await clock.advance(5000);
    await alerts.evaluate();
    const firedAt = new Date(clock.now()).toISOString();
    assert.deepEqual(alerts.firing(), [
      {
        id: 'orders-depth/orders',
        rule: 'orders-depth',
        kind: 'depth',
        target: { queue: 'orders' },
        threshold: 2,
        value: 3,
        since: firedAt,
        message: 'queue "orders" holds 3 messages (ready, delayed, inFlight); threshold 2',
      },
    ]);
    // Still breaching: no new event, the value follows the queue, `since` stays.
    await queue.send(4);
    await clock.advance(5000);
    await alerts.evaluate();
    assert.equal(alerts.firing()[0]?.value, 4);
    assert.equal(alerts.firing()[0]?.since, firedAt);

    for (const message of await queue.receive({ max: 10 })) await message.ack();
    await clock.advance(5000);
    await alerts.evaluate();
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), []);
    const events = await alertEvents(t.spool);
    assert.deepEqual(
      events.map((event) => [event.event, event.alert.id, event.alert.value, event.queue]),
      [
        ['alert.firing', 'orders-depth/orders', 3, 'orders'],
        ['alert.resolved', 'orders-depth/orders', 0, 'orders'],
      ],
    );
    assert.equal(events[1]?.alert.since, firedAt, 'the resolution says since when it fired');
    assert.equal(events[1]?.at, clock.now());
  });

  it('a condition that stops holding before `for` never fires', async () => {
    const queue = await t.spool.queue('orders');
    const alerts = evaluator([{ name: 'd', kind: 'depth', queue: 'orders', threshold: 0, for: '10s' }]);
    await queue.send('x');
    await alerts.evaluate();
    await clock.advance(5000);
    for (const message of await queue.receive()) await message.ack();
    await alerts.evaluate();
    await queue.send('y');
    await clock.advance(5000);
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), [], 'the 10 s start again from the new breach');
    await clock.advance(10_000);
    await alerts.evaluate();
    assert.equal(alerts.firing().length, 1);
  });

  it('depth counts only the states the rule lists', async () => {
    const queue = await t.spool.queue('orders');
    const alerts = evaluator([
      { name: 'ready', kind: 'depth', queue: 'orders', threshold: 0, states: ['ready'] },
    ]);
    await queue.send('later', { delayMs: 60_000 });
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), [], 'a delayed message is not ready');
    await clock.advance(60_000);
    await alerts.evaluate();
    assert.equal(alerts.firing()[0]?.value, 1);
  });

  it('oldest-age: fires when the oldest message waits longer than the threshold (seconds)', async () => {
    const queue = await t.spool.queue('orders');
    const alerts = evaluator([{ name: 'stale', kind: 'oldest-age', queue: 'orders', threshold: 60 }]);
    await queue.send('waiting');
    await clock.advance(30_000);
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), []);
    await clock.advance(31_000);
    await alerts.evaluate();
    const [alert] = alerts.firing();
    assert.equal(alert?.value, 61);
    assert.equal(alert?.message, 'the oldest message of queue "orders" is 61 s old; threshold 60 s');
    for (const message of await queue.receive()) await message.ack();
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), []);
  });

  it('dlq-growth: counts dead letters added within the window; a redrive does not hide them', async () => {
    const queue = await t.spool.queue('orders');
    const alerts = evaluator([
      { name: 'dlq', kind: 'dlq-growth', queue: 'orders', threshold: 2, window: '1m' },
    ]);
    await queue.sendBatch([{ body: 1 }, { body: 2 }, { body: 3 }, { body: 4 }]);
    const messages = await queue.receive({ max: 4 });
    await messages[0]!.deadLetter(new Error('bad'));
    await alerts.evaluate(); // baseline: 1 dead letter already there before evaluation began
    await clock.advance(10_000);
    for (const message of messages.slice(1)) await message.deadLetter(new Error('bad'));
    await alerts.evaluate();
    const [alert] = alerts.firing();
    assert.equal(alert?.value, 3);
    assert.equal(alert?.message, 'queue "orders" dead-lettered 3 messages in the last 1m; threshold 2');
    assert.equal(await queue.redrive(), 4);
    await clock.advance(10_000);
    await alerts.evaluate();
    assert.equal(alerts.firing()[0]?.value, 3, 'the redrive empties the DLQ but the growth happened');
    // Once the growth slides out of the window, the alert resolves.
    await clock.advance(60_000);
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), []);
  });

  it('failure-rate: retries and dead letters over all settlements in the window, with a minimum volume', async () => {
    const queue = await t.spool.queue('orders', { maxAttempts: 10 });
    const alerts = evaluator([
      { name: 'failing', kind: 'failure-rate', queue: 'orders', threshold: 0.1, window: '1m', minSettled: 5 },
    ]);
    await alerts.evaluate(); // baseline
    await queue.send('a');
    const [first] = await queue.receive();
    await first!.nack({ delayMs: 0, error: new Error('flaky') });
    await clock.advance(5000);
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), [], '1 failure of 1 settlement is below the minimum volume');

    await queue.sendBatch(Array.from({ length: 7 }, (_, i) => ({ body: i })));
    const messages = await queue.receive({ max: 10 });
    assert.equal(messages.length, 8);
    for (const message of messages.slice(0, 7)) await message.ack();
    await messages[7]!.deadLetter(new Error('poison'));
    await clock.advance(5000);
    await alerts.evaluate();
    // 1 retry + 1 dead letter out of 2 failures + 7 acks.
    const [alert] = alerts.firing();
    assert.equal(alert?.value, 0.222);
    assert.equal(
      alert?.message,
      '22.2% of the 9 settlements of queue "orders" in the last 1m failed (retried or dead-lettered); threshold 10%',
    );

    // Healthy traffic dilutes the rate below the threshold.
    await queue.sendBatch(Array.from({ length: 20 }, (_, i) => ({ body: i })));
    for (const message of await queue.receive({ max: 20 })) await message.ack();
    await clock.advance(5000);
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), []);
  });

  it('failure-rate counts settlements made by process() consumers', async () => {
    const queue = await t.spool.queue('orders', { maxAttempts: 1 });
    const alerts = evaluator([
      { name: 'failing', kind: 'failure-rate', queue: 'orders', threshold: 0.4, window: '1m' },
    ]);
    await alerts.evaluate();
    const consumer = queue.process((message) => {
      if (message.body === 'bad') throw new Error('no');
    });
    await queue.sendBatch([{ body: 'ok' }, { body: 'bad' }]);
    await until(async () => (await queue.stats()).deadLettered === 1 && (await queue.stats()).ready === 0);
    await until(async () => (await queue.stats()).inFlight === 0);
    await consumer.close();
    await clock.advance(5000);
    await alerts.evaluate();
    assert.equal(alerts.firing()[0]?.value, 0.5);
  });

  it('consumer-lag: one alert per matching group, resolved when the group catches up', async () => {
    const topic = await t.spool.topic('orders.events', { partitions: 2 });
    await topic.seek('payment', 'latest');
    await topic.seek('email', 'latest');
    const alerts = evaluator([{ name: 'lag', kind: 'consumer-lag', topic: 'orders*', threshold: 3 }]);
    await topic.publishBatch(Array.from({ length: 5 }, (_, i) => ({ body: i, key: `k${i}` })));
    await alerts.evaluate();
    assert.deepEqual(
      alerts.firing().map((alert) => [alert.id, alert.target, alert.value]),
      [
        ['lag/orders.events/email', { topic: 'orders.events', group: 'email' }, 5],
        ['lag/orders.events/payment', { topic: 'orders.events', group: 'payment' }, 5],
      ],
    );
    assert.equal(
      alerts.firing()[0]?.message,
      'consumer group "email" of topic "orders.events" is 5 events behind; threshold 3',
    );
    await topic.seek('payment', 'latest');
    await alerts.evaluate();
    assert.deepEqual(
      alerts.firing().map((alert) => alert.id),
      ['lag/orders.events/email'],
    );
    const events = await alertEvents(t.spool);
    assert.deepEqual(
      events.map((event) => [event.event, event.alert.id, event.queue]),
      [
        ['alert.firing', 'lag/orders.events/email', null],
        ['alert.firing', 'lag/orders.events/payment', null],
        ['alert.resolved', 'lag/orders.events/payment', null],
      ],
    );
  });

  it('breaker-open: fires while a circuit breaker has stayed open past the threshold; a reset resolves it', async () => {
    const breakers = new Breakers(t.spool);
    const sms = breakers.define('sms', { failureThreshold: 1, openMs: 60_000 });
    breakers.define('email', { failureThreshold: 1 });
    const alerts = evaluator([{ name: 'dependency-down', kind: 'breaker-open', threshold: 120 }]);
    await alerts.evaluate();
    await assert.rejects(
      sms.run(() => Promise.reject(new Error('503 from the SMS provider'))),
      /503/,
    );
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), [], 'open, but not for 120 s yet');
    // Probes keep failing: it stays out of service, and the time counts from when it opened.
    for (let i = 0; i < 3; i++) {
      await clock.advance(60_000);
      await assert.rejects(
        sms.run(() => Promise.reject(new Error('still 503'))),
        /still 503/,
      );
    }
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), [
      {
        id: 'dependency-down/sms',
        rule: 'dependency-down',
        kind: 'breaker-open',
        target: { breaker: 'sms' },
        threshold: 120,
        value: 180,
        since: new Date(clock.now()).toISOString(),
        message:
          'circuit breaker "sms" has not been closed for 180 s (its dependency keeps failing); threshold 120 s',
      },
    ]);
    await breakers.reset('sms');
    await alerts.evaluate();
    assert.deepEqual(alerts.firing(), []);
    assert.deepEqual(
      (await alertEvents(t.spool)).map((event) => [event.event, event.alert.target.breaker, event.queue]),
      [
        ['alert.firing', 'sms', null],
        ['alert.resolved', 'sms', null],
      ],
    );
  });

  it('patterns: one alert per matching queue; a deleted queue resolves its alert', async () => {
    const eu = await t.spool.queue('orders.eu');
    const us = await t.spool.queue('orders.us');
    await t.spool.queue('billing');
    const alerts = evaluator([{ name: 'deep', kind: 'depth', queue: 'orders*', threshold: 0 }]);
    await eu.send(1);
    await us.send(1);
    await alerts.evaluate();
    assert.deepEqual(
      alerts.firing().map((alert) => alert.id),
      ['deep/orders.eu', 'deep/orders.us'],
    );
    await t.spool.deleteQueue('orders.us');
    await alerts.evaluate();
    assert.deepEqual(
      alerts.firing().map((alert) => alert.id),
      ['deep/orders.eu'],
    );
    const events = await alertEvents(t.spool);
    assert.deepEqual(events.at(-1)?.event, 'alert.resolved');
    assert.deepEqual(events.at(-1)?.alert.id, 'deep/orders.us');
  });

  it('evaluates on its own every interval with the clock, reports transitions, and stops on close', async () => {
    const queue = await t.spool.queue('orders');
    const seen: string[] = [];
    const logged: string[] = [];
    const logger = {
      info: (_: object, message: string) => logged.push(`info ${message}`),
      warn: (_: object, message: string) => logged.push(`warn ${message}`),
      error: (_: object, message: string) => logged.push(`error ${message}`),
    };
    const alerts = evaluator([{ name: 'd', kind: 'depth', queue: 'orders', threshold: 0 }], {
      interval: '2s',
      logger,
      onTransition: (event) => seen.push(`${event.event} ${event.alert.id}`),
    });
    const timersBefore = clock.pendingTimers;
    await alerts.start();
    assert.equal(alerts.evaluatedAt, clock.now());
    await queue.send('x');
    await clock.advance(2000);
    await until(() => seen.length === 1);
    assert.deepEqual(seen, ['alert.firing d/orders']);
    for (const message of await queue.receive()) await message.ack();
    await clock.advance(2000);
    await until(() => seen.length === 2);
    assert.deepEqual(seen, ['alert.firing d/orders', 'alert.resolved d/orders']);
    assert.deepEqual(logged, [
      'warn alert firing: queue "orders" holds 1 messages (ready, delayed, inFlight); threshold 0',
      'info alert resolved: d/orders',
    ]);
    await alerts.close();
    assert.equal(clock.pendingTimers, timersBefore, 'no timer left behind');
  });

  it('keeps alerts as they are while the store does not answer', async () => {
    const queue = await t.spool.queue('orders');
    const logged: string[] = [];
    const logger = {
      info: (_: object, message: string) => logged.push(`info ${message}`),
      warn: () => {},
      error: (_: object, message: string) => logged.push(`error ${message}`),
    };
    const alerts = evaluator([{ name: 'd', kind: 'depth', queue: 'orders', threshold: 0 }], { logger });
    await queue.send('x');
    await alerts.evaluate();
    assert.equal(alerts.firing().length, 1);
    await t.spool.close();
    await alerts.evaluate();
    await alerts.evaluate();
    assert.equal(alerts.firing().length, 1, 'no data is not a resolution');
    assert.deepEqual(logged, [
      'error alert evaluation failed: alerts keep their state until measurements succeed again',
    ]);
  });

  it('an evaluator without rules does nothing and answers that nothing fires', async () => {
    const alerts = AlertEvaluator.none(t.spool);
    evaluators.push(alerts);
    const timers = clock.pendingTimers;
    await alerts.start();
    assert.equal(clock.pendingTimers, timers);
    assert.deepEqual(alerts.firing(), []);
    assert.deepEqual(alerts.rules, []);
    assert.equal(alerts.evaluatedAt, null);
  });
});
