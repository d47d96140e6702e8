/**
 * Add controls: singleton, unique within a window, debounce (trailing and leading) and throttle.
 * Each add answers what it did (`outcome`); the decisions are stepped on a `TestClock`, and the
 * runs they lead to are checked with a worker on the real clock. Singleton is also raced from
 * two processes on one database.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { TestClock } from '../../core/clock.js';
import type { Jobs } from '../../jobs/jobs.js';
import { type JobsSuite, rejectsWithCode, sleep } from './harness.js';

const t0 = Date.UTC(2030, 0, 1);

/** Claims and completes job `id` of `type` (a remote worker's round trip). */
async function finish(jobs: Jobs, type: string, id: string): Promise<void> {
  const leased = (await jobs.claim([type], { max: 10, leaseMs: 60_000 })).find(
    (entry) => entry.job.id === id,
  );
  assert.ok(leased, `claimed job ${id}`);
  await jobs.complete(id, leased.lease, null);
}

export function addControlTests(suite: JobsSuite): void {
  void describe('add controls', () => {
    suite.test('singleton: while the key has a job not finished, adds answer it', async (env) => {
      const clock = new TestClock(t0);
      const jobs = env.jobs(await env.spool({ clock }));
      jobs.define('sync', null);
      const first = await jobs.add('sync', { n: 1 }, { key: 'acme', singleton: true });
      assert.equal(first.outcome, 'created');
      const again = await jobs.add('sync', { n: 2 }, { key: 'acme', singleton: true });
      assert.equal(again.outcome, 'singleton');
      assert.equal(again.id, first.id);
      assert.deepEqual(again.payload, { n: 1 }, 'the running job is answered as it is');
      const other = await jobs.add('sync', { n: 3 }, { key: 'globex', singleton: true });
      assert.equal(other.outcome, 'created', 'another key has its own');
      assert.notEqual(other.id, first.id);
      await finish(jobs, 'sync', first.id);
      const next = await jobs.add('sync', { n: 4 }, { key: 'acme', singleton: true });
      assert.equal(next.outcome, 'created', 'once the job finished, the key takes a new one');
      assert.notEqual(next.id, first.id);
    });

    suite.test(
      'singleton holds across two processes adding at once: one job',
      async (env) => {
        const [first, second] = [env.jobs(await env.spool()), env.jobs(await env.spool())];
        for (const jobs of [first, second]) jobs.define('sync', null);
        const added = await Promise.all(
          Array.from({ length: 20 }, (_, n) =>
            (n % 2 === 0 ? first : second).add('sync', { n }, { key: 'acme', singleton: true }),
          ),
        );
        assert.equal(added.filter((job) => job.outcome === 'created').length, 1);
        assert.equal(new Set(added.map((job) => job.id)).size, 1, 'every add answered the one job');
        assert.equal((await first.list({ type: 'sync' })).items.length, 1);
      },
      { sharedDatabase: true },
    );

    suite.test(
      'unique: a repeat within the window answers the first job, by key or by payload',
      async (env) => {
        const clock = new TestClock(t0);
        const jobs = env.jobs(await env.spool({ clock }));
        jobs.define('report', null);
        const byKey = { key: 'acme', unique: { windowMs: 60_000 } };
        const first = await jobs.add('report', { month: 1 }, byKey);
        assert.equal(first.outcome, 'created');
        await clock.advance(59_000);
        const repeat = await jobs.add('report', { month: 2 }, byKey);
        assert.equal(repeat.outcome, 'duplicate');
        assert.equal(repeat.id, first.id);
        await clock.advance(1_000);
        const later = await jobs.add('report', { month: 3 }, byKey);
        assert.equal(later.outcome, 'created', 'the window is over');

        const byPayload = { unique: { windowMs: 60_000, by: 'payload' as const } };
        const a = await jobs.add('report', { to: 'ada', items: [1, { b: 2, a: 1 }] }, byPayload);
        const b = await jobs.add('report', { items: [1, { a: 1, b: 2 }], to: 'ada' }, byPayload);
        const c = await jobs.add('report', { to: 'bob', items: [1, { a: 1, b: 2 }] }, byPayload);
        assert.deepEqual(
          [a.outcome, b.outcome, c.outcome],
          ['created', 'duplicate', 'created'],
          'the same data in another key order is the same payload',
        );
        assert.equal(b.id, a.id);
      },
    );

    suite.test(
      'debounce, trailing: a burst is one job with the last payload, run delayMs after the last add, capped by maxWaitMs',
      async (env) => {
        const clock = new TestClock(t0);
        const jobs = env.jobs(await env.spool({ clock }));
        jobs.define('reindex', null);
        const options = { key: 'doc-1', debounce: { delayMs: 1_000, maxWaitMs: 1_800 } };
        const first = await jobs.add('reindex', { v: 1 }, options);
        assert.equal(first.outcome, 'created');
        assert.equal(first.status, 'scheduled');
        assert.equal(first.runAt.getTime(), t0 + 1_000);
        await clock.advance(500);
        const second = await jobs.add('reindex', { v: 2 }, options);
        assert.equal(second.outcome, 'debounced');
        assert.equal(second.id, first.id);
        assert.deepEqual(second.payload, { v: 2 }, 'the last payload wins');
        assert.equal(second.runAt.getTime(), t0 + 1_500, 'moved to delayMs after this add');
        await clock.advance(500);
        const third = await jobs.add('reindex', { v: 3 }, options);
        assert.equal(third.runAt.getTime(), t0 + 1_800, 'no later than maxWaitMs after the first add');
        // Its ticket was due at the first time; nothing is claimable before the moved one.
        await clock.advance(100);
        assert.deepEqual(await jobs.claim(['reindex'], { max: 10 }), [], 'not due yet');
        await clock.advance(700);
        const [leased] = await jobs.claim(['reindex'], { max: 10 });
        assert.equal(leased?.job.id, first.id);
        assert.deepEqual(leased.job.payload, { v: 3 });
        await jobs.complete(first.id, leased.lease, null);
        const next = await jobs.add('reindex', { v: 4 }, options);
        assert.equal(next.outcome, 'created', 'a burst after the run is a new job');
      },
    );

    suite.test(
      'debounce, trailing, with a worker: one run, with the last payload, after the quiet',
      async (env) => {
        const jobs = env.jobs(await env.spool());
        const runs: { payload: unknown; at: number }[] = [];
        jobs.define('reindex', (job) => {
          runs.push({ payload: job.payload, at: Date.now() });
          return null;
        });
        await jobs.start();
        let lastAdd = 0;
        let id = '';
        for (let v = 1; v <= 4; v++) {
          // Taken before the call: the quiet counts from when the store took the add, which is
          // after the call and before its answer (the answer also waits for the commit's fsync).
          lastAdd = Date.now();
          const added = await jobs.add('reindex', { v }, { key: 'doc-1', debounce: { delayMs: 400 } });
          id ||= added.id;
          assert.equal(added.id, id);
          await sleep(50);
        }
        const done = await env.finished(jobs, id, 10_000);
        assert.equal(done.status, 'completed');
        assert.equal(done.attempts, 1, 'the early ticket waited without using an attempt');
        await sleep(200);
        assert.equal(runs.length, 1);
        assert.deepEqual(runs[0]!.payload, { v: 4 });
        assert.ok(
          runs[0]!.at - lastAdd >= 395,
          `ran ${runs[0]!.at - lastAdd} ms after the last add was called`,
        );
      },
    );

    suite.test('debounce, leading: the first add runs, the rest of the burst answer it', async (env) => {
      const clock = new TestClock(t0);
      const jobs = env.jobs(await env.spool({ clock }));
      jobs.define('alert', null);
      const options = {
        key: 'disk-full',
        debounce: { delayMs: 1_000, maxWaitMs: 3_000, mode: 'leading' as const },
      };
      const first = await jobs.add('alert', { n: 1 }, options);
      assert.equal(first.outcome, 'created');
      assert.equal(first.status, 'queued', 'the leading add runs at once');
      for (let n = 2; n <= 4; n++) {
        await clock.advance(900);
        const dropped = await jobs.add('alert', { n }, options);
        assert.equal(dropped.outcome, 'debounced');
        assert.equal(dropped.id, first.id);
        assert.deepEqual(dropped.payload, { n: 1 });
      }
      await clock.advance(400);
      const capped = await jobs.add('alert', { n: 5 }, options);
      assert.equal(capped.outcome, 'created', 'maxWaitMs ends a burst that never goes quiet');
      await clock.advance(1_000);
      const quiet = await jobs.add('alert', { n: 6 }, options);
      assert.equal(quiet.outcome, 'created', 'after a quiet delayMs, a new burst');
    });

    suite.test(
      'throttle: the first add runs now, the rest of the interval fold into one job at its end',
      async (env) => {
        const clock = new TestClock(t0);
        const jobs = env.jobs(await env.spool({ clock }));
        jobs.define('sync', null);
        const options = { key: 'acme', throttle: { intervalMs: 1_000 } };
        const first = await jobs.add('sync', { v: 1 }, options);
        assert.equal(first.outcome, 'created');
        assert.equal(first.runAt.getTime(), t0);
        await clock.advance(100);
        const second = await jobs.add('sync', { v: 2 }, options);
        assert.equal(second.outcome, 'throttled');
        assert.notEqual(second.id, first.id);
        assert.equal(second.runAt.getTime(), t0 + 1_000, 'at the end of the interval');
        await clock.advance(100);
        const third = await jobs.add('sync', { v: 3 }, options);
        assert.equal(third.outcome, 'throttled');
        assert.equal(third.id, second.id, 'folded into the waiting job');
        assert.deepEqual(third.payload, { v: 3 });
        await clock.advance(1_000);
        const fourth = await jobs.add('sync', { v: 4 }, options);
        assert.equal(fourth.runAt.getTime(), t0 + 2_000, 'the next interval: one start per interval');
        await clock.advance(1_000);
        const fifth = await jobs.add('sync', { v: 5 }, options);
        assert.equal(fifth.outcome, 'throttled', 'still within the interval of the last start');
        assert.equal(fifth.runAt.getTime(), t0 + 3_000);
        await clock.advance(2_000);
        const sixth = await jobs.add('sync', { v: 6 }, options);
        assert.equal(sixth.outcome, 'created', 'an interval after the last start: at once');
        assert.equal(sixth.runAt.getTime(), t0 + 4_200);
      },
    );

    suite.test('bad add controls are refused with what to fix, and nothing is added', async (env) => {
      const jobs = env.jobs(await env.spool());
      jobs.define('sync', null);
      const refused = [
        { key: 'a', singleton: true, throttle: { intervalMs: 1_000 } },
        { singleton: true },
        { debounce: { delayMs: 100 } },
        { key: 'a', debounce: { delayMs: 100 }, delayMs: 50 },
        { key: 'a', debounce: { delayMs: 1_000, maxWaitMs: 500 } },
        { key: 'a', unique: { windowMs: 0 } },
        { key: 'a', throttle: { intervalMs: 1.5 } },
      ];
      for (const options of refused) {
        await rejectsWithCode(
          () => jobs.add('sync', null, options),
          'SPOOL_INVALID_ARGUMENT',
          JSON.stringify(options),
        );
      }
      assert.equal((await jobs.list({ type: 'sync' })).items.length, 0);
    });
  });
}
