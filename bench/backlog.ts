/**
 * How the embedded store's cost grows with the work waiting: send and process rates on an empty
 * queue, then on a queue that holds a backlog of `--backlog` ready messages (10 million by
 * default), in the same run on the same machine.
 *
 *   npm run bench:backlog -- [--backlog 10000000] [--count 100000] [--rounds 3]
 *
 * - send: `--count` messages from 100 concurrent senders, appended behind the backlog;
 * - process: `queue.process()` with concurrency 50 and a no-op handler, timed until `--count`
 *   messages were handled: taken from the head of the backlog.
 *
 * Durability `full` (the default). The backlog is filled once, with batches of 1,000 (untimed);
 * rounds then alternate send and process on it, so it stays within a few percent of its size.
 * The empty-queue figures use a fresh file per round. Medians and min – max over the rounds.
 * Long (the fill alone is about 90 s for 10M on a 2-core machine, and the file about 6 GB): a
 * command of its own, not part of `npm run bench` or CI.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Queue } from '#spool/engine/queue';
import { openSpool } from '#spool/open-spool';
import { type OrderEvent, order, orders } from './payload.js';
import { median } from './report/stats.js';
import { concurrently, Countdown, secondsSince } from './scenarios/support.js';
import type { Spool } from '#spool/engine/spool';

const { values } = parseArgs({
  options: {
    backlog: { type: 'string', default: '10000000' },
    count: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
  },
});
const backlogSize = Number(values.backlog);
const count = Number(values.count);
const rounds = Number(values.rounds);
for (const [name, value] of Object.entries({ backlog: backlogSize, count, rounds })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
}

async function sendRate(queue: Queue<OrderEvent>): Promise<number> {
  const started = process.hrtime.bigint();
  await concurrently(count, 100, (seq) => queue.send(order(seq)).then(() => undefined));
  return count / secondsSince(started);
}

async function processRate(queue: Queue<OrderEvent>): Promise<number> {
  const done = new Countdown(count);
  const started = process.hrtime.bigint();
  let handled = 0;
  const consumer = queue.process(
    () => {
      // Stop taking work once the measured count is in: the backlog behind it stays.
      if (++handled <= count) done.tick();
      if (handled === count) void consumer.close();
    },
    { concurrency: 50 },
  );
  if (!(await done.wait(600))) throw new Error(`process: ${handled} of ${count} handled in 600 s`);
  const seconds = secondsSince(started);
  await consumer.close();
  return count / seconds;
}

async function fill(queue: Queue<OrderEvent>, size: number): Promise<number> {
  const started = process.hrtime.bigint();
  await concurrently(Math.ceil(size / 1000), 4, (b) =>
    queue
      .sendBatch(orders(b * 1000, Math.min(1000, size - b * 1000)).map((body) => ({ body })))
      .then(() => undefined),
  );
  return secondsSince(started);
}

async function withSpool<T>(dir: string, work: (spool: Spool) => Promise<T>): Promise<T> {
  const spool = await openSpool({ path: join(dir, 'spool.db') });
  try {
    return await work(spool);
  } finally {
    await spool.close();
  }
}

const figures = {
  send: { empty: [] as number[], backlog: [] as number[] },
  process: { empty: [] as number[], backlog: [] as number[] },
};
const root = mkdtempSync(join(tmpdir(), 'spool-backlog-'));
console.log(
  `backlog benchmark: ${backlogSize.toLocaleString('en-US')} waiting, ${count.toLocaleString('en-US')} measured, ${rounds} round(s); ${cpus().length} cores, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')}`,
);
try {
  // Warm-up (untimed): the first rounds would otherwise also measure the JIT compiling the engine.
  const warmDir = mkdtempSync(join(root, 'warm-'));
  await withSpool(warmDir, async (spool) => {
    const queue = await spool.queue<OrderEvent>('orders');
    await sendRate(queue);
    await processRate(queue);
  });
  rmSync(warmDir, { recursive: true, force: true });
  for (let round = 1; round <= rounds; round++) {
    const dir = mkdtempSync(join(root, 'empty-'));
    await withSpool(dir, async (spool) => {
      const queue = await spool.queue<OrderEvent>('orders');
      figures.send.empty.push(await sendRate(queue));
      figures.process.empty.push(await processRate(queue));
    });
    rmSync(dir, { recursive: true, force: true });
    console.log(
      `  empty queue, round ${round}: send ${Math.round(figures.send.empty.at(-1)!)}/s, process ${Math.round(figures.process.empty.at(-1)!)}/s`,
    );
  }
  const dir = mkdtempSync(join(root, 'backlog-'));
  await withSpool(dir, async (spool) => {
    const queue = await spool.queue<OrderEvent>('orders');
    const seconds = await fill(queue, backlogSize);
    const bytes = statSync(join(dir, 'spool.db')).size;
    console.log(
      `  filled ${backlogSize.toLocaleString('en-US')} in ${seconds.toFixed(1)} s (${Math.round(backlogSize / seconds)}/s), file ${(bytes / 2 ** 30).toFixed(2)} GiB`,
    );
    for (let round = 1; round <= rounds; round++) {
      figures.send.backlog.push(await sendRate(queue));
      figures.process.backlog.push(await processRate(queue));
      console.log(
        `  backlog, round ${round}: send ${Math.round(figures.send.backlog.at(-1)!)}/s, process ${Math.round(figures.process.backlog.at(-1)!)}/s`,
      );
    }
  });
  console.log('\nmedian (min – max) msg/s:');
  for (const [name, { empty, backlog }] of Object.entries(figures)) {
    const ratio = median(backlog) / median(empty);
    const range = (xs: number[]) =>
      `${Math.round(median(xs)).toLocaleString('en-US')} (${Math.round(Math.min(...xs)).toLocaleString('en-US')} – ${Math.round(Math.max(...xs)).toLocaleString('en-US')})`;
    console.log(
      `  ${name.padEnd(8)} empty ${range(empty)}  backlog ${range(backlog)}  ratio ${ratio.toFixed(2)}`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
