/**
 * Metrics without a server: the accumulators, the engine hooks through SpoolMetrics on a real
 * SQLite file, registries kept apart, the scrape-time cache, and transactions counted only
 * once committed.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { BucketHistogram, RecentQuantiles } from '../../src/observability/metrics-histogram.js';
import { SpoolMetrics } from '../../src/observability/metrics.js';
import { openTestSpool, until } from '../helpers.js';
import { assertHistogram, parseExposition, valueOf } from './metrics-text.js';

async function spoolFor(t: TestContext) {
  const test = await openTestSpool();
  t.after(() => test.dispose());
  return test.spool;
}

async function exposition(metrics: SpoolMetrics) {
  return parseExposition(await metrics.metrics());
}

describe('histogram accumulators', () => {
  it('BucketHistogram keeps cumulative counts per upper bound, as Prometheus does', () => {
    const histogram = new BucketHistogram([0.1, 1, 10]);
    for (const value of [0.05, 0.1, 0.5, 2, 20, 30]) histogram.observe(value);
    assert.deepEqual(histogram.cumulative(), [2, 3, 4], 'le is inclusive');
    assert.equal(histogram.count, 6);
    assert.ok(Math.abs(histogram.sum - 52.65) < 1e-9);
  });

  it('RecentQuantiles answers p50/p99 within 5 % over the last minute only', () => {
    const recent = new RecentQuantiles();
    const start = 1_000_000;
    // 1..1000 ms, uniformly.
    for (let i = 1; i <= 1000; i++) recent.observe(i / 1000, start + i);
    const [p50, p99] = recent.quantiles([0.5, 0.99], start + 2000);
    assert.ok(p50 != null && Math.abs(p50 - 0.5) / 0.5 <= 0.05, `p50 ${p50}`);
    assert.ok(p99 != null && Math.abs(p99 - 0.99) / 0.99 <= 0.05, `p99 ${p99}`);
    // Half a minute later, slower observations arrive; both periods are in the window.
    for (let i = 0; i < 1000; i++) recent.observe(5, start + 30_000);
    assert.ok(recent.quantile(0.99, start + 31_000)! >= 4.75);
    // A minute after the first batch only the second remains.
    assert.ok(recent.quantile(0.5, start + 75_000)! >= 4.75);
    assert.equal(recent.quantile(0.5, start + 200_000), null, 'nothing in the last minute');
  });
});

describe('SpoolMetrics', () => {
  it('counts what the engine does, in its own registry, until closed', async (t) => {
    const spool = await spoolFor(t);
    const metrics = new SpoolMetrics(spool);
    const queue = await spool.queue<number>('work');
    await queue.sendBatch([1, 2, 3].map((body) => ({ body })));
    const [first, second] = await queue.receive({ max: 2 });
    await first!.ack();
    await second!.nack({ delayMs: 0 });
    const [again] = await queue.receive({ max: 1 });
    await again!.deadLetter(new Error('no'));

    let text = await exposition(metrics);
    const labels = { queue: 'work' };
    assert.equal(valueOf(text, 'spool_messages_sent_total', labels), 3);
    assert.equal(valueOf(text, 'spool_messages_acked_total', labels), 1);
    assert.equal(valueOf(text, 'spool_messages_retried_total', labels), 1);
    assert.equal(valueOf(text, 'spool_messages_dead_lettered_total', labels), 1);
    assert.equal(assertHistogram(text, 'spool_message_end_to_end_latency_seconds', labels).count, 1);
    assert.ok(
      assertHistogram(text, 'spool_store_commit_batch_size').sum >= 6,
      'sends, claims and settlements',
    );
    // Not prom-client's global registry.
    assert.equal(metrics.registry instanceof Registry, true);
    assert.equal((await new Registry().metrics()).includes('spool_'), false);

    metrics.close();
    await queue.send(4);
    text = await exposition(metrics);
    assert.equal(valueOf(text, 'spool_messages_sent_total', labels), 3, 'closed: no longer counting');
  });

  it('keeps two Spools in one process apart, and can add Node.js process metrics', async (t) => {
    const [one, two] = await Promise.all([spoolFor(t), spoolFor(t)]);
    const first = new SpoolMetrics(one);
    const second = new SpoolMetrics(two, { collectDefaultMetrics: true });
    t.after(() => {
      first.close();
      second.close();
    });
    await (await one.queue('shared-name')).send('a');
    await (await two.queue('shared-name')).sendBatch([{ body: 'b' }, { body: 'c' }]);
    const [a, b] = await Promise.all([exposition(first), exposition(second)]);
    assert.equal(valueOf(a, 'spool_messages_sent_total', { queue: 'shared-name' }), 1);
    assert.equal(valueOf(b, 'spool_messages_sent_total', { queue: 'shared-name' }), 2);
    assert.equal(a.types.has('process_cpu_user_seconds_total'), false);
    assert.equal(b.types.get('process_cpu_user_seconds_total'), 'counter');
  });

  it('counts sends and acks made in a transaction only when it commits', async (t) => {
    const spool = await spoolFor(t);
    const metrics = new SpoolMetrics(spool);
    t.after(() => metrics.close());
    const source = await spool.queue<number>('source');
    await spool.queue('sink');
    await source.sendBatch([{ body: 1 }, { body: 2 }]);
    const [ok, doomed] = await source.receive({ max: 2 });
    await spool.transaction(async (tx) => {
      await tx.ack(ok!);
      await tx.send('sink', 'forwarded');
    });
    await assert.rejects(
      spool.transaction(async (tx) => {
        await tx.ack(doomed!);
        await tx.send('sink', 'never');
        throw new Error('roll back');
      }),
      /roll back/,
    );
    const text = await exposition(metrics);
    assert.equal(valueOf(text, 'spool_messages_acked_total', { queue: 'source' }), 1);
    assert.equal(valueOf(text, 'spool_messages_sent_total', { queue: 'sink' }), 1);
    assert.equal(
      assertHistogram(text, 'spool_message_end_to_end_latency_seconds', { queue: 'source' }).count,
      1,
      'a received message carries its send time into the transaction',
    );
  });

  it('reads store state at most once per cacheMs, whoever asks', async (t) => {
    const spool = await spoolFor(t);
    const metrics = new SpoolMetrics(spool, { cacheMs: 300 });
    t.after(() => metrics.close());
    const queue = await spool.queue('cached');
    await queue.send('one');
    const ready = async () =>
      valueOf(await exposition(metrics), 'spool_queue_messages', { queue: 'cached', state: 'ready' });
    assert.equal(await ready(), 1);
    await queue.send('two');
    assert.equal(await ready(), 1, 'within the cache period: the previous read');
    assert.equal((await metrics.stats.snapshot()).queues[0]?.ready, 1, 'the JSON stats share the read');
    assert.equal((await metrics.stats.snapshot()).queues[0]?.sentTotal, 2, 'counters are not cached');
    await until(async () => (await ready()) === 2, 2000, 'a fresh read after the cache period');
  });

  it('detaches a sink that throws instead of failing the send', async (t) => {
    const spool = await spoolFor(t);
    const metrics = new SpoolMetrics(spool);
    t.after(() => metrics.close());
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    t.after(() => (console.error = original));
    spool.instrument({
      messagesSent() {
        throw new Error('broken sink');
      },
    });
    const queue = await spool.queue('q');
    await queue.send(1);
    await queue.send(2);
    assert.equal(errors.length, 1, 'reported once, then detached');
    assert.equal(valueOf(await exposition(metrics), 'spool_messages_sent_total', { queue: 'q' }), 2);
  });
});
