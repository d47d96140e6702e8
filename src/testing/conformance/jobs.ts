/**
 * Job and schedule records: inserts (idempotent by type + idempotency key), versioned updates,
 * searches with filters and cursors, counts, retention of finished jobs, and the schedule slot
 * hand-off that lets several processes share one schedule without firing a slot twice.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import type { JobRecord, ScheduleRecord } from '../../store/port.js';
import type { Suite } from './harness.js';

export function job(now: number, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id: uuidv7(),
    type: 'email.send',
    status: 'queued',
    payload: '{"to":"ada@example.com"}',
    key: null,
    priority: 0,
    metadata: '{}',
    maxAttempts: 3,
    attempts: 0,
    createdAt: now,
    updatedAt: now,
    runAt: now,
    startedAt: null,
    finishedAt: null,
    progress: 0,
    progressData: null,
    result: null,
    lastError: null,
    history: [],
    logs: [],
    parentId: null,
    pendingChildren: 0,
    callbackUrl: null,
    idempotencyKey: null,
    requestHash: null,
    version: 1,
    ...overrides,
  };
}

function schedule(now: number, overrides: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    name: 'nightly-report',
    cron: '0 3 * * *',
    timezone: 'Europe/Berlin',
    everyMs: null,
    jobType: 'report.build',
    payload: '{}',
    missedPolicy: 'skip',
    nextRunAt: now + 60_000,
    lastRunAt: null,
    createdAt: now,
    pausedAt: null,
    ...overrides,
  };
}

export function jobTests(suite: Suite): void {
  void describe('job records', () => {
    suite.test('insertJob stores a job that getJob returns field for field', async ({ store, clock }) => {
      const record = job(clock.now(), {
        key: 'customer-1',
        metadata: '{"team":"growth"}',
        callbackUrl: 'https://example.com/hook',
        history: [{ attempt: 1, startedAt: 1, finishedAt: 2, error: { name: 'Error', message: 'x' } }],
        lastError: { name: 'Error', message: 'x' },
      });
      assert.deepEqual(await store.insertJob(record), { job: record, created: true });
      assert.deepEqual(await store.getJob(record.id), record);
      assert.equal(await store.getJob(uuidv7()), null);
    });

    suite.test(
      'insertJob with a known idempotency key returns the first job, per type',
      async ({ store, clock }) => {
        const first = job(clock.now(), { idempotencyKey: 'order-7', requestHash: 'h1' });
        await store.insertJob(first);
        const again = await store.insertJob(
          job(clock.now(), { idempotencyKey: 'order-7', requestHash: 'h2' }),
        );
        assert.equal(again.created, false);
        assert.equal(again.job.id, first.id);
        assert.equal(again.job.requestHash, 'h1');
        const otherType = await store.insertJob(
          job(clock.now(), { type: 'sms.send', idempotencyKey: 'order-7' }),
        );
        assert.equal(otherType.created, true);
      },
    );

    suite.test(
      'updateJob applies a patch, raises the version and sets updatedAt',
      async ({ store, clock }) => {
        const record = job(clock.now());
        await store.insertJob(record);
        await clock.advance(1_000);
        const updated = await store.updateJob(record.id, {
          status: 'completed',
          result: '{"ok":true}',
          finishedAt: clock.now(),
          progress: 100,
          lastError: null,
          history: [{ attempt: 1, startedAt: 5, finishedAt: 6, error: null }],
          logs: [{ at: 5, attempt: 1, level: 'warn', message: 'slow disk' }],
        });
        assert.ok(updated);
        assert.deepEqual(updated.logs, [{ at: 5, attempt: 1, level: 'warn', message: 'slow disk' }]);
        assert.equal(updated.status, 'completed');
        assert.equal(updated.result, '{"ok":true}');
        assert.equal(updated.progress, 100);
        assert.equal(updated.version, 2);
        assert.equal(updated.updatedAt, clock.now());
        assert.deepEqual(updated.history, [{ attempt: 1, startedAt: 5, finishedAt: 6, error: null }]);
        assert.deepEqual((await store.getJob(record.id))?.logs, updated.logs);
        assert.equal(updated.payload, record.payload, 'fields not in the patch are kept');
        assert.deepEqual(await store.getJob(record.id), updated);
      },
    );

    suite.test(
      'updateJob with a stale expected version changes nothing and resolves null',
      async ({ store, clock }) => {
        const record = job(clock.now());
        await store.insertJob(record);
        assert.ok(await store.updateJob(record.id, { status: 'active' }, 1));
        assert.equal(await store.updateJob(record.id, { status: 'cancelled' }, 1), null);
        assert.equal((await store.getJob(record.id))?.status, 'active');
        assert.equal(await store.updateJob(uuidv7(), { status: 'active' }), null);
      },
    );

    suite.test(
      'updateJob with the expected record answers as a read of the updated job would, or null once it moved',
      async ({ store, clock }) => {
        const record = job(clock.now());
        await store.insertJob(record);
        await clock.advance(1_000);
        const active = await store.updateJob(
          record.id,
          {
            status: 'active',
            attempts: 1,
            startedAt: clock.now(),
            // Undefined members are not stored: the answer must not carry them either.
            lastError: { name: 'Lost', message: 'the worker vanished', stack: undefined },
            history: [{ attempt: 1, startedAt: clock.now(), finishedAt: null, error: null }],
            progressData: undefined,
          },
          record,
        );
        assert.ok(active);
        assert.deepEqual(active, await store.getJob(record.id));
        assert.equal(active.version, 2);
        assert.equal(active.updatedAt, clock.now());
        assert.deepEqual(active.lastError, { name: 'Lost', message: 'the worker vanished' });
        await clock.advance(1_000);
        const done = await store.updateJob(record.id, { status: 'completed', result: '7' }, active);
        assert.deepEqual(done, await store.getJob(record.id));
        assert.equal(done?.version, 3);
        assert.equal(await store.updateJob(record.id, { status: 'cancelled' }, active), null, 'stale record');
        assert.equal((await store.getJob(record.id))?.status, 'completed');
        const unknown = { ...record, id: uuidv7() };
        assert.equal(await store.updateJob(unknown.id, { status: 'active' }, unknown), null);
      },
    );

    suite.test(
      'listJobs filters by type, status, key, parent and creation time, newest first',
      async ({ store, clock }) => {
        const parent = job(clock.now(), { type: 'batch' });
        await store.insertJob(parent);
        const ids: string[] = [];
        for (let n = 0; n < 6; n++) {
          await clock.advance(10);
          const record = job(clock.now(), {
            type: n % 2 ? 'sms.send' : 'email.send',
            status: n < 3 ? 'queued' : 'completed',
            key: n % 3 === 0 ? 'vip' : null,
            parentId: n === 5 ? parent.id : null,
          });
          ids.push(record.id);
          await store.insertJob(record);
        }
        const page = (query: Parameters<typeof store.listJobs>[0]) =>
          store.listJobs(query, { limit: 50 }).then((result) => result.items.map((item) => item.id));
        assert.deepEqual(await page({ type: 'email.send' }), [ids[4], ids[2], ids[0]]);
        assert.deepEqual(await page({ status: 'completed', type: 'sms.send' }), [ids[5], ids[3]]);
        assert.deepEqual(await page({ key: 'vip' }), [ids[3], ids[0]]);
        assert.deepEqual(await page({ parentId: parent.id }), [ids[5]]);
        assert.deepEqual(await page({ since: parent.createdAt + 20, until: parent.createdAt + 50 }), [
          ids[3],
          ids[2],
          ids[1],
        ]);
      },
    );

    suite.test('listJobs pages cover every job exactly once', async ({ store, clock }) => {
      const ids = new Set<string>();
      for (let n = 0; n < 7; n++) {
        const record = job(clock.now());
        ids.add(record.id);
        await store.insertJob(record);
        if (n % 2) await clock.advance(1);
      }
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const result = await store.listJobs({}, { limit: 3, after });
        seen.push(...result.items.map((item) => item.id));
        after = result.next;
      } while (after);
      assert.equal(seen.length, 7);
      assert.deepEqual(new Set(seen), ids);
    });

    suite.test('countJobs counts by type and status', async ({ store, clock }) => {
      await store.insertJob(job(clock.now()));
      await store.insertJob(job(clock.now()));
      await store.insertJob(job(clock.now(), { status: 'dead' }));
      await store.insertJob(job(clock.now(), { type: 'sms.send' }));
      const counts = await store.countJobs();
      const sorted = [...counts].sort((a, b) => `${a.type}${a.status}`.localeCompare(`${b.type}${b.status}`));
      assert.deepEqual(sorted, [
        { type: 'email.send', status: 'dead', count: 1 },
        { type: 'email.send', status: 'queued', count: 2 },
        { type: 'sms.send', status: 'queued', count: 1 },
      ]);
    });

    suite.test(
      'deleteFinishedJobs removes only finished jobs older than the cut-off, at most limit',
      async ({ store, clock }) => {
        const now = clock.now();
        const old = [0, 1, 2].map(() => job(now, { status: 'completed', finishedAt: now - 10_000 }));
        const recent = job(now, { status: 'dead', finishedAt: now });
        const running = job(now, { status: 'active' });
        for (const record of [...old, recent, running]) await store.insertJob(record);
        assert.equal(await store.deleteFinishedJobs({ finishedBefore: now - 1, limit: 2 }), 2);
        assert.equal(await store.deleteFinishedJobs({ finishedBefore: now - 1, limit: 10 }), 1);
        assert.equal(
          await store.deleteFinishedJobs({ finishedBefore: now - 1, limit: 10, type: 'sms.send' }),
          0,
        );
        const left = (await store.listJobs({}, { limit: 10 })).items.map((item) => item.id).sort();
        assert.deepEqual(left, [recent.id, running.id].sort());
      },
    );
    suite.test(
      'deleteJobs removes the given finished jobs in one write and leaves unfinished or unknown ids',
      async ({ store, clock }) => {
        const now = clock.now();
        const completed = job(now, { status: 'completed', finishedAt: now });
        const dead = job(now, { status: 'dead', finishedAt: now });
        const cancelled = job(now, { status: 'cancelled', finishedAt: now });
        const queued = job(now, { status: 'queued' });
        const active = job(now, { status: 'active' });
        for (const record of [completed, dead, cancelled, queued, active]) await store.insertJob(record);
        const deleted = await store.deleteJobs([completed.id, queued.id, dead.id, active.id, 'job_unknown']);
        assert.deepEqual([...deleted].sort(), [completed.id, dead.id].sort());
        assert.equal(await store.getJob(completed.id), null);
        assert.equal((await store.getJob(queued.id))?.status, 'queued');
        assert.equal((await store.getJob(active.id))?.status, 'active');
        assert.equal((await store.getJob(cancelled.id))?.status, 'cancelled');
        assert.deepEqual(await store.deleteJobs([]), []);
      },
    );
  });

  void describe('schedule records', () => {
    suite.test('saveSchedule stores and replaces by name; list, get and delete', async ({ store, clock }) => {
      const record = schedule(clock.now());
      assert.deepEqual(await store.saveSchedule(record), record);
      const replaced = schedule(clock.now(), { cron: null, timezone: null, everyMs: 5_000 });
      assert.deepEqual(await store.saveSchedule(replaced), replaced);
      assert.deepEqual(await store.listSchedules(), [replaced]);
      assert.deepEqual(await store.getSchedule('nightly-report'), replaced);
      assert.equal(await store.deleteSchedule('nightly-report'), true);
      assert.equal(await store.deleteSchedule('nightly-report'), false);
      assert.equal(await store.getSchedule('nightly-report'), null);
    });

    suite.test(
      'advanceSchedule moves a slot once: a second firing of the same slot gets false',
      async ({ store, clock }) => {
        const record = schedule(clock.now());
        await store.saveSchedule(record);
        const [first, second] = await Promise.all([
          store.advanceSchedule(record.name, record.nextRunAt, record.nextRunAt + 60_000),
          store.advanceSchedule(record.name, record.nextRunAt, record.nextRunAt + 60_000),
        ]);
        assert.deepEqual([first, second].sort(), [false, true]);
        const stored = await store.getSchedule(record.name);
        assert.equal(stored?.nextRunAt, record.nextRunAt + 60_000);
        assert.equal(stored?.lastRunAt, record.nextRunAt);
      },
    );

    suite.test(
      'pauseSchedule pauses and resumes (with a new next slot); saving a paused schedule keeps it paused',
      async ({ store, clock }) => {
        const now = clock.now();
        const record = schedule(now);
        await store.saveSchedule(record);
        assert.equal(await store.pauseSchedule('unknown', now), null);
        const paused = await store.pauseSchedule(record.name, now);
        assert.deepEqual(paused, { ...record, pausedAt: now });
        const resaved = await store.saveSchedule({ ...record, payload: '{"v":2}' });
        assert.deepEqual(resaved, { ...record, payload: '{"v":2}', pausedAt: now }, 'still paused');
        const resumed = await store.pauseSchedule(record.name, null, now + 120_000);
        assert.deepEqual(resumed, { ...record, payload: '{"v":2}', nextRunAt: now + 120_000 });
        assert.deepEqual(await store.getSchedule(record.name), resumed);
      },
    );

    suite.test(
      'takeRateToken: a full bucket lets the limit through, then one per interval / limit',
      async ({ store, clock }) => {
        const take = () => store.takeRateToken('job:notify', 3, 3_000);
        assert.deepEqual([await take(), await take(), await take()], [0, 0, 0]);
        assert.equal(await take(), 1_000, 'empty: a token in a second');
        await clock.advance(400);
        assert.equal(await take(), 600, 'a refusal takes nothing');
        await clock.advance(600);
        assert.equal(await take(), 0);
        assert.equal(await store.takeRateToken('job:notify:acme', 3, 3_000), 0, 'another bucket is full');
        await clock.advance(60_000);
        assert.deepEqual(
          [await take(), await take(), await take(), await take()],
          [0, 0, 0, 1_000],
          'never more than full',
        );
      },
    );

    suite.test(
      'readRateBucket: the bucket as the last take left it, taking nothing; null before its first take',
      async ({ store, clock }) => {
        assert.equal(await store.readRateBucket('job:report'), null);
        const before = clock.now();
        await store.takeRateToken('job:report', 3, 3_000);
        await store.takeRateToken('job:report', 3, 3_000);
        assert.deepEqual(await store.readRateBucket('job:report'), { tokens: 1, refilledAt: before });
        await clock.advance(500);
        assert.deepEqual(
          await store.readRateBucket('job:report'),
          { tokens: 1, refilledAt: before },
          'a read neither refills nor takes',
        );
        assert.equal(await store.takeRateToken('job:report', 3, 3_000), 0, 'the token the read left');
        const bucket = await store.readRateBucket('job:report');
        assert.ok(bucket);
        assert.equal(bucket.refilledAt, before + 500);
        assert.ok(Math.abs(bucket.tokens - 0.5) < 1e-9, `half a token refilled, got ${bucket.tokens}`);
        assert.equal(await store.readRateBucket('job:report:acme'), null, 'another bucket is untouched');
      },
    );
  });
}
