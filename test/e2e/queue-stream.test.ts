/**
 * Streaming consume (`GET /v1/queues/{name}/stream`) on a real server over loopback: the raw
 * protocol as docs/streaming.md gives it to clients in any language, and the TypeScript client's
 * consumer built on it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpoolClient, SpoolHttpError } from '../../src/client/index.js';
import { emptyQueueStats, serverWithClient, startTestServer, type TestServer } from './helpers.js';
import { RawStream } from './raw-stream.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('streaming consume over a WebSocket', () => {
  let t: TestServer;
  const admin = { authorization: 'Bearer admin' };
  const send = async (queue: string, count: number, config: object = {}) => {
    await t.call('PUT', `/v1/queues/${queue}`, { body: config, headers: admin });
    const messages = Array.from({ length: count }, (_, i) => ({ body: { n: i } }));
    const sent = await t.call('POST', `/v1/queues/${queue}/messages`, { body: { messages }, headers: admin });
    assert.equal(sent.status, 201);
  };
  const stats = async (queue: string) =>
    (
      (await t.call('GET', `/v1/queues/${queue}`, { headers: admin })).body as {
        stats: Record<string, number>;
      }
    ).stats;

  before(async () => {
    t = await startTestServer({
      tokens: [
        { token: 'consumer', scopes: ['consume'] },
        { token: 'reader', scopes: ['read'] },
        { token: 'admin', scopes: ['admin', 'produce', 'consume', 'read'] },
      ],
    });
  });
  after(() => t.dispose());

  const auth = { authorization: 'Bearer consumer' };

  it('says ready, delivers no more than the credit granted, and each ack with credit brings the next', async () => {
    await send('raw-credit', 10);
    const stream = await RawStream.open(t.url, '/v1/queues/raw-credit/stream', auth);
    const ready = await stream.next('ready');
    assert.equal(ready.queue, 'raw-credit');
    assert.equal(ready.visibilityMs, 30_000);
    stream.send({ type: 'credit', n: 3 });
    const first = await stream.messages(3);
    assert.equal(first.length, 3);
    await sleep(200);
    assert.equal(stream.frames.filter((f) => f.type === 'messages').length, 0, 'nothing beyond the credit');
    assert.equal((await stats('raw-credit')).inFlight, 3);

    stream.send({ type: 'ack', id: 1, receipts: first.map((m) => m.receipt), credit: 7 });
    const settled = await stream.next('settled');
    assert.equal(settled.id, 1);
    assert.deepEqual(
      settled.results,
      first.map((m) => ({ receipt: m.receipt, ok: true })),
    );
    const rest = await stream.messages(7);
    assert.deepEqual(
      [...first, ...rest].map((m) => (m.body as { n: number }).n),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      'in send order',
    );
    stream.send({ type: 'ack', id: 2, receipts: rest.map((m) => m.receipt) });
    await stream.next('settled');
    assert.deepEqual(await stats('raw-credit'), emptyQueueStats);
    stream.socket.close();
  });

  it('pushes a message sent while the consumer waits, without polling', async () => {
    await t.call('PUT', '/v1/queues/raw-push', { headers: admin });
    const stream = await RawStream.open(t.url, '/v1/queues/raw-push/stream?credit=5', auth);
    await stream.next('ready');
    const started = Date.now();
    await t.call('POST', '/v1/queues/raw-push/messages', { body: { body: 'late' }, headers: admin });
    const [message] = await stream.messages(1);
    assert.equal(message!.body, 'late');
    assert.ok(Date.now() - started < 1000);
    stream.socket.close();
  });

  it('answers settles per receipt: a stale receipt is its own result, the others still settle', async () => {
    await send('raw-stale', 1);
    const stream = await RawStream.open(t.url, '/v1/queues/raw-stale/stream?credit=1', auth);
    const [message] = await stream.messages(1);
    stream.send({ type: 'ack', id: 7, receipts: [message!.receipt, 'not-a-receipt'] });
    const settled = await stream.next('settled');
    const results = settled.results as { receipt: string; ok: boolean; code?: string }[];
    assert.equal(results[0]!.ok, true);
    assert.equal(results[1]!.ok, false);
    assert.equal(results[1]!.code, 'SPOOL_STALE_RECEIPT');
    stream.socket.close();
  });

  it('answers a bad frame with an error frame naming what to fix, and keeps the connection', async () => {
    await send('raw-bad', 1);
    const stream = await RawStream.open(t.url, '/v1/queues/raw-bad/stream', auth);
    await stream.next('ready');
    stream.send({ type: 'credit', n: -1 });
    let error = await stream.next('error');
    const problem = error.problem as { status: number; code: string; detail: string };
    assert.equal(problem.status, 400);
    assert.equal(problem.code, 'SPOOL_INVALID_ARGUMENT');
    assert.match(problem.detail, /credit frame: n/);
    stream.socket.send('not json');
    error = await stream.next('error');
    assert.match((error.problem as { detail: string }).detail, /JSON/);
    stream.send({ type: 'fetch', n: 1 });
    error = await stream.next('error');
    assert.match(
      (error.problem as { detail: string }).detail,
      /unknown frame type "fetch"; expected one of credit, ack/,
    );
    stream.send({ type: 'credit', n: 20_000 });
    error = await stream.next('error');
    assert.match((error.problem as { detail: string }).detail, /n /);
    stream.send({ type: 'credit', n: 1 });
    assert.equal((await stream.messages(1)).length, 1, 'still open and serving after bad frames');
    stream.socket.close();
  });

  it('releases what a closed connection held, untried: the next delivery has the same attempt', async () => {
    await send('raw-release', 2);
    const first = await RawStream.open(t.url, '/v1/queues/raw-release/stream?credit=2', auth);
    const held = await first.messages(2);
    assert.deepEqual(
      held.map((m) => m.attempt),
      [1, 1],
    );
    first.socket.close();
    await first.closed;
    const second = await RawStream.open(t.url, '/v1/queues/raw-release/stream?credit=2', auth);
    const again = await second.messages(2);
    assert.deepEqual(again.map((m) => m.id).sort(), held.map((m) => m.id).sort());
    assert.deepEqual(
      again.map((m) => m.attempt),
      [1, 1],
      'a release does not count an attempt',
    );
    second.socket.close();
  });

  it('nacks with the attempt counted and dead-letters on the last one; extends and releases by frame', async () => {
    await send('raw-nack', 1, { maxAttempts: 2 });
    const stream = await RawStream.open(
      t.url,
      '/v1/queues/raw-nack/stream?credit=1&visibilityMs=60000',
      auth,
    );
    let [message] = await stream.messages(1);
    stream.send({ type: 'extend', id: 1, items: [{ receipt: message!.receipt, visibilityMs: 120_000 }] });
    const extended = (await stream.next('settled')).results as { ok: boolean; leaseExpiresAt: string }[];
    assert.equal(extended[0]!.ok, true);
    assert.ok(Date.parse(extended[0]!.leaseExpiresAt) > Date.now() + 100_000);
    stream.send({
      type: 'nack',
      id: 2,
      items: [{ receipt: message!.receipt, delayMs: 0, error: 'boom' }],
      credit: 1,
    });
    const nacked = (await stream.next('settled')).results as { outcome: string }[];
    assert.equal(nacked[0]!.outcome, 'released');
    [message] = await stream.messages(1);
    assert.equal(message!.attempt, 2);
    stream.send({ type: 'nack', id: 3, items: [{ receipt: message!.receipt, error: 'boom again' }] });
    const last = (await stream.next('settled')).results as { outcome: string }[];
    assert.equal(last[0]!.outcome, 'dead-lettered');
    assert.equal((await stats('raw-nack')).deadLettered, 1);
    stream.socket.close();
  });

  it('needs a token with the consume scope, and refuses Spool’s own queues', async () => {
    await assert.rejects(RawStream.open(t.url, '/v1/queues/raw-auth/stream'), (error: { status: number }) => {
      assert.equal(error.status, 401);
      return true;
    });
    await assert.rejects(
      RawStream.open(t.url, '/v1/queues/raw-auth/stream', { authorization: 'Bearer reader' }),
      (error: { status: number; body: { code: string } }) => {
        assert.equal(error.status, 403);
        assert.equal(error.body.code, 'SPOOL_FORBIDDEN');
        return true;
      },
    );
    await assert.rejects(
      RawStream.open(t.url, '/v1/queues/spool.webhooks/stream', auth),
      (error: { status: number; body: { code: string } }) => {
        assert.equal(error.body.code, 'SPOOL_RESERVED_NAME');
        return true;
      },
    );
    const client = new SpoolClient({ url: t.url, token: 'reader' });
    await assert.rejects(
      client.queues.consume('raw-auth', () => {}),
      (error) => error instanceof SpoolHttpError && error.status === 403,
    );
    await client.close();
  });

  it('answers a plain GET (no upgrade) with a problem saying how to open it', async () => {
    const answer = await t.call('GET', '/v1/queues/raw-plain/stream', { headers: auth });
    assert.equal(answer.status, 400);
    assert.match((answer.body as { detail: string }).detail, /WebSocket.*Upgrade: websocket/);
  });

  it('closes with 4404 when its queue is deleted', async () => {
    await t.call('PUT', '/v1/queues/raw-deleted', { headers: admin });
    const stream = await RawStream.open(t.url, '/v1/queues/raw-deleted/stream?credit=1', auth);
    await stream.next('ready');
    assert.equal((await t.call('DELETE', '/v1/queues/raw-deleted', { headers: admin })).status, 204);
    // The stream notices at its next round: here its safety poll (100 ms in these tests).
    const closed = await stream.closed;
    assert.equal(closed.code, 4404);
    assert.match(closed.reason, /deleted/);
  });
});

describe('fixture.client.queues.consume', () => {
  const fixture = serverWithClient();

  it('processes every message once at the concurrency asked, and leaves the queue empty', async () => {
    await fixture.client.queues.put('c-all');
    const total = 2000;
    for (let i = 0; i < total; i += 500) {
      await fixture.client.queues.sendBatch(
        'c-all',
        Array.from({ length: 500 }, (_, j) => ({ body: { n: i + j } })),
      );
    }
    const seen = new Set<number>();
    let running = 0;
    let most = 0;
    let resolveDone: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const consumer = await fixture.client.queues.consume(
      'c-all',
      async (message) => {
        running++;
        most = Math.max(most, running);
        await sleep(1);
        seen.add((message.body as { n: number }).n);
        running--;
        if (seen.size === total) resolveDone();
      },
      { concurrency: 8, prefetch: 32 },
    );
    await done;
    await consumer.close();
    assert.equal(seen.size, total);
    assert.ok(most <= 8, `at most 8 handlers at once (saw ${most})`);
    assert.equal(consumer.processed, total);
    const [queue] = (await fixture.client.queues.list()).filter((q) => q.name === 'c-all');
    assert.deepEqual(queue!.stats, emptyQueueStats);
  });

  it('retries a throwing handler with attempt + 1, and dead-letters a NonRetryableError at once', async () => {
    await fixture.client.queues.put('c-fail', {
      maxAttempts: 5,
      backoff: { baseMs: 10, capMs: 10, jitter: 'none' },
    });
    await fixture.client.queues.send('c-fail', 'flaky');
    await fixture.client.queues.send('c-fail', 'poison');
    const attempts: Record<string, number[]> = { flaky: [], poison: [] };
    const errors: unknown[] = [];
    const consumer = await fixture.client.queues.consume(
      'c-fail',
      (message) => {
        const body = message.body as string;
        attempts[body]!.push(message.attempt);
        if (body === 'poison') throw Object.assign(new Error('never'), { name: 'NonRetryableError' });
        if (message.attempt < 3) throw new Error('not yet');
      },
      { onError: (error) => errors.push(error) },
    );
    for (let i = 0; i < 100 && attempts.flaky!.length < 3; i++) await sleep(50);
    await consumer.close();
    assert.deepEqual(attempts.flaky, [1, 2, 3]);
    assert.deepEqual(attempts.poison, [1]);
    const letters = await fixture.client.queues.deadLetters('c-fail');
    assert.equal(letters.items.length, 1);
    assert.equal(letters.items[0]!.body, 'poison');
    assert.match(letters.items[0]!.errors.at(-1)!.message, /never/);
    assert.equal(errors.length, 3, 'each handler failure is reported');
  });

  it('keeps the lease of a handler that runs longer than it', async () => {
    await fixture.client.queues.put('c-long', { visibilityTimeoutMs: 600 });
    await fixture.client.queues.send('c-long', 'slow');
    let deliveries = 0;
    const consumer = await fixture.client.queues.consume('c-long', async () => {
      deliveries++;
      await sleep(1800);
    });
    await sleep(2500);
    await consumer.close();
    assert.equal(deliveries, 1, 'extended every third of the lease: never redelivered meanwhile');
    const [queue] = (await fixture.client.queues.list()).filter((q) => q.name === 'c-long');
    assert.equal(queue!.stats.ready + queue!.stats.inFlight, 0);
  });

  it('close() waits for running handlers and confirms their acks; what waited is released', async () => {
    await fixture.client.queues.put('c-close');
    await fixture.client.queues.sendBatch(
      'c-close',
      Array.from({ length: 20 }, (_, n) => ({ body: n })),
    );
    let started = 0;
    let finished = 0;
    const consumer = await fixture.client.queues.consume(
      'c-close',
      async () => {
        started++;
        await sleep(300);
        finished++;
      },
      { concurrency: 2, prefetch: 10 },
    );
    while (started < 2) await sleep(10);
    await consumer.close();
    assert.equal(finished, started);
    const [queue] = (await fixture.client.queues.list()).filter((q) => q.name === 'c-close');
    assert.equal(queue!.stats.inFlight, 0, 'nothing stays leased');
    assert.equal(queue!.stats.ready, 20 - finished);
  });
});
