/**
 * Schedules fire once per slot, whichever process holds the store's leadership: a process
 * that only produces (adds jobs, saves schedules, never starts `Jobs`) may lead the store's
 * upkeep, and the schedules must still fire in the process that runs `Jobs`. On a database
 * private to one store, the one-process form runs instead.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { errorCatalogue } from '../../core/errors.js';
import type { Job } from '../../jobs/job.js';
import type { Jobs } from '../../jobs/jobs.js';
import { type JobsEnv, type JobsSuite, sleep } from './harness.js';

/** The shortest interval a schedule accepts. */
const everyMs = 1_000;
/** How long a test watches a schedule: three slots and a bit. */
const watchMs = 3_400;

/** The jobs a schedule fired, by slot; fails on a slot fired twice or a gap between slots. */
async function firedJobs(jobs: Jobs, type: string): Promise<Job[]> {
  const { items } = await jobs.list({ type }, { limit: 1_000 });
  const slots = items.map((job) => job.metadata.slot as string);
  assert.equal(new Set(slots).size, slots.length, `a slot fired more than once: ${slots.sort().join(', ')}`);
  const times = slots.map((slot) => Date.parse(slot)).sort((a, b) => a - b);
  for (let i = 1; i < times.length; i++) {
    assert.equal(times[i]! - times[i - 1]!, everyMs, `slots ${slots.sort().join(', ')} are not consecutive`);
  }
  return items;
}

/** Saves a schedule with `saver`, watches it for `watchMs`, and checks what fired and ran. */
async function watchSchedule(env: JobsEnv, saver: Jobs, runner: Jobs, ran: Set<string>): Promise<void> {
  const saved = await saver.schedule('heartbeat', { everyMs, type: 'tick', payload: { from: 'schedule' } });
  assert.equal(saved.everyMs, everyMs);
  await sleep(watchMs);
  const fired = await firedJobs(runner, 'tick');
  const expected = Math.floor(watchMs / everyMs);
  assert.ok(
    fired.length >= expected - 1 && fired.length <= expected,
    `${fired.length} jobs fired in ${watchMs} ms by a schedule of every ${everyMs} ms (expected ${expected - 1}-${expected})`,
  );
  for (const job of fired) {
    assert.deepEqual(job.payload, { from: 'schedule' });
    assert.equal(job.metadata.schedule, 'heartbeat');
    const done = await env.finished(runner, job.id, 5_000);
    assert.equal(done.status, 'completed', 'the fired job ran');
  }
  assert.equal(ran.size, fired.length, 'each fired job ran once');
}

export function scheduleTests(suite: JobsSuite): void {
  void describe('schedules', () => {
    suite.test(
      'a schedule fires each slot once while a producer-only process leads the store',
      async (env) => {
        const ran = new Set<string>();
        const runs: string[] = [];
        const define = (jobs: Jobs) =>
          jobs.define('tick', (job) => {
            runs.push(job.id);
            ran.add(job.id);
          });
        if (!env.database.shared) {
          // One process only: it leads and runs Jobs.
          const jobs = env.jobs(await env.spool());
          define(jobs);
          await jobs.start();
          await watchSchedule(env, jobs, jobs, ran);
          assert.equal(runs.length, ran.size);
          return;
        }
        // The producer opens the store first, so it is the one that leads the store's upkeep.
        const producerSpool = await env.spool();
        await env.until(() => producerSpool.leadership.held, 10_000, 'the producer to lead the store');
        const producer = env.jobs(producerSpool); // adds and schedules; never started
        const workerSpool = await env.spool();
        // The schedule is saved by the producer: the worker looks for schedules saved elsewhere
        // every schedulerPollMs (10 s by default, longer than the whole test).
        const worker = env.jobs(workerSpool, { schedulerPollMs: 250 });
        define(worker);
        worker.define('email', (job) => `sent ${job.payload as string}`);
        await worker.start();
        assert.equal(producerSpool.leadership.held, true, 'the producer still leads the store');

        const email = await producer.add('email', 'welcome');
        assert.equal((await env.finished(producer, email.id, 5_000)).result, 'sent welcome');
        await watchSchedule(env, producer, worker, ran);
        assert.equal(runs.length, ran.size, 'no fired job ran twice');
      },
    );

    suite.test(
      'two processes running Jobs fire each slot of a schedule once',
      async (env) => {
        const ran = new Set<string>();
        let runs = 0;
        // Either may lead the jobs role; the other saves the schedule half the time, so the
        // leader must see it soon (schedulerPollMs) to fire its first slot.
        const first = env.jobs(await env.spool(), { schedulerPollMs: 250 });
        const second = env.jobs(await env.spool(), { schedulerPollMs: 250 });
        for (const jobs of [first, second]) {
          jobs.define('tick', (job) => {
            runs++;
            ran.add(job.id);
          });
          await jobs.start();
        }
        await watchSchedule(env, second, first, ran);
        assert.equal(runs, ran.size, 'no fired job ran twice');
      },
      { sharedDatabase: true },
    );

    suite.test(
      'a paused schedule fires nothing until resumed, and skips the slots it missed',
      async (env) => {
        const jobs = env.jobs(await env.spool(), { schedulerPollMs: 250 });
        jobs.define('tick', () => undefined);
        await jobs.start();
        await jobs.schedule('heartbeat', { everyMs, type: 'tick' });
        const paused = await jobs.pauseSchedule('heartbeat');
        assert.notEqual(paused.pausedAt, null);
        assert.deepEqual(await jobs.pauseSchedule('heartbeat'), paused, 'pausing again changes nothing');
        // Saving the schedule again (a deployment re-registering it) keeps the operator's pause.
        const resaved = await jobs.schedule('heartbeat', { everyMs, type: 'tick', payload: { v: 2 } });
        assert.equal(resaved.pausedAt, paused.pausedAt);
        await sleep(2 * everyMs + 300);
        assert.equal(
          (await jobs.list({ type: 'tick' }, { limit: 10 })).items.length,
          0,
          'nothing fired while paused',
        );

        const resumedAt = Date.now();
        const resumed = await jobs.resumeSchedule('heartbeat');
        assert.equal(resumed.pausedAt, null);
        assert.ok(resumed.nextRunAt > resumedAt - 50, 'it resumes from a slot after now');
        await env.until(
          async () => (await jobs.list({ type: 'tick' }, { limit: 10 })).items.length >= 1,
          5_000,
          'the resumed schedule to fire',
        );
        const fired = await firedJobs(jobs, 'tick');
        for (const job of fired)
          assert.ok(Date.parse(job.metadata.slot as string) >= resumedAt - 50, 'no slot of the pause fired');
        await assert.rejects(jobs.pauseSchedule('nope'), { code: errorCatalogue.SCHEDULE_NOT_FOUND.code });
      },
    );
  });
}
