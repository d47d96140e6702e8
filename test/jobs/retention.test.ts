import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { Jobs } from '../../src/jobs/index.js';
import { openTestSpool, until } from '../helpers.js';

/** Adds a job of `type`, then claims and completes it (one second later on the test clock). */
async function finishOne(jobs: Jobs, clock: TestClock, type: string, n: number): Promise<string> {
  const added = await jobs.add(type, { n });
  // max > 1: a cancelled job's leftover ticket may come first and is skipped by claim.
  const leased = (await jobs.claim([type], { max: 10, leaseMs: 60_000 })).find(
    (entry) => entry.job.id === added.id,
  );
  assert.ok(leased, 'claimed the job just added');
  await clock.advance(1_000);
  await jobs.complete(added.id, leased.lease, n);
  return added.id;
}

describe('jobs: retention by count', () => {
  it('keeps the retainFinished most recently finished jobs of each type, deleting older ones on the sweep', async () => {
    const clock = new TestClock(Date.UTC(2030, 0, 1));
    const t = await openTestSpool({ clock });
    const jobs = new Jobs(t.spool, { retainFinished: 3 });
    try {
      await jobs.start();
      const completed: string[] = [];
      for (let n = 0; n < 5; n++) completed.push(await finishOne(jobs, clock, 'report', n));
      await clock.advance(1_000);
      const cancelled = (await jobs.cancel((await jobs.add('report', { n: 'cancelled' })).id)).id;
      const waiting = (await jobs.add('report', { n: 'waiting' }, { delayMs: 3_600_000 })).id;
      const others = [await finishOne(jobs, clock, 'other', 1), await finishOne(jobs, clock, 'other', 2)];
      const ids = async (type: string) => (await jobs.list({ type })).items.map((job) => job.id).sort();
      assert.equal((await ids('report')).length, 7, 'nothing is deleted before the sweep');

      await clock.advance(60_001);
      const kept = [completed[3]!, completed[4]!, cancelled, waiting].sort();
      await until(async () => (await ids('report')).length === kept.length, 5_000, 'the sweep');
      assert.deepEqual(await ids('report'), kept, 'the 3 newest finished, and the unfinished one');
      assert.deepEqual(await ids('other'), [...others].sort(), 'a type under the limit keeps all');
      await assert.rejects(jobs.get(completed[0]!), /does not exist/);
      assert.equal((await jobs.get(waiting)).status, 'scheduled');

      // Jobs that finish later push older ones out on the next sweep.
      const newer = await finishOne(jobs, clock, 'report', 5);
      await clock.advance(60_001);
      const next = [completed[4]!, cancelled, newer, waiting].sort();
      await until(
        async () => (await ids('report')).includes(completed[3]!) === false,
        5_000,
        'the next sweep',
      );
      assert.deepEqual(await ids('report'), next);
    } finally {
      await jobs.close();
      await t.dispose();
    }
  });

  it('refuses a retainFinished that is not a whole number >= 1', () => {
    for (const retainFinished of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new Jobs({} as never, { retainFinished }), InvalidArgumentError);
    }
  });
});
