// The in-memory tail of appended events (event-tail-cache.ts): readers get exactly what the
// database holds whether an event comes from memory or from SQLite — across a second connection
// appending to the same partition, a topic deleted and created again elsewhere, appends inside
// transaction(), retention, and the cache's own bounds.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { resolveTopicConfig } from '../../../src/core/options.js';
import type { AppendEvent, LogEvent } from '../../../src/store/port.js';
import type { SqliteStore } from '../../../src/stores/sqlite/index.js';
import { EventTailCache } from '../../../src/stores/sqlite/event-tail-cache.js';
import { event, openFixture, type StoreFixture } from './fixtures.js';

const fixtures: StoreFixture[] = [];
afterEach(async () => {
  for (const fixture of fixtures.splice(0)) await fixture.dispose();
});

async function twoConnections(): Promise<{ a: SqliteStore; b: SqliteStore; fixture: StoreFixture }> {
  const fixture = await openFixture();
  fixtures.push(fixture);
  return { a: fixture.store, b: await fixture.reopen(), fixture };
}

function numbered(from: number, count: number): AppendEvent[] {
  return Array.from({ length: count }, (_, i) => event(0, { payload: JSON.stringify({ n: from + i }) }));
}

/** Every event of partition 0 from `from` on, read in pages of `page`. */
async function readAll(store: SqliteStore, topic: string, from = 0, page = 7): Promise<LogEvent[]> {
  const events: LogEvent[] = [];
  for (let offset = from; ;) {
    const result = await store.read(topic, 0, offset, page);
    if (result.events.length === 0) return events;
    events.push(...result.events);
    offset = result.events.at(-1)!.offset + 1;
  }
}

const payloads = (events: readonly LogEvent[]) =>
  events.map((e) => JSON.parse(e.payload as string) as unknown);

void describe('sqlite store: in-memory tail of appended events', () => {
  it('a reader sees the appends of another connection between its own, in offset order', async () => {
    const { a, b } = await twoConnections();
    await a.saveTopic(resolveTopicConfig('orders', { partitions: 1 }));
    await a.append('orders', numbered(0, 10));
    await b.append('orders', numbered(10, 5));
    await a.append('orders', numbered(15, 10));
    const events = await readAll(a, 'orders');
    assert.deepEqual(
      payloads(events),
      Array.from({ length: 25 }, (_, n) => ({ n })),
    );
    assert.deepEqual(
      events.map((e) => e.offset),
      Array.from({ length: 25 }, (_, n) => n),
    );
    assert.deepEqual(
      payloads(await readAll(a, 'orders', 12, 100)),
      payloads(await readAll(b, 'orders', 12, 100)),
    );
  });

  it('a topic deleted and created again by another connection is read from the database', async () => {
    const { a, b } = await twoConnections();
    await a.saveTopic(resolveTopicConfig('orders', { partitions: 1 }));
    await a.append('orders', numbered(0, 10));
    assert.equal((await readAll(a, 'orders')).length, 10);
    await b.deleteTopic('orders');
    await b.saveTopic(resolveTopicConfig('orders', { partitions: 1 }));
    await b.append('orders', numbered(100, 20));
    assert.deepEqual(
      payloads(await readAll(a, 'orders')),
      Array.from({ length: 20 }, (_, n) => ({ n: 100 + n })),
    );
  });

  it('appends inside transaction() and retention leave reads exact', async () => {
    const { fixture } = await twoConnections();
    const store = fixture.store;
    await store.saveTopic(resolveTopicConfig('orders', { partitions: 1, retentionMs: 60_000 }));
    await store.append('orders', numbered(0, 5));
    await store.transaction(async (tx) => void (await tx.append('orders', numbered(5, 5))));
    await store.append('orders', numbered(10, 5));
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.append('orders', numbered(99, 3));
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    await store.append('orders', numbered(15, 5));
    assert.deepEqual(
      payloads(await readAll(store, 'orders')),
      Array.from({ length: 20 }, (_, n) => ({ n })),
    );
    await fixture.clock.advance(60_001);
    await store.append('orders', numbered(20, 2));
    await store.trim('orders');
    const kept = await store.read('orders', 0, 0, 100);
    assert.deepEqual(
      kept.events.map((e) => e.offset),
      [20, 21],
    );
    assert.equal(kept.startOffset, 20);
  });

  it('bytes are not kept in memory (a reader could change them for the others)', async () => {
    const { a } = await twoConnections();
    await a.saveTopic(resolveTopicConfig('files', { partitions: 1 }));
    await a.append('files', [event(0, { payload: new Uint8Array([1, 2, 3]) })]);
    const [first] = (await a.read('files', 0, 0, 10)).events;
    (first!.payload as Uint8Array)[0] = 9;
    const [again] = (await a.read('files', 0, 0, 10)).events;
    assert.deepEqual([...(again!.payload as Uint8Array)], [1, 2, 3]);
  });

  it('the cache keeps one contiguous run per partition, bounded, and serves only what the database has', () => {
    const cache = new EventTailCache();
    const append = (from: number, count: number) => {
      const events = numbered(from, count);
      cache.appended(
        't',
        events,
        events.map((e, i) => ({ id: e.id, partition: 0, offset: from + i, timestamp: 0 })),
      );
      return events;
    };
    const first = append(0, 5);
    const idAt = (offset: number) => first[offset]?.id;
    assert.deepEqual(
      cache.read('t', 0, 2, 10, 5, idAt)?.map((e) => e.offset),
      [2, 3, 4],
    );
    assert.equal(cache.read('t', 0, 2, 10, 4, idAt), null, 'the database ends before the cache');
    assert.equal(cache.read('t', 0, 5, 10, 9, idAt), null, 'past the cached run');
    assert.equal(
      cache.read('t', 0, 0, 10, 5, () => 'another id'),
      null,
      'a different event at that offset',
    );
    assert.equal(cache.read('t', 0, 0, 10, 5, idAt), null, 'dropped after the mismatch');
    const later = append(7, 3); // not contiguous: a new run from 7
    assert.equal(cache.read('t', 0, 0, 10, 10, idAt), null);
    assert.deepEqual(
      cache.read('t', 0, 7, 10, 10, (offset) => later[offset - 7]?.id)?.map((e) => e.offset),
      [7, 8, 9],
    );
    const many = append(10, 9000);
    const served = cache.read('t', 0, 9000, 10_000, 9010, (offset) => many[offset - 10]?.id);
    assert.equal(served?.length, 10);
    assert.equal(
      cache.read('t', 0, 10, 1, 9010, (offset) => many[offset - 10]?.id),
      null,
      'the oldest were dropped',
    );
  });
});
