/**
 * Workflows (durable execution on the jobs layer): memoized steps with retries, durable sleep
 * across a restart, events with match and timeout, fan-out and fan-in, compensations newest
 * first, cancellation, idempotent start, non-determinism detection, and events sent from
 * another process. Every check is on what a user sees: side-effect counters kept outside the
 * run, the run's status and output, and its recorded steps.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { NonRetryableError } from '../../core/errors.js';
import type { JsonValue } from '../../core/message.js';
import type { Spool } from '../../engine/spool.js';
import type { Jobs } from '../../jobs/jobs.js';
import { StepFailedError } from '../../workflows/workflow-errors.js';
import { type WorkflowRun, Workflows } from '../../workflows/workflows.js';
import { type JobsEnv, type JobsSuite, rejectsWithCode } from './harness.js';

/** A fast backoff, so retried steps take milliseconds. */
const quick = { baseMs: 20, capMs: 50, jitter: 'none' as const };

async function finishedRun(
  env: JobsEnv,
  workflows: Workflows,
  id: string,
  timeoutMs = 10_000,
): Promise<WorkflowRun> {
  await env.finished(workflows.jobs, id, timeoutMs);
  return workflows.get(id);
}

async function openWorkflows(
  env: JobsEnv,
  spool?: Spool,
): Promise<{ spool: Spool; jobs: Jobs; workflows: Workflows }> {
  const opened = spool ?? (await env.spool());
  const jobs = env.jobs(opened);
  return { spool: opened, jobs, workflows: new Workflows(jobs) };
}

