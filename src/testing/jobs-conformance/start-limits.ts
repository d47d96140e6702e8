/**
 * A job type's limits across processes for remote workers: a claim starts jobs under the
 * `globalConcurrency`, `keyConcurrency` and `globalRateLimit` of the types the claiming process
 * defines, holds the others back (queued, no attempt used) without failing, and says which limit
 * held them. And `rateBudget`, the read of a `globalRateLimit`'s budget, which falls as jobs start
 * and recovers at the rate — stepped on a `TestClock`.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { TestClock } from '../../core/clock.js';
import type { RetryAfterError } from '../../core/errors.js';
import { LimitReachedError, type ReachedLimit } from '../../core/wait-errors.js';
import type { Jobs } from '../../jobs/jobs.js';
import { type JobsSuite, rejectsWithCode } from './harness.js';

const t0 = Date.UTC(2026, 0, 5, 9, 0, 0);

/** A claim of up to `max` jobs of `type`, and the limits that held the others back. */
async function claimHeld(jobs: Jobs, type: string, max: number) {
  const held: RetryAfterError[] = [];
  const leased = await jobs.claim([type], { max, leaseMs: 60_000, onHeldBack: (error) => held.push(error) });
  const reached = held.map((error) => {
    assert.ok(error instanceof LimitReachedError, `held back by a limit, not ${error.name}`);
    return error.reached;
  });
  return { leased, reached, held };
}

