// Group commit and exclusive transactions of the SQLite store, named after the write batcher's
// states: writes of one turn share a commit, each write fails alone, a transaction holds the
// store exclusively until it commits or rolls back, and close drains what is pending.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  ClosedError,
  InvalidArgumentError,
  QueueFullError,
  QueueNotFoundError,
  StaleReceiptError,
} from '../../../src/core/errors.js';
import { type StoreFixture, event, message, openFixture, saveQueue } from './fixtures.js';

let fixture: StoreFixture;
beforeEach(async () => {
  fixture = await openFixture();
});
afterEach(async () => {
  await fixture.dispose();
});

void describe('sqlite store: group commit', () => {
  it('1,000 concurrent enqueues share a handful of commits and all resolve stored', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const before = store.commitStats();

    const sent = Array.from({ length: 1000 }, (_, n) => message({ payload: JSON.stringify({ n }) }));
    const results = await Promise.all(sent.map((each) => store.enqueue(queue, [each])));

    const after = store.commitStats();
    assert.equal(after.operations - before.operations, 1000);
    assert.ok(
      after.commits - before.commits <= 2,
      `1,000 writes took ${after.commits - before.commits} commits`,
    );
    assert.ok(after.largestBatch >= 500);
    assert.deepEqual(
      results.map(([result]) => result?.id),
      sent.map((each) => each.id),
    );
    assert.equal((await store.queueStats(queue)).ready, 1000);
  });

  it('a burst larger than the batch bound is split over several commits, in order', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const before = store.commitStats();

    await Promise.all(
      Array.from({ length: 3000 }, (_, n) => store.enqueue(queue, [message({ payload: String(n) })])),
    );

    const after = store.commitStats();
    assert.equal(after.commits - before.commits, 3);
    assert.equal(after.largestBatch, 1024);
    const first = await store.listMessages(queue, { limit: 3000 });
    assert.deepEqual(
      first.items.map((item) => Number(item.payload)),
      Array.from({ length: 3000 }, (_, n) => n),
    );
  });

  it('concurrent transactions share one commit; one that throws rolls back alone', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const before = store.commitStats().commits;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, n) =>
        store.transaction(async (tx) => {
          await tx.enqueue(queue, [message({ payload: JSON.stringify({ n }) })]);
          if (n === 7) throw new Error('changed my mind');
          await tx.enqueue(queue, [message({ payload: JSON.stringify({ n, second: true }) })]);
          return n;
        }),
      ),
    );
    assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 1);
    assert.ok(
      outcomes[7]?.status === 'rejected' && (outcomes[7].reason as Error).message === 'changed my mind',
    );
    assert.ok(store.commitStats().commits - before <= 2, `${store.commitStats().commits - before} commits`);
    const listed = await store.listMessages(queue, { limit: 100 });
    assert.equal(listed.items.length, 38, 'two messages from each of the 19 transactions that committed');
    assert.ok(!listed.items.some((item) => (JSON.parse(item.payload as string) as { n: number }).n === 7));
  });

  it('a failing write rejects alone; the rest of its batch commits', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const bounded = await saveQueue(store, 'bounded', { maxDepth: 1 });
    const before = store.commitStats();

    const outcomes = await Promise.allSettled<Promise<unknown>[]>([
      store.enqueue(queue, [message({ payload: '"first"' })]),
      store.enqueue('missing', [message()]),
      store.ack(queue, '1.not-a-lease'),
      store.enqueue(bounded, [message(), message()]),
      store.enqueue(queue, [message({ payload: '"last"' })]),
    ]);

    assert.equal(store.commitStats().commits - before.commits, 1, 'one commit for the whole batch');
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled'],
    );
    const reasons = outcomes.map((outcome): unknown =>
      outcome.status === 'rejected' ? outcome.reason : null,
    );
    assert.ok(reasons[1] instanceof QueueNotFoundError);
    assert.ok(reasons[2] instanceof StaleReceiptError);
    assert.ok(reasons[3] instanceof QueueFullError);
    assert.equal((await store.queueStats(queue)).ready, 2);
    assert.equal((await store.queueStats(bounded)).ready, 0);
  });

  it('a write that fails half-way leaves nothing of itself behind (its savepoint rolls back)', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const outcomes = await Promise.allSettled<Promise<unknown>[]>([
      // The third message's priority is not an integer: the STRICT column refuses it after two
      // inserts (the engine validates priorities; the store must still roll back cleanly).
      store.enqueue(queue, [message(), message(), { ...message(), priority: 1.5 }]),
      store.enqueue(queue, [message({ payload: '"kept"' })]),
    ]);

    assert.equal(outcomes[0]?.status, 'rejected');
    assert.ok(outcomes[0]?.status === 'rejected' && outcomes[0].reason instanceof InvalidArgumentError);
    assert.equal(outcomes[1]?.status, 'fulfilled');
    const listed = await store.listMessages(queue, { limit: 10 });
    assert.deepEqual(
      listed.items.map((item) => item.payload),
      ['"kept"'],
    );
  });

  it('claims and acks of one turn are batched too', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    await store.enqueue(
      queue,
      Array.from({ length: 50 }, () => message()),
    );
    const before = store.commitStats();
    const claims = await Promise.all(
      Array.from({ length: 50 }, () => store.claim(queue, { max: 1, visibilityTimeoutMs: 1000 })),
    );
    await Promise.all(claims.flat().map((claimed) => store.ack(queue, claimed.receipt)));

    assert.equal(new Set(claims.flat().map((claimed) => claimed.id)).size, 50, 'no message claimed twice');
    assert.equal(store.commitStats().commits - before.commits, 2);
    assert.equal((await store.queueStats(queue)).ready, 0);
  });
});

