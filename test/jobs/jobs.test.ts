import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { NonRetryableError, WaitTimeoutError } from '../../src/core/errors.js';
import { IdempotencyConflictError, JobStateError, Jobs, JobTimeoutError } from '../../src/jobs/index.js';
import { deferred, openTestSpool, tick, until, type TestSpool } from '../helpers.js';

const fast = { backoff: { baseMs: 5, capMs: 20, jitter: 'none' as const } };

describe('jobs: running in process', () => {
  let t: TestSpool;
  let jobs: Jobs;
  beforeEach(async () => {
    t = await openTestSpool({ safetyPollMs: 50 });
    jobs = new Jobs(t.spool, { cancelCheckMs: 20 });
  });
  afterEach(async () => {
    await jobs.close({ timeoutMs: 1000 });
    await t.dispose();
  });

  it('wait gives up with SPOOL_WAIT_TIMEOUT (retryable), not an invalid-argument error', async () => {
    const added = await jobs.add('nobody.handles.this', null);
    await assert.rejects(jobs.wait(added.id, { timeoutMs: 100 }), (error: unknown) => {
      assert.ok(error instanceof WaitTimeoutError);
      assert.equal(error.code, 'SPOOL_WAIT_TIMEOUT');
      assert.equal(error.retryable, true);
      assert.deepEqual(error.details, { jobId: added.id, status: 'queued' });
      return true;
    });
  });

  it('keeps what a handler logs with the job: stamped with its attempt, the last 200 lines, each bounded', async () => {
    jobs.define(
      'import',
      async (job, { log }) => {
        await log('reading the file');
        for (let i = 0; i < 250; i++) await log(`row ${i}`);
        await log('x'.repeat(5_000), 'warn');
        if (job.attempts === 1) throw new Error('the file vanished');
        await log('done');
      },
      { maxAttempts: 2, ...fast },
    );
    await jobs.start();
    const done = await jobs.wait((await jobs.add('import', null)).id, { timeoutMs: 10_000 });
    assert.equal(done.status, 'completed');
    assert.equal(done.logs.length, 200, 'the last 200 lines');
    assert.deepEqual(
      done.logs
        .slice(-3)
        .map((line) => [
          line.attempt,
          line.level,
          line.message.length > 100 ? line.message.length : line.message,
        ]),
      [
        [2, 'info', 'row 249'],
        [2, 'warn', 2_000],
        [2, 'info', 'done'],
      ],
    );
    assert.ok(done.logs.every((line) => typeof line.at === 'number'));
    // A finished job's log does not grow.
    assert.equal((await jobs.log(done.id, [{ message: 'late' }])).logs.length, 200);
  });

  it('add returns at once; the job runs, completes with its result, and every step is an event', async () => {
    jobs.define<{ n: number }, { doubled: number }>('double', (job) => ({ doubled: job.payload.n * 2 }));
    await jobs.start();
    const added = await jobs.add('double', { n: 21 }, { metadata: { requestedBy: 'test' } });
    assert.ok(['queued', 'active', 'completed'].includes(added.status));
    const done = await jobs.wait(added.id, { timeoutMs: 5000 });
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.result, { doubled: 42 });
    assert.equal(done.progress, 100);
    assert.equal(done.attempts, 1);
    assert.deepEqual(done.metadata, { requestedBy: 'test' });
    const { events } = await jobs.events.read(0, 100);
    assert.deepEqual(
      events.filter((e) => 'jobId' in e && e.jobId === added.id).map((e) => e.event),
      ['job.queued', 'job.active', 'job.completed'],
    );
  });

  it('retries a failed attempt with backoff, recording each attempt in the history', async () => {
    let calls = 0;
    jobs.define(
      'flaky',
      () => {
        calls++;
        if (calls === 1) throw new Error('upstream timeout');
        return 'ok';
      },
      { maxAttempts: 3, ...fast },
    );
    await jobs.start();
    const job = await jobs.wait((await jobs.add('flaky', null)).id, { timeoutMs: 5000 });
    assert.equal(job.status, 'completed');
    assert.equal(job.attempts, 2);
    assert.deepEqual(
      job.history.map((h) => [h.attempt, h.error?.message ?? null]),
      [
        [1, 'upstream timeout'],
        [2, null],
      ],
    );
  });

  it('a job is dead after its last attempt, at once on NonRetryableError, and retry() starts it over', async () => {
    let fail = true;
    jobs.define(
      'charge',
      (job) => {
        if ((job.payload as { fatal: boolean }).fatal) throw new NonRetryableError('card stolen');
        if (fail) throw new Error('declined');
        return 'charged';
      },
      { maxAttempts: 2, ...fast },
    );
    await jobs.start();
    const exhausted = await jobs.wait((await jobs.add('charge', { fatal: false })).id, { timeoutMs: 5000 });
    assert.equal(exhausted.status, 'dead');
    assert.equal(exhausted.attempts, 2);
    assert.equal(exhausted.error?.message, 'declined');
    // Where it was thrown, kept with the job and with each attempt: the handler in this file.
    assert.match(exhausted.error?.stack ?? '', /^\s+at .*jobs\.test\.ts:\d+/);
    assert.ok(exhausted.history.every((attempt) => attempt.error?.stack?.includes('jobs.test.ts')));
    const fatal = await jobs.wait((await jobs.add('charge', { fatal: true })).id, { timeoutMs: 5000 });
    assert.equal(fatal.status, 'dead');
    assert.equal(fatal.attempts, 1);
    fail = false;
    await jobs.retry(exhausted.id);
    const retried = await jobs.wait(exhausted.id, { timeoutMs: 5000 });
    assert.equal(retried.status, 'completed');
    await assert.rejects(jobs.retry(retried.id), JobStateError);
  });

  it('a handler past its timeout gets its signal aborted and the attempt fails', async () => {
    let aborted = false;
    jobs.define(
      'slow',
      async (_job, { signal }) => {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        aborted = true;
      },
      { timeoutMs: 50, maxAttempts: 1 },
    );
    await jobs.start();
    const job = await jobs.wait((await jobs.add('slow', null)).id, { timeoutMs: 5000 });
    assert.equal(job.status, 'dead');
    assert.equal(job.error?.name, new JobTimeoutError(50).name);
    await until(() => aborted);
  });

  it('cancel: a delayed job never runs; a running one has its signal aborted', async () => {
    const started = deferred();
    let sawAbort = false;
    let runs = 0;
    jobs.define('work', async (job, { signal }) => {
      runs++;
      if ((job.payload as string) === 'long') {
        started.resolve();
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        sawAbort = true;
      }
    });
    await jobs.start();
    const delayed = await jobs.add('work', 'later', { delayMs: 60_000 });
    assert.equal(delayed.status, 'scheduled');
    assert.equal((await jobs.cancel(delayed.id)).status, 'cancelled');
    const running = await jobs.add('work', 'long');
    await started.promise;
    await jobs.cancel(running.id);
    await until(() => sawAbort, 5000, 'handler aborted');
    assert.equal((await jobs.get(running.id)).status, 'cancelled');
    assert.equal(runs, 1, 'the cancelled delayed job never ran');
    await assert.rejects(jobs.cancel(running.id), JobStateError);
  });

  it('an idempotent add returns the first job; the same key with another payload is refused', async () => {
    jobs.define('mail', null);
    const first = await jobs.add('mail', { to: 'ada' }, { idempotencyKey: 'signup-ada' });
    const again = await jobs.add('mail', { to: 'ada' }, { idempotencyKey: 'signup-ada' });
    assert.equal(again.id, first.id);
    await assert.rejects(
      jobs.add('mail', { to: 'bob' }, { idempotencyKey: 'signup-ada' }),
      IdempotencyConflictError,
    );
  });

  it('a parent runs after its children complete and reads their results; a dead child kills the parent', async () => {
    jobs.define('resize', (job) => {
      const size = job.payload as number;
      if (size < 0) throw new NonRetryableError('negative size');
      return size * 10;
    });
    jobs.define('album', async (_job, context) => {
      const children = await context.children();
      return children.map((child) => child.result);
    });
    await jobs.start();
    const parent = await jobs.add('album', null, {
      children: [1, 2, 3].map((size) => ({ type: 'resize', payload: size })),
    });
    assert.equal(parent.status, 'waiting');
    const done = await jobs.wait(parent.id, { timeoutMs: 5000 });
    assert.equal(done.status, 'completed');
    assert.deepEqual(
      (done.result as number[]).sort((a, b) => a - b),
      [10, 20, 30],
    );
    const doomed = await jobs.add('album', null, { children: [{ type: 'resize', payload: -1 }] });
    const dead = await jobs.wait(doomed.id, { timeoutMs: 5000 });
    assert.equal(dead.status, 'dead');
    assert.equal(dead.error?.name, 'ChildJobDied');
  });

  it('runs at most `concurrency` jobs of a type at once', async () => {
    let running = 0;
    let peak = 0;
    jobs.define(
      'render',
      async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 10));
        running--;
      },
      { concurrency: 2 },
    );
    await jobs.start();
    const added = await Promise.all(Array.from({ length: 8 }, () => jobs.add('render', null)));
    for (const job of added) await jobs.wait(job.id, { timeoutMs: 5000 });
    assert.equal(peak, 2);
  });

  it('a rate limit spaces out starts, per key', async () => {
    const starts: { key: string; at: number }[] = [];
    jobs.define(
      'sync',
      (job) => {
        starts.push({ key: job.key!, at: Date.now() });
      },
      { concurrency: 5, rateLimit: { limit: 1, intervalMs: 200, perKey: true } },
    );
    await jobs.start();
    const added = [
      ...(await Promise.all([1, 2].map(() => jobs.add('sync', null, { key: 'acme' })))),
      await jobs.add('sync', null, { key: 'globex' }),
    ];
    for (const job of added) await jobs.wait(job.id, { timeoutMs: 5000 });
    const acme = starts.filter((s) => s.key === 'acme').map((s) => s.at);
    assert.equal(acme.length, 2);
    assert.ok(acme[1]! - acme[0]! >= 150, `second acme start came ${acme[1]! - acme[0]!} ms after the first`);
    const globex = starts.find((s) => s.key === 'globex')!.at;
    assert.ok(globex - acme[0]! < 150, 'another key is not held back');
  });

  it('searches by type, status and key with cursor pages', async () => {
    jobs.define('a', null);
    jobs.define('b', null);
    for (let n = 0; n < 5; n++) await jobs.add(n % 2 ? 'a' : 'b', n, { key: n < 2 ? 'vip' : 'std' });
    assert.equal((await jobs.list({ type: 'a' })).items.length, 2);
    assert.equal((await jobs.list({ key: 'vip' })).items.length, 2);
    assert.equal((await jobs.list({ status: 'queued' })).items.length, 5);
    const first = await jobs.list({}, { limit: 3 });
    const second = await jobs.list({}, { limit: 3, after: first.next });
    assert.equal(first.items.length + second.items.length, 5);
    assert.equal(second.next, null);
    const counts = await jobs.counts();
    assert.deepEqual(counts.map((c) => [c.type, c.status, c.count]).sort(), [
      ['a', 'queued', 2],
      ['b', 'queued', 3],
    ]);
  });
});

