// The other process of the workers registry's cross-process test: a queue consumer on the same
// SQLite file, heartbeating every 100 ms. Prints, as one JSON line, the workers it sees once the
// parent's consumer is among them, then runs until it is killed.
// Usage: workers-process.ts <database path>
import { createSpool } from '../../src/engine/spool.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';

const [path] = process.argv.slice(2) as [string];
const spool = createSpool({ store: await openSqliteStore({ path }), workerHeartbeatMs: 100 });
const queue = await spool.queue('child-queue');
queue.process(() => {}, { concurrency: 5 });
for (;;) {
  const workers = await spool.workers.list();
  if (workers.some((worker) => worker.pid === process.ppid)) {
    process.stdout.write(`${JSON.stringify(workers)}\n`);
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}
