import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { partitionForKey } from '../../src/core/partitioner.js';
import type { PublishResult, TopicEvent } from '../../src/engine/topic.js';
import { openTestSpool, until, type TestSpool } from '../helpers.js';

interface Order {
  n: number;
}

describe('topic: publish and read', () => {
  let t: TestSpool;
  let clock: TestClock;
  beforeEach(async () => {
    clock = new TestClock();
    t = await openTestSpool({ clock });
  });
  afterEach(() => t.dispose());

  it('routes by key with the documented hash and gives dense offsets per partition', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 3 });
    const results: PublishResult[] = [];
    for (let n = 0; n < 12; n++) results.push(await topic.publish({ n }, { key: `customer-${n % 4}` }));
    for (const [n, result] of results.entries()) {
      assert.equal(result.partition, partitionForKey(`customer-${n % 4}`, 3));
    }
    for (let partition = 0; partition < 3; partition++) {
      const offsets: number[] = results.filter((r) => r.partition === partition).map((r) => r.offset);
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => i),
        `partition ${partition} offsets are 0..n-1`,
      );
    }
  });

  it('spreads keyless events round-robin and reads a partition range in order', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 2 });
    const results = await topic.publishBatch([0, 1, 2, 3, 4, 5].map((n) => ({ body: { n } })));
    assert.deepEqual(
      results.map((r) => r.partition),
      [0, 1, 0, 1, 0, 1],
    );
    const read = await topic.read(0, 1, 10);
    assert.deepEqual(
      read.events.map((e) => [e.offset, e.body.n]),
      [
        [1, 2],
        [2, 4],
      ],
    );
    assert.equal(read.endOffset, 3);
  });

  it('finds offsets by time and replays a group from a timestamp', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 1 });
    await topic.publish({ n: 0 });
    await clock.advance(1000);
    const middle = clock.now();
    await topic.publish({ n: 1 });
    await topic.publish({ n: 2 });
    assert.equal(await topic.offsetForTime(0, middle), 1);
    const offsets = await topic.seek('audit', { timestamp: middle });
    assert.deepEqual(offsets, [{ partition: 0, offset: 1 }]);
    const lag = await topic.groupLag('audit');
    assert.equal(lag.totalLag, 2);
  });

  it('trims by age: reads start at the first kept offset, later offsets unchanged', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 1, retentionMs: 10_000 });
    await topic.publishBatch([{ body: { n: 0 } }, { body: { n: 1 } }]);
    await clock.advance(8000);
    await topic.publish({ n: 2 });
    await clock.advance(3000);
    await t.spool.maintain();
    const read = await topic.read(0, 0, 10);
    assert.equal(read.startOffset, 2);
    assert.deepEqual(
      read.events.map((e) => [e.offset, e.body.n]),
      [[2, 2]],
    );
    assert.equal((await topic.publish({ n: 3 })).offset, 3);
  });

  it('refuses a different partition count for an existing topic', async () => {
    await t.spool.topic('orders', { partitions: 2 });
    await assert.rejects(t.spool.topic('orders', { partitions: 3 }), { code: 'SPOOL_CONFIG_CONFLICT' });
    assert.equal((await t.spool.topic('orders')).config.partitions, 2, 'opening without options keeps it');
  });
});

