// The SQLite store's main paths end to end on a real file: payload encoding, claim order and
// per-key FIFO (kept by triggers through every path that adds or removes messages), leases and
// dead letters, dedup and depth, logs, and consumer groups. The shared conformance suite checks
// the port's semantics in full; these tests check this backend's own machinery.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  NotPartitionOwnerError,
  QueueFullError,
  StaleReceiptError,
  UnknownMemberError,
} from '../../../src/core/errors.js';
import type { SqliteStore } from '../../../src/stores/sqlite/index.js';
import { type StoreFixture, event, message, openFixture, saveQueue } from './fixtures.js';

let fixture: StoreFixture;
let store: SqliteStore;
beforeEach(async () => {
  fixture = await openFixture();
  store = fixture.store;
});
afterEach(async () => {
  await fixture.dispose();
});

const lease = { visibilityTimeoutMs: 10_000 };

async function claimIds(queue: string, max = 10): Promise<string[]> {
  return (await store.claim(queue, { max, ...lease })).map((claimed) => claimed.id);
}

void describe('sqlite store: payloads', () => {
  const allBytes = Uint8Array.from({ length: 256 }, (_, n) => n);
  const payloads = [
    ['JSON text', '{"text":"héllo ✓ 𝄞","n":[1,2.5,null]}'],
    ['bytes', allBytes],
    ['empty bytes', new Uint8Array(0)],
  ] as const;

  for (const [kind, payload] of payloads) {
    it(`${kind} round-trip through a queue, its dead letters and a topic, with their type`, async () => {
      const queue = await saveQueue(store, 'orders');
      await store.saveTopic({ name: 'log', partitions: 1, retentionMs: null, retentionBytes: null });
      await store.enqueue(queue, [message({ payload, headers: { traceparent: '00-abc-01' } })]);
      await store.append('log', [event(0, { payload })]);
      await fixture.store.close();
      store = await fixture.reopen();

      const [claimed] = await store.claim(queue, { max: 1, ...lease });
      const [read] = (await store.read('log', 0, 0, 1)).events;
      assert.ok(claimed && read);
      await store.deadLetter(queue, claimed.receipt, { name: 'Error', message: 'no' });
      const [dead] = (await store.listDeadLetters(queue, { limit: 1 })).items;
      for (const stored of [claimed.payload, read.payload, dead?.payload]) {
        assert.deepEqual(stored, payload);
        // Bytes come back as a plain Uint8Array, not a Buffer (deepEqual with Uint8Array holds).
        assert.equal(Object.getPrototypeOf(stored), Object.getPrototypeOf(payload));
      }
      assert.deepEqual(claimed.headers, { traceparent: '00-abc-01' });
    });
  }
});

void describe('sqlite store: claim order and per-key FIFO', () => {
  it('claims by priority, then enqueue order, and only the oldest message of each key', async () => {
    const queue = await saveQueue(store, 'orders');
    const a1 = message({ key: 'a' });
    const low = message({ priority: 0 });
    const a2 = message({ key: 'a', priority: 9 });
    const high = message({ priority: 5 });
    const b1 = message({ key: 'b' });
    await store.enqueue(queue, [a1, low, a2, high, b1]);

    assert.deepEqual(await claimIds(queue), [high.id, a1.id, low.id, b1.id]);
    assert.deepEqual(await claimIds(queue), [], 'a2 waits behind a1, which is in flight');
  });

  it('key order survives release, dead-lettering and redrive: a redriven message goes to the end', async () => {
    const queue = await saveQueue(store, 'orders');
    const [a1, a2, a3] = [message({ key: 'k' }), message({ key: 'k' }), message({ key: 'k' })];
    await store.enqueue(queue, [a1, a2, a3]);

    const [first] = await store.claim(queue, { max: 5, ...lease });
    await store.release(queue, first!.receipt, { delayMs: 0 });
    const [again] = await store.claim(queue, { max: 5, ...lease });
    assert.equal(again?.id, a1.id, 'a released head stays the head');
    await store.deadLetter(queue, again.receipt, { name: 'Error', message: 'poison' });
    assert.equal(await store.redrive(queue, { ids: [a1.id] }), 1);

    const order: string[] = [];
    for (;;) {
      const claimed = await store.claim(queue, { max: 5, ...lease });
      if (claimed.length === 0) break;
      assert.equal(claimed.length, 1, 'never two messages of one key in flight');
      order.push(claimed[0]!.id);
      await store.ack(queue, claimed[0]!.receipt);
    }
    assert.deepEqual(order, [a2.id, a3.id, a1.id]);
  });

  it('purge leaves no key blocked: later messages of the key are claimable', async () => {
    const queue = await saveQueue(store, 'orders');
    await store.enqueue(queue, [message({ key: 'k' }), message({ key: 'k' })]);
    await store.claim(queue, { max: 1, ...lease });
    assert.equal(await store.purge(queue), 2);

    const next = message({ key: 'k' });
    await store.enqueue(queue, [next]);
    assert.deepEqual(await claimIds(queue), [next.id]);
  });
});

