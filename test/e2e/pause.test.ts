/**
 * Pausing over HTTP: a queue (sends land, receives get nothing, a resume delivers) and a job type
 * (adds land, claims get nothing), each persisted, idempotent and shown in the stats.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

interface QueueAnswer {
  name: string;
  stats: { ready: number; paused: boolean; pausedAt: string | null };
}

describe('pause and resume over HTTP', () => {
  let t: TestServer;
  afterEach(() => t.dispose());

  it('a paused queue takes sends and delivers nothing until resumed', async () => {
    t = await startTestServer();
    await t.call('PUT', '/v1/queues/renders', { body: {} });
    await t.call('POST', '/v1/queues/renders/messages', { body: { body: { n: 1 } } });
    const paused = await t.call('POST', '/v1/queues/renders/pause');
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    const { stats } = paused.body as QueueAnswer;
    assert.equal(stats.paused, true);
    assert.ok(stats.pausedAt !== null && !Number.isNaN(Date.parse(stats.pausedAt)));
    const again = (await t.call('POST', '/v1/queues/renders/pause')).body as QueueAnswer;
    assert.equal(again.stats.pausedAt, stats.pausedAt, 'pausing again keeps the first time');

    const sent = await t.call('POST', '/v1/queues/renders/messages', { body: { body: { n: 2 } } });
    assert.equal(sent.status, 201, 'a paused queue still takes sends');
    const none = await t.call('POST', '/v1/queues/renders/receive', { body: { max: 10, waitMs: 300 } });
    assert.deepEqual((none.body as { messages: unknown[] }).messages, []);
    const listed = (await t.call('GET', '/v1/queues')).body as { items: QueueAnswer[] };
    const renders = listed.items.find((queue) => queue.name === 'renders');
    assert.deepEqual([renders?.stats.paused, renders?.stats.ready], [true, 2]);
    const stats2 = (await t.call('GET', '/v1/stats')).body as { queues: { name: string; paused: boolean }[] };
    assert.equal(stats2.queues.find((queue) => queue.name === 'renders')?.paused, true);

    const resumed = (await t.call('POST', '/v1/queues/renders/resume')).body as QueueAnswer;
    assert.deepEqual([resumed.stats.paused, resumed.stats.pausedAt], [false, null]);
    const got = await t.call('POST', '/v1/queues/renders/receive', { body: { max: 10, waitMs: 1_000 } });
    assert.equal((got.body as { messages: unknown[] }).messages.length, 2);

    assertProblem(await t.call('POST', '/v1/queues/no-such/pause'), 404, 'SPOOL_QUEUE_NOT_FOUND');
    assertProblem(await t.call('POST', '/v1/queues/jobs.render/pause'), 403, 'SPOOL_RESERVED_NAME');
  });

  it('a paused job type takes adds and hands no job to a worker until resumed', async () => {
    t = await startTestServer();
    const paused = await t.call('POST', '/v1/jobs/types/render/pause');
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal((paused.body as { paused: boolean }).paused, true);
    const added = await t.call('POST', '/v1/jobs', { body: { type: 'render', payload: { frame: 1 } } });
    assert.equal(added.status, 202);
    const claim = () =>
      t.call('POST', '/v1/jobs/claim', { body: { types: ['render'], max: 5, waitMs: 300 } });
    assert.deepEqual(((await claim()).body as { jobs: unknown[] }).jobs, []);
    const stats = (await t.call('GET', '/v1/stats')).body as {
      jobs: { byType: { type: string; byState: unknown; paused: boolean }[] };
    };
    assert.deepEqual(stats.jobs.byType, [
      { type: 'render', byState: stats.jobs.byType[0]!.byState, paused: true },
    ]);

    const resumed = await t.call('POST', '/v1/jobs/types/render/resume');
    assert.deepEqual(resumed.body, { type: 'render', paused: false, pausedAt: null });
    assert.equal(((await claim()).body as { jobs: unknown[] }).jobs.length, 1);
    assertProblem(await t.call('POST', '/v1/jobs/types/bad%20type/pause'), 400, 'SPOOL_INVALID_ARGUMENT');
  });
});