void describe('sqlite store: transactions', () => {
  it('commit: every write made through tx is stored when work resolves, with its result', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    await store.saveTopic({ name: 'audit', partitions: 1, retentionMs: null, retentionBytes: null });

    const result = await store.transaction(async (tx) => {
      await tx.enqueue(queue, [message({ payload: '"in tx"' })]);
      const [appended] = await tx.append('audit', [event(0)]);
      assert.equal(await tx.markProcessed('consumer', 'm-1'), true);
      return appended?.offset;
    });

    assert.equal(result, 0);
    assert.equal((await store.queueStats(queue)).ready, 1);
    assert.deepEqual(await store.partitionOffsets('audit'), [{ partition: 0, startOffset: 0, endOffset: 1 }]);
    assert.equal(await store.markProcessed('consumer', 'm-1'), false);
  });

  it('rollback: when work throws nothing is stored and the error comes back unchanged', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const failure = new Error('handler failed');

    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.enqueue(queue, [message()]);
        await tx.markProcessed('consumer', 'm-1');
        throw failure;
      }),
      (error) => error === failure,
    );

    assert.equal((await store.queueStats(queue)).ready, 0);
    assert.equal(await store.markProcessed('consumer', 'm-1'), true);
  });

  it('a failed write inside work rejects in work and leaves the other writes to commit', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders', { maxDepth: 1 });

    await store.transaction(async (tx) => {
      await tx.enqueue(queue, [message()]);
      await assert.rejects(tx.enqueue(queue, [message()]), QueueFullError);
      await assert.rejects(tx.ack(queue, '1.stale'), StaleReceiptError);
    });

    assert.equal((await store.queueStats(queue)).ready, 1);
  });

  it('exclusive: batched writes and outside reads wait for the transaction and see only its committed state', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const workMayFinish = gate();
    const wroteInside = gate();
    const events: string[] = [];

    const transaction = store
      .transaction(async (tx) => {
        await tx.enqueue(queue, [message({ payload: '"tx"' })]);
        wroteInside.open();
        await workMayFinish.opened;
        events.push('work done');
      })
      .then(() => events.push('committed'));
    await wroteInside.opened;
    const outsideRead = store.queueStats(queue).then((stats) => {
      events.push(`read ready=${stats.ready}`);
    });
    const outsideWrite = store.enqueue(queue, [message({ payload: '"outside"' })]).then(() => {
      events.push('outside write');
    });
    // Several turns of the event loop: nothing outside may run while the transaction is open.
    await turns(5);
    assert.deepEqual(events, []);

    workMayFinish.open();
    await Promise.all([transaction, outsideRead, outsideWrite]);
    // The read ran before the outside write (it saw only the transaction's message); which of
    // the two is handed out first depends on which fsync ends first.
    assert.deepEqual(events.slice(0, 2), ['work done', 'committed']);
    assert.deepEqual(events.slice(2).sort(), ['outside write', 'read ready=1']);
    const listed = await store.listMessages(queue, { limit: 10 });
    assert.deepEqual(
      listed.items.map((item) => item.payload),
      ['"tx"', '"outside"'],
    );
  });

  it('an outside read made during a transaction that rolls back does not see its writes', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const workMayFinish = gate();
    const wroteInside = gate();
    const transaction = store.transaction(async (tx) => {
      await tx.enqueue(queue, [message()]);
      wroteInside.open();
      await workMayFinish.opened;
      throw new Error('rolled back');
    });
    await wroteInside.opened;
    let readSettled = false;
    const readDuring = store.queueStats(queue).then((stats) => {
      readSettled = true;
      return stats.ready;
    });
    await turns(5);
    assert.equal(readSettled, false, 'the outside read waits for the transaction');

    workMayFinish.open();
    await assert.rejects(transaction, /rolled back/);
    assert.equal(await readDuring, 0);
  });

  it('inside work, store reads see the transaction’s own writes and store writes are refused', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');

    await store.transaction(async (tx) => {
      await tx.enqueue(queue, [message()]);
      assert.equal((await store.queueStats(queue)).ready, 1);
      await assert.rejects(store.enqueue(queue, [message()]), InvalidArgumentError);
      await assert.rejects(
        store.transaction(() => Promise.resolve()),
        InvalidArgumentError,
      );
    });
    assert.equal((await store.queueStats(queue)).ready, 1);
  });

  it('tx refuses writes once its transaction has ended', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const escaped = await store.transaction((tx) => Promise.resolve(tx));

    await assert.rejects(escaped.enqueue(queue, [message()]), ClosedError);
    assert.equal((await store.queueStats(queue)).ready, 0);
  });

  it('transactions run one at a time, in the order they were asked for', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const order: string[] = [];
    const run = (name: string) =>
      store.transaction(async (tx) => {
        order.push(`${name} start`);
        await turns(1);
        await tx.enqueue(queue, [message({ payload: JSON.stringify(name) })]);
        order.push(`${name} end`);
      });

    await Promise.all([run('a'), run('b')]);
    assert.deepEqual(order, ['a start', 'a end', 'b start', 'b end']);
  });
});

