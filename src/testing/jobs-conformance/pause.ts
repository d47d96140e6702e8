/**
 * Pausing a job type holds its jobs in every process sharing the store: adds still land, no
 * worker (in process or remote) gets one until it resumes, and a resume is seen by the other
 * processes within their poll. The pause is the store's, so a process started later obeys it too.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Jobs } from '../../jobs/jobs.js';
import { type JobsSuite, sleep } from './harness.js';

export function pauseTests(suite: JobsSuite): void {
  void describe('pausing a job type', () => {
    suite.test(
      'a paused job type runs nothing in any process until resumed, then runs all of it',
      async (env) => {
        // On a shared database the operator is another process than the worker.
        const operatorSpool = await env.spool();
        const operator = env.jobs(operatorSpool);
        const worker: Jobs = env.database.shared ? env.jobs(await env.spool()) : operator;
        const ran: string[] = [];
        worker.define('render', (job) => {
          ran.push(job.id);
          return 'rendered';
        });

        const pausedAt = await operator.pauseType('render');
        assert.ok(Math.abs(pausedAt.getTime() - Date.now()) < 5_000);
        assert.deepEqual(await operator.pauseType('render'), pausedAt, 'pausing again keeps the first time');
        await worker.start();
        const added = await Promise.all([1, 2, 3].map((n) => operator.add('render', n)));
        await sleep(400);
        assert.deepEqual(ran, [], 'no job of a paused type ran');
        assert.deepEqual(
          await operator.claim(['render'], { max: 3 }),
          [],
          'a remote worker gets none either',
        );
        for (const job of added) assert.equal((await operator.get(job.id)).status, 'queued');
        assert.deepEqual(await operator.typePausedAt('render'), pausedAt);

        await operator.resumeType('render');
        assert.equal(await operator.typePausedAt('render'), null);
        for (const job of added)
          assert.equal((await env.finished(operator, job.id, 5_000)).result, 'rendered');
        assert.equal(ran.length, 3, 'each ran once after the resume');
      },
    );
  });
}