describe('jobs: remote workers', () => {
  let t: TestSpool;
  let jobs: Jobs;
  beforeEach(async () => {
    t = await openTestSpool({ safetyPollMs: 50 });
    jobs = new Jobs(t.spool);
    jobs.define('transcode', null, { maxAttempts: 2, ...fast });
    await jobs.start();
  });
  afterEach(async () => {
    await jobs.close();
    await t.dispose();
  });

  it('claim leases a job; complete settles it with the result', async () => {
    const added = await jobs.add('transcode', { file: 'a.mov' });
    const [leased] = await jobs.claim(['transcode'], { max: 5, leaseMs: 5000 });
    assert.ok(leased);
    assert.equal(leased.job.id, added.id);
    assert.equal(leased.job.status, 'active');
    await jobs.progress(added.id, 50, { frames: 120 });
    assert.equal((await jobs.get(added.id)).progress, 50);
    await jobs.heartbeat(added.id, leased.lease, 5000);
    const done = await jobs.complete(added.id, leased.lease, { url: 's3://out.mp4' });
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.result, { url: 's3://out.mp4' });
    await assert.rejects(jobs.complete(added.id, leased.lease, null), JobStateError);
  });

  it('a long-polling claim is woken by an add', async () => {
    const claiming = jobs.claim(['transcode'], { waitMs: 5000 });
    await tick(5);
    const added = await jobs.add('transcode', null);
    const [leased] = await claiming;
    assert.equal(leased?.job.id, added.id);
  });

  it('fail with retryable=false kills the job; a retryable failure runs it again', async () => {
    const added = await jobs.add('transcode', null);
    let [leased] = await jobs.claim(['transcode']);
    const retrying = await jobs.fail(added.id, leased!.lease, { message: 'disk full' });
    assert.equal(retrying.status, 'retrying');
    [leased] = await jobs.claim(['transcode'], { waitMs: 2000 });
    assert.equal(leased?.job.attempts, 2);
    const stack = '    at decode (/worker/codec.ts:10:5)\n    at run (/worker/main.ts:3:1)';
    const dead = await jobs.fail(
      added.id,
      leased.lease,
      { name: 'CodecError', message: 'bad codec', stack },
      false,
    );
    assert.equal(dead.status, 'dead');
    assert.equal(dead.error?.name, 'CodecError');
    assert.equal(dead.error?.stack, stack, "the remote worker's own frames");
  });

  it('a job whose remote worker vanished is leased again after its lease expires', async () => {
    const added = await jobs.add('transcode', null);
    await jobs.claim(['transcode'], { leaseMs: 50 });
    const [again] = await jobs.claim(['transcode'], { waitMs: 3000, leaseMs: 5000 });
    assert.equal(again?.job.id, added.id);
    assert.equal(again?.job.attempts, 2);
    assert.equal(again?.job.history[0]?.error?.name, 'LeaseExpired');
  });
});

