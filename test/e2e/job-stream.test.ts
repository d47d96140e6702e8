/**
 * The job stream (`GET /v1/jobs/stream`) on a real server over loopback: the raw protocol a
 * worker in any language speaks, and the TypeScript `Worker` on it (its default transport).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from '../../src/client/index.js';
import { serverWithClient } from './helpers.js';
import { RawStream } from './raw-stream.js';

interface WireLeasedJob {
  job: { id: string; type: string; payload: unknown; attempts: number };
  lease: string;
  leaseExpiresAt: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the job stream', () => {
  const fixture = serverWithClient();

  it('pushes no more jobs than the credit; complete and fail are answered per job', async () => {
    const ids = [];
    for (let n = 0; n < 3; n++) ids.push((await fixture.client.jobs.add('raw.work', { n })).id);
    const stream = await RawStream.open(
      fixture.t.url,
      '/v1/jobs/stream?types=raw.work&credit=2&leaseMs=5000',
    );
    const ready = await stream.next('ready');
    assert.deepEqual(ready.types, ['raw.work']);
    assert.equal(ready.leaseMs, 5000);
    const first = (await stream.next('jobs')).jobs as WireLeasedJob[];
    const more = first.length < 2 ? ((await stream.next('jobs')).jobs as WireLeasedJob[]) : [];
    const pushed = [...first, ...more];
    assert.equal(pushed.length, 2);
    await sleep(200);
    assert.equal(stream.frames.filter((f) => f.type === 'jobs').length, 0, 'the third waits for credit');

    stream.send({ type: 'heartbeat', id: 1, items: [{ job: pushed[0]!.job.id, lease: pushed[0]!.lease }] });
    const beat = (await stream.next('settled')).results as {
      job: string;
      ok: boolean;
      leaseExpiresAt: string;
    }[];
    assert.equal(beat[0]!.ok, true);
    assert.ok(Date.parse(beat[0]!.leaseExpiresAt) > Date.now());

    stream.send({
      type: 'complete',
      id: 2,
      items: [{ job: pushed[0]!.job.id, lease: pushed[0]!.lease, result: { ok: 1 } }],
      credit: 1,
    });
    const completed = await stream.next('settled');
    assert.equal(completed.id, 2);
    assert.deepEqual(completed.results, [{ job: pushed[0]!.job.id, ok: true, status: 'completed' }]);
    const third = (await stream.next('jobs')).jobs as WireLeasedJob[];
    assert.equal(third.length, 1);

    stream.send({
      type: 'fail',
      id: 3,
      items: [
        {
          job: pushed[1]!.job.id,
          lease: pushed[1]!.lease,
          error: { name: 'Boom', message: 'no ink' },
          retryable: false,
        },
        { job: third[0]!.job.id, lease: 'not-the-lease', error: { message: 'x' } },
      ],
    });
    const failed = (await stream.next('settled')).results as {
      ok: boolean;
      status?: string;
      code?: string;
    }[];
    assert.equal(failed[0]!.ok, true);
    assert.equal(failed[0]!.status, 'dead');
    assert.equal(failed[1]!.ok, false, 'a wrong lease is its own result');
    assert.equal((await fixture.client.jobs.get(pushed[0]!.job.id)).status, 'completed');
    assert.equal((await fixture.client.jobs.get(pushed[1]!.job.id)).status, 'dead');
    stream.socket.close();
    await stream.closed;
    // The third's lease outlives the connection: it can still be finished over HTTP.
    await fixture.client.jobs.complete(third[0]!.job.id, third[0]!.lease, null);
    assert.equal((await fixture.client.jobs.get(third[0]!.job.id)).status, 'completed');
  });

  it('answers a bad frame with an error frame and bad types by closing with the reason', async () => {
    const stream = await RawStream.open(fixture.t.url, '/v1/jobs/stream?types=raw.bad');
    await stream.next('ready');
    stream.send({ type: 'complete', id: 1, items: [{ job: 'j', result: 1 }] });
    const error = await stream.next('error');
    assert.match((error.problem as { detail: string }).detail, /complete frame: items\.0\.lease/);
    stream.socket.close();

    const empty = await RawStream.open(fixture.t.url, '/v1/jobs/stream?types=,');
    const refused = await empty.next('error');
    assert.equal((refused.problem as { code: string }).code, 'SPOOL_INVALID_ARGUMENT');
    assert.equal((await empty.closed).code, 1011);
  });

  it('Worker runs jobs over the stream: results, retries, a cancelled job’s signal', async () => {
    let attempts = 0;
    let cancelledSignal: AbortSignal | undefined;
    const worker = new Worker(fixture.client, {
      types: ['w.ok', 'w.flaky', 'w.slow'],
      concurrency: 4,
      leaseMs: 1500,
      handler: async (job, { signal }) => {
        if (job.type === 'w.flaky' && ++attempts < 2) throw new Error('not yet');
        if (job.type === 'w.slow') {
          cancelledSignal = signal;
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
          throw new Error('stopped');
        }
        return { done: job.type };
      },
    }).start();
    try {
      const ok = await fixture.client.jobs.add('w.ok', null);
      const flaky = await fixture.client.jobs.add('w.flaky', null, { maxAttempts: 3 });
      const slow = await fixture.client.jobs.add('w.slow', null);
      assert.deepEqual((await fixture.client.jobs.wait(ok.id, { timeoutMs: 10_000 })).result, {
        done: 'w.ok',
      });
      const retried = await fixture.client.jobs.wait(flaky.id, { timeoutMs: 10_000 });
      assert.equal(retried.status, 'completed');
      assert.equal(retried.attempts, 2);
      while (cancelledSignal === undefined) await sleep(20);
      await fixture.client.jobs.cancel(slow.id);
      // The next heartbeat (every third of 1.5 s) is refused: the handler's signal aborts.
      for (let i = 0; i < 100 && !cancelledSignal.aborted; i++) await sleep(50);
      assert.equal(cancelledSignal.aborted, true);
      assert.equal((await fixture.client.jobs.get(slow.id)).status, 'cancelled');
    } finally {
      await worker.close();
    }
  });

  it('lists a streaming Worker and a streaming consumer in the workers registry while they run', async () => {
    const worker = new Worker(fixture.client, {
      types: ['w.listed'],
      concurrency: 3,
      handler: () => null,
    }).start();
    const consumer = await fixture.client.queues.consume('listed-queue', () => {}, {
      concurrency: 2,
      prefetch: 4,
    });
    try {
      const listed = async () =>
        (await fixture.client.workers.list()).filter(
          (w) => w.kind === 'remote-worker' || w.kind === 'stream-consumer',
        );
      let found = await listed();
      for (let i = 0; i < 50 && found.length < 2; i++) {
        await sleep(20);
        found = await listed();
      }
      const remote = found.find((w) => w.kind === 'remote-worker');
      const streaming = found.find((w) => w.kind === 'stream-consumer');
      assert.deepEqual(remote?.serves.jobTypes, ['w.listed']);
      assert.equal(remote?.pid, process.pid, 'the worker says who it is');
      assert.equal(streaming?.serves.queue, 'listed-queue');
      assert.equal(streaming?.stale, false);
    } finally {
      await worker.close();
      await consumer.close();
    }
    let left = await fixture.client.workers.list();
    for (
      let i = 0;
      i < 50 && left.some((w) => w.kind === 'remote-worker' || w.kind === 'stream-consumer');
      i++
    ) {
      await sleep(20);
      left = await fixture.client.workers.list();
    }
    assert.equal(
      left.filter((w) => w.kind === 'remote-worker' || w.kind === 'stream-consumer').length,
      0,
      'removed when their connections close',
    );
  });

  it('Worker with transport: poll runs the same jobs over HTTP claims', async () => {
    const worker = new Worker(fixture.client, {
      types: ['w.poll'],
      transport: 'poll',
      waitMs: 500,
      handler: (job) => ({ echoed: job.payload }),
    }).start();
    try {
      const { id } = await fixture.client.jobs.add('w.poll', { x: 1 });
      assert.deepEqual((await fixture.client.jobs.wait(id, { timeoutMs: 10_000 })).result, {
        echoed: { x: 1 },
      });
    } finally {
      await worker.close();
    }
  });

  it('lists a polling Worker by its address and job types while it calls', async () => {
    const worker = new Worker(fixture.client, {
      types: ['w.polled', 'w.also'],
      transport: 'poll',
      concurrency: 2,
      waitMs: 500,
      handler: () => null,
    }).start();
    try {
      const { id } = await fixture.client.jobs.add('w.polled', null);
      await fixture.client.jobs.wait(id, { timeoutMs: 10_000 });
      const polled = (await fixture.client.workers.list()).find(
        (w) => w.kind === 'remote-worker' && w.serves.jobTypes?.includes('w.polled'),
      );
      assert.ok(polled, 'registered by its claims');
      assert.deepEqual(polled.serves.jobTypes, ['w.also', 'w.polled']);
      assert.equal(polled.host, '127.0.0.1');
      assert.equal(polled.stale, false);
    } finally {
      await worker.close();
    }
  });

  it('Worker processes a burst of jobs exactly once each at its concurrency', async () => {
    const added = await fixture.client.jobs.addBatch(
      Array.from({ length: 300 }, (_, n) => ({ type: 'w.burst', payload: { n } })),
    );
    const seen = new Map<number, number>();
    let running = 0;
    let most = 0;
    const worker = new Worker(fixture.client, {
      types: ['w.burst'],
      concurrency: 10,
      handler: async (job) => {
        running++;
        most = Math.max(most, running);
        await sleep(2);
        const n = (job.payload as { n: number }).n;
        seen.set(n, (seen.get(n) ?? 0) + 1);
        running--;
      },
    }).start();
    try {
      for (const { id } of added) await fixture.client.jobs.wait(id, { timeoutMs: 20_000 });
    } finally {
      await worker.close();
    }
    assert.equal(seen.size, 300);
    assert.ok([...seen.values()].every((count) => count === 1));
    assert.ok(most <= 10, `at most 10 at once (saw ${most})`);
  });
});