void describe('sqlite store: leases', () => {
  it('an expired lease is redelivered, then dead-lettered with LeaseExpired on its last attempt', async () => {
    const queue = await saveQueue(store, 'orders', { maxAttempts: 2 });
    const sent = message();
    await store.enqueue(queue, [sent]);

    const [first] = await store.claim(queue, { max: 1, ...lease });
    await fixture.clock.advance(10_000);
    const [second] = await store.claim(queue, { max: 1, ...lease });
    assert.equal(second?.attempt, 2);
    await assert.rejects(store.ack(queue, first!.receipt), StaleReceiptError);
    assert.equal(await store.nextDeliveryAt(queue), second?.leaseExpiresAt);

    await fixture.clock.advance(10_000);
    assert.deepEqual(await claimIds(queue), []);
    const [dead] = (await store.listDeadLetters(queue, { limit: 10 })).items;
    assert.equal(dead?.id, sent.id);
    assert.equal(dead?.attempts, 2);
    assert.deepEqual(
      dead?.errors.map((error) => [error.attempt, error.name]),
      [[2, 'LeaseExpired']],
    );
    assert.equal((await store.queueStats(queue)).deadLettered, 1);
  });

  it('release records the error with its attempt; extend moves the expiry', async () => {
    const queue = await saveQueue(store, 'orders');
    await store.enqueue(queue, [message()]);
    const [claimed] = await store.claim(queue, { max: 1, ...lease });
    const expiry = await store.extend(queue, claimed!.receipt, 60_000);
    assert.equal(expiry, fixture.clock.now() + 60_000);

    await store.release(queue, claimed!.receipt, {
      delayMs: 500,
      error: { name: 'TypeError', message: 'boom' },
    });
    const stats = await store.queueStats(queue);
    assert.equal(stats.delayed, 1);
    await fixture.clock.advance(500);
    const [retried] = await store.claim(queue, { max: 1, ...lease });
    assert.deepEqual(retried?.errors, [
      { attempt: 1, at: fixture.clock.now() - 500, name: 'TypeError', message: 'boom' },
    ]);
  });
});

void describe('sqlite store: dedup and depth', () => {
  it('a dedup id within its window returns the original id; the depth bound stores all or nothing', async () => {
    const queue = await saveQueue(store, 'orders', { maxDepth: 2, dedupWindowMs: 1000 });
    const original = message({ dedupId: 'order-1' });
    const results = await store.enqueue(queue, [original, message({ dedupId: 'order-1' })]);
    assert.deepEqual(results, [
      { id: original.id, duplicate: false },
      { id: original.id, duplicate: true },
    ]);

    await assert.rejects(store.enqueue(queue, [message(), message()]), (error) => {
      assert.ok(error instanceof QueueFullError);
      assert.equal(error.retryAfterMs, 1000);
      return true;
    });
    assert.equal((await store.queueStats(queue)).ready, 1);

    await fixture.clock.advance(1000);
    const [afterWindow] = await store.enqueue(queue, [message({ dedupId: 'order-1' })]);
    assert.equal(afterWindow?.duplicate, false);
  });
});

