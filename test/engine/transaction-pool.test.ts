/**
 * Publishing inside transactions on a small PostgreSQL pool. A transaction holds one pooled
 * connection; if publishing read the topic's partition count through the pool, as many
 * concurrent transactions as connections would each wait for a second one and never finish.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createSpool } from '../../src/engine/spool.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { postgresUrl, SchemaJanitor } from '../stores/postgres/fixtures.js';

describe('transactions on a small pool (PostgreSQL)', () => {
  const janitor = new SchemaJanitor();
  after(() => janitor.end());

  it('concurrent transactions publishing to a topic this instance has not read yet all commit', async () => {
    const schema = janitor.schema();
    // Another instance creates the topic, so this one's partition cache is cold.
    const creator = createSpool({
      store: await openPostgresStore({ connectionString: postgresUrl, schema }),
    });
    await creator.topic('orders.events', { partitions: 4 });
    await creator.close();

    const spool = createSpool({
      store: await openPostgresStore({ connectionString: postgresUrl, schema, maxConnections: 2 }),
    });
    try {
      const publishing = Array.from({ length: 8 }, (_, i) =>
        spool.transaction((tx) => tx.publish('orders.events', { order: i }, { key: `order-${i}` })),
      );
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('transactions still waiting after 15 s')), 15_000).unref(),
      );
      const results = await Promise.race([Promise.all(publishing), timeout]);
      assert.equal(results.length, 8);
      const topic = await spool.topic('orders.events');
      const stats = await topic.stats();
      assert.equal(
        stats.partitions.reduce((sum, partition) => sum + partition.endOffset, 0),
        8,
      );
    } finally {
      await spool.close();
    }
  });
});
