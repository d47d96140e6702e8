/**
 * Many jobs at once on a store with fewer connections than jobs running: every job completes
 * once, the type's concurrency is the most running at once, and progress reported meanwhile
 * does not get in the way.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { type JobsSuite, sleep } from './harness.js';

const jobCount = 200;
const concurrency = 40;
const poolSize = 10;

export function concurrencyTests(suite: JobsSuite): void {
  void describe('concurrency', () => {
    suite.test(
      `${jobCount} jobs with concurrency ${concurrency} on a pool of ${poolSize}: each runs once and completes`,
      async (env) => {
        const spool = await env.spool({ maxConnections: poolSize });
        const jobs = env.jobs(spool);
        const runs = new Map<string, number>();
        let running = 0;
        let peak = 0;
        jobs.define(
          'thumbnail',
          async (job, context) => {
            runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
            running++;
            peak = Math.max(peak, running);
            try {
              await context.progress(50);
              await sleep(20);
              return (job.payload as number) + 1;
            } finally {
              running--;
            }
          },
          { concurrency },
        );
        const added = await env.within(
          30_000,
          `adding ${jobCount} jobs`,
          Promise.all(Array.from({ length: jobCount }, (_, n) => jobs.add('thumbnail', n))),
        );
        await jobs.start();
        await env.allFinished(jobs, jobCount, { stallMs: 15_000, capMs: 120_000 });
        for (const job of added) {
          const done = await env.finished(jobs, job.id, 2_000);
          assert.equal(done.status, 'completed');
          assert.equal(done.result, job.payload + 1);
          assert.equal(done.attempts, 1);
          assert.equal(done.progress, 100);
        }
        assert.equal(runs.size, jobCount);
        assert.deepEqual(
          [...runs.entries()].filter(([, count]) => count !== 1),
          [],
          'every job ran exactly once',
        );
        assert.ok(peak <= concurrency, `${peak} jobs ran at once, over the concurrency of ${concurrency}`);
        assert.ok(peak > poolSize, `only ${peak} jobs ran at once: the test did not exceed the pool size`);
        assert.deepEqual(await jobs.counts(), [{ type: 'thumbnail', status: 'completed', count: jobCount }]);
      },
    );
  });
}