void describe('sqlite store: logs', () => {
  it('appends dense offsets, reads from the kept start, finds offsets by time and trims', async () => {
    await store.saveTopic({ name: 'log', partitions: 2, retentionMs: 5_000, retentionBytes: 10 });
    const start = fixture.clock.now();
    for (let n = 0; n < 4; n++) {
      await store.append('log', [event(0, { payload: '"1234"' })]);
      await fixture.clock.advance(1_000);
    }
    assert.deepEqual(
      (await store.read('log', 0, 1, 2)).events.map((each) => [each.offset, each.timestamp - start]),
      [
        [1, 1000],
        [2, 2000],
      ],
    );
    assert.equal(await store.offsetForTime('log', 0, start + 1500), 2);
    assert.equal(await store.offsetForTime('log', 0, start + 60_000), 4);

    // 4 events of 6 bytes: retentionBytes 10 keeps the newest one only.
    assert.equal(await store.trim('log'), 3);
    const after = await store.read('log', 0, 0, 10);
    assert.deepEqual([after.startOffset, after.endOffset, after.events[0]?.offset], [3, 4, 3]);
    assert.deepEqual(await store.partitionOffsets('log'), [
      { partition: 0, startOffset: 3, endOffset: 4 },
      { partition: 1, startOffset: 0, endOffset: 0 },
    ]);

    await fixture.clock.advance(5_000);
    await store.maintain({ processedRetentionMs: 1000 });
    assert.deepEqual((await store.partitionOffsets('log'))[0], {
      partition: 0,
      startOffset: 4,
      endOffset: 4,
    });
  });
});

void describe('sqlite store: consumer groups', () => {
  it('hands a partition over only after its owner releases it, and fences commits by ownership', async () => {
    await store.saveTopic({ name: 'log', partitions: 2, retentionMs: null, retentionBytes: null });
    const join = (memberId: string) =>
      store.joinGroup('log', 'g', { memberId, sessionTimeoutMs: 10_000, startFrom: 'earliest' });

    const alone = await join('m1');
    assert.deepEqual(
      [alone.assigned, alone.owned],
      [
        [0, 1],
        [0, 1],
      ],
    );
    const second = await join('m2');
    assert.deepEqual([second.assigned, second.owned], [[1], []], 'partition 1 is still owned by m1');
    await assert.rejects(store.commitOffset('log', 'g', 'm2', 1, 5), NotPartitionOwnerError);

    await store.commitOffset('log', 'g', 'm1', 1, 5);
    await store.releasePartitions('log', 'g', 'm1', [1]);
    const handedOver = await store.heartbeat('log', 'g', 'm2');
    assert.deepEqual(handedOver.owned, [1]);
    await store.commitOffset('log', 'g', 'm2', 1, 3);
    assert.deepEqual((await store.groupState('log', 'g'))?.committed, [
      { partition: 0, offset: 0 },
      { partition: 1, offset: 5 },
    ]);

    await fixture.clock.advance(6_000);
    await store.heartbeat('log', 'g', 'm2');
    await fixture.clock.advance(4_001);
    const survivor = await store.heartbeat('log', 'g', 'm2');
    assert.ok(survivor.generation > handedOver.generation);
    assert.deepEqual(survivor.owned, [0, 1], 'm1 expired and its partition was freed');
    await assert.rejects(store.heartbeat('log', 'g', 'm1'), UnknownMemberError);

    await store.seekGroup('log', 'g', [{ partition: 1, offset: 0 }]);
    await assert.rejects(store.commitOffset('log', 'g', 'm2', 1, 4), NotPartitionOwnerError);
    const reloaded = await store.heartbeat('log', 'g', 'm2');
    assert.equal(reloaded.seekEpoch, survivor.seekEpoch + 1);
    assert.deepEqual(reloaded.owned, [0, 1]);
  });
});