describe('jobs: schedules', () => {
  it('fire once per slot, even with two schedulers on one store', async () => {
    const clock = new TestClock(Date.UTC(2030, 0, 1, 0, 0, 30));
    const t = await openTestSpool({ clock });
    const a = new Jobs(t.spool);
    const b = new Jobs(t.spool);
    try {
      await a.start();
      await b.start();
      await a.schedule('every-minute', { cron: '* * * * *', type: 'report', payload: { kind: 'minutely' } });
      for (let minute = 0; minute < 3; minute++) {
        await clock.advance(60_000);
        await tick(20);
      }
      const { items } = await a.list({ type: 'report' });
      assert.equal(items.length, 3, 'three slots, three jobs');
      assert.deepEqual(items.map((job) => job.metadata.slot).sort(), [
        '2030-01-01T00:01:00.000Z',
        '2030-01-01T00:02:00.000Z',
        '2030-01-01T00:03:00.000Z',
      ]);
      assert.deepEqual(items[0]!.payload, { kind: 'minutely' });
    } finally {
      await a.close();
      await b.close();
      await t.dispose();
    }
  });

  it('after downtime, skip fires nothing for missed slots and catch-up-once fires one job', async () => {
    const clock = new TestClock(Date.UTC(2030, 0, 1));
    const t = await openTestSpool({ clock });
    const setup = new Jobs(t.spool);
    try {
      await setup.schedule('skipper', { everyMs: 60_000, type: 'skip.job' });
      await setup.schedule('catcher', { everyMs: 60_000, type: 'catch.job', missed: 'catch-up-once' });
      await setup.close();
      await clock.advance(10 * 60_000 + 1_000); // ten slots pass while nothing runs
      const jobs = new Jobs(t.spool);
      await jobs.start();
      await tick(20);
      assert.equal((await jobs.list({ type: 'skip.job' })).items.length, 0);
      assert.equal((await jobs.list({ type: 'catch.job' })).items.length, 1);
      await clock.advance(60_000);
      await tick(20);
      assert.equal((await jobs.list({ type: 'skip.job' })).items.length, 1, 'future slots fire again');
      await jobs.close();
    } finally {
      await t.dispose();
    }
  });

  it('rejects a schedule with an invalid cron expression', async () => {
    const t = await openTestSpool();
    const jobs = new Jobs(t.spool);
    try {
      await assert.rejects(jobs.schedule('bad', { cron: 'every tuesday', type: 'x' }), {
        code: 'SPOOL_INVALID_ARGUMENT',
      });
    } finally {
      await jobs.close();
      await t.dispose();
    }
  });
});
