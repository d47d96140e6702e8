// A remote job worker in its own process, talking to one `spool serve` over HTTP. Every run of
// a handler is appended to the log file as "<job id> <worker name>" before it returns, so the
// test can count how often each job ran. Usage: http-worker.ts <server url> <log file> <name>
import { appendFileSync } from 'node:fs';
import { SpoolClient } from '../../src/client/client.js';
import { Worker } from '../../src/client/worker.js';

const [url, logFile, name] = process.argv.slice(2) as [string, string, string];
const client = new SpoolClient({ url });
const worker = new Worker(client, {
  types: ['mp.work', 'mp.tick'],
  concurrency: 8,
  // Short leases: a job whose completion went to a server that was killed runs again soon.
  leaseMs: 5_000,
  waitMs: 2_000,
  onError: () => {
    // The server this worker talks to is killed on purpose; the worker keeps retrying.
  },
  handler: (job) => {
    appendFileSync(logFile, `${job.id} ${name}\n`);
    return { by: name };
  },
});
worker.start();
process.stdout.write('worker ready\n');
process.once('SIGTERM', () => {
  void worker.close({ timeoutMs: 5_000 }).then(() => process.exit(0));
});
