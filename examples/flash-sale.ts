/**
 * The flash sale: Spool's main demo (`npm run demo`).
 *
 * A shop publishes N `order.created` events as fast as it can, in batches, to a partitioned
 * topic keyed by customer id. Three consumer groups — payment, inventory and email — each read
 * every event, at their own pace. When everything is drained the demo proves the delivery
 * guarantees from the consumers' side: every event was processed by every group (lost = 0),
 * how many were delivered twice (at-least-once allows it; a clean run has none), and that each
 * customer's orders arrived in the order they were placed.
 *
 *   npm run demo                                    # 100,000 orders, fsync on every commit
 *   npm run demo -- --count 20000 --durability process
 *   npm run demo -- --help
 *
 * Progress goes to stderr, the report to stdout. Exit code 0 when nothing was lost, 1 otherwise.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { openSpool, type Subscription, type Topic, type TopicEvent } from '../src/index.js';

// --- command line ------------------------------------------------------------------------------

const usage = `usage: npm run demo -- [options]

  --count N                 orders to publish (default 100000)
  --path FILE               database file, deleted first for a fresh run (default ./data/flash-sale.db)
  --durability full|process fsync every commit, or survive process crashes only (default full)
  --partitions N            topic partitions (default 4)
  --batch N                 events per publishBatch call (default 1000)
  --stall-timeout SECONDS   give up when no group makes progress for this long (default 30)
  --help                    this text`;

interface Options {
  count: number;
  path: string;
  durability: 'full' | 'process';
  partitions: number;
  batch: number;
  stallTimeoutMs: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '100000' },
      path: { type: 'string', default: './data/flash-sale.db' },
      durability: { type: 'string', default: 'full' },
      partitions: { type: 'string', default: '4' },
      batch: { type: 'string', default: '1000' },
      'stall-timeout': { type: 'string', default: '30' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const int = (name: string, text: string, min: number, max: number): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      fail(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
  const durability = values.durability;
  if (durability !== 'full' && durability !== 'process') {
    fail(`--durability must be "full" or "process", got "${durability}"`);
  }
  return {
    count: int('count', values.count, 1, 50_000_000),
    path: values.path,
    durability,
    partitions: int('partitions', values.partitions, 1, 1024),
    batch: int('batch', values.batch, 1, 10_000),
    stallTimeoutMs: int('stall-timeout', values['stall-timeout'], 1, 86_400) * 1000,
  };
}

function fail(message: string): never {
  console.error(`flash-sale: ${message}\n\n${usage}`);
  process.exit(2);
}

// --- the orders ----------------------------------------------------------------------------------

// Bodies are declared with `type`, not `interface`: a type alias of JSON fields is assignable to
// Spool's `MessageBody` (a JSON value), an interface is not (it has no implicit index signature).
type OrderItem = {
  sku: string;
  qty: number;
  price: number;
};

/** The `order.created` event body (~200 bytes of JSON). */
type Order = {
  /** Position in the publishing sequence: what the consumers track to find losses and duplicates. */
  seq: number;
  orderId: string;
  customerId: string;
  items: OrderItem[];
  total: number;
  currency: string;
  createdAt: string;
};

const customers = 10_000;
const skus = 2_000;

/** A small seeded PRNG (mulberry32), so every run sells the same orders. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

function makeOrder(seq: number, rand: () => number, now: number): Order {
  const items: OrderItem[] = [];
  const lines = rand() < 0.5 ? 1 : rand() < 0.9 ? 2 : 3;
  for (let i = 0; i < lines; i++) {
    items.push({
      sku: `SKU-${pad(Math.floor(rand() * skus), 5)}`,
      qty: 1 + Math.floor(rand() * 3),
      price: Math.round(200 + rand() * 9_800) / 100,
    });
  }
  const total = Math.round(items.reduce((sum, item) => sum + item.qty * item.price, 0) * 100) / 100;
  return {
    seq,
    orderId: `ord-${pad(seq, 9)}`,
    customerId: `cus-${pad(Math.floor(rand() * customers), 6)}`,
    items,
    total,
    currency: 'EUR',
    createdAt: new Date(now).toISOString(),
  };
}

// --- the consumer groups ---------------------------------------------------------------------------

/** What one group saw, kept by the demo (not by Spool) to check Spool's guarantees. */
class GroupTally {
  readonly seen: Uint8Array;
  /** Per customer, the highest seq processed so far, to check per-key order. */
  readonly lastSeqOfCustomer = new Float64Array(customers).fill(-1);
  processed = 0;
  duplicates = 0;
  outOfOrder = 0;
  unexpected = 0;
  errors = 0;
  doneAtMs: number | null = null;

