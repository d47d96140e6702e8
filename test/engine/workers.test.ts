/**
 * The workers registry (`spool.workers`): every in-process consumer, subscription, job worker and
 * polled group member registers in the store on start and leaves it on a clean close; heartbeats
 * of all of a process's workers are one store write per interval; a worker unseen for three
 * intervals is listed as stale and swept by upkeep after the retention; and two processes on one
 * SQLite file (real child process) or two instances on one PostgreSQL schema see each other's.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { createSpool } from '../../src/engine/spool.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { openTestSpool, tempDir, tick, until } from '../helpers.js';
import { postgresUrl, SchemaJanitor } from '../stores/postgres/fixtures.js';

describe('workers registry (engine)', () => {
  it('registers consumers, subscriptions, job workers and polled members with what they serve', async () => {
    const t = await openTestSpool({ workerHeartbeatMs: 60_000 });
    const { spool } = t;
    try {
      const emails = await spool.queue('emails');
      let release!: () => void;
      const blocked = new Promise<void>((resolve) => (release = resolve));
      const consumer = emails.process(() => blocked, { concurrency: 3 });
      const orders = await spool.topic('orders', { partitions: 2 });
      const subscription = orders.subscribe('billing', () => {});
      await subscription.ready();
      const jobs = new Jobs(spool);
      jobs.define('resize', () => ({ ok: true }), { concurrency: 2 });
      await jobs.start();
      await orders.poll('audit', { memberId: 'remote-1', max: 10, waitMs: 0 });
      await emails.send({ to: 'ada' });
      await until(() => consumer.inFlight === 1, 5_000, 'the message in flight');
      await spool.workers.heartbeat();

      const workers = await spool.workers.list();
      const byKind = new Map(workers.map((worker) => [worker.kind, worker]));
      const queueConsumer = byKind.get('queue-consumer')!;
      assert.deepEqual(queueConsumer.serves, { queue: 'emails' });
      assert.equal(queueConsumer.concurrency, 3);
      assert.equal(queueConsumer.inFlight, 1, 'counters are sampled at the heartbeat');
      assert.equal(queueConsumer.pid, process.pid);
      assert.equal(queueConsumer.stale, false);
      assert.deepEqual(byKind.get('subscription')!.serves, {
        topic: 'orders',
        group: 'billing',
        member: subscription.memberId,
      });
      assert.equal(byKind.get('subscription')!.concurrency, 2, 'one per partition it reads');
      assert.deepEqual(byKind.get('job-worker')!.serves, { jobTypes: ['resize'] });
      assert.equal(byKind.get('job-worker')!.concurrency, 2);
      assert.deepEqual(byKind.get('group-member')!.serves, {
        topic: 'orders',
        group: 'audit',
        member: 'remote-1',
      });
      assert.equal(workers.length, 4, 'the job worker is not listed again as a queue consumer');

      release();
      await until(() => consumer.processed === 1, 5_000, 'the message processed');
      await consumer.close();
      await orders.leave('audit', 'remote-1');
      const left = (await spool.workers.list()).map((worker) => worker.kind).sort();
      assert.deepEqual(left, ['job-worker', 'subscription'], 'a clean close removes the record');
      await jobs.close();
      await spool.close();
      // Spool.close removed the rest.
      const store = await openSqliteStore({ path: t.path });
      try {
        assert.deepEqual(await store.listWorkers(), []);
      } finally {
        await store.close();
      }
    } finally {
      await t.dispose();
    }
  });

  it('heartbeats every worker of the process in one store write per interval', async () => {
    const clock = new TestClock();
    const t = await openTestSpool({ clock, workerHeartbeatMs: 5_000 });
    const { spool } = t;
    try {
      const writes: number[] = [];
      const store = spool.store;
      const save = store.saveWorkers.bind(store);
      store.saveWorkers = (workers) => {
        writes.push(workers.length);
        return save(workers);
      };
      const queue = await spool.queue('q');
      const consumers = [1, 2, 3].map(() => queue.process(() => {}));
      const remote = spool.workers.register({
        kind: 'remote-worker',
        serves: { jobTypes: ['email'] },
        concurrency: 8,
        host: 'worker-host',
        pid: 77,
      });
      await tick(10);
      assert.deepEqual(writes, [4], 'registrations made together share one write');
      for (let i = 0; i < 100; i++) remote.update({ inFlight: i % 8, processed: i });
      await clock.advance(5_000);
      await tick(10);
      await clock.advance(5_000);
      await tick(10);
      assert.deepEqual(writes, [4, 4, 4], 'one write per interval, whatever the updates');
      const listed = (await spool.workers.list()).find((worker) => worker.id === remote.id)!;
      assert.equal(listed.host, 'worker-host');
      assert.equal(listed.pid, 77);
      assert.equal(listed.processed, 99);
      assert.equal(listed.inFlight, 3);
      assert.equal(listed.lastSeenAt, clock.now());
      await Promise.all(consumers.map((consumer) => consumer.close()));
      await remote.close();
      assert.deepEqual(await spool.workers.list(), []);
      await clock.advance(15_000);
      await tick(10);
      assert.equal(writes.length, 3, 'no heartbeat while nothing is registered');
    } finally {
      await t.dispose();
    }
  });

  it('a worker unseen for three intervals is stale, kept, then swept by upkeep; remove deletes it', async () => {
    const clock = new TestClock();
    const t = await openTestSpool({ clock, workerHeartbeatMs: 5_000, workerRetentionMs: 3_600_000 });
    const { spool } = t;
    try {
      const dead = spool.workers.register({ kind: 'queue-consumer', serves: { queue: 'a' }, concurrency: 1 });
      const other = spool.workers.register({
        kind: 'queue-consumer',
        serves: { queue: 'b' },
        concurrency: 1,
      });
      await spool.workers.heartbeat();
      // Simulate a process that died: its registration stops heartbeating, without a close.
      const store = spool.store;
      const save = store.saveWorkers.bind(store);
      store.saveWorkers = (workers) => save(workers.filter((worker) => worker.id !== dead.id));
      await clock.advance(15_000);
      await tick(10);
      let listed = await spool.workers.list();
      assert.equal(listed.find((worker) => worker.id === dead.id)!.stale, false, 'exactly 3 intervals');
      await clock.advance(5_000);
      await tick(10);
      listed = await spool.workers.list();
      assert.equal(listed.find((worker) => worker.id === dead.id)!.stale, true);
      assert.equal(listed.find((worker) => worker.id === other.id)!.stale, false);
      await spool.maintain();
      assert.equal((await spool.workers.list()).length, 2, 'a stale worker is kept for a while');
      await clock.advance(3_600_000);
      await tick(10);
      await spool.maintain();
      assert.deepEqual(
        (await spool.workers.list()).map((worker) => worker.id),
        [other.id],
        'swept after the retention',
      );
      await spool.workers.remove(other.id);
      assert.deepEqual(await spool.workers.list(), []);
      await assert.rejects(spool.workers.remove(other.id), { code: 'SPOOL_WORKER_NOT_FOUND' });
    } finally {
      await t.dispose();
    }
  });

  it('a polled group member that stops polling leaves the registry after its session', async () => {
    const clock = new TestClock();
    const t = await openTestSpool({ clock, workerHeartbeatMs: 5_000 });
    const { spool } = t;
    try {
      const topic = await spool.topic('feed', { partitions: 1 });
      await topic.publish({ n: 1 });
      const polled = await topic.poll('g', { memberId: 'm', max: 10, waitMs: 0, sessionTimeoutMs: 10_000 });
      assert.equal(polled.events.length, 1);
      await topic.poll('g', { memberId: 'm', max: 10, waitMs: 0, cursor: polled.cursor });
      await spool.workers.heartbeat();
      const [member] = await spool.workers.list();
      assert.equal(member?.kind, 'group-member');
      assert.equal(member?.processed, 1);
      await clock.advance(15_000);
      await spool.workers.heartbeat();
      assert.deepEqual(await spool.workers.list(), []);
    } finally {
      await t.dispose();
    }
  });

  it('two processes on one SQLite file see each other’s workers; a killed one goes stale', async () => {
    const { dir, cleanup } = tempDir();
    const path = join(dir, 'spool.db');
    const spool = createSpool({ store: await openSqliteStore({ path }), workerHeartbeatMs: 100 });
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'workers-process.ts'), path],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const queue = await spool.queue('parent-queue');
      const consumer = queue.process(() => {}, { concurrency: 2 });
      await until(
        async () => (await spool.workers.list()).some((worker) => worker.pid === child.pid),
        20_000,
        "the child's consumer in the parent's list",
      );
      const theirs = (await spool.workers.list()).find((worker) => worker.pid === child.pid)!;
      assert.deepEqual(theirs.serves, { queue: 'child-queue' });
      assert.equal(theirs.concurrency, 5);
      // The child prints what it sees once our consumer is in its list.
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await until(() => output.includes('\n'), 20_000, "the parent's consumer in the child's list");
      const seen = JSON.parse(output.split('\n')[0]!) as { pid: number; serves: unknown }[];
      assert.ok(seen.some((worker) => worker.pid === process.pid));
      child.kill('SIGKILL');
      await once(child, 'exit');
      await until(
        async () => (await spool.workers.list()).find((worker) => worker.pid === child.pid)?.stale === true,
        5_000,
        "the killed child's consumer to go stale",
      );
      assert.equal((await spool.workers.list()).find((worker) => worker.pid === process.pid)?.stale, false);
      await consumer.close();
    } finally {
      child.kill('SIGKILL');
      await spool.close();
      cleanup();
    }
  });
});

describe('workers registry (PostgreSQL)', () => {
  const janitor = new SchemaJanitor();
  after(() => janitor.end());

  it('two instances on one schema see each other’s workers, and a clean close removes them', async () => {
    const schema = janitor.schema();
    const open = async () =>
      createSpool({ store: await openPostgresStore({ connectionString: postgresUrl, schema }) });
    const a = await open();
    const b = await open();
    try {
      const consumer = (await a.queue('emails')).process(() => {}, { concurrency: 4 });
      const subscription = (await b.topic('orders')).subscribe('billing', () => {});
      await subscription.ready();
      await a.workers.heartbeat();
      await b.workers.heartbeat();
      const seenByA = await a.workers.list();
      const seenByB = await b.workers.list();
      assert.deepEqual(seenByA.map((worker) => worker.kind).sort(), ['queue-consumer', 'subscription']);
      assert.deepEqual(seenByB, seenByA);
      await consumer.close();
      assert.deepEqual(
        (await b.workers.list()).map((worker) => worker.kind),
        ['subscription'],
      );
    } finally {
      await a.close();
      await b.close();
    }
    const store = await openPostgresStore({ connectionString: postgresUrl, schema });
    try {
      assert.deepEqual(await store.listWorkers(), []);
    } finally {
      await store.close();
    }
  });
});
