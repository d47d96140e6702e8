/**
 * Topics: append-only partitions with dense offsets. Each partition's readable range is
 * `[startOffset, endOffset)`; appends raise the end by one per event, retention raises the start.
 * Offsets never change and are never reused, so a consumer's committed offset stays meaningful
 * across trims.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { resolveTopicConfig } from '../../core/options.js';
import type { AppendEvent } from '../../store/port.js';
import { assertBytes, ids, rejectsWithCode, type Suite } from './harness.js';

export function topicTests(suite: Suite): void {
  void describe('topics', () => {
    suite.test('saveTopic creates a topic that getTopic and listTopics return', async ({ store }) => {
      const orders = resolveTopicConfig('orders', {
        partitions: 3,
        retentionMs: 60_000,
        retentionBytes: 1_000,
      });
      const audit = resolveTopicConfig('audit', { partitions: 1, retentionMs: null });
      assert.deepEqual(await store.saveTopic(orders), orders);
      assert.deepEqual(await store.saveTopic(audit), audit);
      assert.deepEqual(await store.getTopic('orders'), orders);
      assert.equal(await store.getTopic('missing'), null);
      const listed = (await store.listTopics()).sort((a, b) => (a.name < b.name ? -1 : 1));
      assert.deepEqual(listed, [audit, orders]);
      assert.deepEqual(await store.partitionOffsets('orders'), [
        { partition: 0, startOffset: 0, endOffset: 0 },
        { partition: 1, startOffset: 0, endOffset: 0 },
        { partition: 2, startOffset: 0, endOffset: 0 },
      ]);
    });

    suite.test('saveTopic may change retention but not the partition count', async ({ store }) => {
      await store.saveTopic(resolveTopicConfig('orders', { partitions: 4 }));
      await rejectsWithCode(
        () => store.saveTopic(resolveTopicConfig('orders', { partitions: 8 })),
        'SPOOL_CONFIG_CONFLICT',
      );
      assert.equal((await store.getTopic('orders'))?.partitions, 4);
      const changed = resolveTopicConfig('orders', { partitions: 4, retentionMs: 1_000, retentionBytes: 10 });
      assert.deepEqual(await store.saveTopic(changed), changed);
      assert.deepEqual(await store.getTopic('orders'), changed);
    });

    suite.test('deleteTopic removes the topic with its events and groups', async (env) => {
      const { store, event, topic } = env;
      const t = await topic('orders', { partitions: 2 });
      await store.append(t, [event(0), event(1), event(0)]);
      await store.joinGroup(t, 'billing', {
        memberId: 'member-a',
        sessionTimeoutMs: 10_000,
        startFrom: 'earliest',
      });
      assert.equal(await store.deleteTopic(t), true);
      assert.equal(await store.getTopic(t), null);
      assert.deepEqual(await store.listTopics(), []);
      await rejectsWithCode(() => store.read(t, 0, 0, 10), 'SPOOL_TOPIC_NOT_FOUND');
      assert.equal(await store.deleteTopic(t), false);
      await topic('orders', { partitions: 2 });
      assert.equal(await store.groupState(t, 'billing'), null);
      assert.deepEqual(await store.listGroups(t), []);
      assert.deepEqual(
        (await store.partitionOffsets(t)).map((p) => [p.startOffset, p.endOffset]),
        [
          [0, 0],
          [0, 0],
        ],
      );
    });

    suite.test('append gives dense offsets from 0 per partition, in the order given', async (env) => {
      const { store, clock, event, topic } = env;
      const t = await topic('orders', { partitions: 3 });
      const next = [0, 0, 0];
      for (let round = 0; round < 12; round++) {
        const batch = Array.from({ length: 1 + (round % 4) }, (_, i) => event((round * 7 + i * 5) % 3));
        const results = await store.append(t, batch);
        assert.equal(results.length, batch.length);
        batch.forEach((sent, i) => {
          const expectedOffset = next[sent.partition]!++;
          assert.deepEqual(
            { ...results[i] },
            {
              id: sent.id,
              partition: sent.partition,
              offset: expectedOffset,
              timestamp: clock.now(),
            },
          );
        });
        await clock.advance(10);
      }
      assert.deepEqual(
        await store.partitionOffsets(t),
        next.map((endOffset, partition) => ({ partition, startOffset: 0, endOffset })),
      );
    });

    suite.test('read returns up to max events from an offset, in offset order', async (env) => {
      const { store, clock, event, topic } = env;
      const t = await topic('orders', { partitions: 2 });
      const t0 = clock.now();
      const sent: AppendEvent[] = [];
      for (let i = 0; i < 10; i++) {
        const bytes = i % 2 === 1;
        sent.push(
          event(0, {
            key: `k${i}`,
            headers: { index: String(i) },
            ...(bytes ? { payload: Uint8Array.of(i, 0, 255) } : {}),
          }),
        );
      }
      await store.append(t, sent.slice(0, 5));
      await clock.advance(1_000);
      await store.append(t, sent.slice(5));
      const page = await store.read(t, 0, 3, 4);
      assert.deepEqual([page.partition, page.startOffset, page.endOffset], [0, 0, 10]);
      assert.deepEqual(
        page.events.map((e) => e.offset),
        [3, 4, 5, 6],
      );
      page.events.forEach((got, i) => {
        const expected = sent[3 + i]!;
        assert.deepEqual([got.id, got.topic, got.partition, got.key], [expected.id, t, 0, expected.key]);
        assert.equal(got.timestamp, 3 + i < 5 ? t0 : t0 + 1_000);
        assert.deepEqual({ ...got.headers }, expected.headers);
        if (typeof expected.payload === 'string') assert.equal(got.payload, expected.payload);
        else assertBytes(got.payload, expected.payload);
      });
      assert.deepEqual(ids((await store.read(t, 0, 8, 100)).events), ids(sent.slice(8)));
      assert.deepEqual((await store.read(t, 0, 10, 5)).events, []);
      assert.deepEqual((await store.read(t, 0, 50, 5)).events, []);
      const empty = await store.read(t, 1, 0, 5);
      assert.deepEqual([empty.events.length, empty.startOffset, empty.endOffset], [0, 0, 0]);
    });

    suite.test('read of a missing partition or topic throws', async ({ store, topic }) => {
      const t = await topic('orders', { partitions: 2 });
      await rejectsWithCode(() => store.read(t, 2, 0, 10), 'SPOOL_OFFSET_OUT_OF_RANGE');
      await rejectsWithCode(() => store.read(t, -1, 0, 10), 'SPOOL_OFFSET_OUT_OF_RANGE');
      await rejectsWithCode(() => store.read('missing', 0, 0, 10), 'SPOOL_TOPIC_NOT_FOUND');
    });

    suite.test('offsetForTime finds the first offset at or after a time', async (env) => {
      const { store, clock, event, topic } = env;
      const t = await topic('orders', { partitions: 2 });
      const t0 = clock.now();
      await store.append(t, [event(0)]); // offset 0 at t0
      await clock.advance(1_000);
      await store.append(t, [event(0), event(0)]); // offsets 1, 2 at t0 + 1000
      await clock.advance(2_000);
      await store.append(t, [event(0)]); // offset 3 at t0 + 3000
      const cases: [number, number][] = [
        [t0 - 1, 0],
        [t0, 0],
        [t0 + 1, 1],
        [t0 + 1_000, 1],
        [t0 + 2_000, 3],
        [t0 + 3_000, 3],
        [t0 + 5_000, 4],
      ];
      for (const [time, offset] of cases) {
        assert.equal(await store.offsetForTime(t, 0, time), offset, `offsetForTime(t0 + ${time - t0})`);
      }
      assert.equal(await store.offsetForTime(t, 1, t0), 0, 'an empty partition answers its end');
    });

    suite.test('trim by retentionMs raises the start offset and keeps the remaining offsets', async (env) => {
      const { store, clock, event, topic } = env;
      const t = await topic('orders', { partitions: 1, retentionMs: 10_000 });
      const t0 = clock.now();
      await store.append(t, [event(0), event(0), event(0)]);
      await clock.advance(5_000);
      const kept = [event(0), event(0)];
      await store.append(t, kept);
      await clock.advance(6_000); // the first three are 11 s old, the last two 6 s
      assert.equal(await store.trim(t), 3);
      assert.deepEqual(await store.partitionOffsets(t), [{ partition: 0, startOffset: 3, endOffset: 5 }]);
      const below = await store.read(t, 0, 0, 10);
      assert.equal(below.startOffset, 3);
      assert.deepEqual(
        below.events.map((e) => [e.offset, e.id]),
        [
          [3, kept[0]!.id],
          [4, kept[1]!.id],
        ],
      );
      assert.equal(await store.offsetForTime(t, 0, t0), 3, 'a time before all answers the start');
      const [appended] = await store.append(t, [event(0)]);
      assert.equal(appended?.offset, 5);
      assert.equal(await store.trim(t), 0);
    });

    suite.test('trim by retentionBytes keeps each partition within its byte bound', async (env) => {
      const { store, event, topic } = env;
      const t = await topic('orders', { partitions: 2, retentionMs: null, retentionBytes: 100 });
      const forty = (): Uint8Array => new Uint8Array(40).fill(7);
      const p0 = Array.from({ length: 5 }, () => event(0, { payload: forty() })); // 200 bytes
      // Exactly at the bound: not over it, so nothing of partition 1 goes.
      const p1 = [event(1, { payload: 'x'.repeat(50) }), event(1, { payload: 'y'.repeat(50) })]; // 100 bytes
      await store.append(t, [...p0, ...p1]);
      assert.equal(await store.trim(t), 3);
      assert.deepEqual(await store.partitionOffsets(t), [
        { partition: 0, startOffset: 3, endOffset: 5 },
        { partition: 1, startOffset: 0, endOffset: 2 },
      ]);
      assert.deepEqual(ids((await store.read(t, 0, 0, 10)).events), ids(p0.slice(3)));
      const [appended] = await store.append(t, [event(0, { payload: forty() })]);
      assert.equal(appended?.offset, 5);
    });
  });
}
