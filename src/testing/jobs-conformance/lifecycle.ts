/**
 * One job's life in an in-process worker: add → run → completed with its result; failed
 * attempts, backoff and `RetryAfterError`; `NonRetryableError` and exhausted attempts → dead;
 * progress followed by a result or a throw; timeouts; delayed jobs. Every check is on what a
 * user sees: the job's fields, its history and its events on `jobs.events`.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { NonRetryableError, RetryAfterError } from '../../core/errors.js';
import { JobTimeoutError } from '../../jobs/job-worker.js';
import { type JobsSuite, names } from './harness.js';

/**
 * Slack allowed after a delay ran out before the next attempt starts: the worker is woken by a
 * timer, then claims the ticket and starts the attempt in a transaction. Generous, so a busy
 * machine does not fail the suite; the lower bound (never early) is checked exactly.
 */
const lateMs = 1_500;
/** Clock readings of one attempt's end and the next one's start may differ by this much across a transaction. */
const earlyMs = 5;

export function lifecycleTests(suite: JobsSuite): void {
  void describe('lifecycle', () => {
    suite.test('an added job runs and completes with its result; its events come in order', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      const seen: { payload: unknown; attempt: number }[] = [];
      jobs.define<{ n: number }, { doubled: number }>('double', (job, { attempt }) => {
        seen.push({ payload: job.payload, attempt });
        return { doubled: job.payload.n * 2 };
      });
      await jobs.start();
      const added = await jobs.add('double', { n: 21 }, { key: 'k1', metadata: { by: 'test' } });
      assert.equal(added.status, 'queued');
      assert.equal(added.attempts, 0);
      const done = await env.finished(jobs, added.id, 5_000);
      assert.equal(done.status, 'completed');
      assert.deepEqual(done.result, { doubled: 42 });
      assert.equal(done.progress, 100);
      assert.equal(done.attempts, 1);
      assert.equal(done.error, null);
      assert.equal(done.key, 'k1');
      assert.deepEqual(done.metadata, { by: 'test' });
      assert.deepEqual(seen, [{ payload: { n: 21 }, attempt: 1 }]);
      assert.equal(done.history.length, 1);
      assert.equal(done.history[0]!.error, null);
      assert.ok(done.startedAt && done.finishedAt && done.finishedAt >= done.startedAt);
      const events = await env.eventsOf(jobs, added.id);
      assert.deepEqual(names(events), ['job.queued', 'job.active', 'job.completed']);
      assert.deepEqual(
        events.map((event) => [event.status, event.attempts]),
        [
          ['queued', 0],
          ['active', 1],
          ['completed', 1],
        ],
      );
      const offsets = events.map((event) => event.offset);
      assert.deepEqual(
        offsets,
        [...offsets].sort((a, b) => a - b),
        'event offsets increase',
      );
      assert.deepEqual(await jobs.get(added.id), done, 'get shows what wait resolved with');
    });

    suite.test('a delayed job is scheduled and runs no earlier than its delay', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      jobs.define('later', () => 'ran');
      await jobs.start();
      const added = await jobs.add('later', null, { delayMs: 400 });
      assert.equal(added.status, 'scheduled');
      assert.equal(added.runAt.getTime() - added.createdAt.getTime(), 400);
      const done = await env.finished(jobs, added.id, 5_000);
      assert.equal(done.status, 'completed');
      const waited = done.startedAt!.getTime() - added.createdAt.getTime();
      assert.ok(waited >= 400 - earlyMs, `started ${waited} ms after the add, before its delay of 400 ms`);
      assert.ok(waited <= 400 + lateMs, `started ${waited} ms after the add, long after its delay of 400 ms`);
      assert.deepEqual(names(await env.eventsOf(jobs, added.id)), [
        'job.scheduled',
        'job.active',
        'job.completed',
      ]);
    });

    suite.test('a failed attempt is retried after its backoff, each attempt in the history', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      let calls = 0;
      jobs.define(
        'flaky',
        () => {
          calls++;
          if (calls < 3) throw new Error(`upstream timeout ${calls}`);
          return 'ok';
        },
        { maxAttempts: 3, backoff: { baseMs: 200, capMs: 10_000, jitter: 'none' } },
      );
      await jobs.start();
      const added = await jobs.add('flaky', null);
      const done = await env.finished(jobs, added.id, 8_000);
      assert.equal(done.status, 'completed');
      assert.equal(done.result, 'ok');
      assert.equal(done.attempts, 3);
      assert.equal(calls, 3);
      assert.deepEqual(
        done.history.map((h) => [h.attempt, h.error?.message ?? null]),
        [
          [1, 'upstream timeout 1'],
          [2, 'upstream timeout 2'],
          [3, null],
        ],
      );
      // Exponential backoff without jitter: 200 ms before the 2nd attempt, 400 ms before the 3rd.
      for (const [index, delay] of [
        [1, 200],
        [2, 400],
      ] as const) {
        const gap = done.history[index]!.startedAt - done.history[index - 1]!.finishedAt!;
        assert.ok(
          gap >= delay - earlyMs,
          `attempt ${index + 1} started ${gap} ms after a failure, before its backoff of ${delay} ms`,
        );
        assert.ok(
          gap <= delay + lateMs,
          `attempt ${index + 1} started ${gap} ms after a failure (backoff ${delay} ms)`,
        );
      }
      const events = await env.eventsOf(jobs, added.id);
      assert.deepEqual(names(events), [
        'job.queued',
        'job.active',
        'job.retrying',
        'job.active',
        'job.retrying',
        'job.active',
        'job.completed',
      ]);
      assert.deepEqual(
        events.filter((e) => e.status === 'retrying').map((e) => e.error?.message),
        ['upstream timeout 1', 'upstream timeout 2'],
        'each retrying event carries the error of its attempt',
      );
    });

    suite.test('a retrying job shows its error and the time of its next attempt', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      jobs.define(
        'slow-retry',
        () => {
          throw new Error('try later');
        },
        { maxAttempts: 2, backoff: { baseMs: 60_000, capMs: 60_000, jitter: 'none' } },
      );
      await jobs.start();
      const added = await jobs.add('slow-retry', null);
      await env.until(async () => (await jobs.get(added.id)).status === 'retrying', 5_000, 'status retrying');
      const job = await jobs.get(added.id);
      assert.equal(job.attempts, 1);
      assertFailure(job.error, 'Error', 'try later');
      assert.equal(job.finishedAt, null);
      const lastEnd = job.history[0]!.finishedAt!;
      assert.equal(job.runAt.getTime() - lastEnd, 60_000, 'runAt is the end of the attempt plus the backoff');
    });

    suite.test('a NonRetryableError makes the job dead at once', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      let calls = 0;
      jobs.define(
        'charge',
        () => {
          calls++;
          throw new NonRetryableError('card stolen');
        },
        { maxAttempts: 5, backoff: { baseMs: 10, capMs: 10, jitter: 'none' } },
      );
      await jobs.start();
      const added = await jobs.add('charge', null);
      const dead = await env.finished(jobs, added.id, 5_000);
      assert.equal(dead.status, 'dead');
      assert.equal(dead.attempts, 1);
      assertFailure(dead.error, 'NonRetryableError', 'card stolen');
      assert.equal(dead.result, null);
      assert.deepEqual(
        dead.history.map((h) => h.error && { name: h.error.name, message: h.error.message }),
        [{ name: 'NonRetryableError', message: 'card stolen' }],
      );
      assert.ok(dead.finishedAt);
      assert.deepEqual(names(await env.eventsOf(jobs, added.id)), ['job.queued', 'job.active', 'job.dead']);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(calls, 1, 'a dead job never runs again');
    });

    suite.test('a RetryAfterError sets the delay of the next attempt instead of the backoff', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      let calls = 0;
      jobs.define(
        'throttled',
        () => {
          calls++;
          if (calls === 1) throw new RetryAfterError(600, 'rate limited upstream');
          return 'through';
        },
        // A backoff far from the RetryAfterError's delay, either way: the attempt must wait 600 ms.
        { maxAttempts: 3, backoff: { baseMs: 10, capMs: 10, jitter: 'none' } },
      );
      await jobs.start();
      const added = await jobs.add('throttled', null);
      await env.until(async () => (await jobs.get(added.id)).status === 'retrying', 5_000, 'status retrying');
      const retrying = await jobs.get(added.id);
      assert.equal(retrying.runAt.getTime() - retrying.history[0]!.finishedAt!, 600);
      assertFailure(retrying.error, 'RetryAfterError', 'rate limited upstream');
      const done = await env.finished(jobs, added.id, 5_000);
      assert.equal(done.status, 'completed');
      assert.equal(done.attempts, 2);
      const gap = done.history[1]!.startedAt - done.history[0]!.finishedAt!;
      assert.ok(gap >= 600 - earlyMs, `the 2nd attempt started ${gap} ms after the RetryAfterError(600)`);
      assert.ok(gap <= 600 + lateMs, `the 2nd attempt started ${gap} ms after the RetryAfterError(600)`);
    });

    suite.test('after maxAttempts failed attempts the job is dead with the last error', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      let calls = 0;
      jobs.define(
        'doomed',
        (_job, { attempt }) => {
          calls++;
          throw new TypeError(`failure ${attempt}`);
        },
        { maxAttempts: 3, backoff: { baseMs: 20, capMs: 20, jitter: 'none' } },
      );
      await jobs.start();
      const added = await jobs.add('doomed', null);
      const dead = await env.finished(jobs, added.id, 5_000);
      assert.equal(dead.status, 'dead');
      assert.equal(dead.attempts, 3);
      assertFailure(dead.error, 'TypeError', 'failure 3');
      assert.deepEqual(
        dead.history.map((h) => [h.attempt, h.error?.message]),
        [
          [1, 'failure 1'],
          [2, 'failure 2'],
          [3, 'failure 3'],
        ],
      );
      assert.equal(names(await env.eventsOf(jobs, added.id)).at(-1), 'job.dead');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(calls, 3, 'no attempt after the last one');
      // maxAttempts of the add wins over the type's.
      const once = await jobs.add('doomed', null, { maxAttempts: 1 });
      const deadOnce = await env.finished(jobs, once.id, 5_000);
      assert.equal(deadOnce.status, 'dead');
      assert.equal(deadOnce.attempts, 1);
    });

    suite.test('progress then a result: completed with the result and progress 100 at once', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      jobs.define('report', async (job, context) => {
        const steps = job.payload as number[];
        for (const step of steps) await context.progress(step, { step });
        return { rows: steps.length };
      });
      await jobs.start();
      const once = await jobs.add('report', [50]);
      const several = await jobs.add('report', [10, 40, 90]);
      for (const [added, steps] of [
        [once, 1],
        [several, 3],
      ] as const) {
        // A job whose completion is lost stays active until its lease (30 s) runs out: far beyond this.
        const done = await env.finished(jobs, added.id, 3_000);
        assert.equal(done.status, 'completed', `job with ${steps} progress call(s)`);
        assert.deepEqual(done.result, { rows: steps });
        assert.equal(done.progress, 100);
        assert.equal(done.attempts, 1);
        assert.equal(done.error, null);
        assert.deepEqual(
          done.history.map((h) => h.error),
          [null],
        );
        const took = done.finishedAt!.getTime() - added.createdAt.getTime();
        assert.ok(took < 1_500, `completed ${took} ms after the add`);
        const events = await env.eventsOf(jobs, added.id);
        assert.deepEqual(names(events), [
          'job.queued',
          'job.active',
          ...Array<string>(steps).fill('job.progress'),
          'job.completed',
        ]);
      }
      const events = await env.eventsOf(jobs, several.id);
      assert.deepEqual(
        events.filter((e) => e.event === 'job.progress').map((e) => e.progress),
        [10, 40, 90],
      );
    });

    suite.test('progress then a throw: retried after its backoff with its own error', async (env) => {
      const spool = await env.spool();
      const jobs = env.jobs(spool);
      jobs.define(
        'upload',
        async (job, context) => {
          const { attempt } = context;
          await context.progress(30 * attempt);
          if (attempt === 1 || job.payload === 'always') throw new Error(`disk full (attempt ${attempt})`);
          return 'uploaded';
        },
        { maxAttempts: 2, backoff: { baseMs: 200, capMs: 200, jitter: 'none' } },
      );
      await jobs.start();
      const recovering = await jobs.add('upload', 'once');
      const failing = await jobs.add('upload', 'always');

      const done = await env.finished(jobs, recovering.id, 4_000);
      assert.equal(done.status, 'completed');
      assert.equal(done.result, 'uploaded');
      assert.equal(done.attempts, 2);
      assert.equal(done.progress, 100);
      assert.deepEqual(
        done.history.map((h) => h.error && { name: h.error.name, message: h.error.message }),
        [{ name: 'Error', message: 'disk full (attempt 1)' }, null],
        'the first attempt failed with its own error, not a lost lease',
      );
      const gap = done.history[1]!.startedAt - done.history[0]!.finishedAt!;
      assert.ok(gap >= 200 - earlyMs, `retried ${gap} ms after the failure, before its backoff of 200 ms`);
      assert.ok(gap <= 200 + lateMs, `retried ${gap} ms after the failure (backoff 200 ms)`);
      assert.deepEqual(names(await env.eventsOf(jobs, recovering.id)), [
        'job.queued',
        'job.active',
        'job.progress',
        'job.retrying',
        'job.active',
        'job.progress',
        'job.completed',
      ]);

      const dead = await env.finished(jobs, failing.id, 4_000);
      assert.equal(dead.status, 'dead');
      assert.equal(dead.attempts, 2);
      assertFailure(dead.error, 'Error', 'disk full (attempt 2)');
      assert.deepEqual(
        dead.history.map((h) => h.error?.message),
        ['disk full (attempt 1)', 'disk full (attempt 2)'],
      );
    });

    suite.test(
      'a handler past its timeoutMs fails the attempt with JobTimeoutError and sees its signal aborted',
      async (env) => {
        const spool = await env.spool();
        const jobs = env.jobs(spool);
        const aborts: unknown[] = [];
        jobs.define(
          'stuck',
          async (job, { signal }) => {
            if (job.payload === 'deaf') return new Promise<never>(() => {}); // ignores its signal
            await new Promise<void>((resolve) =>
              signal.addEventListener('abort', () => resolve(), { once: true }),
            );
            aborts.push(signal.reason);
            return 'finished after the abort';
          },
          { timeoutMs: 200, maxAttempts: 2, backoff: { baseMs: 20, capMs: 20, jitter: 'none' } },
        );
        await jobs.start();
        const listening = await jobs.add('stuck', 'listening');
        const deaf = await jobs.add('stuck', 'deaf');
        for (const added of [listening, deaf]) {
          const dead = await env.finished(jobs, added.id, 5_000);
          assert.equal(dead.status, 'dead', `${String(added.payload)} job`);
          assert.equal(dead.attempts, 2);
          assert.equal(dead.result, null, 'a result returned after the timeout is discarded');
          assert.equal(dead.error?.name, 'JobTimeoutError');
          assert.equal(dead.error?.message, new JobTimeoutError(200).message);
          for (const attempt of dead.history) {
            assert.equal(attempt.error?.name, 'JobTimeoutError');
            const ran = attempt.finishedAt! - attempt.startedAt;
            assert.ok(
              ran >= 200 - earlyMs,
              `an attempt timed out after ${ran} ms, before its timeout of 200 ms`,
            );
            assert.ok(ran <= 200 + lateMs, `an attempt timed out after ${ran} ms (timeout 200 ms)`);
          }
        }
        assert.equal(aborts.length, 2, 'the listening handler saw its signal abort on both attempts');
        for (const reason of aborts) assert.ok(reason instanceof JobTimeoutError);
      },
    );
  });
}

/**
 * A job's failure: its name and message, and the stack of the handler that threw it (its first
 * frame is in this suite's own code).
 */
function assertFailure(
  error: { name: string; message: string; stack?: string } | null,
  name: string,
  message: string,
): void {
  assert.deepEqual({ name: error?.name, message: error?.message }, { name, message });
  assert.match(
    error?.stack ?? '',
    /^\s+at .*jobs-conformance[\\/]lifecycle\.(ts|js):\d+/,
    'the stack starts in the handler',
  );
}
