/**
 * Metrics end to end: a real server on loopback over a real SQLite file; messages sent over HTTP,
 * processed (and failed) by a real consumer; `/metrics` parsed as Prometheus reads it and
 * `/v1/stats` checked against its documented schema.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { NonRetryableError } from '../../src/core/errors.js';
import { StatsSchema } from '../../src/observability/stats-schema.js';
import { Webhooks } from '../../src/webhooks/delivery.js';
import { generateSecret } from '../../src/webhooks/signature.js';
import { until } from '../helpers.js';
import { assertHistogram, type Exposition, parseExposition, valueOf } from '../observability/metrics-text.js';
import { startReceiver } from '../webhooks/receiver.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

async function scrape(server: TestServer, token?: string): Promise<Exposition> {
  const response = await fetch(`${server.url}/metrics`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await response.text());
}

async function stats(server: TestServer, token?: string) {
  const answer = await server.call('GET', '/v1/stats', {
    ...(token === undefined ? {} : { token }),
    returns: StatsSchema,
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}

async function server(t: TestContext, options: Parameters<typeof startTestServer>[0] = {}) {
  const started = await startTestServer(options);
  t.after(() => started.dispose());
  return started;
}

const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

describe('GET /metrics and GET /v1/stats', () => {
  it('counts sends, acks, retries and dead letters per queue, with depths and latency histograms', async (t) => {
    const s = await server(t);
    const orders = await s.spool.queue<{ i: number }>('orders', {
      maxAttempts: 2,
      backoff: { baseMs: 1, capMs: 5, jitter: 'none' },
    });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const sent = await s.call('POST', '/v1/queues/orders/messages', {
        body: { body: { i }, ...(i === 4 ? { dedupId: 'four' } : {}) },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      ids.push((sent.body as { id: string }).id);
    }
    // A duplicate by dedup id stores nothing and is not counted as sent.
    const duplicate = await s.call('POST', '/v1/queues/orders/messages', {
      body: { body: { i: 4 }, dedupId: 'four' },
    });
    assert.equal((duplicate.body as { duplicate: boolean }).duplicate, true);

    // i = 3 fails twice (retried once, then dead-lettered); i = 2 fails for good at once.
    const consumer = orders.process(
      (message) => {
        if (message.body.i === 3) throw new Error('flaky');
        if (message.body.i === 2) throw new NonRetryableError('bad input');
      },
      { concurrency: 4, onError: () => {} },
    );
    t.after(() => consumer.close());
    await until(async () => (await orders.stats()).deadLettered === 2, 10_000, 'two dead letters');
    await until(() => consumer.processed === 3, 5000, 'three acks');
    await consumer.close();
    // A route no pattern matches, for the `unmatched` label.
    assert.equal((await s.call('POST', '/v1/no-such-thing')).status, 404);

    const metrics = await scrape(s);
    const queue = { queue: 'orders' };
    assert.equal(metrics.types.get('spool_messages_sent_total'), 'counter');
    assert.equal(valueOf(metrics, 'spool_messages_sent_total', queue), 5);
    assert.equal(valueOf(metrics, 'spool_messages_acked_total', queue), 3);
    assert.equal(valueOf(metrics, 'spool_messages_retried_total', queue), 1);
    assert.equal(valueOf(metrics, 'spool_messages_dead_lettered_total', queue), 2);
    assert.equal(metrics.types.get('spool_queue_messages'), 'gauge');
    for (const state of ['ready', 'delayed', 'in_flight']) {
      assert.equal(valueOf(metrics, 'spool_queue_messages', { queue: 'orders', state }), 0, state);
    }
    assert.equal(valueOf(metrics, 'spool_queue_dead_letter_messages', queue), 2);
    assert.equal(valueOf(metrics, 'spool_queue_oldest_message_age_seconds', queue), 0, 'empty queue');

    // 3 successes + 2 attempts of i = 3 + 1 of i = 2.
    const processing = assertHistogram(metrics, 'spool_message_processing_duration_seconds', queue);
    assert.equal(processing.count, 6);
    assert.ok(processing.sum > 0 && processing.sum < 10);
    const endToEnd = assertHistogram(metrics, 'spool_message_end_to_end_latency_seconds', queue);
    assert.equal(endToEnd.count, 3, 'one observation per ack');

    const commits = assertHistogram(metrics, 'spool_store_commit_duration_seconds');
    const batches = assertHistogram(metrics, 'spool_store_commit_batch_size');
    assert.ok(commits.count > 0);
    assert.equal(batches.count, commits.count, 'one batch size per commit');
    assert.ok(batches.sum >= batches.count, 'every commit carries at least one write');

    // HTTP: the route pattern, never the URL; unknown paths share one series.
    assert.equal(
      valueOf(metrics, 'spool_http_requests_total', {
        method: 'POST',
        route: '/v1/queues/:name/messages',
        status: '201',
      }) +
        valueOf(metrics, 'spool_http_requests_total', {
          method: 'POST',
          route: '/v1/queues/:name/messages',
          status: '200',
        }),
      6,
    );
    assert.equal(
      valueOf(metrics, 'spool_http_requests_total', { method: 'POST', route: 'unmatched', status: '404' }),
      1,
    );
    assertHistogram(metrics, 'spool_http_request_duration_seconds', {
      method: 'POST',
      route: '/v1/queues/:name/messages',
    });

    // No message id, UUID or raw URL in any label.
    for (const sample of metrics.samples) {
      for (const value of Object.values(sample.labels)) {
        assert.doesNotMatch(value, uuid, `${sample.name} has an id-like label ${value}`);
        assert.ok(!ids.includes(value));
        assert.ok(!value.includes('/v1/queues/orders'), `${sample.name} has a raw URL label`);
      }
    }

    // The JSON stats: the same numbers.
    const document = await stats(s);
    const row = document.queues.find((q) => q.name === 'orders');
    assert.ok(row);
    assert.deepEqual(
      { ...row, processingSeconds: undefined },
      {
        name: 'orders',
        ready: 0,
        delayed: 0,
        inFlight: 0,
        deadLettered: 2,
        oldestMessageAgeSeconds: null,
        paused: false,
        sentTotal: 5,
        ackedTotal: 3,
        retriedTotal: 1,
        deadLetteredTotal: 2,
        processingSeconds: undefined,
      },
    );
    const { p50, p99 } = row.processingSeconds;
    assert.ok(p50 !== null && p99 !== null && p50 > 0 && p99 >= p50, JSON.stringify(row.processingSeconds));
    assert.ok(Date.parse(document.startedAt) <= Date.parse(document.time));
    assert.deepEqual(document.alerts, []);
  });

  it('times consumers that receive and ack over HTTP: processing p50/p99 from receive to ack', async (t) => {
    const s = await server(t);
    for (let n = 0; n < 4; n++) await s.call('POST', '/v1/queues/prints/messages', { body: { body: { n } } });
    const received = await s.call('POST', '/v1/queues/prints/receive', { body: { max: 4 } });
    const receipts = (received.body as { messages: { receipt: string }[] }).messages.map((m) => m.receipt);
    assert.equal(receipts.length, 4);
    await new Promise((resolve) => setTimeout(resolve, 120));
    await s.call('POST', '/v1/queues/prints/ack', { body: { receipt: receipts[0] } });
    await s.call('POST', '/v1/queues/prints/ack', { body: { receipts: receipts.slice(1) } });
    const row = (await stats(s)).queues.find((q) => q.name === 'prints');
    const { p50, p99 } = row!.processingSeconds;
    assert.ok(p50 !== null && p99 !== null && p50 >= 0.1 && p50 < 10, JSON.stringify(row!.processingSeconds));
  });

  it('reports topic end offsets, consumer-group committed offsets and lag, and jobs by type and state', async (t) => {
    const s = await server(t);
    const events = await s.spool.topic<{ n: number }>('events', { partitions: 2 });
    await events.publishBatch([0, 1, 2, 3].map((n) => ({ body: { n }, key: `k${n}` })));
    let seen = 0;
    const billing = events.subscribe('billing', () => void seen++, { startFrom: 'earliest' });
    await until(() => seen === 4, 10_000, 'four events consumed');
    await billing.close();
    await events.publishBatch([4, 5, 6].map((n) => ({ body: { n }, key: `k${n}` })));
    for (let i = 0; i < 2; i++) {
      const added = await s.call('POST', '/v1/jobs', { body: { type: 'email.send', payload: { i } } });
      assert.equal(added.status, 202, JSON.stringify(added.body));
    }

    // Store-derived numbers are cached for a second: wait for a read that sees the last writes.
    let metrics!: Exposition;
    await until(
      async () => {
        metrics = await scrape(s);
        return metrics.samples.some(
          (x) => x.name === 'spool_jobs' && x.labels.state === 'queued' && x.value === 2,
        );
      },
      5000,
      'a fresh read',
    );
    const offsets = await events.offsets();
    let totalLag = 0;
    for (const { partition, endOffset } of offsets) {
      const labels = { topic: 'events', partition: String(partition) };
      assert.equal(valueOf(metrics, 'spool_topic_end_offset', labels), endOffset);
      const group = { ...labels, group: 'billing' };
      const committed = valueOf(metrics, 'spool_consumer_group_committed_offset', group);
      const lag = valueOf(metrics, 'spool_consumer_group_lag_messages', group);
      assert.equal(lag, endOffset - committed);
      totalLag += lag;
    }
    assert.equal(
      offsets.reduce((sum, p) => sum + p.endOffset, 0),
      7,
    );
    assert.equal(totalLag, 3, 'the three events published after the group stopped');
    assert.equal(valueOf(metrics, 'spool_jobs', { type: 'email.send', state: 'queued' }), 2);
    assert.equal(valueOf(metrics, 'spool_jobs', { type: 'email.send', state: 'completed' }), 0);

    const document = await stats(s);
    const topic = document.topics.find((x) => x.name === 'events');
    assert.deepEqual(
      topic?.groups.map((g) => [g.name, g.lag]),
      [['billing', 3]],
    );
    assert.deepEqual(
      topic?.partitions,
      offsets.map((p) => ({ partition: p.partition, endOffset: p.endOffset })),
    );
    assert.equal(document.jobs.byState.queued, 2);
    assert.deepEqual(document.jobs.byType, [
      {
        type: 'email.send',
        byState: {
          waiting: 0,
          scheduled: 0,
          queued: 2,
          active: 0,
          retrying: 0,
          completed: 0,
          dead: 0,
          cancelled: 0,
        },
        paused: false,
      },
    ]);
  });

  it('counts webhook deliveries by outcome', async (t) => {
    const receiver = await startReceiver((_request, index) => ({ status: index === 0 ? 503 : 204 }));
    t.after(() => receiver.close());
    let webhooks: Webhooks | undefined;
    const s = await server(t, {
      webhooks: async (spool) => {
        webhooks = new Webhooks(spool, {
          secret: generateSecret(),
          allowPrivateNetworks: true,
          maxAttempts: 3,
          backoff: { baseMs: 20, capMs: 50 },
        });
        await webhooks.start();
        return webhooks;
      },
    });
    await webhooks!.enqueue({ url: receiver.url, event: 'job.completed', payload: { n: 1 } });
    await until(() => receiver.requests.length === 2, 10_000, 'a retry that succeeds');
    let metrics!: Exposition;
    await until(
      async () =>
        valueOf((metrics = await scrape(s)), 'spool_webhook_deliveries_total', { outcome: 'delivered' }) ===
        1,
      5000,
      'the delivered attempt counted',
    );
    assert.equal(valueOf(metrics, 'spool_webhook_deliveries_total', { outcome: 'retrying' }), 1);
    assert.equal(valueOf(metrics, 'spool_webhook_deliveries_total', { outcome: 'dead_lettered' }), 0);
    assert.equal(assertHistogram(metrics, 'spool_webhook_delivery_duration_seconds').count, 2);
  });

  it('streams the stats document as Server-Sent Events every intervalMs', async (t) => {
    const s = await server(t);
    await s.spool.queue('stream-me');
    const controller = new AbortController();
    t.after(() => controller.abort());
    const response = await fetch(`${s.url}/v1/stats/stream?intervalMs=250`, { signal: controller.signal });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const received: { id: number; event: string; data: { queues: { name: string }[] } }[] = [];
    const started = Date.now();
    while (received.length < 3) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream stays open');
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith(':')) continue;
        const fields = Object.fromEntries(
          block
            .split('\n')
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
        );
        received.push({
          id: Number(fields.id),
          event: fields.event!,
          data: JSON.parse(fields.data!) as (typeof received)[number]['data'],
        });
      }
    }
    const elapsed = Date.now() - started;
    controller.abort();
    assert.deepEqual(
      received.map((r) => r.event),
      ['stats', 'stats', 'stats'],
    );
    assert.ok(
      received.every((r, i) => i === 0 || r.id >= received[i - 1]!.id + 200),
      'ids are epoch ms, ~250 apart',
    );
    assert.ok(elapsed >= 400 && elapsed < 5000, `three events took ${elapsed} ms`);
    assert.ok(received[0]!.data.queues.some((q) => q.name === 'stream-me'));

    const tooFast = await s.call('GET', '/v1/stats/stream?intervalMs=100');
    assertProblem(tooFast, 400, 'SPOOL_INVALID_ARGUMENT');
  });

  it('needs a valid token for /metrics and /v1/stats when tokens are configured', async (t) => {
    const s = await server(t, {
      tokens: [
        { token: 'reader', scopes: [] },
        { token: 'producer', scopes: ['produce'] },
      ],
    });
    const anonymous = await fetch(`${s.url}/metrics`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
    const wrong = await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    // Any valid token reads (Prometheus gets a token of its own, with no scope).
    await scrape(s, 'reader');
    await scrape(s, 'producer');
    assertProblem(await s.call('GET', '/v1/stats'), 401, 'SPOOL_UNAUTHORIZED');
    await stats(s, 'reader');
    assert.equal((await fetch(`${s.url}/v1/stats/stream`)).status, 401);
  });
});