  constructor(
    readonly name: string,
    readonly count: number,
  ) {
    this.seen = new Uint8Array(count);
  }

  record(order: Order, nowMs: number): void {
    const { seq } = order;
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.count) {
      this.unexpected++;
      return;
    }
    if (this.seen[seq]) {
      this.duplicates++;
      return;
    }
    this.seen[seq] = 1;
    this.processed++;
    const customer = Number(order.customerId.slice(4));
    if (seq < this.lastSeqOfCustomer[customer]!) this.outOfOrder++;
    else this.lastSeqOfCustomer[customer] = seq;
    if (this.processed === this.count) this.doneAtMs = nowMs;
  }

  get done(): boolean {
    return this.processed === this.count;
  }
}

/** Each group does different (simulated) work per order, so they progress at different speeds. */
function handlers(elapsed: () => number) {
  const stock = new Map<string, number>();
  // The mailer queues emails and flushes them to its (imaginary) relay in bursts of 20: one turn
  // of the event loop per flush, as real network I/O would cost.
  const mailer = {
    queued: 0,
    bytes: 0,
    async send(text: string): Promise<void> {
      this.bytes += text.length;
      if (++this.queued % 20 === 0) await nextTurn();
    },
  };
  return {
    // Payment: authorise the card. CPU-bound: hash the order into an authorisation code.
    payment: (tally: GroupTally) => (event: TopicEvent<Order>) => {
      const order = event.body;
      createHash('sha256').update(order.orderId).update(String(order.total)).digest('hex');
      tally.record(order, elapsed());
    },
    // Inventory: reserve stock. Cheap in-memory bookkeeping.
    inventory: (tally: GroupTally) => (event: TopicEvent<Order>) => {
      const order = event.body;
      for (const item of order.items) stock.set(item.sku, (stock.get(item.sku) ?? 1_000_000) - item.qty);
      tally.record(order, elapsed());
    },
    // Email: render a confirmation and hand it to the (pretend) mailer, which is asynchronous.
    email: (tally: GroupTally) => async (event: TopicEvent<Order>) => {
      const order = event.body;
      const lines = order.items.map((item) => `  ${item.qty} x ${item.sku} @ ${item.price.toFixed(2)}`);
      await mailer.send(
        `Thanks for your order ${order.orderId}!\n${lines.join('\n')}\nTotal: ${order.total}`,
      );
      tally.record(order, elapsed());
    },
  };
}

/**
 * Events fetched (and offsets committed) per read, per group. While the publisher keeps the store
 * busy, a partition worker gets about one read-handle-commit round per group commit, so the batch
 * size is what sets each group's pace; they all catch up once publishing stops.
 */
const batchSizes = { payment: 500, inventory: 1000, email: 100 } as const;
type GroupName = keyof typeof batchSizes;
const groupNames = Object.keys(batchSizes) as GroupName[];

// --- progress and report -------------------------------------------------------------------------

const fmt = (n: number) => n.toLocaleString('en-US');
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rate = (events: number, ms: number) => fmt(Math.round(events / Math.max(ms / 1000, 1e-9)));

function progressLine(published: number, count: number, tallies: GroupTally[], ms: number): string {
  const groups = tallies.map((t) => `${t.name} ${fmt(t.processed)} (lag ${fmt(published - t.processed)})`);
  return `[${(ms / 1000).toFixed(1).padStart(5)} s] published ${fmt(published)}/${fmt(count)} | ${groups.join(' | ')}`;
}

