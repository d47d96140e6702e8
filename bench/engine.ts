/**
 * Spool's own engine benchmarks on the embedded store: sends (awaited one at a time, 100
 * concurrent senders, batches of 1,000), end-to-end processing with `process()`, and the flash
 * sale (one topic, three consumer groups). Each scenario runs with durability `full` (fsync per
 * commit, the default) and `process`, repeated; the table reports the median with min–max.
 *
 *   npm run bench                      full counts, 3 repetitions
 *   npm run bench -- --quick           small counts, 1 repetition (CI runs this)
 *   npm run bench -- --json out.json   also write the raw results
 *
 * Each run uses a fresh database file in a temp dir. Numbers are messages per second unless
 * the column says otherwise.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createSpool, type Spool } from '../src/engine/spool.js';
import { openSqliteStore } from '../src/stores/sqlite/index.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    repeat: { type: 'string' },
    only: { type: 'string' },
  },
});
const quick = args.quick;
const repetitions = Number(args.repeat ?? (quick ? 1 : 3));
const counts = quick
  ? { single: 500, concurrent: 5_000, batched: 10_000, process: 5_000, flash: 5_000 }
  : { single: 5_000, concurrent: 100_000, batched: 100_000, process: 100_000, flash: 100_000 };

type Durability = 'full' | 'process';

interface Scenario {
  name: string;
  unit: string;
  run(spool: Spool): Promise<number>;
}

/** A ~200-byte order event, like the benchmark issue's payload. */
function order(n: number) {
  return {
    orderId: `ord-${n.toString().padStart(8, '0')}`,
    customerId: `cus-${n % 997}`,
    items: [{ sku: 'SKU-12345', qty: 1 + (n % 3), price: 1999 }],
    total: 1999 * (1 + (n % 3)),
    currency: 'EUR',
    createdAt: '2026-11-22T12:00:00.000Z',
  };
}

function rate(count: number, startedAt: bigint): number {
  return count / (Number(process.hrtime.bigint() - startedAt) / 1e9);
}

const scenarios: Scenario[] = [
  {
    name: `send, one at a time awaited (${counts.single})`,
    unit: 'msg/s',
    async run(spool) {
      const queue = await spool.queue('bench');
      const started = process.hrtime.bigint();
      for (let n = 0; n < counts.single; n++) await queue.send(order(n));
      return rate(counts.single, started);
    },
  },
  {
    name: `send, 100 concurrent senders (${counts.concurrent})`,
    unit: 'msg/s',
    async run(spool) {
      const queue = await spool.queue('bench');
      let next = 0;
      const started = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          while (next < counts.concurrent) await queue.send(order(next++));
        }),
      );
      return rate(counts.concurrent, started);
    },
  },
  {
    name: `sendBatch of 1,000 (${counts.batched})`,
    unit: 'msg/s',
    async run(spool) {
      const queue = await spool.queue('bench');
      const started = process.hrtime.bigint();
      for (let n = 0; n < counts.batched; n += 1000) {
        await queue.sendBatch(Array.from({ length: 1000 }, (_, i) => ({ body: order(n + i) })));
      }
      return rate(counts.batched, started);
    },
  },
  {
    name: `process(), concurrency 50, no-op handler (${counts.process})`,
    unit: 'msg/s',
    async run(spool) {
      const queue = await spool.queue('bench');
      for (let n = 0; n < counts.process; n += 1000) {
        await queue.sendBatch(Array.from({ length: 1000 }, (_, i) => ({ body: order(n + i) })));
      }
      let done = 0;
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      const started = process.hrtime.bigint();
      const consumer = queue.process(
        () => {
          if (++done === counts.process) finish();
        },
        { concurrency: 50 },
      );
      await finished;
      await consumer.close();
      return rate(counts.process, started);
    },
  },
  {
    name: `flash sale: publish ${counts.flash}, 3 groups done`,
    unit: 's',
    async run(spool) {
      const topic = await spool.topic('orders', { partitions: 4 });
      const groups = ['payment', 'inventory', 'email'];
      const remaining = new Map(groups.map((g) => [g, counts.flash]));
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      const subscriptions = groups.map((group) =>
        topic.subscribe(
          group,
          () => {
            const left = remaining.get(group)! - 1;
            remaining.set(group, left);
            if ([...remaining.values()].every((v) => v === 0)) finish();
          },
          { batchSize: 1000 },
        ),
      );
      const started = process.hrtime.bigint();
      for (let n = 0; n < counts.flash; n += 1000) {
        await topic.publishBatch(
          Array.from({ length: 1000 }, (_, i) => ({ body: order(n + i), key: `cus-${(n + i) % 997}` })),
        );
      }
      await finished;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      await Promise.all(subscriptions.map((s) => s.close()));
      return seconds;
    },
  },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function format(value: number, unit: string): string {
  return unit === 's' ? value.toFixed(2) : Math.round(value).toLocaleString('en-US');
}

async function measure(scenario: Scenario, durability: Durability): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-bench-'));
  const store = await openSqliteStore({ path: join(dir, 'bench.db'), durability });
  const spool = createSpool({ store });
  try {
    return await scenario.run(spool);
  } finally {
    await spool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: { scenario: string; durability: Durability; unit: string; runs: number[] }[] = [];
console.log(
  `Spool engine benchmark — ${quick ? 'quick' : 'full'} mode, ${repetitions} repetition(s), ` +
    `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`,
);
console.log('| scenario | durability | median | min – max |');
console.log('| --- | --- | --- | --- |');
for (const scenario of scenarios) {
  if (args.only && !scenario.name.includes(args.only)) continue;
  for (const durability of ['full', 'process'] as const) {
    const runs: number[] = [];
    for (let i = 0; i < repetitions; i++) runs.push(await measure(scenario, durability));
    results.push({ scenario: scenario.name, durability, unit: scenario.unit, runs });
    const low = Math.min(...runs);
    const high = Math.max(...runs);
    console.log(
      `| ${scenario.name} | ${durability} | ${format(median(runs), scenario.unit)} ${scenario.unit} | ` +
        `${format(low, scenario.unit)} – ${format(high, scenario.unit)} |`,
    );
  }
}
if (args.json) writeFileSync(args.json, JSON.stringify({ quick, repetitions, results }, null, 2));
