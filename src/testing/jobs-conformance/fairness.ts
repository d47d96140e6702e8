/**
 * Fairness between tenants: jobs added with a `group` start round-robin across groups, so a
 * big group's backlog does not starve a small group's jobs, and a retry keeps its job's group.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { JobsSuite } from './harness.js';

const bigBacklog = 400;
const smallJobs = 5;

export function fairnessTests(suite: JobsSuite): void {
  void describe('fairness groups', () => {
    suite.test("a big group's backlog does not starve a small group's jobs", async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      /** Starts in order: the group of each start. */
      const starts: string[] = [];
      let failedOnce = false;
      jobs.define(
        'report',
        (job) => {
          const { tenant, flaky } = job.payload as { tenant: string; flaky?: boolean };
          starts.push(tenant);
          if (flaky && !failedOnce) {
            failedOnce = true;
            return Promise.reject(new Error('first attempt fails'));
          }
          return Promise.resolve(null);
        },
        { concurrency: 2, backoff: { baseMs: 1, capMs: 1, jitter: 'none' } },
      );
      await env.within(
        60_000,
        `adding ${bigBacklog} jobs of the big group`,
        jobs.addBatch(
          Array.from({ length: bigBacklog }, () => ({
            type: 'report',
            payload: { tenant: 'big' },
            options: { group: 'big' },
          })),
        ),
      );
      const small = await Promise.all(
        Array.from({ length: smallJobs }, (_, n) =>
          jobs.add('report', { tenant: 'small', flaky: n === 0 }, { group: 'small' }),
        ),
      );
      const stored = await jobs.get(small[0]!.id);
      assert.equal(stored.metadata['spool.group'], 'small');
      await jobs.start();
      await env.until(
        () => starts.filter((tenant) => tenant === 'small').length >= smallJobs + 1,
        60_000,
        'every job of the small group to start (one of them twice)',
      );
      const firstSmallDone = starts.length;
      assert.ok(
        firstSmallDone <= 4 * (smallJobs + 1),
        `the small group's ${smallJobs + 1} starts took ${firstSmallDone} starts in all (with ${bigBacklog} waiting)`,
      );
      for (const job of small) assert.equal((await env.finished(jobs, job.id, 30_000)).status, 'completed');
      await env.allFinished(jobs, bigBacklog + smallJobs, { stallMs: 15_000, capMs: 120_000 });
    });

    suite.test('a job group must be 1 to 256 characters', async (env) => {
      const jobs = env.jobs(await env.spool());
      for (const group of ['', 'x'.repeat(257)]) {
        await assert.rejects(jobs.add('report', null, { group }), (error: unknown) => {
          assert.equal((error as { code?: unknown }).code, 'SPOOL_INVALID_ARGUMENT');
          return true;
        });
      }
    });
  });
}
