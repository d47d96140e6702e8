/**
 * The child of the crash test. It produces to a queue and a topic and consumes both, logging to
 * append-only files what the test needs to check afterwards:
 *   sent.log      a queue message's sequence number, written after its send resolved
 *   processed.log a queue message's sequence number, written by the handler before it resolves
 *   published.log / consumed.log  the same for topic events
 * The parent kills it with SIGKILL at random moments. With `--drain` it produces nothing and exits
 * once the queue is empty and the group has caught up.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSpool } from '../../src/open-spool.js';

const [dir, mode, startArg] = process.argv.slice(2);
if (!dir) throw new Error('usage: crash-worker <dir> [produce|drain] [first-sequence]');
const drain = mode === 'drain';
let sequence = Number(startArg ?? 0);
const log = (file: string, line: string) => appendFileSync(join(dir, file), line + '\n');

const spool = await openSpool({ path: join(dir, 'spool.db'), safetyPollMs: 50 });
const queue = await spool.queue<{ seq: number }>('crash', { visibilityTimeoutMs: 1000, maxAttempts: 1000 });
const topic = await spool.topic<{ seq: number }>('crash-events', { partitions: 2 });

queue.process(
  (message) => {
    log('processed.log', String(message.body.seq));
  },
  { concurrency: 8 },
);
const subscription = topic.subscribe(
  'auditors',
  (event) => {
    log('consumed.log', String(event.body.seq));
  },
  { sessionTimeoutMs: 600, batchSize: 20 },
);

if (drain) {
  for (;;) {
    const stats = await queue.stats();
    const lag = await topic.groupLag('auditors');
    if (stats.ready + stats.delayed + stats.inFlight === 0 && lag.totalLag === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await subscription.close();
  await spool.close();
  process.stdout.write('drained\n');
} else {
  process.stdout.write('ready\n');
  // Concurrent producers, so kills land in the middle of group commits too.
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (;;) {
        const seq = sequence++;
        if (seq % 3 === 0) {
          await topic.publish({ seq }, { key: `k${seq % 5}` });
          log('published.log', String(seq));
        } else {
          await queue.send({ seq });
          log('sent.log', String(seq));
        }
      }
    }),
  );
}
