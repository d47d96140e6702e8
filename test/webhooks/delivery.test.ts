import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { openSpool } from '../../src/open-spool.js';
import type { DeliveryAttempt, LoggedDeliveryAttempt } from '../../src/webhooks/delivery-log.js';
import { Webhooks, type WebhooksOptions } from '../../src/webhooks/delivery.js';
import { webhookMessage, webhooksQueue } from '../../src/webhooks/message.js';
import { generateSecret, verify } from '../../src/webhooks/signature.js';
import { tempDir, until } from '../helpers.js';
import { startReceiver, type Answer, type ReceivedRequest } from './receiver.js';

const secret = generateSecret();

/** A Spool on SQLite in a temp dir, a loopback receiver, and started Webhooks with fast retries. */
async function setup(
  t: TestContext,
  respond: (request: ReceivedRequest, index: number) => Answer = () => ({ status: 204 }),
  options: WebhooksOptions = {},
) {
  const { dir, cleanup } = tempDir();
  const spool = await openSpool({ path: join(dir, 'spool.db'), safetyPollMs: 50 });
  const receiver = await startReceiver(respond);
  const webhooks = new Webhooks(spool, {
    secret,
    allowPrivateNetworks: true,
    maxAttempts: 5,
    backoff: { baseMs: 20, capMs: 100 },
    ...options,
  });
  await webhooks.start();
  t.after(async () => {
    await webhooks.close();
    await spool.close();
    await receiver.close();
    cleanup();
  });
  return { spool, receiver, webhooks };
}

/** The logged attempts of `webhookId`, once there are `count` of them. */
async function attempts(
  webhooks: Webhooks,
  webhookId: string,
  count: number,
): Promise<Omit<DeliveryAttempt, 'durationMs' | 'at'>[]> {
  let items: LoggedDeliveryAttempt[] = [];
  await until(
    async () => (items = (await webhooks.listDeliveries({ webhookId })).items).length >= count,
    10_000,
    `${count} logged attempts`,
  );
  return items.map(({ offset: _offset, durationMs: _durationMs, at: _at, ...rest }) => rest);
}

async function deadLetters(webhooks: Webhooks, count: number) {
  await until(
    async () => (await webhooks.queue.stats()).deadLettered >= count,
    10_000,
    `${count} dead letters`,
  );
  return (await webhooks.queue.listDeadLetters()).items;
}

