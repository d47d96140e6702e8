// A jobs worker process for job-limits.test.ts: job types whose limits hold across processes.
// Each run reports when it started and ended (this machine's clock, shared by the processes).
// Usage: limited-worker.ts <database url>
import { createSpool } from '../../src/engine/spool.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';

const [url] = process.argv.slice(2) as [string];
const spool = createSpool({ store: await openPostgresStore({ connectionString: url, maxConnections: 6 }) });
const jobs = new Jobs(spool);
const run = async () => {
  const startedAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 40));
  return { startedAt, endedAt: Date.now(), pid: process.pid };
};
jobs.define('limited.render', run, { concurrency: 8, globalConcurrency: 3 });
jobs.define('limited.sync', run, { concurrency: 8, keyConcurrency: 1 });
jobs.define('limited.notify', run, { concurrency: 8, globalRateLimit: { limit: 10, intervalMs: 1_000 } });
await jobs.start();
process.stdout.write('worker ready\n');
process.once('SIGTERM', () => {
  void jobs
    .close()
    .then(() => spool.close())
    .then(() => process.exit(0));
});
