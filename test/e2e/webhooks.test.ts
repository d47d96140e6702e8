import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Static } from '@sinclair/typebox';
import {
  DeliveryPage,
  DisabledEndpointList,
  EnableEndpointResponse,
} from '../../src/server/schemas/webhooks.js';
import { Webhooks } from '../../src/webhooks/delivery.js';
import { generateSecret } from '../../src/webhooks/signature.js';
import { until } from '../helpers.js';
import { type Answer, type ReceivedRequest, startReceiver } from '../webhooks/receiver.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

/** A server whose Webhooks (loopback allowed, fast retries) deliver to a loopback receiver. */
async function setup(t: TestContext, respond?: (request: ReceivedRequest, index: number) => Answer) {
  const receiver = await startReceiver(respond);
  let webhooks: Webhooks | undefined;
  const server = await startTestServer({
    tokens: [
      // The delivery log shows endpoints and errors: it takes the read scope (or admin).
      { token: 'reader', scopes: ['read'] },
      { token: 'ops', scopes: ['admin'] },
      { token: 'worker', scopes: ['produce', 'consume'] },
    ],
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
  t.after(async () => {
    await server.dispose();
    await receiver.close();
  });
  return { server, receiver, webhooks: webhooks! };
}

async function deliveries(server: TestServer, query: string) {
  const answer = await server.call('GET', `/v1/webhooks/deliveries${query}`, {
    token: 'reader',
    returns: DeliveryPage,
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}

describe('webhooks over HTTP', () => {
  it('lists delivery attempts in the log, filtered and paged', async (t) => {
    const { server, receiver, webhooks } = await setup(t);
    const first = await webhooks.enqueue({ url: receiver.url, event: 'job.completed', payload: { n: 1 } });
    const second = await webhooks.enqueue({ url: receiver.url, event: 'job.failed', payload: { n: 2 } });
    let page: Static<typeof DeliveryPage> = { items: [], next: null };
    await until(async () => (page = await deliveries(server, '')).items.length === 2, 10_000, 'two attempts');
    assert.equal(receiver.requests.length, 2);
    assert.deepEqual(
      page.items.map((item) => item.webhookId).sort(),
      [first.webhookId, second.webhookId].sort(),
    );
    for (const item of page.items) {
      assert.equal(item.url, receiver.url);
      assert.equal(item.status, 204);
      assert.equal(item.outcome, 'delivered');
      assert.equal(item.attempt, 1);
      assert.ok(!Number.isNaN(Date.parse(item.at)));
    }
    assert.equal(page.next, null);

    const byId = await deliveries(server, `?webhookId=${encodeURIComponent(first.webhookId)}`);
    assert.deepEqual(
      byId.items.map((item) => [item.webhookId, item.event]),
      [[first.webhookId, 'job.completed']],
    );
    const byEvent = await deliveries(server, '?event=job.failed&outcome=delivered');
    assert.deepEqual(
      byEvent.items.map((item) => item.webhookId),
      [second.webhookId],
    );
    assert.deepEqual((await deliveries(server, '?outcome=skipped')).items, []);

    const one = await deliveries(server, '?limit=1');
    assert.equal(one.items.length, 1);
    assert.equal(one.next, String(one.items[0]!.offset + 1));
    const rest = await deliveries(server, `?limit=1&cursor=${one.next}`);
    assert.equal(rest.items.length, 1);
    assert.notEqual(rest.items[0]!.webhookId, one.items[0]!.webhookId);

    assertProblem(
      await server.call('GET', '/v1/webhooks/deliveries?outcome=lost', { token: 'reader' }),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
    assertProblem(
      await server.call('GET', '/v1/webhooks/deliveries?cursor=abc', { token: 'reader' }),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
  });

  it('a 410 receiver is disabled and listed; enabling it (admin only) removes it from the list', async (t) => {
    const { server, receiver, webhooks } = await setup(t, () => ({ status: 410 }));
    const { webhookId } = await webhooks.enqueue({ url: receiver.url, event: 'job.completed', payload: {} });
    let page: Static<typeof DeliveryPage> = { items: [], next: null };
    await until(
      async () => (page = await deliveries(server, `?webhookId=${webhookId}`)).items.length === 1,
      10_000,
      'the attempt is logged',
    );
    assert.equal(page.items[0]!.status, 410);
    assert.equal(page.items[0]!.outcome, 'dead-lettered');

    const disabled = await server.call('GET', '/v1/webhooks/endpoints/disabled', {
      token: 'reader',
      returns: DisabledEndpointList,
    });
    assert.equal(disabled.status, 200);
    assert.deepEqual(
      disabled.body.items.map((item) => item.url),
      [receiver.url],
    );
    assert.match(disabled.body.items[0]!.reason, /410/);

    assertProblem(
      await server.call('POST', '/v1/webhooks/endpoints/enable', {
        token: 'reader',
        body: { url: receiver.url },
      }),
      403,
      'SPOOL_FORBIDDEN',
    );
    assertProblem(
      await server.call('POST', '/v1/webhooks/endpoints/enable', {
        token: 'ops',
        body: { url: 'not a url' },
      }),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
    const enabled = await server.call('POST', '/v1/webhooks/endpoints/enable', {
      token: 'ops',
      body: { url: receiver.url },
      returns: EnableEndpointResponse,
    });
    assert.equal(enabled.status, 200);
    assert.deepEqual(enabled.body, { url: receiver.url, enabled: true });
    const after = await server.call('GET', '/v1/webhooks/endpoints/disabled', {
      token: 'reader',
      returns: DisabledEndpointList,
    });
    assert.deepEqual(after.body.items, []);
    const again = await server.call('POST', '/v1/webhooks/endpoints/enable', {
      token: 'ops',
      body: { url: receiver.url },
      returns: EnableEndpointResponse,
    });
    assert.deepEqual(again.body, { url: receiver.url, enabled: false });
  });

  it("lists the attempts of one job's completion webhook (jobId, since)", async (t) => {
    const { server, receiver } = await setup(t);
    const finish = async () => {
      const added = await server.call('POST', '/v1/jobs', {
        token: 'worker',
        body: { type: 'render', callbackUrl: `${receiver.url}/done` },
      });
      assert.equal(added.status, 202, JSON.stringify(added.body));
      const claimed = await server.call('POST', '/v1/jobs/claim', {
        token: 'worker',
        body: { types: ['render'], max: 1, waitMs: 2_000 },
      });
      const [leased] = (claimed.body as { jobs: { job: { id: string }; lease: string }[] }).jobs;
      const done = await server.call('POST', `/v1/jobs/${leased!.job.id}/complete`, {
        token: 'worker',
        body: { lease: leased!.lease, result: { frames: 24 } },
      });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      return leased!.job.id;
    };
    const first = await finish();
    const second = await finish();
    await until(async () => (await deliveries(server, '')).items.length === 2, 10_000, 'two deliveries');
    const mine = await deliveries(server, `?jobId=${first}`);
    assert.deepEqual(
      mine.items.map((item) => [item.webhookId.startsWith(`${first}.`), item.event, item.outcome]),
      [[true, 'job.completed', 'delivered']],
    );
    assert.equal((await deliveries(server, `?jobId=${second}`)).items.length, 1);
    const later = new Date(Date.now() + 60_000).toISOString();
    assert.deepEqual((await deliveries(server, `?jobId=${first}&since=${later}`)).items, []);
  });

  it('works without a Webhooks given: the server opens its own (and delivers nothing)', async (t) => {
    const server = await startTestServer();
    t.after(() => server.dispose());
    assert.deepEqual((await server.call('GET', '/v1/webhooks/deliveries', { returns: DeliveryPage })).body, {
      items: [],
      next: null,
    });
    assert.deepEqual(
      (await server.call('GET', '/v1/webhooks/endpoints/disabled', { returns: DisabledEndpointList })).body,
      { items: [] },
    );
  });
});