// --- main ------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const options = parseOptions();
  const { count, path, durability, partitions, batch } = options;
  if (path !== ':memory:') {
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }

  const spool = await openSpool({ path, durability });
  const topic: Topic<Order> = await spool.topic<Order>('order.created', { partitions });
  console.log(
    `flash sale: ${fmt(count)} orders → topic "${topic.name}" (${partitions} partitions), ` +
      `batches of ${fmt(batch)}, durability ${durability}, ${path}`,
  );

  let startedAt = performance.now();
  const elapsed = () => performance.now() - startedAt;
  const tty = process.stderr.isTTY;
  const tallies = groupNames.map((name) => new GroupTally(name, count));
  const make = handlers(elapsed);
  const subscriptions: Subscription<Order>[] = groupNames.map((name, i) => {
    const tally = tallies[i]!;
    return topic.subscribe(name, make[name](tally), {
      batchSize: batchSizes[name],
      onError: (error) => {
        tally.errors++;
        console.error(`${tty ? '\n' : ''}${name}: ${error instanceof Error ? error.message : String(error)}`);
      },
    });
  });
  await Promise.all(subscriptions.map((subscription) => subscription.ready()));
  startedAt = performance.now(); // the clock starts with the sale

  // Progress: rewritten in place on a terminal, one line per second otherwise (CI logs, pipes).
  let published = 0;
  const showProgress = () => {
    const line = progressLine(published, count, tallies, elapsed());
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
  };
  const progressTimer = setInterval(showProgress, tty ? 200 : 1000);

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('\ninterrupted: stopping and reporting (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);

  // Publish as fast as the store accepts: one publishBatch (one atomic append) per `batch` orders.
  const rand = random(42);
  let bodyBytes = 0;
  for (let seq = 0; seq < count && !interrupted;) {
    const now = Date.now();
    const events = [];
    for (const end = Math.min(seq + batch, count); seq < end; seq++) {
      const order = makeOrder(seq, rand, now);
      events.push({ body: order, key: order.customerId, headers: { 'ce-type': 'order.created' } });
    }
    await topic.publishBatch(events);
    published += events.length;
    if (bodyBytes === 0) {
      bodyBytes =
        events.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e.body)), 0) / events.length;
    }
  }
  const publishMs = elapsed();

  // Wait for every group to process every order, giving up if none makes progress for a while.
  let lastProgress = tallies.reduce((sum, t) => sum + t.processed + t.duplicates, 0);
  let lastProgressAt = elapsed();
  while (!interrupted && !tallies.every((t) => t.done)) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const progress = tallies.reduce((sum, t) => sum + t.processed + t.duplicates, 0);
    if (progress !== lastProgress) [lastProgress, lastProgressAt] = [progress, elapsed()];
    else if (elapsed() - lastProgressAt > options.stallTimeoutMs) {
      console.error(`\nno progress for ${secs(options.stallTimeoutMs)}: giving up`);
      break;
    }
  }
  const allDoneMs = elapsed();
  clearInterval(progressTimer);
  showProgress();
  if (tty) process.stderr.write('\n');

  // Closing a subscription finishes its current event, commits its offsets and leaves the group;
  // the committed lag read afterwards is what a restarted consumer would resume from.
  await Promise.all(subscriptions.map((subscription) => subscription.close()));
  const committedLag = await Promise.all(groupNames.map((name) => topic.groupLag(name)));
  await spool.close();
  process.off('SIGINT', onSigint);

  // The report.
  const lost = tallies.reduce((sum, t) => sum + (published - t.processed), 0);
  const out: string[] = [];
  out.push('', '=== flash sale report ===');
  out.push(`published: ${fmt(published)} orders (avg body ${Math.round(bodyBytes)} bytes)`);
  out.push(`time to publish: ${secs(publishMs)} (${rate(published, publishMs)} events/s)`);
  for (const [i, t] of tallies.entries()) {
    const done = t.doneAtMs === null ? 'not done' : `done after ${secs(t.doneAtMs)}`;
    out.push(
      `  ${t.name.padEnd(9)} processed: ${fmt(t.processed)}  lost: ${fmt(published - t.processed)}  ` +
        `duplicates: ${fmt(t.duplicates)}  out-of-order: ${fmt(t.outOfOrder)}  ` +
        `committed lag: ${fmt(committedLag[i]!.totalLag)}  errors: ${fmt(t.errors + t.unexpected)}  ${done}`,
    );
  }
  out.push(`time until all groups done: ${secs(allDoneMs)}`);
  out.push(
    `throughput: ${rate(published, allDoneMs)} events/s end to end ` +
      `(${rate(published * tallies.length, allDoneMs)} deliveries/s over ${tallies.length} groups)`,
  );
  out.push(`lost: ${fmt(lost)}`);
  const ok = lost === 0 && published === count;
  if (ok) out.push('RESULT: OK — every order reached every group');
  else if (interrupted) out.push('RESULT: INTERRUPTED — not every order was published and processed');
  else out.push('RESULT: FAILED — orders were lost');
  console.log(out.join('\n'));
  return ok ? 0 : 1;
}

const exitCode = await main();
process.exitCode = exitCode;
// Everything is closed, so Node should exit now. If something still holds the event loop open,
// say so and exit anyway (the timer itself does not keep the process alive).
setTimeout(() => {
  console.error('flash-sale: something kept the process alive after spool.close(); exiting');
  process.exit(exitCode);
}, 5000).unref();
