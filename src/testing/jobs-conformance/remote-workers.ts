/**
 * Remote workers: `claim` leases a job, then `progress`, `heartbeat`, `complete` and `fail`
 * with the lease. The same transitions as in-process workers, driven by the caller.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { type JobsSuite, names, rejectsWithCode, sleep } from './harness.js';

const backoff = { baseMs: 300, capMs: 300, jitter: 'none' as const };

export function remoteWorkerTests(suite: JobsSuite): void {
  void describe('remote workers', () => {
    suite.test('a remote worker claims a job, reports progress and completes it', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      jobs.define('transcode', null, { maxAttempts: 2, backoff });
      await jobs.start();
      const added = await jobs.add('transcode', { file: 'a.mov' });
      const leased = await jobs.claim(['transcode'], { max: 5, leaseMs: 10_000 });
      assert.equal(leased.length, 1);
      const [{ job, lease, leaseExpiresAt }] = leased as [(typeof leased)[0]];
      assert.equal(job.id, added.id);
      assert.equal(job.status, 'active');
      assert.equal(job.attempts, 1);
      assert.deepEqual(job.payload, { file: 'a.mov' });
      assert.ok(leaseExpiresAt.getTime() > Date.now() + 5_000, 'the lease runs about leaseMs');

      const first = await jobs.progress(added.id, 40, { frames: 120 });
      assert.equal(first.status, 'active');
      assert.equal(first.progress, 40);
      assert.deepEqual(first.progressData, { frames: 120 });
      await jobs.progress(added.id, 80);
      const seen = await jobs.get(added.id);
      assert.equal(seen.progress, 80);
      assert.equal(seen.status, 'active');

      const done = await jobs.complete(added.id, lease, { url: 's3://out.mp4' });
      assert.equal(done.status, 'completed');
      assert.deepEqual(done.result, { url: 's3://out.mp4' });
      assert.equal(done.progress, 100);
      assert.equal(done.attempts, 1);
      assert.deepEqual(await jobs.get(added.id), done);
      assert.deepEqual(names(await env.eventsOf(jobs, added.id)), [
        'job.queued',
        'job.active',
        'job.progress',
        'job.progress',
        'job.completed',
      ]);
      await rejectsWithCode(() => jobs.complete(added.id, lease, null), 'SPOOL_JOB_STATE_CONFLICT');
      // Progress after the end changes nothing.
      const late = await jobs.progress(added.id, 10);
      assert.equal(late.status, 'completed');
      assert.equal(late.progress, 100);
      assert.deepEqual(await jobs.claim(['transcode']), [], 'nothing left to claim');
    });

    suite.test(
      'a remote worker that fails after progress has the job retried after its backoff',
      async (env) => {
        const spool = await env.spool();
        const jobs = env.jobs(spool);
        jobs.define('render', null, { maxAttempts: 3, backoff });
        await jobs.start();
        const added = await jobs.add('render', null);
        const [first] = await jobs.claim(['render'], { leaseMs: 10_000 });
        assert.ok(first);
        await jobs.progress(added.id, 60);
        const retrying = await jobs.fail(added.id, first.lease, { name: 'DiskError', message: 'disk full' });
        assert.equal(retrying.status, 'retrying');
        assert.deepEqual(retrying.error, { name: 'DiskError', message: 'disk full' });
        const failedAt = retrying.history[0]!.finishedAt!;
        assert.equal(retrying.runAt.getTime() - failedAt, 300);
        assert.deepEqual(await jobs.claim(['render']), [], 'not claimable before its backoff');

        const [second] = await env.within(
          5_000,
          'the retried job to be claimable',
          jobs.claim(['render'], { waitMs: 4_000, leaseMs: 10_000 }),
        );
        assert.ok(second, 'claimed again after the backoff');
        assert.equal(second.job.id, added.id);
        assert.equal(second.job.attempts, 2);
        const gap = second.job.history[1]!.startedAt - failedAt;
        assert.ok(gap >= 295, `claimed again ${gap} ms after the failure, before its backoff of 300 ms`);
        await rejectsWithCode(
          () => jobs.complete(added.id, first.lease, 'stale'),
          'SPOOL_STALE_RECEIPT',
          'the lease of the failed attempt',
        );

        const dead = await jobs.fail(
          added.id,
          second.lease,
          { name: 'CodecError', message: 'bad codec' },
          false,
        );
        assert.equal(dead.status, 'dead');
        assert.equal(dead.attempts, 2);
        assert.deepEqual(dead.error, { name: 'CodecError', message: 'bad codec' });
        assert.deepEqual(
          dead.history.map((h) => h.error?.message),
          ['disk full', 'bad codec'],
        );
        assert.deepEqual(names(await env.eventsOf(jobs, added.id)), [
          'job.queued',
          'job.active',
          'job.progress',
          'job.retrying',
          'job.active',
          'job.dead',
        ]);
      },
    );

    suite.test(
      'heartbeats keep a remote lease; without them the job is leased again as LeaseExpired',
      async (env) => {
        const spool = await env.spool();
        const jobs = env.jobs(spool);
        jobs.define('crunch', null, { maxAttempts: 3, backoff });
        await jobs.start();
        const beating = await jobs.add('crunch', 'beating');
        const [held] = await jobs.claim(['crunch'], { leaseMs: 400 });
        assert.equal(held?.job.id, beating.id);
        // Three lease lengths pass; every 150 ms a heartbeat extends the lease by 400 ms.
        const until = Date.now() + 1_200;
        while (Date.now() < until) {
          const expires = await jobs.heartbeat(beating.id, held.lease, 400);
          assert.ok(expires.getTime() > Date.now(), 'a heartbeat moves the lease into the future');
          assert.deepEqual(await jobs.claim(['crunch']), [], 'a leased job is not claimable');
          await sleep(150);
        }
        const done = await jobs.complete(beating.id, held.lease, 'ok');
        assert.equal(done.status, 'completed');
        assert.equal(done.attempts, 1, 'heartbeats kept the first attempt alive');

        const silent = await jobs.add('crunch', 'silent');
        const [lost] = await jobs.claim(['crunch'], { leaseMs: 300 });
        assert.equal(lost?.job.id, silent.id);
        const [again] = await env.within(
          5_000,
          'the job to be claimable after its lease ran out',
          jobs.claim(['crunch'], { waitMs: 4_000, leaseMs: 10_000 }),
        );
        assert.equal(again?.job.id, silent.id);
        assert.equal(again.job.attempts, 2);
        assert.equal(again.job.history[0]?.error?.name, 'LeaseExpired');
        await rejectsWithCode(
          () => jobs.complete(silent.id, lost.lease, 'late'),
          'SPOOL_STALE_RECEIPT',
          'the expired lease cannot complete the job',
        );
        const current = await jobs.get(silent.id);
        assert.equal(current.status, 'active');
        assert.equal(current.attempts, 2);
        assert.equal((await jobs.complete(silent.id, again.lease, 'ok')).status, 'completed');
      },
    );

    suite.test('a remote worker of a cancelled job is told so by heartbeat and complete', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      jobs.define('export', null, { backoff });
      await jobs.start();
      const added = await jobs.add('export', null);
      const [leased] = await jobs.claim(['export'], { leaseMs: 10_000 });
      assert.ok(leased);
      await jobs.cancel(added.id);
      await rejectsWithCode(() => jobs.heartbeat(added.id, leased.lease), 'SPOOL_JOB_STATE_CONFLICT');
      await rejectsWithCode(() => jobs.complete(added.id, leased.lease, 'late'), 'SPOOL_JOB_STATE_CONFLICT');
      await rejectsWithCode(
        () => jobs.fail(added.id, leased.lease, { message: 'late' }),
        'SPOOL_JOB_STATE_CONFLICT',
      );
      const job = await jobs.get(added.id);
      assert.equal(job.status, 'cancelled');
      assert.equal(job.result, null);
      assert.deepEqual(
        await jobs.claim(['export'], { waitMs: 300 }),
        [],
        'a cancelled job is not leased again',
      );
    });
  });
}
