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

    suite.test(
      'globalConcurrency and keyConcurrency hold across two processes on one store',
      async (env) => {
        // Two Jobs on two Spools of one database: as two processes would share it.
        const [first, second] = [env.jobs(await env.spool()), env.jobs(await env.spool())];
        const running = { all: 0, byKey: new Map<string, number>() };
        const peak = { all: 0, byKey: new Map<string, number>(), renders: 0 };
        for (const jobs of [first, second]) {
          jobs.define(
            'render',
            async (job) => {
              running.all += 1;
              peak.renders = Math.max(peak.renders, running.all);
              try {
                await sleep(30);
              } finally {
                running.all -= 1;
              }
              return job.payload;
            },
            { concurrency: 5, globalConcurrency: 2 },
          );
          jobs.define(
            'sync',
            async (job) => {
              const key = job.key!;
              running.byKey.set(key, (running.byKey.get(key) ?? 0) + 1);
              peak.byKey.set(key, Math.max(peak.byKey.get(key) ?? 0, running.byKey.get(key)!));
              running.all += 1;
              peak.all = Math.max(peak.all, running.all);
              try {
                await sleep(30);
              } finally {
                running.byKey.set(key, running.byKey.get(key)! - 1);
                running.all -= 1;
              }
              return null;
            },
            { concurrency: 5, keyConcurrency: 1 },
          );
        }
        const renders = await Promise.all(Array.from({ length: 12 }, (_, n) => first.add('render', n)));
        await Promise.all([first.start(), second.start()]);
        for (const job of renders) {
          const done = await env.finished(first, job.id, 20_000);
          assert.equal(done.status, 'completed');
          assert.equal(done.attempts, 1, 'waiting for the limit used no attempt');
        }
        assert.equal(peak.renders, 2, `${peak.renders} renders ran at once: the limit is 2 in all processes`);

        peak.all = 0;
        const syncs = await Promise.all(
          Array.from({ length: 12 }, (_, n) => second.add('sync', null, { key: `customer-${n % 3}` })),
        );
        for (const job of syncs)
          assert.equal((await env.finished(second, job.id, 20_000)).status, 'completed');
        assert.deepEqual(
          [...peak.byKey.values()],
          [1, 1, 1],
          'one at a time per customer, in all processes together',
        );
        assert.ok(peak.all > 1, `customers ran side by side (${peak.all} at once)`);
      },
      { sharedDatabase: true },
    );

    suite.test(
      'globalRateLimit holds across two processes on one store: a burst of the limit, then the rate',
      async (env) => {
        const [first, second] = [env.jobs(await env.spool()), env.jobs(await env.spool())];
        const starts: number[] = [];
        for (const jobs of [first, second]) {
          jobs.define(
            'notify',
            () => {
              starts.push(Date.now());
              return null;
            },
            { concurrency: 10, globalRateLimit: { limit: 5, intervalMs: 1_000 } },
          );
        }
        const added = await Promise.all(Array.from({ length: 15 }, (_, n) => first.add('notify', n)));
        await Promise.all([first.start(), second.start()]);
        for (const job of added) {
          const done = await env.finished(first, job.id, 20_000);
          assert.equal(done.status, 'completed');
          assert.equal(done.attempts, 1, 'waiting for a token used no attempt');
        }
        starts.sort((a, b) => a - b);
        // A full bucket lets 5 through at once; after that one start per 200 ms, in both
        // processes together (each alone would let its own 5 per second through). Times are from
        // the first handler's start, which trails the bucket's first take by that job's start
        // transaction (tens of ms on a loaded machine): one token's interval of slack, no more —
        // two buckets counting alone would still be 800 ms early by the 14th start.
        for (let k = 5; k < starts.length; k++) {
          const earliest = (k - 4) * 200 - 200;
          assert.ok(
            starts[k]! - starts[0]! >= earliest,
            `start ${k} came ${starts[k]! - starts[0]!} ms after the first, before ${earliest} ms`,
          );
        }
      },
      { sharedDatabase: true },
    );
  });
}
