/**
 * Queues and topics created on first use: send, receive and publish create a missing queue or
 * topic with the default configuration, unless the server runs with `autoCreate: false`
 * (`spool serve --no-auto-create`), which keeps the 404. Internal names (`spool.*`, `jobs.*`)
 * are never created that way; bad names are refused either way.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { queueDefaults, topicDefaults } from '../../src/core/options.js';
import type { Spool } from '../../src/engine/spool.js';
import { openSpool } from '../../src/open-spool.js';
import { ReceiveResponse } from '../../src/server/schemas/queues.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { tempDir } from '../helpers.js';
import { call } from './helpers.js';

interface Running {
  url: string;
  spool: Spool;
  dispose(): Promise<void>;
}

async function start(autoCreate?: boolean): Promise<Running> {
  const { dir, cleanup } = tempDir('spool-auto-create-');
  const spool = await openSpool({ path: join(dir, 'spool.db'), safetyPollMs: 100 });
  let server: RunningServer;
  try {
    server = await startServer({ spool, port: 0, ...(autoCreate === undefined ? {} : { autoCreate }) });
  } catch (error) {
    await spool.close();
    cleanup();
    throw error;
  }
  return {
    url: server.url,
    spool,
    async dispose() {
      await server.close();
      await spool.close({ timeoutMs: 2000 });
      cleanup();
    },
  };
}

describe('auto-create on (the default)', () => {
  let s: Running;
  before(async () => (s = await start()));
  after(() => s.dispose());

  it('a send creates the queue with the defaults, and the message is stored', async () => {
    const sent = await call(s.url, 'POST', '/v1/queues/orders/messages', { body: { body: { id: 1 } } });
    assert.equal(sent.status, 201);
    const queue = await call(s.url, 'GET', '/v1/queues/orders');
    assert.equal(queue.status, 200);
    const body = queue.body as { maxAttempts: number; visibilityTimeoutMs: number; stats: { ready: number } };
    assert.equal(body.maxAttempts, queueDefaults.maxAttempts);
    assert.equal(body.visibilityTimeoutMs, queueDefaults.visibilityTimeoutMs);
    assert.equal(body.stats.ready, 1);
  });

  it('a batch send creates the queue, and is still all or nothing', async () => {
    const bad = await call(s.url, 'POST', '/v1/queues/batched/messages', {
      body: { messages: [{ body: 1 }, { body: 2, delayMs: -1 }] },
    });
    assert.equal(bad.status, 400);
    const sent = await call(s.url, 'POST', '/v1/queues/batched/messages', {
      body: { messages: [{ body: 1 }, { body: 2 }] },
    });
    assert.equal(sent.status, 201);
    const queue = await call(s.url, 'GET', '/v1/queues/batched');
    assert.equal((queue.body as { stats: { ready: number } }).stats.ready, 2);
  });

  it('a receive creates the queue and answers no messages', async () => {
    const received = await call(s.url, 'POST', '/v1/queues/inbox/receive', {
      body: {},
      returns: ReceiveResponse,
    });
    assert.equal(received.status, 200);
    assert.deepEqual(received.body.messages, []);
    assert.equal((await call(s.url, 'GET', '/v1/queues/inbox')).status, 200);
  });

  it('a publish creates the topic with the defaults', async () => {
    const published = await call(s.url, 'POST', '/v1/topics/events/events', {
      body: { body: { type: 'signup' }, key: 'u1' },
    });
    assert.equal(published.status, 201);
    const topic = await call(s.url, 'GET', '/v1/topics/events');
    assert.equal(topic.status, 200);
    assert.equal((topic.body as { partitions: number }).partitions, topicDefaults.partitions);
  });

  it('a configured queue keeps its configuration', async () => {
    await call(s.url, 'PUT', '/v1/queues/configured', { body: { maxAttempts: 2 } });
    await call(s.url, 'POST', '/v1/queues/configured/messages', { body: { body: 1 } });
    const queue = await call(s.url, 'GET', '/v1/queues/configured');
    assert.equal((queue.body as { maxAttempts: number }).maxAttempts, 2);
  });

  it('internal names are never created: 403 SPOOL_RESERVED_NAME (see reserved-names.test.ts)', async () => {
    for (const name of ['spool.mine', 'jobs.mine']) {
      const sent = await call(s.url, 'POST', `/v1/queues/${name}/messages`, { body: { body: 1 } });
      assert.equal(sent.status, 403, name);
      assert.equal((sent.body as { code: string }).code, 'SPOOL_RESERVED_NAME');
      const received = await call(s.url, 'POST', `/v1/queues/${name}/receive`, { body: {} });
      assert.equal(received.status, 403, name);
      const published = await call(s.url, 'POST', `/v1/topics/${name}/events`, { body: { body: 1 } });
      assert.equal(published.status, 403, name);
      assert.equal((published.body as { code: string }).code, 'SPOOL_RESERVED_NAME');
    }
    assert.equal(await s.spool.store.getQueue('spool.mine'), null);
    assert.equal(await s.spool.store.getTopic('jobs.mine'), null);
  });

  it('bad names are refused with 400 and create nothing', async () => {
    const sent = await call(s.url, 'POST', `/v1/queues/${encodeURIComponent('no spaces')}/messages`, {
      body: { body: 1 },
    });
    assert.equal(sent.status, 400);
    assert.equal((sent.body as { code: string }).code, 'SPOOL_INVALID_ARGUMENT');
    const long = await call(s.url, 'POST', `/v1/topics/${'x'.repeat(201)}/events`, { body: { body: 1 } });
    assert.equal(long.status, 400);
    assert.equal((await s.spool.listQueues()).filter((q) => q.name.includes(' ')).length, 0);
  });

  it('settling, inspecting and groups still need the name to exist', async () => {
    const ack = await call(s.url, 'POST', '/v1/queues/never/ack', { body: { receipt: 'x' } });
    assert.equal(ack.status, 404);
    assert.equal((await call(s.url, 'GET', '/v1/queues/never')).status, 404);
    const poll = await call(s.url, 'POST', '/v1/topics/never/groups/g/poll', { body: { member: 'm' } });
    assert.equal(poll.status, 404);
    assert.equal(await s.spool.store.getQueue('never'), null);
    assert.equal(await s.spool.store.getTopic('never'), null);
  });
});

describe('auto-create off (spool serve --no-auto-create)', () => {
  let s: Running;
  before(async () => (s = await start(false)));
  after(() => s.dispose());

  it('send, receive and publish answer 404 and create nothing', async () => {
    const sent = await call(s.url, 'POST', '/v1/queues/orders/messages', { body: { body: 1 } });
    assert.equal(sent.status, 404);
    assert.equal((sent.body as { code: string }).code, 'SPOOL_QUEUE_NOT_FOUND');
    const batch = await call(s.url, 'POST', '/v1/queues/orders/messages', {
      body: { messages: [{ body: 1 }] },
    });
    assert.equal(batch.status, 404);
    const received = await call(s.url, 'POST', '/v1/queues/orders/receive', { body: {} });
    assert.equal(received.status, 404);
    const published = await call(s.url, 'POST', '/v1/topics/events/events', { body: { body: 1 } });
    assert.equal(published.status, 404);
    assert.equal((published.body as { code: string }).code, 'SPOOL_TOPIC_NOT_FOUND');
    assert.equal(await s.spool.store.getQueue('orders'), null);
    assert.equal(await s.spool.store.getTopic('events'), null);
  });

  it('after PUT they work', async () => {
    assert.equal((await call(s.url, 'PUT', '/v1/queues/orders', { body: {} })).status, 201);
    assert.equal(
      (await call(s.url, 'POST', '/v1/queues/orders/messages', { body: { body: 1 } })).status,
      201,
    );
    assert.equal((await call(s.url, 'PUT', '/v1/topics/events', { body: {} })).status, 201);
    assert.equal((await call(s.url, 'POST', '/v1/topics/events/events', { body: { body: 1 } })).status, 201);
  });
});
