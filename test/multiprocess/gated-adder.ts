// An adder process for add-controls.test.ts. For each round in order: once the round's go file
// exists, makes `count` adds of job type `gated` at once with the round's add options, and prints
// what each add did.
// Usage: gated-adder.ts <database url> <go directory> <count> <rounds: {name: options} as JSON>
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createSpool } from '../../src/engine/spool.js';
import type { AddJobOptions } from '../../src/jobs/jobs.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';

const [url, dir, count, roundsJson] = process.argv.slice(2) as [string, string, string, string];
const spool = createSpool({ store: await openPostgresStore({ connectionString: url, maxConnections: 8 }) });
const jobs = new Jobs(spool);
// The first add opens the jobs layer (its ticket queue): done before the go, so the race is the adds'.
await jobs.add('gated.warmup', null);
process.stdout.write('adder ready\n');
for (const [name, options] of Object.entries(JSON.parse(roundsJson) as Record<string, AddJobOptions>)) {
  while (!existsSync(join(dir, name))) await new Promise((resolve) => setTimeout(resolve, 2));
  const added = await Promise.all(
    Array.from({ length: Number(count) }, (_, n) => jobs.add('gated', { pid: process.pid, n }, options)),
  );
  const outcomes = added.map((job) => ({ id: job.id, outcome: job.outcome }));
  process.stdout.write(`RESULT ${name} ${JSON.stringify(outcomes)}\n`);
}
await jobs.close();
await spool.close();
