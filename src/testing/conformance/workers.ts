/**
 * The workers registry's records (`saveWorkers`, `listWorkers`, `deleteWorkers`): a heartbeat of
 * many workers is one call that inserts new ids and replaces known ones, stamped with the store's
 * time; a delete reports what it removed; upkeep sweeps workers unseen for longer than the
 * retention and keeps the others.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { WorkerHeartbeat } from '../../store/port.js';
import type { Suite } from './harness.js';

function heartbeat(id: string, overrides: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat {
  return {
    id,
    kind: 'queue-consumer',
    host: 'host-a',
    pid: 4242,
    serves: { queue: 'emails' },
    concurrency: 4,
    inFlight: 1,
    processed: 10,
    startedAt: Date.UTC(2029, 11, 31),
    heartbeatIntervalMs: 5_000,
    ...overrides,
  };
}

export function workerTests(suite: Suite): void {
  void describe('workers registry', () => {
    suite.test('saveWorkers inserts every worker of the batch, stamped with the store time', async (env) => {
      const { store, clock } = env;
      assert.deepEqual(await store.listWorkers(), []);
      await store.saveWorkers([
        heartbeat('w-1'),
        heartbeat('w-2', {
          kind: 'subscription',
          serves: { topic: 'orders', group: 'billing', member: 'm-1' },
          startedAt: Date.UTC(2029, 11, 31) + 1,
        }),
        heartbeat('w-3', { kind: 'job-worker', serves: { jobTypes: ['email', 'sms'] }, startedAt: 5 }),
      ]);
      const listed = await store.listWorkers();
      assert.deepEqual(
        listed.map((worker) => worker.id),
        ['w-3', 'w-1', 'w-2'],
        'ordered by startedAt',
      );
      assert.deepEqual(listed[1], { ...heartbeat('w-1'), lastSeenAt: clock.now() });
      assert.deepEqual(listed[2]!.serves, { topic: 'orders', group: 'billing', member: 'm-1' });
      assert.deepEqual(listed[0]!.serves, { jobTypes: ['email', 'sms'] });
    });

    suite.test('saveWorkers of a known id replaces its counters and last-seen time', async (env) => {
      const { store, clock } = env;
      await store.saveWorkers([heartbeat('w-1'), heartbeat('w-2')]);
      const first = clock.now();
      await clock.advance(5_000);
      await store.saveWorkers([heartbeat('w-1', { inFlight: 3, processed: 1_234_567_890_123 })]);
      const [one, two] = await store.listWorkers();
      assert.equal(one!.id, 'w-1');
      assert.equal(one!.inFlight, 3);
      assert.equal(one!.processed, 1_234_567_890_123);
      assert.equal(one!.lastSeenAt, first + 5_000);
      assert.equal(two!.lastSeenAt, first, 'a worker left out of the batch keeps its last-seen time');
      await store.saveWorkers([]);
      assert.equal((await store.listWorkers()).length, 2, 'an empty heartbeat changes nothing');
    });

    suite.test('deleteWorkers removes the given ids and resolves with the count', async ({ store }) => {
      await store.saveWorkers([heartbeat('w-1'), heartbeat('w-2'), heartbeat('w-3')]);
      assert.equal(await store.deleteWorkers(['w-1', 'w-3', 'unknown']), 2);
      assert.equal(await store.deleteWorkers(['w-1']), 0, 'an id already deleted is ignored');
      assert.deepEqual(
        (await store.listWorkers()).map((worker) => worker.id),
        ['w-2'],
      );
    });

    suite.test('maintain deletes workers unseen for longer than the retention only', async (env) => {
      const { store, clock } = env;
      await store.saveWorkers([heartbeat('gone'), heartbeat('alive')]);
      await clock.advance(50_000);
      await store.saveWorkers([heartbeat('alive')]);
      await clock.advance(20_000); // 'gone' unseen for 70 s, 'alive' for 20 s
      await store.maintain({ processedRetentionMs: 60_000, workerRetentionMs: 60_000 });
      assert.deepEqual(
        (await store.listWorkers()).map((worker) => worker.id),
        ['alive'],
      );
      await clock.advance(3_000_000);
      await store.maintain({ processedRetentionMs: 60_000 });
      assert.equal((await store.listWorkers()).length, 1, 'the default retention is an hour');
      await clock.advance(700_000);
      await store.maintain({ processedRetentionMs: 60_000 });
      assert.deepEqual(await store.listWorkers(), []);
    });
  });
}