export function workflowTests(suite: JobsSuite): void {
  void describe('workflows', () => {
    suite.test(
      'each step runs once; a failed step retries; the run completes with its output',
      async (env) => {
        const { jobs, workflows } = await openWorkflows(env);
        const runs = { reserve: 0, charge: 0, ship: 0 };
        workflows.define<{ order: string }, { shipment: string }>('order', async (ctx, input) => {
          const reservation = await ctx.step('reserve', () => {
            runs.reserve += 1;
            return `r-${input.order}`;
          });
          const charge = await ctx.step(
            'charge',
            ({ attempt }) => {
              runs.charge += 1;
              if (attempt === 1) throw new Error('gateway timeout');
              return { charged: reservation };
            },
            { backoff: quick },
          );
          const shipment = await ctx.step('ship', () => {
            runs.ship += 1;
            return `s-${charge.charged}`;
          });
          return { shipment };
        });
        await jobs.start();
        const started = await workflows.start('order', { order: 'o1' });
        assert.equal(started.status, 'queued');
        assert.equal(started.workflow, 'order');
        const done = await finishedRun(env, workflows, started.id);
        assert.equal(done.status, 'completed');
        assert.deepEqual(done.output, { shipment: 's-r-o1' });
        assert.deepEqual(runs, { reserve: 1, charge: 2, ship: 1 }, 'a completed step never runs again');
        assert.deepEqual(
          done.steps.map((step) => [step.id, step.kind, step.status, step.attempts]),
          [
            ['reserve', 'step', 'completed', 1],
            ['charge', 'step', 'completed', 2],
            ['ship', 'step', 'completed', 1],
          ],
        );
        assert.deepEqual(done.steps[1]!.output, { charged: 'r-o1' });
        assert.equal(done.currentStep, null);
      },
    );

    suite.test('a step that fails for good throws StepFailedError, which the code may catch', async (env) => {
      const { jobs, workflows } = await openWorkflows(env);
      let tries = 0;
      workflows.define('fallback', async (ctx) => {
        try {
          await ctx.step(
            'primary',
            () => {
              tries += 1;
              throw new Error('provider down');
            },
            { maxAttempts: 2, backoff: quick },
          );
        } catch (error) {
          assert.ok(error instanceof StepFailedError);
          return ctx.step('secondary', () => `fallback after: ${error.failure.message}`);
        }
        return 'unreachable';
      });
      await jobs.start();
      const run = await workflows.start('fallback', null);
      const done = await finishedRun(env, workflows, run.id);
      assert.equal(done.status, 'completed');
      assert.equal(done.output, 'fallback after: provider down');
      assert.equal(tries, 2);
      assert.deepEqual(
        done.steps.map((step) => [step.id, step.status, step.error?.message ?? null]),
        [
          ['primary', 'failed', 'provider down'],
          ['secondary', 'completed', null],
        ],
      );
    });

    suite.test(
      'a sleep survives a restart: the run resumes in a new process and earlier steps do not run again',
      async (env) => {
        const first = await openWorkflows(env);
        const before = { count: 0 };
        const define = (workflows: Workflows, counter: { count: number }) =>
          workflows.define('nap', async (ctx) => {
            const at = await ctx.step('before', () => {
              counter.count += 1;
              return Date.now();
            });
            await ctx.sleep(800);
            return ctx.step('after', () => Date.now() - at);
          });
        define(first.workflows, before);
        await first.jobs.start();
        const run = await first.workflows.start('nap', null);
        await env.until(
          async () => (await first.workflows.get(run.id)).status === 'sleeping',
          5_000,
          'the run to sleep',
        );
        const sleeping = await first.workflows.get(run.id);
        assert.equal(sleeping.currentStep, '#sleep.1');
        assert.ok(sleeping.steps[1]!.wakeAt, 'the wake time is recorded');
        // The process goes away while the run sleeps; nothing of the run is held in memory.
        await first.jobs.close();
        await first.spool.close();
        const second = await openWorkflows(env);
        const after = { count: 0 };
        define(second.workflows, after);
        await second.jobs.start();
        const done = await finishedRun(env, second.workflows, run.id);
        assert.equal(done.status, 'completed');
        assert.ok(
          (done.output as number) >= 800 - 5,
          `woke ${JSON.stringify(done.output)} ms after the first step`,
        );
        assert.deepEqual([before.count, after.count], [1, 0], 'the step before the sleep ran once in all');
      },
      { sharedDatabase: true },
    );

    suite.test('waitForEvent takes the first matching event, also one sent before the wait', async (env) => {
      const { jobs, workflows } = await openWorkflows(env);
      workflows.define<{ order: string }>('approval', async (ctx, input) => {
        const early = await ctx.waitForEvent('note');
        const approval = await ctx.waitForEvent<{ order: string; by: string }>('approved', {
          match: { order: input.order },
        });
        return { note: early?.payload ?? null, by: approval?.payload.by ?? null };
      });
      await jobs.start();
      const run = await workflows.start('approval', { order: 'o7' });
      await workflows.sendEvent(run.id, 'note', 'sent before the wait');
      await env.until(
        async () => (await workflows.get(run.id)).status === 'waiting',
        5_000,
        'the run to wait',
      );
      await workflows.sendEvent(run.id, 'approved', { order: 'o8', by: 'not this one' });
      await workflows.sendEvent(run.id, 'approved', { order: 'o7', by: 'ada' });
      const done = await finishedRun(env, workflows, run.id);
      assert.equal(done.status, 'completed');
      assert.deepEqual(done.output, { note: 'sent before the wait', by: 'ada' });
      await rejectsWithCode(
        () => workflows.sendEvent(run.id, 'approved', {}),
        'SPOOL_WORKFLOW_RUN_FINISHED',
        'an ended run refuses events',
      );
    });

    suite.test('waitForEvent resolves null after its timeout', async (env) => {
      const { jobs, workflows } = await openWorkflows(env);
      workflows.define('impatient', async (ctx) => {
        const event = await ctx.waitForEvent('never', { timeoutMs: 300 });
        return { timedOut: event === null };
      });
      await jobs.start();
      const run = await workflows.start('impatient', null);
      const done = await finishedRun(env, workflows, run.id);
      assert.deepEqual(done.output, { timedOut: true });
      const wait = done.steps[0]!;
      assert.equal(wait.kind, 'event');
      assert.ok(wait.finishedAt!.getTime() - wait.startedAt.getTime() >= 300 - 5);
    });

    suite.test('parallel steps fan out and their results fan in', async (env) => {
      const { jobs, workflows } = await openWorkflows(env);
      const calls: number[] = [];
      workflows.define<number[]>('squares', async (ctx, numbers) => {
        const squares = await Promise.all(
          numbers.map((n) =>
            ctx.step(`square-${n}`, async () => {
              calls.push(n);
              await new Promise((resolve) => setTimeout(resolve, 10 * (5 - n)));
              return n * n;
            }),
          ),
        );
        await ctx.sleep(50); // a resume replays the fan-out from the records
        return ctx.step('sum', () => squares.reduce((a, b) => a + b, 0));
      });
      await jobs.start();
      const run = await workflows.start('squares', [1, 2, 3, 4]);
      const done = await finishedRun(env, workflows, run.id);
      assert.equal(done.output, 30);
      assert.deepEqual([...calls].sort(), [1, 2, 3, 4], 'each branch ran once');
      assert.deepEqual(
        done.steps.map((step) => step.id),
        ['square-1', 'square-2', 'square-3', 'square-4', '#sleep.1', 'sum'],
        'steps are in the order the code called them, whatever order they finished in',
      );
    });

    suite.test(
      'child workflows fan out and their results fan in; a failed child throws in the parent',
      async (env) => {
        const { jobs, workflows } = await openWorkflows(env);
        let squared = 0;
        workflows.define<number>('square', async (ctx, n) => {
          if (n < 0) throw new NonRetryableError(`cannot square ${n}`);
          await ctx.sleep(20);
          return ctx.step('square', () => ((squared += 1), n * n));
        });
        workflows.define<number[]>('sum-of-squares', async (ctx, numbers) => {
          const squares = await Promise.all(
            numbers.map((n) => ctx.child<number>(`square-${n}`, 'square', n)),
          );
          let failure = 'none';
          try {
            await ctx.child('negative', 'square', -1);
          } catch (error) {
            failure = (error as StepFailedError).failure.message;
          }
          return { sum: squares.reduce((a, b) => a + b, 0), failure };
        });
        await jobs.start();
        const run = await workflows.start('sum-of-squares', [1, 2, 3]);
        const done = await finishedRun(env, workflows, run.id);
        assert.equal(done.status, 'completed', JSON.stringify(done.error));
        const negative = await childOf(workflows, run.id, 'negative');
        assert.deepEqual(done.output, {
          sum: 14,
          failure: `child run ${negative} (square) ended failed: NonRetryableError: cannot square -1`,
        });
        assert.equal(squared, 3, "each child's step ran once, though the parent resumed several times");
        assert.deepEqual(
          done.steps.map((step) => [step.id, step.kind, step.status]),
          [
            ['square-1', 'child', 'completed'],
            ['square-2', 'child', 'completed'],
            ['square-3', 'child', 'completed'],
            ['negative', 'child', 'failed'],
          ],
        );
        assert.equal((await workflows.get(negative)).status, 'failed');
      },
    );

    suite.test(
      'a failed run compensates its completed steps, newest first, retrying a compensation',
      async (env) => {
        const { jobs, workflows } = await openWorkflows(env);
        const undone: string[] = [];
        let releaseTries = 0;
        workflows.define('saga', async (ctx) => {
          const reservation = await ctx.step('reserve', () => 'r-1', {
            compensate: (id) => {
              releaseTries += 1;
              if (releaseTries === 1) throw new Error('inventory service busy');
              undone.push(`release ${id}`);
            },
            backoff: quick,
          });
          await ctx.step('notify', () => 'no undo for this one');
          await ctx.step('charge', () => 'c-1', { compensate: (id) => void undone.push(`refund ${id}`) });
          await ctx.step('ship', () => {
            throw new NonRetryableError('address rejected');
          });
          return reservation;
        });
        await jobs.start();
        const run = await workflows.start('saga', null);
        const done = await finishedRun(env, workflows, run.id);
        assert.equal(done.status, 'compensated');
        assert.deepEqual(undone, ['refund c-1', 'release r-1']);
        assert.equal(releaseTries, 2, 'the failed compensation was retried');
        assert.equal(done.error?.name, 'StepFailedError');
        assert.match(done.error.message, /address rejected/);
        assert.deepEqual(
          done.steps
            .filter((step) => step.kind === 'compensation')
            .map((step) => [step.id, step.status, step.attempts]),
          [
            ['#compensate.reserve', 'completed', 2],
            ['#compensate.charge', 'completed', 1],
          ],
        );
      },
    );

    suite.test('a run without compensations fails with the error its code threw', async (env) => {
      const { jobs, workflows } = await openWorkflows(env);
      workflows.define('broken', async (ctx) => {
        await ctx.step('one', () => 1);
        throw new Error('bad input');
      });
      await jobs.start();
      const run = await workflows.start('broken', null);
      const done = await finishedRun(env, workflows, run.id);
      assert.equal(done.status, 'failed');
      assert.equal(done.error?.message, 'bad input');
      assert.equal(done.compensationError, null);
    });

    suite.test(
      'cancel stops a waiting run and runs its compensations; the run ends cancelled',
      async (env) => {
        const { jobs, workflows } = await openWorkflows(env);
        const undone: string[] = [];
        workflows.define('booking', async (ctx) => {
          await ctx.step('hold-seat', () => 'seat-12', { compensate: (seat) => void undone.push(seat) });
          await ctx.waitForEvent('paid');
          return 'booked';
        });
        await jobs.start();
        const run = await workflows.start('booking', null);
        await env.until(
          async () => (await workflows.get(run.id)).status === 'waiting',
          5_000,
          'the run to wait',
        );
        await workflows.cancel(run.id);
        const done = await finishedRun(env, workflows, run.id);
        assert.equal(done.status, 'cancelled');
        assert.equal(done.error?.name, 'WorkflowCancelledError');
        assert.deepEqual(undone, ['seat-12']);
        await rejectsWithCode(() => workflows.cancel(run.id), 'SPOOL_WORKFLOW_RUN_FINISHED');
      },
    );

    suite.test('a key starts at most one run; another input under the same key is refused', async (env) => {
      const { jobs, workflows } = await openWorkflows(env);
      let runs = 0;
      workflows.define('once', (ctx, input) => ctx.step('do', () => ((runs += 1), input)));
      await jobs.start();
      const first = await workflows.start('once', { n: 1 }, { key: 'order-1' });
      const again = await workflows.start('once', { n: 1 }, { key: 'order-1' });
      assert.equal(again.id, first.id);
      await rejectsWithCode(
        () => workflows.start('once', { n: 2 }, { key: 'order-1' }),
        'SPOOL_IDEMPOTENCY_CONFLICT',
      );
      await finishedRun(env, workflows, first.id);
      assert.equal(runs, 1);
      assert.equal((await workflows.get(first.id)).key, 'order-1');
    });

    suite.test(
      'code that no longer matches the history fails the execution with NonDeterminismError, not the run',
      async (env) => {
        const first = await openWorkflows(env);
        first.workflows.define('evolving', async (ctx) => {
          await ctx.step('a', () => 'a');
          await ctx.waitForEvent('go');
          return 'v1';
        });
        await first.jobs.start();
        const run = await first.workflows.start('evolving', null);
        await env.until(
          async () => (await first.workflows.get(run.id)).status === 'waiting',
          5_000,
          'the run to wait',
        );
        await first.jobs.close();
        await first.spool.close();
        // A deploy changed the code under the running run.
        const second = await openWorkflows(env);
        let ran = false;
        second.workflows.define(
          'evolving',
          async (ctx) => {
            await ctx.step('b', () => ((ran = true), 'b'));
            return 'v2';
          },
          { backoff: { baseMs: 60_000, capMs: 60_000 } },
        );
        await second.jobs.start();
        await second.workflows.sendEvent(run.id, 'go', null);
        await env.until(
          async () => (await second.workflows.get(run.id)).status === 'retrying',
          5_000,
          'a failed execution',
        );
        const stuck = await second.workflows.get(run.id);
        assert.equal(stuck.error?.name, 'NonDeterminismError');
        assert.match(stuck.error.message, /step "b".*step "a"/);
        assert.equal(ran, false, 'nothing of the mismatching code ran');
        assert.deepEqual(
          stuck.steps.map((step) => step.id),
          ['a', '#event.go.1'],
          'the history is untouched',
        );
      },
      { sharedDatabase: true },
    );

    suite.test(
      'an event sent by another process resumes the run where it runs',
      async (env) => {
        const worker = await openWorkflows(env);
        worker.workflows.define('remote-approval', async (ctx) => {
          const event = await ctx.waitForEvent<JsonValue>('approved');
          return event?.payload ?? null;
        });
        await worker.jobs.start();
        const sender = await openWorkflows(env);
        const run = await sender.workflows.start('remote-approval', null);
        await env.until(
          async () => (await sender.workflows.get(run.id)).status === 'waiting',
          5_000,
          'the run to wait',
        );
        await sender.workflows.sendEvent(run.id, 'approved', { by: 'grace' });
        const done = await finishedRun(env, sender.workflows, run.id);
        assert.deepEqual(done.output, { by: 'grace' });
      },
      { sharedDatabase: true },
    );
  });
}

/** The id of the child run a parent started at step `stepId`. */
async function childOf(workflows: Workflows, parentId: string, stepId: string): Promise<string> {
  const { items } = await workflows.jobs.list({}, { limit: 200 });
  const child = items.find(
    (job) => job.metadata['spool.parentRun'] === parentId && job.metadata['spool.parentStep'] === stepId,
  );
  assert.ok(child, `no child run for step ${stepId}`);
  return child.id;
}
