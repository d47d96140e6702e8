/**
 * A job worker process for bench/limits.ts: defines `bench.limited` with the limits given, waits
 * for the go file, then runs jobs (no-op handler) until it is told to stop.
 * Usage: limits-worker.ts <postgres url> <schema> <go file> <job type options as JSON>
 */
import { existsSync } from 'node:fs';
import { createSpool } from '#spool/engine/spool';
import { Jobs, type JobTypeOptions } from '#spool/jobs/index';
import { openPostgresStore } from '#spool/stores/postgres/index';

const [url, schema, goFile, optionsJson] = process.argv.slice(2) as [string, string, string, string];
const spool = createSpool({ store: await openPostgresStore({ connectionString: url, schema }) });
const jobs = new Jobs(spool);
jobs.define('bench.limited', () => null, JSON.parse(optionsJson) as JobTypeOptions);
process.stdout.write('ready\n');
while (!existsSync(goFile)) await new Promise((resolve) => setTimeout(resolve, 2));
await jobs.start();
process.once('SIGTERM', () => {
  void jobs
    .close()
    .then(() => spool.close())
    .then(() => process.exit(0));
});
