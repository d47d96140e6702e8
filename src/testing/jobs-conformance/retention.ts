/**
 * Retention: finished jobs are deleted `retentionMs` after they finish, and with
 * `retainFinished: n` only the `n` most recently finished of each type are kept; unfinished jobs
 * are never deleted. The sweep runs every minute of the Spool's clock, so these tests run on a
 * `TestClock` and step it a minute at a time until the sweep shows (a sweep that found another
 * process leading retention is skipped, and the next one a minute later does the work).
 * Jobs are run by a remote worker (claim, complete), which needs no timers.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { TestClock } from '../../core/clock.js';
import type { Jobs } from '../../jobs/jobs.js';
import { type JobsEnv, type JobsSuite } from './harness.js';

/** Adds a job of `type`, then claims and completes it one second later on `clock`. */
async function finishOne(jobs: Jobs, clock: TestClock, type: string, n: number): Promise<string> {
  const added = await jobs.add(type, { n });
  // max > 1: a leftover ticket of a cancelled job may come first; claim skips it.
  const leased = (await jobs.claim([type], { max: 10, leaseMs: 3_600_000 })).find(
    (entry) => entry.job.id === added.id,
  );
  assert.ok(leased, 'claimed the job just added');
  await clock.advance(1_000);
  await jobs.complete(added.id, leased.lease, n);
  return added.id;
}

async function ids(jobs: Jobs, type: string): Promise<string[]> {
  return (await jobs.list({ type }, { limit: 1_000 })).items.map((job) => job.id).sort();
}

/**
 * Steps the clock a minute (one sweep) at a time, at most `sweeps` times, until `done` holds.
 */
async function sweepUntil(
  env: JobsEnv,
  clock: TestClock,
  sweeps: number,
  what: string,
  done: () => Promise<boolean>,
): Promise<void> {
  for (let sweep = 1; ; sweep++) {
    await clock.advance(60_001);
    try {
      await env.until(done, 2_000, what);
      return;
    } catch (error) {
      if (sweep >= sweeps) throw new Error(`${what}: not seen after ${sweeps} sweeps`, { cause: error });
    }
  }
}

export function retentionTests(suite: JobsSuite): void {
  void describe('retention', () => {
    suite.test('finished jobs are deleted retentionMs after they finish; others are kept', async (env) => {
      const clock = new TestClock(Date.UTC(2030, 0, 1));
      const spool = await env.spool({ clock });
      const jobs = env.jobs(spool, { retentionMs: 10 * 60_000 });
      jobs.define('report', null);
      await jobs.start();
      const old = await finishOne(jobs, clock, 'report', 1);
      const cancelledOld = (await jobs.cancel((await jobs.add('report', { n: 'c' })).id)).id;
      const pending = (await jobs.add('report', { n: 'later' }, { delayMs: 24 * 3_600_000 })).id;
      await clock.advance(10 * 60_000);
      const young = await finishOne(jobs, clock, 'report', 2);
      // At most 8 more minutes pass below: the young job stays within its 10 minutes.
      await sweepUntil(env, clock, 8, 'the jobs finished over 10 minutes ago to be deleted', async () => {
        const left = await ids(jobs, 'report');
        return !left.includes(old) && !left.includes(cancelledOld);
      });
      assert.deepEqual(await ids(jobs, 'report'), [young, pending].sort());
      assert.equal((await jobs.get(pending)).status, 'scheduled', 'an unfinished job is never pruned');
      await assert.rejects(jobs.get(old), { code: 'SPOOL_JOB_NOT_FOUND' });
    });

    suite.test('retainFinished keeps the n most recently finished jobs of each type', async (env) => {
      const clock = new TestClock(Date.UTC(2030, 0, 1));
      const spool = await env.spool({ clock });
      const jobs = env.jobs(spool, { retainFinished: 3 });
      jobs.define('report', null);
      jobs.define('other', null);
      await jobs.start();
      const completed: string[] = [];
      for (let n = 0; n < 5; n++) completed.push(await finishOne(jobs, clock, 'report', n));
      await clock.advance(1_000);
      const cancelled = (await jobs.cancel((await jobs.add('report', { n: 'cancelled' })).id)).id;
      const waiting = (await jobs.add('report', { n: 'waiting' }, { delayMs: 24 * 3_600_000 })).id;
      const others = [await finishOne(jobs, clock, 'other', 1), await finishOne(jobs, clock, 'other', 2)];
      assert.equal((await ids(jobs, 'report')).length, 7, 'nothing is deleted before a sweep');

      const kept = [completed[3]!, completed[4]!, cancelled, waiting].sort();
      await sweepUntil(
        env,
        clock,
        3,
        'the sweep by count',
        async () => (await ids(jobs, 'report')).length <= 4,
      );
      assert.deepEqual(await ids(jobs, 'report'), kept, 'the 3 newest finished, and the unfinished one');
      assert.deepEqual(await ids(jobs, 'other'), [...others].sort(), 'a type under the limit keeps all');
    });
  });
}
