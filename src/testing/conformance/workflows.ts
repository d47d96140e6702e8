/**
 * Workflow steps and events: a step saved again replaces its record, steps read back in call
 * order, events read back after a sequence number in the order they were sent, both are written
 * atomically with the rest of a transaction, and both go with their run's job. Circuit breakers:
 * created on first lock, replaced by a save, and changed by one transaction at a time.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { WorkflowStepRecord } from '../../store/port.js';
import type { Suite } from './harness.js';
import { job } from './jobs.js';

function step(runId: string, overrides: Partial<WorkflowStepRecord> = {}): WorkflowStepRecord {
  return {
    runId,
    stepId: 'reserve',
    seq: 0,
    kind: 'step',
    status: 'completed',
    output: '{"reservation":"r-1"}',
    error: null,
    attempts: 1,
    startedAt: 1_000,
    finishedAt: 1_005,
    wakeAt: null,
    ...overrides,
  };
}

export function workflowTests(suite: Suite): void {
  void describe('workflow steps and events', () => {
    suite.test(
      'saved steps read back field for field, by seq; a second save replaces',
      async ({ store, clock }) => {
        const run = job(clock.now(), { type: 'spool.workflow.order' });
        await store.insertJob(run);
        const charge = step(run.id, {
          stepId: 'charge',
          seq: 1,
          status: 'retrying',
          output: null,
          error: { name: 'PaymentDeclined', message: 'card declined' },
          finishedAt: null,
          wakeAt: 9_000,
        });
        await store.saveWorkflowStep(charge);
        await store.saveWorkflowStep(step(run.id));
        assert.deepEqual(await store.workflowSteps(run.id), [step(run.id), charge]);
        const charged = {
          ...charge,
          status: 'completed' as const,
          output: '"c-1"',
          error: null,
          attempts: 2,
        };
        await store.saveWorkflowStep({ ...charged, finishedAt: 9_100, wakeAt: null });
        assert.deepEqual(await store.workflowSteps(run.id), [
          step(run.id),
          { ...charged, finishedAt: 9_100, wakeAt: null },
        ]);
        assert.deepEqual(await store.workflowSteps('no-such-run'), []);
      },
    );

    suite.test('events read back after a seq, oldest first, per run', async ({ store, clock }) => {
      const run = job(clock.now(), { type: 'spool.workflow.order' });
      const other = job(clock.now(), { type: 'spool.workflow.order' });
      await store.insertJob(run);
      await store.insertJob(other);
      const first = await store.addWorkflowEvent(run.id, 'payment.settled', '{"amount":5}');
      await store.addWorkflowEvent(other.id, 'payment.settled', '{}');
      const second = await store.addWorkflowEvent(run.id, 'shipment.sent', '"parcel-1"');
      assert.equal(first.runId, run.id);
      assert.equal(first.name, 'payment.settled');
      assert.equal(first.payload, '{"amount":5}');
      assert.equal(first.sentAt, clock.now());
      assert.ok(second.seq > first.seq);
      assert.deepEqual(await store.workflowEvents(run.id, 0), [first, second]);
      assert.deepEqual(await store.workflowEvents(run.id, first.seq), [second]);
      assert.deepEqual(await store.workflowEvents(run.id, second.seq), []);
    });

    suite.test('steps and events commit or roll back with their transaction', async ({ store, clock }) => {
      const run = job(clock.now(), { type: 'spool.workflow.order' });
      await store.insertJob(run);
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.saveWorkflowStep(step(run.id));
          await tx.addWorkflowEvent(run.id, 'ignored', '{}');
          assert.equal((await tx.workflowSteps(run.id)).length, 1, 'the transaction reads its own step');
          assert.equal((await tx.workflowEvents(run.id, 0)).length, 1, 'and its own event');
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.deepEqual(await store.workflowSteps(run.id), []);
      assert.deepEqual(await store.workflowEvents(run.id, 0), []);
      await store.transaction(async (tx) => {
        await tx.saveWorkflowStep(step(run.id));
        await tx.addWorkflowEvent(run.id, 'kept', '{}');
      });
      assert.equal((await store.workflowSteps(run.id)).length, 1);
      assert.equal((await store.workflowEvents(run.id, 0)).length, 1);
    });

    suite.test(
      'a run deleted as a finished job takes its steps and events with it',
      async ({ store, clock }) => {
        const run = job(clock.now(), {
          type: 'spool.workflow.order',
          status: 'completed',
          finishedAt: clock.now(),
        });
        const kept = job(clock.now(), { type: 'spool.workflow.order' });
        await store.insertJob(run);
        await store.insertJob(kept);
        for (const id of [run.id, kept.id]) {
          await store.saveWorkflowStep(step(id));
          await store.addWorkflowEvent(id, 'e', '{}');
        }
        assert.deepEqual(await store.deleteJobs([run.id]), [run.id]);
        assert.deepEqual(await store.workflowSteps(run.id), []);
        assert.deepEqual(await store.workflowEvents(run.id, 0), []);
        assert.equal((await store.workflowSteps(kept.id)).length, 1);
        assert.equal((await store.workflowEvents(kept.id, 0)).length, 1);
      },
    );

    suite.test(
      'a breaker is created by its first lock, replaced by a save, listed by name',
      async ({ store }) => {
        assert.equal(await store.getBreaker('sms'), null);
        const created = await store.lockBreaker('sms', '{"state":"closed"}');
        assert.equal(created.name, 'sms');
        assert.equal(created.state, '{"state":"closed"}');
        assert.equal((await store.lockBreaker('sms', '{"state":"ignored"}')).state, '{"state":"closed"}');
        await store.saveBreaker('sms', '{"state":"open"}');
        await store.saveBreaker('email', '{"state":"closed"}');
        assert.equal((await store.getBreaker('sms'))?.state, '{"state":"open"}');
        assert.deepEqual(
          (await store.listBreakers()).map((breaker) => [breaker.name, breaker.state]),
          [
            ['email', '{"state":"closed"}'],
            ['sms', '{"state":"open"}'],
          ],
        );
      },
    );

    suite.test(
      'breaker changes made under its lock by concurrent transactions are none of them lost',
      async ({ store }) => {
        const increments = 20;
        await Promise.all(
          Array.from({ length: increments }, () =>
            store.transaction(async (tx) => {
              const locked = await tx.lockBreaker('counter', '{"n":0}');
              const { n } = JSON.parse(locked.state) as { n: number };
              await tx.saveBreaker('counter', JSON.stringify({ n: n + 1 }));
            }),
          ),
        );
        assert.deepEqual(JSON.parse((await store.getBreaker('counter'))!.state), { n: increments });
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.saveBreaker('counter', '{"n":-1}');
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.deepEqual(JSON.parse((await store.getBreaker('counter'))!.state), { n: increments });
      },
    );
  });
}
