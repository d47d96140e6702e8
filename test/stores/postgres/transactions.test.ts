// Transactions on PostgreSQL. The outbox: a business write and `transaction(work, { connection })`
// on the application's own client commit or roll back together. Each write inside a transaction
// runs in its own savepoint, so a refused write leaves the rest of the transaction usable.
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import type pg from 'pg';
import { TestClock } from '../../../src/core/clock.js';
import type { PostgresStore } from '../../../src/stores/postgres/index.js';
import { SchemaJanitor, message, openStore, saveQueue } from './fixtures.js';

const janitor = new SchemaJanitor();
let schema: string;
let store: PostgresStore;
let client: pg.PoolClient;

beforeEach(async () => {
  schema = janitor.schema();
  store = await openStore(schema, { clock: new TestClock() });
  await saveQueue(store, 'emails');
  client = await janitor.admin.connect();
  await client.query(`CREATE TABLE ${schema}.orders (id text PRIMARY KEY)`);
});
afterEach(async () => {
  client.release();
  await store.close();
  await janitor.dropAll();
});
after(() => janitor.end());

async function orders(): Promise<number> {
  const { rows } = await janitor.admin.query<{ count: string }>(`SELECT count(*) FROM ${schema}.orders`);
  return Number(rows[0]!.count);
}

/** The business write and the send, in the application's transaction. */
async function placeOrder(id: string): Promise<void> {
  await client.query('BEGIN');
  await client.query(`INSERT INTO ${schema}.orders (id) VALUES ($1)`, [id]);
  await store.transaction(
    (tx) => tx.enqueue('emails', [message({ payload: JSON.stringify({ order: id }) })]),
    {
      connection: client,
    },
  );
}

void describe('postgres store: transactional outbox', () => {
  it('a rolled-back business transaction enqueues nothing', async () => {
    await placeOrder('order-1');
    await client.query('ROLLBACK');
    assert.equal(await orders(), 0);
    assert.equal((await store.queueStats('emails')).ready, 0);
  });

  it('a committed business transaction enqueues the message exactly once', async () => {
    await placeOrder('order-2');
    assert.equal((await store.queueStats('emails')).ready, 0, 'invisible until the commit');
    await client.query('COMMIT');
    assert.equal(await orders(), 1);
    const claimed = await store.claim('emails', { max: 10, visibilityTimeoutMs: 1_000 });
    assert.deepEqual(
      claimed.map((m) => m.payload),
      [JSON.stringify({ order: 'order-2' })],
    );
    assert.deepEqual(await store.claim('emails', { max: 10, visibilityTimeoutMs: 1_000 }), []);
  });

  it('work that throws after a send leaves nothing behind, even when the caller commits', async () => {
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${schema}.orders (id) VALUES ('order-4')`);
    const failure = new Error('payment declined');
    await assert.rejects(
      store.transaction(
        async (tx) => {
          await tx.enqueue('emails', [message()]);
          throw failure;
        },
        { connection: client },
      ),
      (error) => error === failure,
    );
    // The caller decides to keep its own write anyway: the transaction is still usable.
    await client.query(`INSERT INTO ${schema}.orders (id) VALUES ('order-5')`);
    await client.query('COMMIT');
    assert.equal(await orders(), 2);
    assert.equal((await store.queueStats('emails')).ready, 0);
    assert.deepEqual(await store.claim('emails', { max: 10, visibilityTimeoutMs: 1_000 }), []);
  });

  it('a connection that is not inside a transaction is refused and nothing is stored', async () => {
    await assert.rejects(
      store.transaction((tx) => tx.enqueue('emails', [message()]), { connection: client }),
      { code: 'SPOOL_INVALID_ARGUMENT' },
    );
    await assert.rejects(
      store.transaction((tx) => tx.enqueue('emails', [message()]), { connection: { notAClient: true } }),
      { code: 'SPOOL_INVALID_ARGUMENT' },
    );
    assert.equal((await store.queueStats('emails')).ready, 0);
  });

  it('a refused write rolls back alone; the rest of the business transaction commits', async () => {
    await saveQueue(store, 'bounded', { maxDepth: 1, dedupWindowMs: 60_000 });
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${schema}.orders (id) VALUES ('order-3')`);
    const outcome = await store.transaction(
      async (tx) => {
        await tx.enqueue('bounded', [message({ dedupId: 'a' })]);
        // Over the bound: refused after its dedup id was checked; nothing of it may remain.
        const refused = await tx
          .enqueue('bounded', [message({ dedupId: 'b' })])
          .catch((error: unknown) => error);
        await tx.enqueue('emails', [message()]);
        return refused;
      },
      { connection: client },
    );
    assert.equal((outcome as { code?: string }).code, 'SPOOL_QUEUE_FULL');
    await client.query('COMMIT');
    assert.equal(await orders(), 1);
    assert.equal((await store.queueStats('bounded')).ready, 1);
    assert.equal((await store.queueStats('emails')).ready, 1);
    await store.ack(
      'bounded',
      (await store.claim('bounded', { max: 1, visibilityTimeoutMs: 1_000 }))[0]!.receipt,
    );
    const retried = message({ dedupId: 'b' });
    assert.deepEqual(await store.enqueue('bounded', [retried]), [{ id: retried.id, duplicate: false }]);
  });

  it('writes started together inside a transaction run one after another', async () => {
    const sent = Array.from({ length: 20 }, () => message({ key: 'customer-1' }));
    await store.transaction((tx) => Promise.all(sent.map((m) => tx.enqueue('emails', [m]))));
    const listed = await store.listMessages('emails', { limit: 50 });
    assert.deepEqual(
      listed.items.map((m) => m.id),
      sent.map((m) => m.id),
    );
  });
});
