/**
 * Operating workflow runs: a run-level timeout (the run compensates), retry from the failed
 * step (completed steps keep their results; a failed child run is retried with its parent), and
 * listing runs across workflows by run status.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { NonRetryableError } from '../../core/errors.js';
import type { JsonValue } from '../../core/message.js';
import type { Spool } from '../../engine/spool.js';
import type { Jobs } from '../../jobs/jobs.js';
import { type WorkflowRun, Workflows } from '../../workflows/workflows.js';
import { type JobsEnv, type JobsSuite, rejectsWithCode } from './harness.js';

async function openWorkflows(env: JobsEnv): Promise<{ spool: Spool; jobs: Jobs; workflows: Workflows }> {
  const spool = await env.spool();
  const jobs = env.jobs(spool);
  return { spool, jobs, workflows: new Workflows(jobs) };
}

async function finishedRun(env: JobsEnv, workflows: Workflows, id: string): Promise<WorkflowRun> {
  await env.finished(workflows.jobs, id, 10_000);
  return workflows.get(id);
}

export function workflowOperationTests(suite: JobsSuite): void {
  void describe('workflow operations', () => {
    suite.test(
      "a run past its timeout stops where it is: a running step's signal aborts, then compensations run",
      async (env) => {
        const { jobs, workflows } = await openWorkflows(env);
        const undone: string[] = [];
        let aborted = false;
        workflows.define('slow-order', async (ctx) => {
          await ctx.step('reserve', () => 'r1', {
            compensate: (reservation) => void undone.push(reservation),
          });
          await ctx.step('render', ({ signal }) => {
            return new Promise<string>((_, reject) =>
              signal.addEventListener('abort', () => {
                aborted = true;
                reject(new Error('render stopped'));
              }),
            );
          });
          return 'never';
        });
        // A workflow's own limit, for runs that sleep past it: they wake at the deadline.
        workflows.define(
          'napper',
          async (ctx) => {
            await ctx.sleep(60_000);
            return 'rested';
          },
          { runTimeoutMs: 300 },
        );
        await jobs.start();
        const run = await workflows.start('slow-order', null, { timeoutMs: 300 });
        assert.ok(run.deadline instanceof Date, 'the run shows its deadline');
        const done = await finishedRun(env, workflows, run.id);
        assert.equal(done.status, 'compensated');
        assert.equal(done.error?.name, 'WorkflowTimeoutError');
        assert.match(done.error?.message ?? '', /ran past its deadline/);
        assert.equal(aborted, true, "the running step's signal was aborted");
        assert.deepEqual(undone, ['r1']);
        assert.deepEqual(
          done.steps.map((step) => [step.id, step.status]),
          [
            ['reserve', 'completed'],
            ['#compensate.reserve', 'completed'],
          ],
          'the interrupted step left no record',
        );

        const napping = await workflows.start('napper', null);
        const woke = await finishedRun(env, workflows, napping.id);
        assert.equal(woke.status, 'failed', 'nothing to undo: failed');
        assert.equal(woke.error?.name, 'WorkflowTimeoutError');
        assert.ok(woke.finishedAt!.getTime() - woke.createdAt.getTime() < 30_000, 'it woke at the deadline');
      },
    );

    suite.test(
      'retry resumes a failed run from its failed step: completed steps keep their results',
      async (env) => {
        const { jobs, workflows } = await openWorkflows(env);
        const calls = { fetch: 0, convert: 0 };
        let providerUp = false;
        workflows.define('import', async (ctx) => {
          const rows = await ctx.step('fetch', () => ((calls.fetch += 1), 42));
          const converted = await ctx.step(
            'convert',
            () => {
              calls.convert += 1;
              if (!providerUp) throw new NonRetryableError('converter rejected the file');
              return rows * 2;
            },
            { maxAttempts: 1 },
          );
          return converted;
        });
        await jobs.start();
        const run = await workflows.start('import', null);
        const failed = await finishedRun(env, workflows, run.id);
        assert.equal(failed.status, 'failed');
        providerUp = true;
        const retried = await workflows.retry(run.id);
        assert.equal(retried.status, 'queued');
        await rejectsWithCode(() => workflows.retry(run.id), 'SPOOL_WORKFLOW_RUN_NOT_RETRYABLE');
        const done = await finishedRun(env, workflows, run.id);
        assert.equal(done.status, 'completed');
        assert.equal(done.output, 84);
        assert.deepEqual(calls, { fetch: 1, convert: 2 }, 'the completed step did not run again');
        assert.deepEqual(
          done.steps.map((step) => [step.id, step.status, step.attempts]),
          [
            ['fetch', 'completed', 1],
            ['convert', 'completed', 1],
          ],
        );
        await rejectsWithCode(() => workflows.retry(run.id), 'SPOOL_WORKFLOW_RUN_NOT_RETRYABLE');
      },
    );

    suite.test(
      'retry of a run whose child failed retries the child; a compensated run is refused',
      async (env) => {
        const { jobs, workflows } = await openWorkflows(env);
        let ready = false;
        workflows.define('leaf', async (ctx) =>
          ctx.step(
            'work',
            () => {
              if (!ready) throw new NonRetryableError('not ready');
              return 'leaf done';
            },
            { maxAttempts: 1 },
          ),
        );
        workflows.define('tree', async (ctx) => ctx.child('leaf', 'leaf', null));
        workflows.define('undoing', async (ctx) => {
          await ctx.step('book', () => 'b1', { compensate: () => undefined });
          throw new NonRetryableError('no seats');
        });
        await jobs.start();
        const tree = await workflows.start('tree', null);
        assert.equal((await finishedRun(env, workflows, tree.id)).status, 'failed');
        ready = true;
        await workflows.retry(tree.id);
        const done = await finishedRun(env, workflows, tree.id);
        assert.equal(done.status, 'completed', JSON.stringify(done.error));
        assert.equal(done.output, 'leaf done');

        const undoing = await workflows.start('undoing', null);
        assert.equal((await finishedRun(env, workflows, undoing.id)).status, 'compensated');
        await rejectsWithCode(() => workflows.retry(undoing.id), 'SPOOL_WORKFLOW_RUN_NOT_RETRYABLE');
      },
    );

    suite.test(
      'a topic starts one run per event (keyed by the event), and its events reach waiting runs',
      async (env) => {
        const { spool, jobs, workflows } = await openWorkflows(env);
        workflows.define<{ order: string }>('fulfil', async (ctx, { order }) => {
          const paid = await ctx.waitForEvent<{ amount: number }>('payment.captured', { match: { order } });
          return { order, amount: paid?.payload.amount ?? null };
        });
        await jobs.start();
        const orders = await spool.topic<JsonValue>('orders', { partitions: 2 });
        const payments = await spool.topic<JsonValue>('payments');
        const starts = await workflows.startFromTopic('orders', 'fulfil', {
          filter: (event) => (event.body as { test?: boolean }).test !== true,
        });
        const events = await workflows.eventsFromTopic('payments', {
          group: 'fulfil-payments',
          runId: (event) => event.headers['run-id'] ?? null,
        });
        try {
          const published = [];
          for (const order of ['o1', 'o2']) {
            published.push(await orders.publish({ order }, { key: order }));
          }
          await orders.publish({ order: 'o3', test: true }, { key: 'o3' });
          const runs = async () => (await workflows.list('fulfil')).items;
          await env.until(async () => (await runs()).length === 2, 5_000, 'a run per order');
          const byOrder = new Map((await runs()).map((run) => [(run.input as { order: string }).order, run]));
          assert.deepEqual([...byOrder.keys()].sort(), ['o1', 'o2'], 'the filtered event started nothing');
          assert.equal(byOrder.get('o1')!.key, `orders/${published[0]!.id}`, 'keyed by the event');
          // The same event again (a producer retry): no second run.
          await workflows.start('fulfil', { order: 'o1' }, { key: `orders/${published[0]!.id}` });
          assert.equal((await runs()).length, 2);

          for (const order of ['o1', 'o2']) {
            const run = byOrder.get(order)!;
            await env.until(
              async () => (await workflows.get(run.id)).status === 'waiting',
              5_000,
              'the run to wait',
            );
            await payments.publish(
              { order, amount: order === 'o1' ? 30 : 45 },
              { key: 'payment.captured', headers: { 'run-id': run.id } },
            );
          }
          await payments.publish({ note: 'for no run' }, { key: 'payment.captured' });
          for (const [order, amount] of [
            ['o1', 30],
            ['o2', 45],
          ] as const) {
            const done = await finishedRun(env, workflows, byOrder.get(order)!.id);
            assert.deepEqual(done.output, { order, amount });
          }
          // An event for a run that has ended is skipped, not retried for ever.
          await payments.publish(
            { order: 'o1', amount: 1 },
            { key: 'payment.captured', headers: { 'run-id': byOrder.get('o1')!.id } },
          );
          await env.until(
            async () => (await payments.groupLag('fulfil-payments')).totalLag === 0,
            5_000,
            'the group to move past it',
          );
        } finally {
          await starts.close();
          await events.close();
        }
      },
    );

    suite.test('runs are listed across workflows, newest first, by run status', async (env) => {
      const { jobs, workflows } = await openWorkflows(env);
      workflows.define('ok', async (ctx) => ctx.step('a', () => 1));
      workflows.define('plain-failure', () => Promise.reject(new NonRetryableError('nope')));
      workflows.define('undone', async (ctx) => {
        await ctx.step('a', () => 1, { compensate: () => undefined });
        throw new NonRetryableError('nope');
      });
      await jobs.start();
      const ids: Record<string, string> = {};
      for (const name of ['ok', 'plain-failure', 'undone']) {
        ids[name] = (await workflows.start(name, null)).id;
        await finishedRun(env, workflows, ids[name]);
      }
      await jobs.add('not-a-workflow', null);

      const all = await workflows.list({}, { limit: 10 });
      assert.deepEqual(
        all.items.map((run) => run.workflow),
        ['undone', 'plain-failure', 'ok'],
        'every workflow, no plain jobs',
      );
      const failed = await workflows.list({ status: 'failed' });
      assert.deepEqual(
        failed.items.map((run) => run.id),
        [ids['plain-failure']],
      );
      const compensated = await workflows.list({ status: 'compensated' });
      assert.deepEqual(
        compensated.items.map((run) => run.id),
        [ids.undone],
      );
      assert.deepEqual(
        (await workflows.list('ok')).items.map((run) => run.status),
        ['completed'],
      );
      // Paging across workflows: one at a time, every run once.
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const page: { items: WorkflowRun[]; next: string | null } = await workflows.list(
          {},
          { limit: 1, after },
        );
        seen.push(...page.items.map((run) => run.id));
        after = page.next;
      } while (after !== null);
      assert.deepEqual(seen, [ids.undone, ids['plain-failure'], ids.ok]);
      await rejectsWithCode(() => workflows.list({ status: 'lost' as never }), 'SPOOL_INVALID_ARGUMENT');
      // Cancelled as a plain job, a run would skip its compensations: refused, with the way.
      const waiting = await workflows.start('ok', null, { delayMs: 60_000 });
      await assert.rejects(jobs.cancel(waiting.id), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'SPOOL_JOB_STATE_CONFLICT');
        assert.match(error.message, /is a workflow run: cancel it with workflows\.cancel/);
        return true;
      });
    });
  });
}