describe('topic: consumer groups', () => {
  let t: TestSpool;
  beforeEach(async () => {
    t = await openTestSpool({ safetyPollMs: 50 });
  });
  afterEach(() => t.dispose());

  it('fans out: every group receives every event, in order within each partition', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 4 });
    const groups = ['payment', 'inventory', 'email'];
    const seen = new Map(groups.map((g) => [g, [] as TopicEvent<Order>[]]));
    const subscriptions = groups.map((group) =>
      topic.subscribe(group, (event) => {
        seen.get(group)!.push(event);
      }),
    );
    await topic.publishBatch(Array.from({ length: 200 }, (_, n) => ({ body: { n }, key: `k${n % 7}` })));
    await until(() => groups.every((g) => seen.get(g)!.length === 200), 10_000, 'all groups done');
    await Promise.all(subscriptions.map((s) => s.close()));
    for (const group of groups) {
      const events = seen.get(group)!;
      assert.equal(new Set(events.map((e) => e.id)).size, 200, `${group} got each event once`);
      for (let p = 0; p < 4; p++) {
        const offsets = events.filter((e) => e.partition === p).map((e) => e.offset);
        assert.deepEqual(
          offsets,
          [...offsets].sort((a, b) => a - b),
        );
      }
      const lag = await topic.groupLag(group);
      assert.equal(lag.totalLag, 0, `${group} committed everything`);
    }
  });

  it('a new group can start at latest', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 2 });
    await topic.publishBatch([{ body: { n: 0 } }, { body: { n: 1 } }]);
    const seen: number[] = [];
    const subscription = topic.subscribe('late', (event) => void seen.push(event.body.n), {
      startFrom: 'latest',
    });
    await subscription.ready();
    await topic.publish({ n: 2 });
    await until(() => seen.length === 1);
    await subscription.close();
    assert.deepEqual(seen, [2]);
  });

  it('rebalances as members join and leave: no partition handled by two members at once, nothing lost', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 4 });
    const busy = new Map<number, string>();
    const handled = new Map<number, number>();
    let overlap = '';
    const handler = (member: string) => async (event: TopicEvent<Order>) => {
      const other = busy.get(event.partition);
      if (other && other !== member) overlap = `partition ${event.partition}: ${other} and ${member}`;
      busy.set(event.partition, member);
      await new Promise((resolve) => setTimeout(resolve, 1));
      handled.set(event.body.n, (handled.get(event.body.n) ?? 0) + 1);
      busy.delete(event.partition);
    };
    const options = { sessionTimeoutMs: 600, batchSize: 10 };
    const total = 400;
    const first = topic.subscribe('workers', handler('first'), options);
    const publishing = (async () => {
      for (let n = 0; n < total; n += 20) {
        await topic.publishBatch(Array.from({ length: 20 }, (_, i) => ({ body: { n: n + i } })));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await until(() => handled.size > 50);
    const second = topic.subscribe('workers', handler('second'), options);
    await until(() => second.partitions.length > 0, 5000, 'second member gets partitions');
    assert.equal(first.partitions.length + second.partitions.length, 4);
    await publishing;
    await until(() => handled.size > 300);
    await first.close();
    await until(() => handled.size === total, 10_000, 'all events handled');
    await until(() => second.partitions.length === 4, 5000, 'second takes over');
    await second.close();
    assert.equal(overlap, '', 'two members processed one partition at once');
    const lag = await topic.groupLag('workers');
    assert.equal(lag.totalLag, 0);
  });

  it('seek to earliest makes a running member reprocess from the start', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 1 });
    await topic.publishBatch([0, 1, 2].map((n) => ({ body: { n } })));
    const seen: number[] = [];
    const subscription = topic.subscribe('audit', (event) => void seen.push(event.body.n), {
      sessionTimeoutMs: 300,
    });
    await until(() => seen.length === 3);
    await until(async () => (await topic.groupLag('audit')).totalLag === 0);
    await topic.seek('audit', 'earliest');
    await until(() => seen.length === 6, 5000, 'replayed after seek');
    await subscription.close();
    assert.deepEqual(seen, [0, 1, 2, 0, 1, 2]);
  });

  it('retries a failing event in place, then sends it to the dead-letter queue and moves on', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 1 });
    await topic.publishBatch([0, 1, 2].map((n) => ({ body: { n } })));
    const attempts = new Map<number, number>();
    const errors: unknown[] = [];
    const subscription = topic.subscribe(
      'billing',
      (event) => {
        attempts.set(event.body.n, (attempts.get(event.body.n) ?? 0) + 1);
        if (event.body.n === 1) throw new Error('poison');
      },
      {
        maxAttempts: 3,
        backoff: { baseMs: 1, capMs: 5, jitter: 'none' },
        deadLetterQueue: 'billing-dlq',
        onError: (error) => errors.push(error),
      },
    );
    await until(() => attempts.get(2) === 1);
    await subscription.close();
    assert.deepEqual([...attempts.entries()].sort(), [
      [0, 1],
      [1, 3],
      [2, 1],
    ]);
    assert.equal(errors.length, 3);
    const dlq = await t.spool.queue('billing-dlq');
    const [letter] = await dlq.receive();
    assert.deepEqual(letter?.body, { n: 1 });
    assert.equal(letter?.headers['spool-offset'], '1');
    assert.equal(letter?.headers['spool-error'], 'Error: poison');
  });

  it('refuses a finite maxAttempts without a dead-letter queue (it would drop events)', async () => {
    const topic = await t.spool.topic('orders');
    assert.throws(() => topic.subscribe('g', () => {}, { maxAttempts: 3 }), {
      code: 'SPOOL_INVALID_ARGUMENT',
    });
  });
});

describe('topic: polled group members (Topic.poll, as HTTP and the CLI use it)', () => {
  let t: TestSpool;
  beforeEach(async () => {
    t = await openTestSpool();
  });
  afterEach(() => t.dispose());

  it('polls, commits and leaves; a second member takes half the partitions; a seek wakes a waiting poll', async () => {
    const topic = await t.spool.topic<Order>('orders', { partitions: 2 });
    await topic.publishBatch([0, 1, 2, 3].map((n) => ({ body: { n }, partition: n % 2 })));

    const first = await topic.poll('billing', { memberId: 'a' });
    assert.deepEqual(first.partitions, [0, 1], 'the only member owns every partition');
    assert.deepEqual(first.events.map((event) => event.body.n).sort(), [0, 1, 2, 3]);
    // Echoing the cursor continues after what was returned, commits or not.
    const again = await topic.poll('billing', { memberId: 'a', cursor: first.cursor });
    assert.equal(again.events.length, 0);
    await topic.commit('billing', 'a', [
      { partition: 0, offset: 2 },
      { partition: 1, offset: 2 },
    ]);
    assert.equal((await topic.group('billing'))?.totalLag, 0);

    // A second member: the first hands a partition over at its next poll.
    const b = await topic.poll('billing', { memberId: 'b' });
    const a = await topic.poll('billing', { memberId: 'a', cursor: again.cursor });
    const bAgain = await topic.poll('billing', { memberId: 'b', cursor: b.cursor });
    assert.equal(a.partitions.length, 1);
    assert.equal(bAgain.partitions.length, 1);
    assert.notDeepEqual(a.partitions, bAgain.partitions);
    await assert.rejects(
      topic.commit('billing', 'a', [{ partition: bAgain.partitions[0]!, offset: 2 }]),
      (error: Error & { code?: string }) => error.code === 'SPOOL_NOT_PARTITION_OWNER',
      'commits are fenced by ownership',
    );

    // A long poll with nothing to read ends early when the group is rewound.
    const started = Date.now();
    const waiting = topic.poll('billing', { memberId: 'a', waitMs: 5_000, cursor: a.cursor });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await topic.seek('billing', 'earliest');
    const rewound = await waiting;
    assert.ok(Date.now() - started < 4_000, 'the seek woke the poll');
    assert.equal(rewound.events.length, 2, 'its partition is read again from the start');

    await topic.leave('billing', 'a');
    await topic.leave('billing', 'b');
    assert.equal((await topic.group('billing'))?.members.length, 0);
    assert.equal(await topic.group('nobody'), null);
  });
});
