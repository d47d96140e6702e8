// Workflow runs over HTTP, as a caller in another language would drive them: start (202 +
// Location), poll the run with its steps, send an event, cancel (compensations), and the
// problems for what cannot be done. The workflow is defined on the server's own Jobs, as a
// worker process on the same store would define it.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SpoolClient } from '../../src/client/client.js';
import { RunWaitTimeoutError } from '../../src/client/workflows.js';
import { NonRetryableError } from '../../src/core/errors.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { EventAccepted, RunAccepted, RunPage, WorkflowRun } from '../../src/server/schemas/workflows.js';
import { Workflows } from '../../src/workflows/workflows.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

describe('workflow runs over HTTP', () => {
  let t: TestServer;
  const undone: string[] = [];
  afterEach(() => t.dispose());

  async function serve(): Promise<void> {
    t = await startTestServer({
      jobs: async (spool) => {
        const jobs = new Jobs(spool);
        const workflows = new Workflows(jobs);
        workflows.define<{ sku: string }>('order', async (ctx, order) => {
          const reservation = await ctx.step('reserve', () => `r-${order.sku}`, {
            compensate: (r) => void undone.push(r),
          });
          const approval = await ctx.waitForEvent<{ by: string }>('approved', { match: { sku: order.sku } });
          return { reservation, approvedBy: approval?.payload.by ?? null };
        });
        workflows.define('import', async (ctx) => {
          const rows = await ctx.step('fetch', () => ((fetches += 1), 21));
          return ctx.step(
            'convert',
            () => {
              if (!converterUp) throw new NonRetryableError('converter is down');
              return rows * 2;
            },
            { maxAttempts: 1 },
          );
        });
        await jobs.start();
        return jobs;
      },
    });
  }
  let fetches = 0;
  let converterUp = false;

  async function until(path: string, status: string) {
    for (let i = 0; i < 250; i++) {
      const run = await t.call('GET', path, { returns: WorkflowRun });
      if (run.body.status === status) return run.body;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`${path} never reached ${status}`);
  }

  it('start answers 202 with Location; an event resumes the run; the run shows every step', async () => {
    await serve();
    const accepted = await t.call('POST', '/v1/workflows/order/runs', {
      body: { input: { sku: 'lamp' }, key: 'order-1', metadata: { channel: 'web' } },
      returns: RunAccepted,
    });
    assert.equal(accepted.status, 202);
    const location = accepted.headers.get('location')!;
    assert.equal(location, `/v1/workflow-runs/${accepted.body.id}`);
    assert.equal(accepted.body.run.workflow, 'order');
    const again = await t.call('POST', '/v1/workflows/order/runs', {
      body: { input: { sku: 'lamp' }, key: 'order-1', metadata: { channel: 'web' } },
    });
    assert.equal((again.body as { id: string }).id, accepted.body.id, 'a key starts one run');

    const waiting = await until(location, 'waiting');
    assert.equal(waiting.currentStep, '#event.approved.1');
    const sent = await t.call('POST', `${location}/events`, {
      body: { name: 'approved', payload: { sku: 'lamp', by: 'ada' } },
      returns: EventAccepted,
    });
    assert.equal(sent.status, 202);
    assert.equal(sent.body.name, 'approved');
    const done = await until(location, 'completed');
    assert.deepEqual(done.output, { reservation: 'r-lamp', approvedBy: 'ada' });
    assert.deepEqual(done.metadata, { channel: 'web' });
    assert.deepEqual(
      done.steps.map((step) => [step.id, step.kind, step.status]),
      [
        ['reserve', 'step', 'completed'],
        ['#event.approved.1', 'event', 'completed'],
      ],
    );
    const list = await t.call('GET', '/v1/workflows/order/runs', { returns: RunPage });
    assert.deepEqual(
      list.body.items.map((run) => [run.id, run.status]),
      [[done.id, 'completed']],
    );
    assertProblem(
      await t.call('POST', `${location}/events`, { body: { name: 'approved' } }),
      409,
      'SPOOL_WORKFLOW_RUN_FINISHED',
    );
  });

  it('cancel compensates the completed steps and ends the run cancelled', async () => {
    await serve();
    const accepted = await t.call('POST', '/v1/workflows/order/runs', {
      body: { input: { sku: 'desk' } },
      returns: RunAccepted,
    });
    const location = `/v1/workflow-runs/${accepted.body.id}`;
    await until(location, 'waiting');
    const cancelled = await t.call('POST', `${location}/cancel`, { returns: WorkflowRun });
    assert.equal(cancelled.status, 202);
    const done = await until(location, 'cancelled');
    assert.equal(done.error?.name, 'WorkflowCancelledError');
    assert.deepEqual(undone.slice(-1), ['r-desk']);
    assert.equal(done.steps.at(-1)!.id, '#compensate.reserve');
    assertProblem(await t.call('POST', `${location}/cancel`), 409, 'SPOOL_WORKFLOW_RUN_FINISHED');
  });

  it('answers problems that say what to fix', async () => {
    await serve();
    assertProblem(await t.call('GET', '/v1/workflow-runs/nope'), 404, 'SPOOL_WORKFLOW_RUN_NOT_FOUND');
    const accepted = await t.call('POST', '/v1/workflows/order/runs', { body: { input: { sku: 'x' } } });
    const id = (accepted.body as { id: string }).id;
    const reserved = assertProblem(
      await t.call('POST', `/v1/workflow-runs/${id}/events`, { body: { name: 'spool.cancel' } }),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
    assert.match(reserved.detail, /not starting with 'spool\.'/);
    const unknownField = assertProblem(
      await t.call('POST', '/v1/workflows/order/runs', { body: { input: 1, ttl: 5 } }),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
    assert.match(unknownField.detail, /ttl/);
    const claimed = assertProblem(
      await t.call('POST', '/v1/jobs/claim', { body: { types: ['spool.workflow.order'] } }),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
    assert.match(claimed.detail, /Spool's own \(the runs of a workflow\)/);
    await t.call('POST', '/v1/workflows/order/runs', { body: { input: { sku: 'a' }, key: 'k' } });
    assertProblem(
      await t.call('POST', '/v1/workflows/order/runs', { body: { input: { sku: 'b' }, key: 'k' } }),
      422,
      'SPOOL_IDEMPOTENCY_CONFLICT',
    );
  });

  it('spool/client mirrors it: start, wait, sendEvent, get, list, cancel', async () => {
    await serve();
    const client = new SpoolClient({ url: t.url });
    const { id } = await client.workflows.start('order', { sku: 'chair' }, { key: 'c-1' });
    await assert.rejects(client.workflows.wait(id, { timeoutMs: 300, pollMs: 50 }), (error: unknown) => {
      assert.ok(error instanceof RunWaitTimeoutError);
      assert.equal(error.code, 'SPOOL_WAIT_TIMEOUT');
      return true;
    });
    const event = await client.workflows.sendEvent(id, 'approved', { sku: 'chair', by: 'lin' });
    assert.deepEqual(event.payload, { sku: 'chair', by: 'lin' });
    const done = await client.workflows.wait(id, { timeoutMs: 10_000, pollMs: 50 });
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.output, { reservation: 'r-chair', approvedBy: 'lin' });
    assert.deepEqual((await client.workflows.get(id)).steps.length, 2);
    assert.deepEqual(
      (await client.workflows.list('order')).items.map((run) => run.id),
      [id],
    );
    const second = await client.workflows.start('order', { sku: 'sofa' });
    await until(`/v1/workflow-runs/${second.id}`, 'waiting');
    await client.workflows.cancel(second.id);
    assert.equal((await client.workflows.wait(second.id, { pollMs: 50 })).status, 'cancelled');
    await assert.rejects(client.workflows.cancel(second.id), { code: 'SPOOL_WORKFLOW_RUN_FINISHED' });
    await client.close();
  });

  it('runs of every workflow are listed by status; a failed run is retried from its failed step', async () => {
    await serve();
    fetches = 0;
    converterUp = false;
    const order = await t.call('POST', '/v1/workflows/order/runs', {
      body: { input: { sku: 'desk' }, timeoutMs: 60_000 },
      returns: RunAccepted,
    });
    assert.ok(order.body.run.deadline, 'a start with timeoutMs shows its deadline');
    const imported = await t.call('POST', '/v1/workflows/import/runs', { body: {}, returns: RunAccepted });
    const path = `/v1/workflow-runs/${imported.body.id}`;
    await until(path, 'failed');
    // Waiting for its event until its deadline at the latest: a run with a wake time is `sleeping`.
    await until(`/v1/workflow-runs/${order.body.id}`, 'sleeping');

    const all = await t.call('GET', '/v1/workflow-runs?limit=10', { returns: RunPage });
    assert.deepEqual(
      all.body.items.map((run) => run.workflow),
      ['import', 'order'],
    );
    const failed = await t.call('GET', '/v1/workflow-runs?status=failed', { returns: RunPage });
    assert.deepEqual(
      failed.body.items.map((run) => run.id),
      [imported.body.id],
    );
    const sleeping = await t.call('GET', '/v1/workflow-runs?workflow=order&status=sleeping', {
      returns: RunPage,
    });
    assert.deepEqual(
      sleeping.body.items.map((run) => run.id),
      [order.body.id],
    );
    assertProblem(await t.call('GET', '/v1/workflow-runs?status=lost'), 400, 'SPOOL_INVALID_ARGUMENT');

    assertProblem(
      await t.call('POST', `/v1/workflow-runs/${order.body.id}/retry`),
      409,
      'SPOOL_WORKFLOW_RUN_NOT_RETRYABLE',
    );
    converterUp = true;
    const retried = await t.call('POST', `${path}/retry`, { returns: WorkflowRun });
    assert.equal(retried.status, 202);
    const done = await until(path, 'completed');
    assert.equal(done.output, 42);
    assert.equal(fetches, 1, 'the completed step kept its result');

    const client = new SpoolClient({ url: t.url });
    assert.deepEqual(
      (await client.workflows.list({ status: 'completed' })).items.map((run) => run.id),
      [imported.body.id],
    );
    await assert.rejects(client.workflows.retry(imported.body.id), {
      code: 'SPOOL_WORKFLOW_RUN_NOT_RETRYABLE',
    });
    await client.close();
  });

  it('breakers: listed with their shared state and reset by an operator, over HTTP and the client', async () => {
    let jobs!: Jobs;
    t = await startTestServer({
      jobs: (spool) => {
        jobs = new Jobs(spool);
        return Promise.resolve(jobs);
      },
    });
    const sms = jobs.breakers.define('sms', { failureThreshold: 1, openMs: 60_000 });
    await assert.rejects(
      sms.run(() => {
        throw new Error('provider down');
      }),
    );
    const client = new SpoolClient({ url: t.url });
    const [listed] = await client.breakers.list();
    assert.equal(listed?.name, 'sms');
    assert.equal(listed?.state, 'open');
    assert.equal(listed?.lastFailure?.message, 'provider down');
    assert.ok(listed?.openUntil && Date.parse(listed.openUntil) > Date.now());
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /^spool_circuit_breaker_state\{breaker="sms",state="open"\} 1$/m);
    assert.match(metrics, /^spool_circuit_breaker_state\{breaker="sms",state="closed"\} 0$/m);
    assert.match(metrics, /^spool_circuit_breaker_opened\{breaker="sms"\} 1$/m);
    await assert.rejects(
      sms.run(() => 'not called'),
      { code: 'SPOOL_CIRCUIT_OPEN' },
    );
    const counted = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(counted, /^spool_circuit_breaker_calls_total\{breaker="sms",outcome="failure"\} 1$/m);
    assert.match(counted, /^spool_circuit_breaker_calls_total\{breaker="sms",outcome="rejected"\} 1$/m);
    assert.match(counted, /^spool_circuit_breaker_calls_total\{breaker="sms",outcome="success"\} 0$/m);
    const reset = await client.breakers.reset('sms');
    assert.equal(reset.state, 'closed');
    assert.equal(await sms.run(() => 'sent'), 'sent', 'the process that uses it sees the reset');
    await client.close();
  });
});
