/**
 * Two Spool instances on one PostgreSQL schema stand for two processes: a send or publish through
 * one wakes the idle consumers of the other at once (LISTEN/NOTIFY), not at their safety poll.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createSpool } from '../../src/engine/spool.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { postgresUrl, SchemaJanitor } from '../stores/postgres/fixtures.js';

describe('wake-ups across processes (PostgreSQL)', () => {
  const janitor = new SchemaJanitor();
  after(() => janitor.end());

  it('a send in one instance wakes a long poll in another well before the safety poll', async () => {
    const schema = janitor.schema();
    // A safety poll of a minute: only a notification can explain a prompt wake-up.
    const producer = createSpool({
      store: await openPostgresStore({ connectionString: postgresUrl, schema }),
      safetyPollMs: 60_000,
    });
    const consumer = createSpool({
      store: await openPostgresStore({ connectionString: postgresUrl, schema }),
      safetyPollMs: 60_000,
    });
    try {
      const sending = await producer.queue('orders');
      const receiving = await consumer.queue('orders');
      await new Promise((resolve) => setTimeout(resolve, 200)); // the consumer's LISTEN is in place
      const started = Date.now();
      const waiting = receiving.receive({ waitMs: 30_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await sending.send({ order: 1 });
      const [message] = await waiting;
      const elapsed = Date.now() - started;
      assert.deepEqual(message?.body, { order: 1 });
      assert.ok(elapsed < 5_000, `woken after ${elapsed} ms`);
      await message.ack();
    } finally {
      await producer.close();
      await consumer.close();
    }
  });
});
