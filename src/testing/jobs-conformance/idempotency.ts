/**
 * Idempotent adds: the same `idempotencyKey` returns the first job, a different request under
 * the key is refused, and adds racing with one key (in one process or several) create one job.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { IdempotencyConflictError } from '../../jobs/jobs.js';
import type { Jobs } from '../../jobs/jobs.js';
import { type JobsSuite, rejectsWithCode, sleep } from './harness.js';

export function idempotencyTests(suite: JobsSuite): void {
  void describe('idempotency', () => {
    suite.test(
      'an idempotent add returns the first job; another request under the key is refused',
      async (env) => {
        const spool = await env.spool();
        const jobs = env.jobs(spool);
        let runs = 0;
        jobs.define('mail', (job) => {
          runs++;
          return `sent to ${(job.payload as { to: string }).to}`;
        });
        await jobs.start();
        const first = await jobs.add('mail', { to: 'ada' }, { idempotencyKey: 'signup-ada', key: 'k' });
        const again = await jobs.add('mail', { to: 'ada' }, { idempotencyKey: 'signup-ada', key: 'k' });
        assert.equal(again.id, first.id);
        await assert.rejects(
          jobs.add('mail', { to: 'bob' }, { idempotencyKey: 'signup-ada', key: 'k' }),
          IdempotencyConflictError,
        );
        await rejectsWithCode(
          () => jobs.add('mail', { to: 'ada' }, { idempotencyKey: 'signup-ada', key: 'other' }),
          'SPOOL_IDEMPOTENCY_CONFLICT',
          'same payload, other options',
        );
        const done = await env.finished(jobs, first.id, 5_000);
        assert.equal(done.result, 'sent to ada');
        // After it finished, a repeat still returns the same (finished) job and runs nothing.
        const late = await jobs.add('mail', { to: 'ada' }, { idempotencyKey: 'signup-ada', key: 'k' });
        assert.equal(late.id, first.id);
        assert.equal(late.status, 'completed');
        await sleep(200);
        assert.equal(runs, 1);
        assert.equal((await jobs.list({ type: 'mail' })).items.length, 1);
        const other = await jobs.add('mail', { to: 'ada' }, { idempotencyKey: 'signup-ada-2', key: 'k' });
        assert.notEqual(other.id, first.id, 'another key is another job');
      },
    );

    suite.test(
      'adds made at once share a transaction, yet each keeps its own outcome and error',
      async (env) => {
        const spool = await env.spool();
        const jobs = env.jobs(spool);
        const runs: number[] = [];
        jobs.define('print', (job) => {
          runs.push((job.payload as { n: number }).n);
          return null;
        });
        await jobs.start();
        // All called in one turn: they are written together (add-coalescer.ts), and one bad add
        // among them must fail alone.
        const settled = await Promise.allSettled([
          jobs.add('print', { n: 1 }, { idempotencyKey: 'print-1' }),
          jobs.add('print', { n: 2 }),
          jobs.add('print', { n: 3 }, { maxAttempts: 0 }),
          jobs.add('print', { n: 1 }, { idempotencyKey: 'print-1' }),
          jobs.add('print', { n: 99 }, { idempotencyKey: 'print-1' }),
          jobs.add('print', { n: 4 }, { delayMs: 60_000 }),
        ]);
        const [first, second, invalid, repeat, conflict, later] = settled;
        assert.equal(first.status, 'fulfilled');
        assert.equal(second.status, 'fulfilled');
        assert.equal(repeat.status, 'fulfilled');
        assert.equal(later.status, 'fulfilled');
        assert.equal(invalid.status, 'rejected');
        assert.equal((invalid.reason as { code?: string }).code, 'SPOOL_INVALID_ARGUMENT');
        assert.equal(conflict.status, 'rejected');
        assert.ok(conflict.reason instanceof IdempotencyConflictError);
        if (first.status !== 'fulfilled' || repeat.status !== 'fulfilled') return;
        if (later.status !== 'fulfilled' || second.status !== 'fulfilled') return;
        assert.equal(first.value.outcome, 'created');
        assert.equal(repeat.value.id, first.value.id);
        assert.equal(repeat.value.outcome, 'existing');
        assert.equal(later.value.status, 'scheduled');
        await env.finished(jobs, first.value.id, 5_000);
        await env.finished(jobs, second.value.id, 5_000);
        await sleep(100);
        assert.deepEqual(
          runs.sort((a, b) => a - b),
          [1, 2],
        );
        const stored = (await jobs.list({ type: 'print' })).items.map(
          (job) => (job.payload as { n: number }).n,
        );
        assert.deepEqual(
          stored.sort((a, b) => a - b),
          [1, 2, 4],
          'the bad add and the conflicting one added nothing',
        );
      },
    );

    suite.test('concurrent idempotent adds with one key create one job', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      const producers: Jobs[] = [jobs];
      if (env.database.shared) producers.push(env.jobs(await env.spool()));
      let runs = 0;
      jobs.define('invoice', () => {
        runs++;
        return 'issued';
      });
      await jobs.start();
      const added = await env.within(
        15_000,
        'the concurrent adds',
        Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            producers[i % producers.length]!.add('invoice', { order: 7 }, { idempotencyKey: 'order-7' }),
          ),
        ),
      );
      const distinct = new Set(added.map((job) => job.id));
      assert.equal(distinct.size, 1, `${distinct.size} jobs for one idempotency key`);
      const done = await env.finished(jobs, added[0]!.id, 5_000);
      assert.equal(done.status, 'completed');
      await sleep(200);
      assert.equal(runs, 1);
      assert.equal((await jobs.list({ type: 'invoice' })).items.length, 1);
    });
  });
}