void describe('sqlite store: close', () => {
  it('close lets pending writes commit, then every call rejects with ClosedError', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const pending = store.enqueue(queue, [message()]);
    const closed = store.close();

    await pending;
    await closed;
    await assert.rejects(store.enqueue(queue, [message()]), ClosedError);
    await assert.rejects(store.queueStats(queue), ClosedError);
    await assert.rejects(
      store.transaction(() => Promise.resolve()),
      ClosedError,
    );
    await store.close();

    const reopened = await fixture.reopen();
    assert.equal((await reopened.queueStats(queue)).ready, 1);
  });

  it('close waits for an open transaction to finish', async () => {
    const { store } = fixture;
    const queue = await saveQueue(store, 'orders');
    const workMayFinish = gate();
    const transaction = store.transaction(async (tx) => {
      await tx.enqueue(queue, [message()]);
      await workMayFinish.opened;
    });
    await turns(1);
    let closed = false;
    const closing = store.close().then(() => (closed = true));
    await turns(5);
    assert.equal(closed, false);

    workMayFinish.open();
    await Promise.all([transaction, closing]);
    const reopened = await fixture.reopen();
    assert.equal((await reopened.queueStats(queue)).ready, 1);
  });
});

/** A promise the test opens when it chooses. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Lets `count` turns of the event loop (and any group commit due in them) pass. */
async function turns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
}
