/**
 * The workers registry over real HTTP on loopback: `GET /v1/workers` (read or admin) lists the
 * server process's consumers with ISO times and the stale flag, `DELETE /v1/workers/{id}` (admin)
 * removes a record and answers a 404 problem for an unknown id; `client.workers` and the
 * `spool workers` commands (over HTTP and on a data directory) do the same.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SpoolClient, SpoolClientError } from '../../src/client/index.js';
import type { QueueConsumer } from '../../src/engine/queue-consumer.js';
import { parseTokenList } from '../../src/server/auth.js';
import { WorkerList } from '../../src/server/schemas/workers.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import type { WorkerHeartbeat } from '../../src/store/port.js';
import { json, runSpool } from '../cli/run.js';
import { tempDir } from '../helpers.js';
import { startTestServer, type TestServer } from './helpers.js';

/** A worker of a process that died: a heartbeat interval of 1 ms makes it stale at once. */
function deadWorker(id: string): WorkerHeartbeat {
  return {
    id,
    kind: 'remote-worker',
    host: 'gone-host',
    pid: 999,
    serves: { jobTypes: ['resize'] },
    concurrency: 2,
    inFlight: 1,
    processed: 7,
    startedAt: Date.now() - 60_000,
    heartbeatIntervalMs: 1,
  };
}

describe('workers registry over HTTP', () => {
  let t: TestServer;
  let consumer: QueueConsumer;
  before(async () => {
    t = await startTestServer({ tokens: parseTokenList('r:read; a:admin; p:produce') });
    consumer = (await t.spool.queue('emails')).process(() => {}, { concurrency: 3 });
    await t.spool.workers.heartbeat();
  });
  after(async () => {
    await consumer.close();
    await t.dispose();
  });

  it('GET /v1/workers lists live and stale workers; DELETE removes one, 404 for an unknown id', async () => {
    await t.spool.store.saveWorkers([deadWorker('dead-1')]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const listed = await t.call('GET', '/v1/workers', { token: 'r', returns: WorkerList });
    assert.equal(listed.status, 200);
    const live = listed.body.items.find((worker) => worker.kind === 'queue-consumer')!;
    assert.deepEqual(live.serves, { queue: 'emails' });
    assert.equal(live.concurrency, 3);
    assert.equal(live.pid, process.pid);
    assert.equal(live.stale, false);
    assert.ok(Math.abs(Date.parse(live.lastSeenAt) - Date.now()) < 60_000, live.lastSeenAt);
    assert.match(live.lastSeenAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const dead = listed.body.items.find((worker) => worker.id === 'dead-1')!;
    assert.equal(dead.stale, true);
    assert.deepEqual(dead.serves, { jobTypes: ['resize'] });

    assert.equal((await t.call('GET', '/v1/workers', { token: 'p' })).status, 403);
    assert.equal((await t.call('GET', '/v1/workers')).status, 401);
    const refused = await t.call('DELETE', '/v1/workers/dead-1', { token: 'r' });
    assert.equal(refused.status, 403);
    assert.equal((refused.body as { requiredScope: string }).requiredScope, 'admin');

    assert.equal((await t.call('DELETE', '/v1/workers/dead-1', { token: 'a' })).status, 204);
    const again = await t.call('DELETE', '/v1/workers/dead-1', { token: 'a' });
    assert.equal(again.status, 404);
    assert.equal(again.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal((again.body as { code: string }).code, 'SPOOL_WORKER_NOT_FOUND');
    const after = await t.call('GET', '/v1/workers', { token: 'a', returns: WorkerList });
    assert.deepEqual(
      after.body.items.map((worker) => worker.kind),
      ['queue-consumer'],
    );
  });

  it('client.workers lists and removes; an unknown id is SPOOL_WORKER_NOT_FOUND', async () => {
    await t.spool.store.saveWorkers([deadWorker('dead-2')]);
    const client = new SpoolClient({ url: t.url, token: 'a' });
    try {
      const workers = await client.workers.list();
      assert.ok(workers.some((worker) => worker.id === 'dead-2'));
      await client.workers.remove('dead-2');
      assert.ok(!(await client.workers.list()).some((worker) => worker.id === 'dead-2'));
      await assert.rejects(
        client.workers.remove('dead-2'),
        (error: unknown) => error instanceof SpoolClientError && error.code === 'SPOOL_WORKER_NOT_FOUND',
      );
    } finally {
      await client.close();
    }
  });

  it('spool workers list and remove over HTTP', async () => {
    await t.spool.store.saveWorkers([deadWorker('dead-3')]);
    const env = { SPOOL_URL: t.url, SPOOL_TOKEN: 'a' };
    const table = await runSpool(['workers', 'list'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+KIND\s+HOST\s+PID\s+SERVES/);
    assert.match(table.stdout, /dead-3\s+remote-worker\s+gone-host\s+999\s+jobs: resize/);
    assert.match(table.stdout, /STALE/);
    assert.match(table.stdout, /queue-consumer .*emails\s+3\s+/);
    assert.match(table.stderr, /1 stale/);
    const listed = json<{ items: { id: string; stale: boolean }[] }>(
      await runSpool(['workers', 'list', '--json'], env),
    );
    assert.equal(listed.items.find((worker) => worker.id === 'dead-3')?.stale, true);
    const removed = await runSpool(['workers', 'remove', 'dead-3'], env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed worker dead-3/);
    const unknown = await runSpool(['workers', 'remove', 'dead-3'], env);
    assert.equal(unknown.code, 3, 'not found');
    assert.match(unknown.stderr, /SPOOL_WORKER_NOT_FOUND/);
  });
});

describe('spool workers on a data directory', () => {
  it('lists the workers recorded in the file, and removes one', async () => {
    const { dir, cleanup } = tempDir('spool-cli-workers-');
    try {
      const store = await openSqliteStore({ path: join(dir, 'spool.db') });
      await store.saveWorkers([deadWorker('dead-4')]);
      await store.close();
      const env = { SPOOL_DATA: dir };
      const listed = json<{ items: { id: string; host: string; stale: boolean }[] }>(
        await runSpool(['workers', 'list', '--json'], env),
      );
      assert.deepEqual(
        listed.items.map(({ id, host, stale }) => ({ id, host, stale })),
        [{ id: 'dead-4', host: 'gone-host', stale: true }],
      );
      assert.equal((await runSpool(['workers', 'remove', 'dead-4'], env)).code, 0);
      const empty = await runSpool(['workers', 'list'], env);
      assert.equal(empty.code, 0);
      assert.match(empty.stderr, /no workers registered/);
    } finally {
      cleanup();
    }
  });
});
