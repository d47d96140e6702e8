// An in-process job worker in its own process: the jobs engine on the same PostgreSQL database
// as the servers, with no HTTP in between. Logs each handler run like http-worker.ts.
// Usage: engine-worker.ts <database url> <log file> <name>
import { appendFileSync } from 'node:fs';
import { createSpool } from '../../src/engine/spool.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';

const [url, logFile, name] = process.argv.slice(2) as [string, string, string];
const spool = createSpool({ store: await openPostgresStore({ connectionString: url, maxConnections: 6 }) });
const jobs = new Jobs(spool);
const run = (job: { id: string }) => {
  appendFileSync(logFile, `${job.id} ${name}\n`);
  return { by: name };
};
jobs.define('mp.work', run, { concurrency: 16 });
jobs.define('mp.tick', run);
await jobs.start();
process.stdout.write('worker ready\n');
process.once('SIGTERM', () => {
  void jobs
    .close()
    .then(() => spool.close())
    .then(() => process.exit(0));
});
