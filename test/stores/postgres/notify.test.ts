// Wake-ups across processes: a store subscribed with onNotify hears about writes another store
// (another pool, as another process would) commits: sends, releases, a key's next message,
// appends. A write inside a transaction is heard when, and only if, that transaction commits.
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveTopicConfig } from '../../../src/core/options.js';
import type { PostgresStore, StoreNotice } from '../../../src/stores/postgres/index.js';
import { until } from '../../helpers.js';
import { SchemaJanitor, event, message, openStore, saveQueue } from './fixtures.js';

const janitor = new SchemaJanitor();
let listener: PostgresStore;
let writer: PostgresStore;
let notices: StoreNotice[];
let unsubscribe: () => void;

beforeEach(async () => {
  const schema = janitor.schema();
  listener = await openStore(schema);
  writer = await openStore(schema);
  notices = [];
  unsubscribe = await listener.onNotify((notice) => notices.push(notice));
});
afterEach(async () => {
  unsubscribe();
  await Promise.all([listener.close(), writer.close()]);
  await janitor.dropAll();
});
after(() => janitor.end());

/** Waits for `expected` among the notices, then clears them. */
async function heard(expected: StoreNotice): Promise<void> {
  await until(
    () => notices.some((notice) => JSON.stringify(notice) === JSON.stringify(expected)),
    5_000,
    `notice ${JSON.stringify(expected)}`,
  );
  notices.length = 0;
}

void describe('postgres store: NOTIFY wake-ups', () => {
  it('sends, releases and appends committed by another store are heard', async () => {
    const queue = await saveQueue(writer, 'emails');
    await writer.enqueue(queue, [message()]);
    await heard({ kind: 'queue', name: queue });
    const [claimed] = await writer.claim(queue, { max: 1, visibilityTimeoutMs: 60_000 });
    await writer.release(queue, claimed!.receipt, { delayMs: 0 });
    await heard({ kind: 'queue', name: queue });
    await writer.saveTopic(resolveTopicConfig('orders', { partitions: 1 }));
    await writer.append('orders', [event(0)]);
    await heard({ kind: 'topic', name: 'orders' });
  });

  it("settling a key's head wakes consumers for the key's next message", async () => {
    const queue = await saveQueue(writer, 'emails');
    await writer.enqueue(queue, [message({ key: 'k' }), message({ key: 'k' })]);
    const [head] = await writer.claim(queue, { max: 10, visibilityTimeoutMs: 60_000 });
    await heard({ kind: 'queue', name: queue });
    await writer.ack(queue, head!.receipt);
    await heard({ kind: 'queue', name: queue });
  });

  it('a send inside a transaction is heard only after the commit', async () => {
    const queue = await saveQueue(writer, 'emails');
    const client = await janitor.admin.connect();
    try {
      await client.query('BEGIN');
      await writer.transaction((tx) => tx.enqueue(queue, [message()]), { connection: client });
      await sleep(200);
      assert.deepEqual(notices, [], 'nothing is heard while the transaction is open');
      await client.query('COMMIT');
      await heard({ kind: 'queue', name: queue });

      await client.query('BEGIN');
      await writer.transaction((tx) => tx.enqueue(queue, [message()]), { connection: client });
      await client.query('ROLLBACK');
      await sleep(200);
      assert.deepEqual(notices, [], 'a rolled-back send is never heard');
    } finally {
      client.release();
    }
  });

  it('a lost listening connection is re-established and listeners are told to resync', async () => {
    const queue = await saveQueue(writer, 'emails');
    const { rowCount } = await janitor.admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'spool' AND query = $1`,
      [`LISTEN "spool_${listener.schema}"`],
    );
    assert.equal(rowCount, 1, 'the listening connection was found');
    await heard({ kind: 'resync' });
    await writer.enqueue(queue, [message()]);
    await heard({ kind: 'queue', name: queue });
  });

  it('after unsubscribing nothing more is delivered', async () => {
    const queue = await saveQueue(writer, 'emails');
    unsubscribe();
    await writer.enqueue(queue, [message()]);
    await sleep(200);
    assert.deepEqual(notices, []);
  });
});
