// Two store instances with separate pools on one schema stand in for two processes. Claimers on
// both never get the same message and never hold two messages of one key, while producers keep
// sending; publishers on both get dense per-partition offsets, and a reader following the log
// concurrently never skips an offset; group members on both never own one partition together.
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveTopicConfig } from '../../../src/core/options.js';
import type { LogEvent } from '../../../src/store/port.js';
import type { PostgresStore } from '../../../src/stores/postgres/index.js';
import { SchemaJanitor, event, message, openStore, saveQueue } from './fixtures.js';

const janitor = new SchemaJanitor();
let stores: [PostgresStore, PostgresStore];

beforeEach(async () => {
  const schema = janitor.schema();
  const first = await openStore(schema, { maxConnections: 6 });
  stores = [first, await openStore(schema, { maxConnections: 6 })];
});
afterEach(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await janitor.dropAll();
});
after(() => janitor.end());

void describe('postgres store: concurrent claimers in two processes', () => {
  it('never deliver a message twice nor two messages of one key at once, in key order', async () => {
    const queue = await saveQueue(stores[0], 'work', { visibilityTimeoutMs: 60_000 });
    const keys = Array.from({ length: 12 }, (_, k) => `key-${k}`);
    const perKey = 15;
    const unkeyed = 150;
    const total = keys.length * perKey + unkeyed;
    const sentOrder = new Map<string, string[]>(keys.map((key) => [key, []]));

    // Producers on both stores; each key has one producer, so its send order is defined.
    const produce = async (): Promise<void> => {
      await Promise.all([
        ...keys.map(async (key, k) => {
          for (let n = 0; n < perKey; n++) {
            const sent = message({ key, priority: n % 3 });
            sentOrder.get(key)!.push(sent.id);
            await stores[k % 2]!.enqueue(queue, [sent]);
          }
        }),
        (async () => {
          for (let n = 0; n < unkeyed; n += 10) {
            await stores[1].enqueue(
              queue,
              Array.from({ length: 10 }, () => message({ priority: n % 5 })),
            );
          }
        })(),
      ]);
    };

    const delivered = new Set<string>();
    const keysInFlight = new Set<string>();
    const claimedOrder = new Map<string, string[]>(keys.map((key) => [key, []]));
    const violations: string[] = [];
    let acked = 0;
    // A key whose next message never became its head would stall the claimers for good.
    const deadline = Date.now() + 30_000;
    const consume = async (store: PostgresStore): Promise<void> => {
      while (acked < total) {
        assert.ok(Date.now() < deadline, `stalled after ${acked} of ${total} messages`);
        const claimed = await store.claim(queue, { max: 3, visibilityTimeoutMs: 60_000 });
        if (claimed.length === 0) {
          await sleep(2);
          continue;
        }
        for (const m of claimed) {
          if (delivered.has(m.id)) violations.push(`${m.id} delivered twice`);
          delivered.add(m.id);
          if (m.key !== null) {
            if (keysInFlight.has(m.key)) violations.push(`two messages of ${m.key} in flight`);
            keysInFlight.add(m.key);
            claimedOrder.get(m.key)!.push(m.id);
          }
        }
        await Promise.all(
          claimed.map(async (m) => {
            await sleep(Math.random() * 2);
            // Out of the in-flight set before the ack commits: the next message of the key can
            // only be claimed after the commit, so any overlap seen here is a real one.
            if (m.key !== null) keysInFlight.delete(m.key);
            await store.ack(queue, m.receipt);
            acked++;
          }),
        );
      }
    };

    await Promise.all([
      produce(),
      ...stores.flatMap((store) => Array.from({ length: 5 }, () => consume(store))),
    ]);
    assert.deepEqual(violations, []);
    assert.equal(delivered.size, total);
    for (const key of keys) assert.deepEqual(claimedOrder.get(key), sentOrder.get(key), `order of ${key}`);
    const stats = await stores[1].queueStats(queue);
    assert.deepEqual([stats.ready, stats.delayed, stats.inFlight], [0, 0, 0]);
  });
});

void describe('postgres store: concurrent publishers in two processes', () => {
  it('get dense offsets in every partition, and a concurrent reader sees no gap', async () => {
    const topic = 'log';
    await stores[0].saveTopic(resolveTopicConfig(topic, { partitions: 3 }));
    const published = new Map<string, { partition: number; offset: number }>();
    let publishing = true;

    const publish = async (store: PostgresStore, publisher: number): Promise<void> => {
      for (let round = 0; round < 15; round++) {
        // Batches of 1-3 events, some spanning partitions (locked in partition order).
        const batch = Array.from({ length: 1 + ((publisher + round) % 3) }, (_, i) =>
          event((publisher + round + i) % 3),
        );
        const results = await store.append(topic, batch);
        for (const result of results) published.set(result.id, result);
      }
    };

    // Follows partition 0 from offset 0 the way a consumer would, never re-reading an offset.
    const follow = async (): Promise<LogEvent[]> => {
      const seen: LogEvent[] = [];
      for (;;) {
        const wasPublishing = publishing;
        const read = await stores[1].read(topic, 0, seen.length, 50);
        seen.push(...read.events);
        if (!wasPublishing && seen.length === read.endOffset) return seen;
        if (read.events.length === 0) await sleep(1);
      }
    };

    const publishers = stores.flatMap((store, s) =>
      Array.from({ length: 6 }, (_, p) => publish(store, s * 6 + p)),
    );
    const reader = follow();
    await Promise.all(publishers);
    publishing = false;
    const followed = await reader;

    const offsets = await stores[0].partitionOffsets(topic);
    for (const { partition, startOffset, endOffset } of offsets) {
      const { events } = await stores[0].read(topic, partition, startOffset, 10_000);
      assert.deepEqual(
        events.map((e) => e.offset),
        Array.from({ length: endOffset }, (_, offset) => offset),
        `partition ${partition} is dense`,
      );
      for (const e of events)
        assert.deepEqual(published.get(e.id), {
          id: e.id,
          partition,
          offset: e.offset,
          timestamp: e.timestamp,
        });
      if (partition === 0) {
        assert.deepEqual(
          followed.map((e) => [e.offset, e.id]),
          events.map((e) => [e.offset, e.id]),
          'the follower saw every offset, in order',
        );
      }
    }
    assert.equal(
      offsets.reduce((sum, p) => sum + p.endOffset, 0),
      published.size,
    );
  });
});

