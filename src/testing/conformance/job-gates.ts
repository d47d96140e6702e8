/**
 * Job add gates (the store side of singleton, unique, debounce and throttle): saved and read by
 * type and name, locked by a transaction even before they exist — so concurrent first adds
 * through one gate take turns — and swept once stale.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { JobGateRecord } from '../../store/port.js';
import { job } from './jobs.js';
import type { Suite } from './harness.js';

function gate(now: number, overrides: Partial<JobGateRecord> = {}): JobGateRecord {
  return {
    type: 'crm.sync',
    gate: 'singleton:acme',
    jobId: 'job-1',
    openedAt: now,
    touchedAt: now,
    expiresAt: null,
    ...overrides,
  };
}

export function jobGateTests(suite: Suite): void {
  void describe('job add gates', () => {
    suite.test('saveJobGate stores and replaces a gate by type and name', async ({ store, clock }) => {
      const now = clock.now();
      assert.equal(await store.lockJobGate('crm.sync', 'singleton:acme'), null);
      await store.saveJobGate(gate(now));
      await store.saveJobGate(gate(now, { type: 'report', jobId: 'job-2' }));
      assert.deepEqual(await store.lockJobGate('crm.sync', 'singleton:acme'), gate(now));
      const replaced = gate(now, { jobId: 'job-3', touchedAt: now + 5, expiresAt: now + 1_000 });
      await store.saveJobGate(replaced);
      assert.deepEqual(await store.lockJobGate('crm.sync', 'singleton:acme'), replaced);
      assert.equal((await store.lockJobGate('report', 'singleton:acme'))?.jobId, 'job-2', 'by type too');
    });

    suite.test(
      'transactions locking one gate take turns, even before it exists: none of their changes is lost',
      async ({ store, clock }) => {
        const adds = 20;
        await Promise.all(
          Array.from({ length: adds }, () =>
            store.transaction(async (tx) => {
              const current = await tx.lockJobGate('crm.sync', 'throttle:acme');
              // A count kept in the gate: each transaction adds one to what it read under the lock.
              const seen = current ? Number(current.jobId) : 0;
              await tx.saveJobGate(gate(clock.now(), { gate: 'throttle:acme', jobId: String(seen + 1) }));
            }),
          ),
        );
        assert.equal((await store.lockJobGate('crm.sync', 'throttle:acme'))?.jobId, String(adds));
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.saveJobGate(gate(clock.now(), { gate: 'throttle:acme', jobId: '-1' }));
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.equal((await store.lockJobGate('crm.sync', 'throttle:acme'))?.jobId, String(adds));
      },
    );

    suite.test(
      'deleteStaleJobGates deletes expired gates and gates without expiry whose job is gone',
      async ({ store, clock }) => {
        const now = clock.now();
        const kept = job(now);
        await store.insertJob(kept);
        await store.saveJobGate(gate(now, { gate: 'expired', expiresAt: now - 1 }));
        await store.saveJobGate(gate(now, { gate: 'open', expiresAt: now + 60_000 }));
        await store.saveJobGate(gate(now, { gate: 'job-kept', jobId: kept.id }));
        await store.saveJobGate(gate(now, { gate: 'job-gone', jobId: 'no-such-job' }));
        assert.equal(await store.deleteStaleJobGates(now, 1), 1, 'at most the limit');
        assert.equal(await store.deleteStaleJobGates(now, 100), 1);
        assert.equal(await store.deleteStaleJobGates(now, 100), 0);
        const left = [];
        for (const name of ['expired', 'open', 'job-kept', 'job-gone']) {
          if (await store.lockJobGate('crm.sync', name)) left.push(name);
        }
        assert.deepEqual(left, ['open', 'job-kept']);
      },
    );
  });
}
