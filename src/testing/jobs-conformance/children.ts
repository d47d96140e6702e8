/**
 * Parents and children: a parent waits for all of its children, runs exactly once after the
 * last one completed and reads their results; a child that dies kills the parent. With many
 * children finishing at once, on a store whose pool is smaller than the number of jobs
 * running at once.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { NonRetryableError } from '../../core/errors.js';
import { type JobsSuite, names, sleep } from './harness.js';

const parents = 40;
const childrenPerParent = 20;
/** Child jobs running at once: more than the store's connections. */
const childConcurrency = 40;
const poolSize = 10;

export function childrenTests(suite: JobsSuite): void {
  void describe('parents and children', () => {
    suite.test(
      `${parents} parents of ${childrenPerParent} children each (child concurrency ${childConcurrency}, pool ${poolSize}): every parent runs once, after all of its children`,
      async (env) => {
        const spool = await env.spool({ maxConnections: poolSize });
        const jobs = env.jobs(spool);
        const parentRuns = new Map<string, number>();
        const problems: string[] = [];
        jobs.define(
          'piece',
          async (job) => {
            await sleep(2);
            return (job.payload as { n: number }).n * 10;
          },
          { concurrency: childConcurrency },
        );
        jobs.define(
          'assembly',
          async (job, context) => {
            parentRuns.set(job.id, (parentRuns.get(job.id) ?? 0) + 1);
            const children = await context.children();
            const notDone = children.filter((child) => child.status !== 'completed');
            if (children.length !== childrenPerParent || notDone.length > 0) {
              problems.push(
                `parent ${job.id} ran with ${children.length} children, ${notDone.length} not completed`,
              );
            }
            return children.reduce((sum, child) => sum + (child.result as number), 0);
          },
          { concurrency: 8 },
        );
        await jobs.start();
        const added = await env.within(
          30_000,
          'adding the parents with their children',
          Promise.all(
            Array.from({ length: parents }, (_, p) =>
              jobs.add(
                'assembly',
                { p },
                {
                  children: Array.from({ length: childrenPerParent }, (_, c) => ({
                    type: 'piece',
                    payload: { n: p * 1_000 + c },
                  })),
                },
              ),
            ),
          ),
        );
        for (const parent of added) {
          assert.equal(parent.status, 'waiting');
          assert.equal(parent.pendingChildren, childrenPerParent);
        }
        const expected = (p: number): number => {
          let sum = 0;
          for (let c = 0; c < childrenPerParent; c++) sum += (p * 1_000 + c) * 10;
          return sum;
        };
        // Children finishing at once must neither hang the store nor lose a parent's count.
        await env.allFinished(jobs, parents * (childrenPerParent + 1), { stallMs: 15_000, capMs: 150_000 });
        const done = [];
        for (const [p, parent] of added.entries()) {
          done.push(await env.finished(jobs, parent.id, 2_000));
          assert.equal(done[p]!.status, 'completed', `parent ${p}`);
        }
        for (const [p, parent] of done.entries()) {
          assert.equal(parent.result, expected(p), `parent ${p} read every child's result`);
          assert.equal(parent.attempts, 1);
          assert.equal(parent.pendingChildren, 0);
        }
        assert.deepEqual(problems, []);
        assert.equal(parentRuns.size, parents);
        assert.deepEqual(
          [...parentRuns.values()].filter((runs) => runs !== 1),
          [],
          'every parent ran exactly once',
        );
        const counts = await jobs.counts();
        assert.deepEqual(counts.map((c) => [c.type, c.status, c.count]).sort(), [
          ['assembly', 'completed', parents],
          ['piece', 'completed', parents * childrenPerParent],
        ]);
        // The parent became runnable (queued) only after its last child.
        const events = names(await env.eventsOf(jobs, added[0]!.id));
        assert.deepEqual(events, ['job.waiting', 'job.queued', 'job.active', 'job.completed']);
      },
    );

    suite.test('a child that dies kills its parent, which never runs', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      let parentRuns = 0;
      jobs.define(
        'resize',
        async (job) => {
          const size = job.payload as number;
          if (size < 0) throw new NonRetryableError(`negative size ${size}`);
          await sleep(50);
          return size * 10;
        },
        { concurrency: 4 },
      );
      jobs.define('album', () => {
        parentRuns++;
        return 'published';
      });
      await jobs.start();
      const parent = await jobs.add('album', null, {
        children: [1, 2, -3, 4].map((size) => ({ type: 'resize', payload: size })),
      });
      const dead = await env.finished(jobs, parent.id, 5_000);
      assert.equal(dead.status, 'dead');
      assert.equal(dead.error?.name, 'ChildJobDied');
      assert.match(dead.error?.message ?? '', /negative size -3/);
      assert.equal(dead.attempts, 0);
      const { items: children } = await jobs.list({ parentId: parent.id });
      assert.equal(children.length, 4);
      for (const child of children) {
        await env.finished(jobs, child.id, 5_000);
      }
      await sleep(200);
      const statuses = (await jobs.list({ parentId: parent.id })).items
        .map((child) => `${JSON.stringify(child.payload)}:${child.status}`)
        .sort();
      assert.deepEqual(statuses, ['-3:dead', '1:completed', '2:completed', '4:completed']);
      assert.equal(parentRuns, 0, 'the parent of a dead child never runs');
      assert.equal(
        (await jobs.get(parent.id)).status,
        'dead',
        'children finishing later leave the parent dead',
      );
      assert.deepEqual(names(await env.eventsOf(jobs, parent.id)), ['job.waiting', 'job.dead']);
    });

    suite.test(
      'a child cancelled on its own ends its parent; retrying the parent runs it again',
      async (env) => {
        const spool = await env.spool();
        const jobs = env.jobs(spool);
        let parentRuns = 0;
        // Children wait until released, so one can be cancelled before it runs.
        let release = false;
        jobs.define('page', async (job) => {
          while (!release) await sleep(20);
          return job.payload;
        });
        jobs.define('book', () => {
          parentRuns++;
          return 'bound';
        });
        const parent = await jobs.add('book', null, {
          children: ['one', 'two'].map((payload) => ({ type: 'page', payload })),
        });
        const { items: children } = await jobs.list({ parentId: parent.id });
        const two = children.find((child) => child.payload === 'two')!;
        await jobs.cancel(two.id);
        const dead = await jobs.get(parent.id);
        assert.equal(dead.status, 'dead', 'a parent whose child will never run does not wait for ever');
        assert.equal(dead.error?.name, 'ChildJobCancelled');
        assert.match(dead.error?.message ?? '', new RegExp(two.id));

        release = true;
        await jobs.start();
        const retried = await jobs.retry(parent.id);
        assert.equal(retried.status, 'waiting');
        const done = await env.finished(jobs, parent.id, 5_000);
        assert.equal(done.status, 'completed');
        assert.equal(parentRuns, 1);
        assert.equal((await jobs.get(two.id)).status, 'completed', 'the cancelled child ran with the retry');
      },
    );

    suite.test(
      'retrying a parent that died of a child never runs it before its children completed',
      async (env) => {
        const spool = await env.spool();
        const jobs = env.jobs(spool);
        const parentSaw: string[][] = [];
        jobs.define('part', (job) => {
          if (job.payload === 'broken') throw new NonRetryableError('broken part');
          return job.payload;
        });
        jobs.define('kit', async (_job, context) => {
          parentSaw.push(
            (await context.children())
              .map((child) => `${JSON.stringify(child.payload)}:${child.status}`)
              .sort(),
          );
          return 'assembled';
        });
        await jobs.start();
        const parent = await jobs.add('kit', null, {
          children: ['good', 'broken'].map((payload) => ({ type: 'part', payload })),
        });
        assert.equal((await env.finished(jobs, parent.id, 5_000)).status, 'dead');
        // Either answer keeps the promise that a parent runs after its children complete: refuse
        // the retry, or wait for the children again. Running it now with a dead child does not.
        const retried = await jobs.retry(parent.id).then(
          (job) => job.status,
          (error: unknown) => (error as { code?: string }).code ?? String(error),
        );
        await sleep(500);
        assert.deepEqual(
          parentSaw.filter((seen) => seen.some((child) => !child.endsWith(':completed'))),
          [],
          `after retry (${retried}) the parent ran while a child was not completed`,
        );
      },
    );
  });
}