void describe('postgres store: a consumer group across two processes', () => {
  it('hands partitions over without two owners while members join, heartbeat and leave', async () => {
    const topic = 'orders';
    await stores[0].saveTopic(resolveTopicConfig(topic, { partitions: 8 }));
    const group = 'billing';
    const members = ['member-a', 'member-b', 'member-c', 'member-d'];
    const owner = (m: number): PostgresStore => stores[m % 2]!;
    const request = (memberId: string) => ({
      memberId,
      sessionTimeoutMs: 60_000,
      startFrom: 'earliest' as const,
    });
    await Promise.all(members.map((memberId, m) => owner(m).joinGroup(topic, group, request(memberId))));

    const checkSingleOwners = async (): Promise<void> => {
      const state = await stores[1].groupState(topic, group);
      const owned = state!.members.flatMap((m) => m.owned);
      assert.equal(new Set(owned).size, owned.length, `a partition has two owners: ${JSON.stringify(state)}`);
    };
    // Rounds of heartbeats in parallel; each member gives up what is no longer assigned to it.
    for (let round = 0; round < 6; round++) {
      if (round === 3) await owner(0).leaveGroup(topic, group, members[0]!);
      const live = round >= 3 ? members.slice(1) : members;
      await Promise.all(
        live.map(async (memberId) => {
          const m = members.indexOf(memberId);
          const view = await owner(m).heartbeat(topic, group, memberId);
          const surplus = view.owned.filter((p) => !view.assigned.includes(p));
          if (surplus.length) await owner(m).releasePartitions(topic, group, memberId, surplus);
        }),
      );
      await checkSingleOwners();
    }
    const state = await stores[0].groupState(topic, group);
    assert.deepEqual(
      state!.members.map((m) => m.owned.length).sort(),
      [2, 3, 3],
      'the three remaining members split the eight partitions',
    );
  });
});

void describe('postgres store: writes that share a statement', () => {
  it('a send the database rejects fails alone; the sends batched with it are stored', async () => {
    const queue = await saveQueue(stores[0], 'work');
    // PostgreSQL text cannot hold NUL: that payload fails the shared statement, and the batch
    // is retried one send at a time.
    const sends = Array.from({ length: 40 }, (_, n) =>
      message({ payload: n === 17 ? 'bad\u0000' : `{"n":${n}}` }),
    );
    const outcomes = await Promise.allSettled(sends.map((m) => stores[0].enqueue(queue, [m])));
    assert.deepEqual(
      outcomes.map((outcome, n) => (outcome.status === 'rejected' ? n : -1)).filter((n) => n >= 0),
      [17],
    );
    assert.equal(
      ((outcomes[17] as PromiseRejectedResult).reason as { code?: string }).code,
      'SPOOL_INVALID_ARGUMENT',
    );
    assert.equal((await stores[1].queueStats(queue)).ready, 39);
  });

  it('acks of one message with its stale and its current receipt at once settle it once', async () => {
    const queue = await saveQueue(stores[0], 'work');
    await stores[0].enqueue(queue, [message(), ...Array.from({ length: 4 }, () => message())]);
    const [first] = await stores[0].claim(queue, { max: 1, visibilityTimeoutMs: 1 });
    await sleep(5);
    const [current] = await stores[0].claim(queue, { max: 1, visibilityTimeoutMs: 60_000 });
    assert.equal(current!.id, first!.id);
    const others = await stores[0].claim(queue, { max: 4, visibilityTimeoutMs: 60_000 });
    // Four acks occupy the queue's statements in flight; the two receipts then share one batch.
    const outcomes = await Promise.allSettled(
      [...others.map((m) => m.receipt), first!.receipt, current!.receipt].map((receipt) =>
        stores[0].ack(queue, receipt),
      ),
    );
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal(
      ((outcomes[4] as PromiseRejectedResult).reason as { code?: string }).code,
      'SPOOL_STALE_RECEIPT',
    );
    const stats = await stores[1].queueStats(queue);
    assert.deepEqual([stats.ready, stats.inFlight], [0, 0]);
  });
});
