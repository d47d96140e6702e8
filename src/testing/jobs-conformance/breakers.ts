/**
 * Circuit breakers kept in the store: opening after consecutive failures or a failure rate,
 * failing fast with the time left, one probe when half-open (closing or reopening it), a manual
 * reset, one state for every process on the store, and jobs and workflow steps behind an open
 * breaker waiting for it without using their attempts.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { CircuitOpenError } from '../../core/wait-errors.js';
import { Workflows } from '../../workflows/workflows.js';
import { type JobsSuite, sleep } from './harness.js';

const down = () => {
  throw new Error('503 from the SMS provider');
};

async function refused(call: () => Promise<unknown>): Promise<CircuitOpenError> {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof CircuitOpenError, `expected CircuitOpenError, got ${String(error)}`);
    return error;
  }
  assert.fail('the call went through an open breaker');
}

export function breakerTests(suite: JobsSuite): void {
  void describe('circuit breakers', () => {
    suite.test('opens after consecutive failures, fails fast, and one probe closes it', async (env) => {
      const jobs = env.jobs(await env.spool());
      const sms = jobs.breakers.define('sms', { failureThreshold: 3, openMs: 300 });
      let calls = 0;
      const call = () => sms.run(() => ((calls += 1), 'sent'));
      assert.equal(await call(), 'sent');
      for (let i = 0; i < 3; i++) await assert.rejects(sms.run(down), /503/);
      const open = await sms.view();
      assert.equal(open.state, 'open');
      assert.equal(open.consecutiveFailures, 3);
      assert.equal(open.lastFailure?.message, '503 from the SMS provider');
      const error = await refused(call);
      assert.equal(error.code, 'SPOOL_CIRCUIT_OPEN');
      assert.equal(error.breaker, 'sms');
      assert.ok(error.retryAfterMs > 0 && error.retryAfterMs <= 300, `retryAfterMs ${error.retryAfterMs}`);
      assert.equal(calls, 1, 'an open breaker does not call');
      await sleep(320);
      // Half-open: one probe goes through, the calls beside it are refused.
      let release!: () => void;
      const probe = sms.run(() => new Promise<string>((resolve) => (release = () => resolve('probed'))));
      await env.until(() => release !== undefined, 2_000, 'the probe to start');
      await refused(call);
      assert.equal((await sms.view()).state, 'half-open');
      release();
      assert.equal(await probe, 'probed');
      assert.equal((await sms.view()).state, 'closed');
      assert.equal(await call(), 'sent');
      assert.equal(sms.counters.rejected, 2);
    });

    suite.test('a failed probe opens it again; reset closes it at once', async (env) => {
      const jobs = env.jobs(await env.spool());
      const mail = jobs.breakers.define('mail', { failureThreshold: 1, openMs: 200 });
      await assert.rejects(mail.run(down));
      await sleep(220);
      await assert.rejects(mail.run(down), /503/, 'the probe is let through and fails');
      const reopened = await mail.view();
      assert.equal(reopened.state, 'open');
      assert.equal(reopened.opened, 2);
      await refused(() => mail.run(() => 'x'));
      assert.equal((await jobs.breakers.reset('mail')).state, 'closed');
      assert.equal(await mail.run(() => 'x'), 'x');
      assert.deepEqual(
        (await jobs.breakers.list()).map((breaker) => [breaker.name, breaker.state]),
        [['mail', 'closed']],
      );
    });

    suite.test('each change of state is on the events log, in order, with why', async (env) => {
      const jobs = env.jobs(await env.spool());
      await jobs.start();
      const from = await jobs.events.end();
      const fax = jobs.breakers.define('fax', { failureThreshold: 2, openMs: 150 });
      for (let i = 0; i < 2; i++) await assert.rejects(fax.run(down));
      await sleep(170);
      await assert.rejects(fax.run(down), /503/, 'a probe that fails');
      await sleep(170);
      assert.equal(await fax.run(() => 'ok'), 'ok', 'a probe that succeeds');
      await assert.rejects(fax.run(down));
      await assert.rejects(fax.run(down));
      await jobs.breakers.reset('fax');
      const { events } = await jobs.events.read(from, 100);
      const changes = events.filter((event) => 'breaker' in event);
      assert.deepEqual(
        changes.map((event) => ('breaker' in event ? [event.event, event.from, event.reset] : null)),
        [
          ['breaker.open', 'closed', false],
          ['breaker.half-open', 'open', false],
          ['breaker.open', 'half-open', false],
          ['breaker.half-open', 'open', false],
          ['breaker.closed', 'half-open', false],
          ['breaker.open', 'closed', false],
          ['breaker.closed', 'open', true],
        ],
      );
      const [opened] = changes;
      assert.ok(opened && 'breaker' in opened);
      assert.equal(opened.breaker, 'fax');
      assert.equal(opened.lastFailure?.message, '503 from the SMS provider');
      assert.ok(opened.openUntil !== null && opened.openUntil > opened.at);
    });

    suite.test('a failure rate over the window opens it', async (env) => {
      const jobs = env.jobs(await env.spool());
      const api = jobs.breakers.define('api', {
        failureThreshold: 100,
        failureRate: { threshold: 0.5, minimumCalls: 4, windowMs: 10_000 },
      });
      await api.run(() => 1);
      await assert.rejects(api.run(down));
      await api.run(() => 1);
      assert.equal((await api.view()).state, 'closed', '1 of 3: below the minimum calls');
      await assert.rejects(api.run(down));
      assert.equal((await api.view()).state, 'open', '2 of 4 failed');
    });

    suite.test(
      'every process on the store sees one state',
      async (env) => {
        const first = env
          .jobs(await env.spool())
          .breakers.define('payments', { failureThreshold: 2, openMs: 60_000 });
        const second = env
          .jobs(await env.spool())
          .breakers.define('payments', { failureThreshold: 2, openMs: 60_000 });
        await assert.rejects(first.run(down));
        await assert.rejects(second.run(down));
        let called = false;
        await refused(() => first.run(() => (called = true)));
        await refused(() => second.run(() => (called = true)));
        assert.equal(called, false, 'opened by two processes together, refused in both');
      },
      { sharedDatabase: true },
    );

    suite.test('a job behind an open breaker waits for it without using an attempt', async (env) => {
      const jobs = env.jobs(await env.spool());
      const sms = jobs.breakers.define('sms', { failureThreshold: 1, openMs: 400 });
      await assert.rejects(sms.run(down));
      let runs = 0;
      jobs.define('sms.send', () => ((runs += 1), 'delivered'), { maxAttempts: 1, breaker: 'sms' });
      await jobs.start();
      const job = await jobs.add('sms.send', { to: '+1555' });
      await env.until(async () => (await jobs.get(job.id)).status === 'scheduled', 5_000, 'the job to wait');
      assert.equal((await jobs.get(job.id)).attempts, 0, 'the refused attempt is not counted');
      const done = await env.finished(jobs, job.id, 5_000);
      assert.equal(done.status, 'completed', 'one attempt allowed, and it was spent on the probe');
      assert.equal(done.attempts, 1);
      assert.equal(runs, 1);
    });

    suite.test('a workflow step behind an open breaker sleeps until it lets a probe through', async (env) => {
      const jobs = env.jobs(await env.spool());
      const workflows = new Workflows(jobs);
      const sms = jobs.breakers.define('sms', { failureThreshold: 1, openMs: 400 });
      await assert.rejects(sms.run(down));
      workflows.define('notify', (ctx) =>
        ctx.step('text', () => 'texted', { maxAttempts: 1, breaker: 'sms' }),
      );
      await jobs.start();
      const run = await workflows.start('notify', null);
      await env.until(
        async () => (await workflows.get(run.id)).status === 'sleeping',
        5_000,
        'the run to sleep',
      );
      const sleeping = await workflows.get(run.id);
      assert.equal(sleeping.steps[0]!.error?.name, 'CircuitOpenError');
      assert.equal(sleeping.steps[0]!.attempts, 0);
      await env.finished(jobs, run.id, 5_000);
      const done = await workflows.get(run.id);
      assert.equal(done.status, 'completed');
      assert.equal(done.output, 'texted');
    });
  });
}