export function startLimitTests(suite: JobsSuite): void {
  void describe('start limits of remote claims', () => {
    suite.test(
      "remote claims start jobs under the defined type's globalConcurrency and keyConcurrency",
      async (env) => {
        const jobs = env.jobs(await env.spool());
        jobs.define('render', null, { globalConcurrency: 2 });
        jobs.define('sync', null, { keyConcurrency: 1 });
        await jobs.start();
        const renders = await Promise.all(Array.from({ length: 5 }, (_, n) => jobs.add('render', n)));

        // Starts at the same moment may leave a slot untaken (the store then errs on the safe
        // side); never more than the limit run.
        const first = await claimHeld(jobs, 'render', 5);
        assert.ok(
          first.leased.length >= 1 && first.leased.length <= 2,
          `${first.leased.length} of 5 started`,
        );
        assert.equal(first.reached.length, 5 - first.leased.length, 'the others were held back, not lost');
        const expected: ReachedLimit = {
          jobType: 'render',
          option: 'globalConcurrency',
          limit: 2,
          intervalMs: null,
          key: null,
        };
        for (const reached of first.reached) assert.deepEqual(reached, expected);
        for (const error of first.held) assert.ok(error.retryAfterMs >= 200 && error.retryAfterMs < 400);
        const running = [...first.leased];
        const deadline = Date.now() + 5_000;
        while (running.length < 2 && Date.now() < deadline) {
          running.push(...(await jobs.claim(['render'], { max: 5, waitMs: 1_000, leaseMs: 60_000 })));
        }
        assert.equal(running.length, 2, 'a claim of 5 gets the 2 the limit allows');
        for (const job of renders.filter((added) => !running.some((leased) => leased.job.id === added.id))) {
          const now = await jobs.get(job.id);
          assert.equal(now.status, 'queued', 'held back, the job stays queued');
          assert.equal(now.attempts, 0, 'and used no attempt');
        }
        assert.deepEqual(
          await jobs.claim(['render'], { max: 5, waitMs: 800, leaseMs: 60_000 }),
          [],
          'nothing more while both run',
        );

        await jobs.complete(running[0]!.job.id, running[0]!.lease, null);
        const next = await jobs.claim(['render'], { max: 5, waitMs: 3_000, leaseMs: 60_000 });
        assert.equal(next.length, 1, 'one ended, so one more starts');

        await Promise.all([
          jobs.add('sync', 1, { key: 'acme' }),
          jobs.add('sync', 2, { key: 'acme' }),
          jobs.add('sync', 3, { key: 'globex' }),
        ]);
        const syncs = await claimHeld(jobs, 'sync', 5);
        const keys = syncs.leased.map((leased) => leased.job.key);
        assert.equal(new Set(keys).size, keys.length, `one at a time per key: ${keys.join(', ')}`);
        assert.ok(
          syncs.reached.some((reached) => reached?.option === 'keyConcurrency' && reached.key === 'acme'),
          "acme's second job was held back by keyConcurrency",
        );
        for (const reached of syncs.reached) {
          assert.deepEqual(reached, {
            jobType: 'sync',
            option: 'keyConcurrency',
            limit: 1,
            intervalMs: null,
            key: reached?.key,
          });
        }
      },
    );

    suite.test(
      'remote claims take globalRateLimit tokens; the budget falls as jobs start and recovers at the rate',
      async (env) => {
        const clock = new TestClock(t0);
        const jobs = env.jobs(await env.spool({ clock }));
        jobs.define('notify', null, { globalRateLimit: { limit: 3, intervalMs: 3_000 } });
        jobs.define('mail', null, { globalRateLimit: { limit: 1, intervalMs: 1_000, perKey: true } });
        jobs.define('plain', null);
        await jobs.start();
        const budget = (type: string, key?: string) =>
          jobs.rateBudget(type, key === undefined ? {} : { key });
        const full = { type: 'notify', key: null, limit: 3, intervalMs: 3_000, perKey: false };
        assert.deepEqual(await budget('notify'), { ...full, remaining: 3, nextTokenMs: 1_000, resetMs: 0 });

        await Promise.all(Array.from({ length: 5 }, (_, n) => jobs.add('notify', n)));
        const first = await claimHeld(jobs, 'notify', 5);
        assert.equal(first.leased.length, 3, 'a full bucket lets its limit start');
        assert.deepEqual(
          first.reached,
          Array.from({ length: 2 }, () => ({
            jobType: 'notify',
            option: 'globalRateLimit',
            limit: 3,
            intervalMs: 3_000,
            key: null,
          })),
        );
        assert.deepEqual(
          first.held.map((error) => error.retryAfterMs),
          [1_000, 1_000],
        );
        assert.deepEqual(await budget('notify'), {
          ...full,
          remaining: 0,
          nextTokenMs: 1_000,
          resetMs: 3_000,
        });
        assert.deepEqual(await budget('notify', 'acme'), await budget('notify'), 'one bucket for every key');

        await clock.advance(1_500);
        assert.deepEqual(await budget('notify'), { ...full, remaining: 1, nextTokenMs: 500, resetMs: 1_500 });
        const second = await claimHeld(jobs, 'notify', 5);
        assert.equal(second.leased.length, 1, 'one token refilled: one more starts');
        assert.deepEqual(
          second.held.map((error) => error.retryAfterMs),
          [500],
        );
        assert.deepEqual(await budget('notify'), { ...full, remaining: 0, nextTokenMs: 500, resetMs: 2_500 });
        await clock.advance(10_000);
        assert.deepEqual(await budget('notify'), { ...full, remaining: 3, nextTokenMs: 1_000, resetMs: 0 });
        assert.equal((await claimHeld(jobs, 'notify', 5)).leased.length, 1, 'the last one');

        await Promise.all([
          jobs.add('mail', 1, { key: 'acme' }),
          jobs.add('mail', 2, { key: 'acme' }),
          jobs.add('mail', 3, { key: 'globex' }),
        ]);
        const mails = await claimHeld(jobs, 'mail', 5);
        assert.deepEqual(mails.leased.map((leased) => leased.job.key).sort(), ['acme', 'globex']);
        assert.deepEqual(
          mails.reached.map((reached) => reached?.key),
          ['acme'],
        );
        const perKey = { type: 'mail', limit: 1, intervalMs: 1_000, perKey: true };
        assert.deepEqual(await budget('mail', 'acme'), {
          ...perKey,
          key: 'acme',
          remaining: 0,
          nextTokenMs: 1_000,
          resetMs: 1_000,
        });
        assert.deepEqual(await budget('mail', 'initech'), {
          ...perKey,
          key: 'initech',
          remaining: 1,
          nextTokenMs: 1_000,
          resetMs: 0,
        });

        await rejectsWithCode(() => budget('plain'), 'SPOOL_RATE_LIMIT_NOT_FOUND');
        await rejectsWithCode(() => budget('unknown'), 'SPOOL_RATE_LIMIT_NOT_FOUND');
        assert.deepEqual(
          await jobs.rateBudget('notify-elsewhere', { globalRateLimit: { limit: 2, intervalMs: 1_000 } }),
          {
            type: 'notify-elsewhere',
            key: null,
            limit: 2,
            intervalMs: 1_000,
            perKey: false,
            remaining: 2,
            nextTokenMs: 500,
            resetMs: 0,
          },
          'a type defined elsewhere: its limit given',
        );
      },
    );
  });
}
