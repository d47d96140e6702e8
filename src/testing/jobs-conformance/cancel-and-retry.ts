/**
 * Cancel and retry: a running job's signal aborts and its outcome is discarded; a waiting one
 * never runs; `retry` starts a dead or cancelled job over; both refuse the statuses they do not
 * apply to. Also the errors of `get` for an unknown job.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { NonRetryableError } from '../../core/errors.js';
import { JobCancelledError } from '../../jobs/job-worker.js';
import { type JobsSuite, names, rejectsWithCode, sleep } from './harness.js';

/** A promise with its resolve function. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export function cancelAndRetryTests(suite: JobsSuite): void {
  void describe('cancel and retry', () => {
    suite.test(
      'cancelling a running job aborts its signal, makes it cancelled and discards its outcome',
      async (env) => {
        const spool = await env.spool();
        const jobs = env.jobs(spool);
        const started = deferred();
        const aborted = deferred<unknown>();
        const ran: string[] = [];
        jobs.define('work', async (job, { signal }) => {
          ran.push(job.payload as string);
          if (job.payload !== 'long') return 'quick';
          started.resolve();
          await new Promise<void>((resolve) =>
            signal.addEventListener('abort', () => resolve(), { once: true }),
          );
          aborted.resolve(signal.reason);
          // The handler returns a result after the cancel: it must not complete the job.
          return 'too late';
        });
        await jobs.start();
        const running = await jobs.add('work', 'long');
        await env.within(5_000, 'the long job to start', started.promise);
        const cancelled = await jobs.cancel(running.id);
        assert.equal(cancelled.status, 'cancelled');
        assert.ok(cancelled.finishedAt);
        const reason = await env.within(2_000, "the handler's signal to abort", aborted.promise);
        assert.ok(reason instanceof JobCancelledError, `aborted with ${String(reason)}`);
        // The worker's slot (concurrency 1) is free again: the next job runs.
        const next = await jobs.add('work', 'next');
        assert.equal((await env.finished(jobs, next.id, 5_000)).status, 'completed');
        await sleep(200);
        const after = await jobs.get(running.id);
        assert.equal(after.status, 'cancelled');
        assert.equal(after.result, null);
        assert.equal(after.attempts, 1);
        assert.deepEqual(names(await env.eventsOf(jobs, running.id)), [
          'job.queued',
          'job.active',
          'job.cancelled',
        ]);
        assert.deepEqual(ran, ['long', 'next'], 'the cancelled job did not run again');
        await rejectsWithCode(() => jobs.cancel(running.id), 'SPOOL_JOB_STATE_CONFLICT', 'cancel twice');
      },
    );

    suite.test(
      'a cancel made by another process reaches the running handler',
      async (env) => {
        const worker = await env.spool();
        const workerJobs = env.jobs(worker, { cancelCheckMs: 100 });
        const started = deferred();
        const aborted = deferred<unknown>();
        workerJobs.define('remote-cancel', async (_job, { signal }) => {
          started.resolve();
          await new Promise<void>((resolve) =>
            signal.addEventListener('abort', () => resolve(), { once: true }),
          );
          aborted.resolve(signal.reason);
          throw new Error('stopped');
        });
        await workerJobs.start();
        const other = env.jobs(await env.spool());
        const added = await other.add('remote-cancel', null);
        await env.within(5_000, 'the job to start in the worker process', started.promise);
        assert.equal((await other.cancel(added.id)).status, 'cancelled');
        const reason = await env.within(3_000, "the worker's handler to see the cancel", aborted.promise);
        assert.ok(reason instanceof JobCancelledError, `aborted with ${String(reason)}`);
        await sleep(200);
        const job = await other.get(added.id);
        assert.equal(job.status, 'cancelled', 'the error thrown after the cancel does not retry the job');
        assert.equal(job.attempts, 1);
      },
      { sharedDatabase: true },
    );

    suite.test('promote runs a delayed job now; a finished one is refused', async (env) => {
      const jobs = env.jobs(await env.spool());
      jobs.define('digest', () => 'sent');
      await jobs.start();
      const later = await jobs.add('digest', null, { delayMs: 3_600_000 });
      assert.equal(later.status, 'scheduled');
      const promoted = await jobs.promote(later.id);
      assert.equal(promoted.status, 'queued');
      assert.ok(promoted.runAt.getTime() <= Date.now());
      const done = await env.finished(jobs, later.id, 5_000);
      assert.equal(done.status, 'completed');
      assert.equal(done.attempts, 1, 'the ticket left for the old time does not run it again');
      await rejectsWithCode(() => jobs.promote(later.id), 'SPOOL_JOB_STATE_CONFLICT');
      await rejectsWithCode(() => jobs.promote('no-such-job'), 'SPOOL_JOB_NOT_FOUND');
    });

    suite.test('a cancelled queued or delayed job never runs', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      const release = deferred();
      const blocking = deferred();
      const ran: string[] = [];
      jobs.define('single', async (job) => {
        ran.push(job.payload as string);
        if (job.payload === 'blocker') {
          blocking.resolve();
          await release.promise;
        }
      });
      await jobs.start();
      const blocker = await jobs.add('single', 'blocker');
      await env.within(5_000, 'the blocking job to start', blocking.promise);
      const queued = await jobs.add('single', 'queued');
      const delayed = await jobs.add('single', 'delayed', { delayMs: 300 });
      assert.equal(queued.status, 'queued');
      assert.equal(delayed.status, 'scheduled');
      assert.equal((await jobs.cancel(queued.id)).status, 'cancelled');
      assert.equal((await jobs.cancel(delayed.id)).status, 'cancelled');
      release.resolve();
      assert.equal((await env.finished(jobs, blocker.id, 5_000)).status, 'completed');
      const after = await jobs.add('single', 'after');
      assert.equal((await env.finished(jobs, after.id, 5_000)).status, 'completed');
      await sleep(500); // past the delayed job's runAt
      assert.deepEqual(ran, ['blocker', 'after']);
      for (const id of [queued.id, delayed.id]) {
        const job = await jobs.get(id);
        assert.equal(job.status, 'cancelled');
        assert.equal(job.attempts, 0);
        assert.equal(job.startedAt, null);
      }
      assert.deepEqual(names(await env.eventsOf(jobs, delayed.id)), ['job.scheduled', 'job.cancelled']);
    });

    suite.test('retry starts a dead or cancelled job over; other statuses are refused', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      let healthy = false;
      const runs = new Map<string, number>();
      jobs.define(
        'fragile',
        (job) => {
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
          if (!healthy) throw new NonRetryableError('not yet');
          return `done ${job.payload as string}`;
        },
        { maxAttempts: 2 },
      );
      await jobs.start();
      const dying = await jobs.add('fragile', 'a');
      const dead = await env.finished(jobs, dying.id, 5_000);
      assert.equal(dead.status, 'dead');
      const later = await jobs.add('fragile', 'b', { delayMs: 60_000 });
      await jobs.cancel(later.id);

      healthy = true;
      for (const id of [dying.id, later.id]) {
        const retried = await jobs.retry(id);
        assert.equal(retried.status, 'queued');
        assert.equal(retried.attempts, 0);
        assert.equal(retried.error, null);
        assert.equal(retried.finishedAt, null);
      }
      const again = await env.finished(jobs, dying.id, 5_000);
      assert.equal(again.status, 'completed');
      assert.equal(again.result, 'done a');
      assert.equal(again.attempts, 1);
      assert.equal(again.error, null);
      const revived = await env.finished(jobs, later.id, 5_000);
      assert.equal(revived.status, 'completed', 'a retried cancelled job runs at once, not at its old delay');
      assert.equal(revived.result, 'done b');
      assert.equal(runs.get(dying.id), 2);
      assert.equal(runs.get(later.id), 1);
      assert.deepEqual(names(await env.eventsOf(jobs, dying.id)), [
        'job.queued',
        'job.active',
        'job.dead',
        'job.queued',
        'job.active',
        'job.completed',
      ]);

      await rejectsWithCode(() => jobs.retry(again.id), 'SPOOL_JOB_STATE_CONFLICT', 'retry a completed job');
      await rejectsWithCode(
        () => jobs.cancel(again.id),
        'SPOOL_JOB_STATE_CONFLICT',
        'cancel a completed job',
      );
      const waiting = await jobs.add('fragile', 'c', { delayMs: 60_000 });
      await rejectsWithCode(
        () => jobs.retry(waiting.id),
        'SPOOL_JOB_STATE_CONFLICT',
        'retry a scheduled job',
      );
      const unknown = '01890000-0000-7000-8000-000000000000';
      await rejectsWithCode(() => jobs.get(unknown), 'SPOOL_JOB_NOT_FOUND');
      await rejectsWithCode(() => jobs.cancel(unknown), 'SPOOL_JOB_NOT_FOUND');
      await rejectsWithCode(() => jobs.retry(unknown), 'SPOOL_JOB_NOT_FOUND');
    });
  });
}
