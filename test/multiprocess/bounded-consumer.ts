// A queue consumer process for queue-concurrency.test.ts: up to 2 handlers at once in this
// process, each 30 ms long, printing when it started and ended (one machine, one clock).
// Usage: bounded-consumer.ts <sqlite path | postgres url> <queue>
import { createSpool } from '../../src/engine/spool.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';

const [where, name] = process.argv.slice(2) as [string, string];
const store = where.startsWith('postgres')
  ? await openPostgresStore({ connectionString: where, maxConnections: 4 })
  : await openSqliteStore({ path: where });
const spool = createSpool({ store, safetyPollMs: 100 });
const queue = await spool.queue<{ n: number }>(name);
const consumer = queue.process(
  async (message) => {
    const startedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 30));
    process.stdout.write(`run ${message.body.n} ${startedAt} ${Date.now()}\n`);
  },
  { concurrency: 2 },
);
process.stdout.write('consumer ready\n');
process.once('SIGTERM', () => {
  void consumer
    .close()
    .then(() => spool.close())
    .then(() => process.exit(0));
});
