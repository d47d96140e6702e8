/**
 * Spool's own queues and topics (`spool.…`, `jobs.…`) through the public API: readable, their dead
 * letters redrivable, and every change refused with 403 `SPOOL_RESERVED_NAME` whatever the
 * token — so that deleting `spool.webhooks` or `spool.events` can no longer break adding jobs and
 * the event streams until a restart. The engine refuses deletes and purges itself.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReservedNameError } from '../../src/core/errors.js';
import { isReservedName } from '../../src/engine/reserved-names.js';
import { parseTokenList } from '../../src/server/auth.js';
import { JobAccepted } from '../../src/server/schemas/jobs.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

describe("reserved names: Spool's own queues and topics over HTTP", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      tokens: parseTokenList('admin:admin;all:read,produce,consume,admin;reader:read;meta:'),
    });
    // A job type's queue (`jobs.thumb`) exists once a job of that type was added.
    const added = await t.call('POST', '/v1/jobs', {
      body: { type: 'thumb' },
      token: 'all',
      returns: JobAccepted,
    });
    assert.equal(added.status, 202);
  });
  after(() => t.dispose());

  it('the internal names exist: the events log, webhook deliveries, a job type’s queue', async () => {
    for (const path of ['/v1/queues/spool.webhooks', '/v1/queues/jobs.thumb', '/v1/topics/spool.events']) {
      assert.equal((await t.call('GET', path, { token: 'meta' })).status, 200, path);
    }
  });

  it('every change is 403 SPOOL_RESERVED_NAME, even with every scope, existing or not', async () => {
    const refused: Array<[string, string, unknown?]> = [
      ['DELETE', '/v1/queues/spool.webhooks'],
      ['DELETE', '/v1/queues/jobs.thumb'],
      ['DELETE', '/v1/topics/spool.events'],
      ['DELETE', '/v1/topics/spool.webhook-deliveries'],
      ['PUT', '/v1/queues/spool.webhooks', { maxAttempts: 1 }],
      ['PUT', '/v1/queues/jobs.thumb', {}],
      ['PUT', '/v1/queues/spool.brand-new', {}],
      ['PUT', '/v1/topics/spool.events', { retentionMs: 1000 }],
      ['PUT', '/v1/topics/jobs.brand-new', {}],
      ['POST', '/v1/queues/jobs.thumb/purge'],
      ['POST', '/v1/queues/spool.webhooks/purge'],
      ['POST', '/v1/queues/spool.webhooks/messages', { body: { url: 'https://example.com' } }],
      ['POST', '/v1/queues/jobs.thumb/messages', { messages: [{ body: { jobId: 'forged' } }] }],
      ['POST', '/v1/queues/jobs.thumb/receive', { max: 10 }],
      ['POST', '/v1/queues/spool.webhooks/receive', {}],
      ['POST', '/v1/queues/jobs.thumb/ack', { receipt: 'r' }],
      ['POST', '/v1/queues/jobs.thumb/nack', { receipt: 'r' }],
      ['POST', '/v1/queues/jobs.thumb/release', { receipt: 'r' }],
      ['POST', '/v1/queues/jobs.thumb/dead-letter', { receipt: 'r', reason: 'x' }],
      ['POST', '/v1/queues/jobs.thumb/extend', { receipt: 'r' }],
      ['POST', '/v1/topics/spool.events/events', { body: { event: 'job.completed', jobId: 'forged' } }],
      ['POST', '/v1/topics/spool.events/groups/mine/poll', { member: 'm1' }],
      ['POST', '/v1/topics/spool.events/groups/mine/commit', { member: 'm1', offsets: { '0': 0 } }],
      ['POST', '/v1/topics/spool.events/groups/mine/leave', { member: 'm1' }],
      ['POST', '/v1/topics/spool.events/groups/webhook-subscriptions-x/seek', { to: 'earliest' }],
      ['DELETE', '/v1/topics/spool.events/groups/webhook-subscriptions-x'],
    ];
    for (const [method, path, body] of refused) {
      const answer = await t.call(method, path, { token: 'all', ...(body === undefined ? {} : { body }) });
      const problem = assertProblem(answer, 403, 'SPOOL_RESERVED_NAME', path);
      const name = decodeURIComponent(path.split('/')[3]!);
      assert.equal(problem.queue ?? problem.topic, name, `${method} ${path}`);
      assert.match(problem.detail, /Spool's own/, `${method} ${path}`);
    }
  });

  it('the token check comes first: no token is 401, a token without the scope 403 SPOOL_FORBIDDEN', async () => {
    assertProblem(await t.call('DELETE', '/v1/queues/spool.webhooks'), 401, 'SPOOL_UNAUTHORIZED');
    assertProblem(
      await t.call('DELETE', '/v1/queues/spool.webhooks', { token: 'reader' }),
      403,
      'SPOOL_FORBIDDEN',
    );
  });

  it('nothing was broken: jobs are added, the event stream answers, the queues are there', async () => {
    const added = await t.call('POST', '/v1/jobs', {
      body: { type: 'thumb' },
      token: 'all',
      returns: JobAccepted,
    });
    assert.equal(added.status, 202);
    const stream = await fetch(`${t.url}/v1/events`, {
      method: 'HEAD',
      headers: { authorization: 'Bearer reader' },
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(stream.status, 200);
    const webhooks = await t.call('GET', '/v1/queues/spool.webhooks', { token: 'admin' });
    assert.equal((webhooks.body as { maxAttempts: number }).maxAttempts > 1, true, 'configuration unchanged');
    const queued = await t.call('GET', '/v1/queues/jobs.thumb', { token: 'admin' });
    assert.equal((queued.body as { stats: { ready: number } }).stats.ready, 2, 'both jobs still queued');
    assert.equal(await t.spool.store.getQueue('spool.brand-new'), null);
    assert.equal(await t.spool.store.getTopic('jobs.brand-new'), null);
  });

  it('reading stays open: configuration, messages, dead letters, partition events', async () => {
    const reads: Array<[string, string]> = [
      ['/v1/queues/spool.webhooks', 'meta'],
      ['/v1/topics/spool.events', 'meta'],
      ['/v1/queues/jobs.thumb/messages', 'reader'],
      ['/v1/queues/spool.webhooks/dlq', 'admin'],
      ['/v1/queues/spool.webhooks/dlq', 'reader'],
      ['/v1/topics/spool.events/partitions/0/events?from=0', 'reader'],
    ];
    for (const [path, token] of reads) {
      assert.equal((await t.call('GET', path, { token })).status, 200, `${path} with ${token}`);
    }
    const events = await t.call('GET', '/v1/topics/spool.events/partitions/0/events?from=0', {
      token: 'admin',
    });
    assert.ok((events.body as { events: unknown[] }).events.length >= 2, 'the job events are there');
  });

  it('an admin can still redrive and purge dead letters of spool.webhooks', async () => {
    const redriven = await t.call('POST', '/v1/queues/spool.webhooks/redrive', { token: 'admin' });
    assert.deepEqual(redriven.body, { redriven: 0 });
    const purged = await t.call('POST', '/v1/queues/spool.webhooks/dlq/purge', { token: 'admin' });
    assert.deepEqual(purged.body, { purged: 0 });
  });

  it('the engine refuses deleting and purging them for every caller', async () => {
    await assert.rejects(t.spool.deleteQueue('spool.webhooks'), ReservedNameError);
    await assert.rejects(t.spool.deleteTopic('spool.events'), ReservedNameError);
    await assert.rejects((await t.spool.openQueue('jobs.thumb')).purge(), ReservedNameError);
    assert.ok(await t.spool.store.getQueue('spool.webhooks'));
    assert.ok(
      isReservedName('jobs.x') &&
        isReservedName('spool.x') &&
        !isReservedName('jobs') &&
        !isReservedName('spoolx'),
    );
  });
});
