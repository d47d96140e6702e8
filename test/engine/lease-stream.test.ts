/**
 * The engine side of streaming consume (`queue.openLeaseStream`), on a SQLite file and on
 * PostgreSQL: credit bounds deliveries, acks commit with the next claim, keyed order holds across
 * acks, a second process's sends reach an idle stream, and closing releases what it held untried.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { createSpool, type Spool } from '../../src/engine/spool.js';
import type { Message } from '../../src/engine/received-message.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { postgresUrl, SchemaJanitor } from '../stores/postgres/fixtures.js';
import { tempDir, until } from '../helpers.js';

interface Backend {
  readonly name: string;
  /** Two engines on one store (two "processes"), closed by the suite. */
  open(): Promise<[Spool, Spool]>;
}

const janitor = new SchemaJanitor();
const cleanups: (() => Promise<void> | void)[] = [];

const backends: Backend[] = [
  {
    name: 'SQLite file',
    async open() {
      const { dir, cleanup } = tempDir('lease-stream-');
      const path = `${dir}/spool.db`;
      const a = createSpool({ store: await openSqliteStore({ path }), safetyPollMs: 100 });
      const b = createSpool({ store: await openSqliteStore({ path }), safetyPollMs: 100 });
      cleanups.push(async () => {
        await a.close({ timeoutMs: 2000 });
        await b.close({ timeoutMs: 2000 });
        cleanup();
      });
      return [a, b];
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const schema = janitor.schema();
      const a = createSpool({ store: await openPostgresStore({ connectionString: postgresUrl, schema }) });
      const b = createSpool({ store: await openPostgresStore({ connectionString: postgresUrl, schema }) });
      cleanups.push(async () => {
        await a.close({ timeoutMs: 2000 });
        await b.close({ timeoutMs: 2000 });
      });
      return [a, b];
    },
  },
];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});
after(async () => {
  await janitor.dropAll();
  await janitor.end();
});

for (const backend of backends) {
  describe(`lease stream (${backend.name})`, () => {
    it('delivers no more than the credit, and acks bring the next messages in order', async () => {
      const [spool] = await backend.open();
      const queue = await spool.queue('orders');
      await queue.sendBatch(Array.from({ length: 10 }, (_, n) => ({ body: n })));
      const delivered: Message[] = [];
      const stream = queue.openLeaseStream({ deliver: (messages) => delivered.push(...messages) });
      stream.grant(4);
      await until(() => delivered.length === 4, 5000, '4 deliveries');
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(delivered.length, 4, 'nothing beyond the credit');
      assert.equal(stream.held, 4);
      assert.equal(stream.credit, 0);

      const outcomes = await stream.ack(delivered.map((m) => m.receipt));
      assert.deepEqual(
        outcomes.map((o) => o.ok),
        [true, true, true, true],
      );
      stream.grant(6);
      await until(() => delivered.length === 10, 5000, '10 deliveries');
      assert.deepEqual(
        delivered.map((m) => m.body),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      await stream.ack(delivered.slice(4).map((m) => m.receipt));
      await stream.close();
      const stats = await queue.stats();
      assert.deepEqual([stats.ready, stats.inFlight], [0, 0]);
    });

    it('reports a stale receipt in its own outcome and acks the rest', async () => {
      const [spool] = await backend.open();
      const queue = await spool.queue('stale');
      await queue.send('x');
      const delivered: Message[] = [];
      const stream = queue.openLeaseStream({ deliver: (messages) => delivered.push(...messages) });
      stream.grant(1);
      await until(() => delivered.length === 1);
      const outcomes = await stream.ack([delivered[0]!.receipt, 'no-such-receipt']);
      assert.equal(outcomes[0]!.ok, true);
      assert.equal(outcomes[1]!.ok, false);
      assert.equal((outcomes[1] as { error: { code: string } }).error.code, 'SPOOL_STALE_RECEIPT');
      await stream.close();
    });

    it('holds per-key order: the next message of a key comes after the previous is acked', async () => {
      const [spool] = await backend.open();
      const queue = await spool.queue('keyed');
      await queue.sendBatch([
        { body: 'a1', key: 'a' },
        { body: 'a2', key: 'a' },
        { body: 'b1', key: 'b' },
      ]);
      const delivered: Message[] = [];
      const stream = queue.openLeaseStream({ deliver: (messages) => delivered.push(...messages) });
      stream.grant(10);
      await until(() => delivered.length === 2);
      assert.deepEqual(delivered.map((m) => m.body).sort(), ['a1', 'b1']);
      await stream.ack([delivered.find((m) => m.body === 'a1')!.receipt]);
      await until(() => delivered.length === 3, 5000, 'a2 after a1 is acked');
      assert.equal(delivered[2]!.body, 'a2');
      await stream.close();
    });

    it('is woken by another process’s send while idle', async () => {
      const [consumer, producer] = await backend.open();
      const queue = await consumer.queue('cross');
      const delivered: Message[] = [];
      const stream = queue.openLeaseStream({ deliver: (messages) => delivered.push(...messages) });
      stream.grant(5);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await (await producer.queue('cross')).send('from the other process');
      await until(() => delivered.length === 1, 5000, 'the other process’s message');
      assert.equal(delivered[0]!.body, 'from the other process');
      await stream.close();
    });

    it('closing releases what it held, untried, and commits acks given before', async () => {
      const [spool] = await backend.open();
      const queue = await spool.queue('closing', { maxAttempts: 1 });
      await queue.sendBatch([{ body: 1 }, { body: 2 }, { body: 3 }]);
      const delivered: Message[] = [];
      const stream = queue.openLeaseStream({ deliver: (messages) => delivered.push(...messages) });
      stream.grant(3);
      await until(() => delivered.length === 3);
      const acked = stream.ack([delivered[0]!.receipt]);
      await stream.close();
      assert.equal((await acked)[0]!.ok, true);
      const again = await queue.receive({ max: 10 });
      assert.deepEqual(again.map((m) => m.body).sort(), [2, 3]);
      assert.deepEqual(
        again.map((m) => m.attempt),
        [1, 1],
        'released untried: not dead-lettered at maxAttempts 1, attempt unchanged',
      );
    });

    it('refuses credit beyond maxOutstanding and grants nothing then', async () => {
      const [spool] = await backend.open();
      const queue = await spool.queue('bounded');
      const stream = queue.openLeaseStream({ deliver: () => {}, maxOutstanding: 10 });
      stream.grant(8);
      assert.throws(() => stream.grant(3), /at most 10 messages/);
      assert.equal(stream.credit, 8);
      await stream.close();
    });

    it('nack uses the queue backoff by default and counts the attempt', async () => {
      const [spool] = await backend.open();
      const queue = await spool.queue('nacked', {
        maxAttempts: 3,
        backoff: { baseMs: 60_000, capMs: 60_000, jitter: 'none' },
      });
      await queue.send('x');
      const delivered: Message[] = [];
      const stream = queue.openLeaseStream({ deliver: (messages) => delivered.push(...messages) });
      stream.grant(2);
      await until(() => delivered.length === 1);
      assert.equal(await stream.nack(delivered[0]!.receipt, { error: new Error('boom') }), 'released');
      const stats = await queue.stats();
      assert.deepEqual([stats.delayed, stats.inFlight], [1, 0], 'waits out the queue backoff');
      assert.equal(stream.held, 0);
      await stream.close();
    });
  });
}