describe('webhook delivery', () => {
  it('delivers a signed Standard Webhooks request that the receiver verifies', async (t) => {
    const { receiver, webhooks } = await setup(t);
    const { webhookId, duplicate } = await webhooks.enqueue({
      url: receiver.url,
      event: 'job.completed',
      payload: { jobId: 'j1', result: 42 },
      timestamp: Date.UTC(2030, 0, 1),
    });
    assert.equal(duplicate, false);
    await until(() => receiver.requests.length === 1);
    const [request] = receiver.requests;
    assert.equal(request!.method, 'POST');
    assert.equal(request!.headers['content-type'], 'application/json');
    assert.equal(request!.headers['user-agent'], 'Spool-Webhooks/1.0');
    assert.equal(request!.headers['webhook-id'], webhookId);
    assert.deepEqual(verify(request!.body, request!.headers, secret), {
      webhookId,
      timestamp: Number(request!.headers['webhook-timestamp']),
    });
    assert.ok(Math.abs(Number(request!.headers['webhook-timestamp']) - Date.now() / 1000) < 10);
    assert.deepEqual(JSON.parse(request!.body), {
      type: 'job.completed',
      timestamp: '2030-01-01T00:00:00.000Z',
      data: { jobId: 'j1', result: 42 },
    });
    assert.deepEqual(await attempts(webhooks, webhookId, 1), [
      { webhookId, url: receiver.url, event: 'job.completed', attempt: 1, status: 204, outcome: 'delivered' },
    ]);
    await until(async () => (await webhooks.queue.stats()).inFlight === 0);
    assert.deepEqual(
      await webhooks.queue.stats().then((s) => [s.ready, s.delayed, s.deadLettered]),
      [0, 0, 0],
    );
  });

  it('retries after a 500 with the same webhook-id and a fresh signature, then succeeds', async (t) => {
    const { receiver, webhooks } = await setup(t, (_, index) => ({ status: index === 0 ? 500 : 200 }));
    const { webhookId } = await webhooks.enqueue({ url: receiver.url, event: 'ping', payload: null });
    await until(() => receiver.requests.length === 2);
    for (const request of receiver.requests) {
      assert.equal(request.headers['webhook-id'], webhookId);
      assert.equal(verify(request.body, request.headers, secret).webhookId, webhookId);
    }
    assert.equal(receiver.requests[0]!.body, receiver.requests[1]!.body);
    assert.deepEqual(await attempts(webhooks, webhookId, 2), [
      {
        webhookId,
        url: receiver.url,
        event: 'ping',
        attempt: 1,
        status: 500,
        outcome: 'retrying',
        error: 'endpoint answered 500',
      },
      { webhookId, url: receiver.url, event: 'ping', attempt: 2, status: 200, outcome: 'delivered' },
    ]);
  });

  it('honours Retry-After on a 429', async (t) => {
    const { receiver, webhooks } = await setup(t, (_, index) =>
      index === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    const { webhookId } = await webhooks.enqueue({ url: receiver.url, event: 'ping', payload: 1 });
    await until(() => receiver.requests.length === 2, 10_000);
    const gap = receiver.requests[1]!.at - receiver.requests[0]!.at;
    assert.ok(gap >= 950, `retried after ${gap} ms, before the 1 s Retry-After (backoff alone is <= 100 ms)`);
    const [first] = await attempts(webhooks, webhookId, 2);
    assert.equal(first!.status, 429);
    assert.match(first!.error ?? '', /Retry-After 1/);
  });

  it('dead-letters a 400 at once, without retrying', async (t) => {
    const { receiver, webhooks } = await setup(t, () => ({ status: 400 }));
    const { webhookId } = await webhooks.enqueue({ url: receiver.url, event: 'ping', payload: 1 });
    const [letter] = await deadLetters(webhooks, 1);
    assert.equal(letter!.body.webhookId, webhookId);
    assert.equal(letter!.attempts, 1);
    assert.match(letter!.errors.at(-1)!.message, /answered 400; not retried/);
    assert.equal(receiver.requests.length, 1);
    assert.deepEqual(
      (await attempts(webhooks, webhookId, 1)).map((a) => [a.status, a.outcome]),
      [[400, 'dead-lettered']],
    );
  });

  it('dead-letters after the last attempt; a redrive delivers it with the same webhook-id', async (t) => {
    let failing = true;
    const { receiver, webhooks } = await setup(t, () => ({ status: failing ? 503 : 200 }), {
      maxAttempts: 3,
    });
    const { webhookId } = await webhooks.enqueue({ url: receiver.url, event: 'ping', payload: 1 });
    const [letter] = await deadLetters(webhooks, 1);
    assert.equal(letter!.attempts, 3);
    assert.equal(receiver.requests.length, 3);
    assert.deepEqual(
      (await attempts(webhooks, webhookId, 3)).map((a) => [a.attempt, a.status, a.outcome]),
      [
        [1, 503, 'retrying'],
        [2, 503, 'retrying'],
        [3, 503, 'dead-lettered'],
      ],
    );
    failing = false;
    assert.equal(await webhooks.queue.redrive(), 1);
    await until(() => receiver.requests.length === 4);
    assert.equal(receiver.requests[3]!.headers['webhook-id'], webhookId);
    const log = await attempts(webhooks, webhookId, 4);
    assert.deepEqual([log[3]!.attempt, log[3]!.outcome], [1, 'delivered']);
  });

  it('retries a receiver that does not answer within the timeout', async (t) => {
    const { receiver, webhooks } = await setup(
      t,
      (_, index) => (index === 0 ? { status: 200, hang: true } : { status: 200 }),
      {
        timeoutMs: 200,
      },
    );
    const { webhookId } = await webhooks.enqueue({ url: receiver.url, event: 'ping', payload: 1 });
    const log = await attempts(webhooks, webhookId, 2);
    assert.deepEqual(log[0], {
      webhookId,
      url: receiver.url,
      event: 'ping',
      attempt: 1,
      status: null,
      outcome: 'retrying',
      error: 'no response within 200 ms',
    });
    assert.equal(log[1]!.outcome, 'delivered');
  });

  it('a 410 disables the endpoint: later deliveries are skipped into the DLQ until it is enabled', async (t) => {
    let gone = true;
    const { receiver, webhooks } = await setup(t, () => ({ status: gone ? 410 : 200 }));
    const first = await webhooks.enqueue({ url: receiver.url, event: 'ping', payload: 1 });
    await deadLetters(webhooks, 1);
    assert.deepEqual(
      (await webhooks.disabledEndpoints()).map((endpoint) => endpoint.url),
      [receiver.url],
    );
    gone = false;
    const second = await webhooks.enqueue({ url: `${receiver.url}#fragment`, event: 'ping', payload: 2 });
    await deadLetters(webhooks, 2);
    assert.equal(receiver.requests.length, 1, 'the disabled endpoint was not called again');
    assert.deepEqual(
      (await attempts(webhooks, first.webhookId, 1)).map((a) => [a.status, a.outcome]),
      [[410, 'dead-lettered']],
    );
    const [skipped] = await attempts(webhooks, second.webhookId, 1);
    assert.equal(skipped!.outcome, 'skipped');
    assert.equal(skipped!.status, null);
    assert.match(skipped!.error!, /is disabled/);

    assert.equal(await webhooks.enableEndpoint(receiver.url), true);
    assert.equal(await webhooks.enableEndpoint(receiver.url), false);
    assert.deepEqual(await webhooks.disabledEndpoints(), []);
    assert.equal(await webhooks.queue.redrive(), 2);
    await until(() => receiver.requests.length === 3);
  });

  it('keeps endpoints disabled across restarts (the list is in the store)', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const path = join(dir, 'spool.db');
    const receiver = await startReceiver(() => ({ status: 410 }));
    t.after(() => receiver.close());
    const first = await openSpool({ path });
    const webhooks = new Webhooks(first, { secret, allowPrivateNetworks: true });
    await webhooks.start();
    await webhooks.enqueue({ url: receiver.url, event: 'ping', payload: 1 });
    await deadLetters(webhooks, 1);
    await webhooks.close();
    await first.close();

    const second = await openSpool({ path });
    t.after(() => second.close());
    const again = new Webhooks(second, { secret, allowPrivateNetworks: true });
    assert.deepEqual(
      (await again.disabledEndpoints()).map((endpoint) => endpoint.url),
      [receiver.url],
    );
  });

  it('refuses loopback destinations, by address or by name, unless private networks are allowed', async (t) => {
    const { receiver, webhooks } = await setup(t, undefined, { allowPrivateNetworks: false });
    const byAddress = await webhooks.enqueue({ url: receiver.url, event: 'ping', payload: 1 });
    const byName = await webhooks.enqueue({
      url: `http://localhost:${receiver.port}/hook`,
      event: 'ping',
      payload: 1,
    });
    const letters = await deadLetters(webhooks, 2);
    assert.deepEqual(
      letters.map((letter) => letter.attempts),
      [1, 1],
    );
    assert.equal(receiver.requests.length, 0);
    for (const { webhookId } of [byAddress, byName]) {
      const [attempt] = await attempts(webhooks, webhookId, 1);
      assert.equal(attempt!.outcome, 'dead-lettered');
      assert.match(attempt!.error!, /loopback addresses are not allowed/);
    }
  });

  it('delivers a webhook sent in the caller’s transaction, and none from a rolled-back one', async (t) => {
    const { spool, receiver, webhooks } = await setup(t);
    await assert.rejects(
      spool.transaction(async (tx) => {
        const { body, options } = webhookMessage({ url: receiver.url, event: 'job.dead', payload: 'lost' });
        await tx.send(webhooksQueue, body, options);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    const webhookId = await spool.transaction(async (tx) => {
      const { body, options } = webhookMessage({
        url: receiver.url,
        event: 'job.completed',
        payload: 'kept',
      });
      await tx.send(webhooksQueue, body, options);
      return body.webhookId;
    });
    await attempts(webhooks, webhookId, 1);
    assert.equal(receiver.requests.length, 1);
    assert.equal((JSON.parse(receiver.requests[0]!.body) as { data: unknown }).data, 'kept');
    assert.ok(verify(receiver.requests[0]!.body, receiver.requests[0]!.headers, secret));
  });

  it('signs with per-delivery secrets and delivers a repeated webhook id once', async (t) => {
    const { receiver, webhooks } = await setup(t);
    const own = [generateSecret(), generateSecret()];
    const input = { url: receiver.url, event: 'ping', payload: 1, secret: own, webhookId: 'order-7-paid' };
    assert.deepEqual(await webhooks.enqueue(input), { webhookId: 'order-7-paid', duplicate: false });
    assert.deepEqual(await webhooks.enqueue(input), { webhookId: 'order-7-paid', duplicate: true });
    await attempts(webhooks, 'order-7-paid', 1);
    const [request] = receiver.requests;
    assert.equal(String(request!.headers['webhook-signature']).split(' ').length, 2);
    assert.ok(verify(request!.body, request!.headers, own[1]!));
    assert.throws(() => verify(request!.body, request!.headers, secret), /no v1 signature matches/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(receiver.requests.length, 1);
  });

  it('validates what is enqueued', async (t) => {
    const { spool, receiver, webhooks } = await setup(t);
    const valid = { url: receiver.url, event: 'ping', payload: 1 };
    for (const bad of [
      { ...valid, url: 'ftp://example.com/' },
      { ...valid, url: 'not a url' },
      { ...valid, event: '' },
      { ...valid, secret: 'whsec_short' },
      { ...valid, webhookId: 'has space' },
    ]) {
      await assert.rejects(webhooks.enqueue(bad), InvalidArgumentError, JSON.stringify(bad));
    }
    const unsigned = new Webhooks(spool, { allowPrivateNetworks: true });
    await assert.rejects(unsigned.enqueue(valid), /no signing secret/);
  });

  it('lists logged attempts with filters and a cursor', async (t) => {
    const { receiver, webhooks } = await setup(t);
    for (const event of ['a', 'b', 'a']) await webhooks.enqueue({ url: receiver.url, event, payload: 1 });
    await until(async () => (await webhooks.listDeliveries()).items.length === 3);
    const page = await webhooks.listDeliveries({ event: 'a', limit: 1 });
    assert.equal(page.items.length, 1);
    assert.notEqual(page.next, null);
    const rest = await webhooks.listDeliveries({ event: 'a', cursor: page.next! });
    assert.equal(rest.items.length, 1);
    assert.equal(rest.next, null);
    assert.ok(rest.items[0]!.offset > page.items[0]!.offset);
    assert.equal((await webhooks.listDeliveries({ since: Date.now() + 60_000 })).items.length, 0);
    assert.equal((await webhooks.listDeliveries({ outcome: 'delivered' })).items.length, 3);
  });
});
