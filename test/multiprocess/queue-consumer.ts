// A queue consumer in its own process: `process()` on one queue of a SQLite file or a PostgreSQL
// database, printing each body it handles. Usage: queue-consumer.ts <sqlite path | postgres url> <queue>
import { createSpool } from '../../src/engine/spool.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';

const [where, name] = process.argv.slice(2) as [string, string];
const store = where.startsWith('postgres')
  ? await openPostgresStore({ connectionString: where })
  : await openSqliteStore({ path: where });
const spool = createSpool({ store });
const queue = await spool.queue<{ n: number }>(name);
const consumer = queue.process(
  (message) => {
    process.stdout.write(`handled ${message.body.n}\n`);
  },
  { concurrency: 4 },
);
process.stdout.write('consumer ready\n');
process.once('SIGTERM', () => {
  void consumer
    .close()
    .then(() => spool.close())
    .then(() => process.exit(0));
});
