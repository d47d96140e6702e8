/**
 * Fairness between tenants: how long a small tenant's messages wait while a big tenant's backlog
 * drains, with fairness groups and without (plain FIFO, where they wait behind the backlog).
 *
 *   npm run bench:fairness -- [--backlog 100000] [--small 100] [--over-ms 5000] [--handler-ms 5]
 *                              [--stores sqlite,postgres]
 *
 * Per store and mode: a fresh database; `--backlog` messages of tenant A sent in batches of 1,000
 * (untimed); then `queue.process()` with concurrency 50 starts draining it (each handler waits
 * `--handler-ms`, as an I/O call would: with a no-op handler the backlog is gone before B sends),
 * and tenant B sends `--small` messages one by one at a steady pace over `--over-ms`. Reported:
 * B's wait from the start of its send to the start of its handler (p50, p99, max), and the rate
 * at which the whole queue drained. Mode `groups` sends A with `group: 'A'` and B with
 * `group: 'B'`; mode `fifo` sends both without a group. SQLite: a file, durability `full`;
 * PostgreSQL: a fresh schema on BENCH_POSTGRES_URL (default the machine's), dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { dropSchema } from './systems/postgres-info.js';
import { createSpool, type Spool } from '#spool/engine/spool';
import { openSpool } from '#spool/open-spool';
import { openPostgresStore } from '#spool/stores/postgres/index';
import { percentile, sortedSamples } from './report/stats.js';
import { concurrently, secondsSince } from './scenarios/support.js';
import { endpoints } from './services.js';

const { values } = parseArgs({
  options: {
    backlog: { type: 'string', default: '100000' },
    small: { type: 'string', default: '100' },
    'over-ms': { type: 'string', default: '5000' },
    'handler-ms': { type: 'string', default: '5' },
    stores: { type: 'string', default: 'sqlite,postgres' },
  },
});
const backlog = Number(values.backlog);
const small = Number(values.small);
const overMs = Number(values['over-ms']);
const handlerMs = Number(values['handler-ms']);
if (!Number.isInteger(handlerMs) || handlerMs < 0) throw new Error('--handler-ms must be an integer >= 0');
const work = (): Promise<void> | undefined =>
  handlerMs > 0 ? new Promise((resolve) => setTimeout(resolve, handlerMs)) : undefined;
for (const [name, value] of Object.entries({ backlog, small, 'over-ms': overMs })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
}
const stores = values.stores.split(',').filter((store) => store !== '');
for (const store of stores) {
  if (store !== 'sqlite' && store !== 'postgres') throw new Error(`unknown store ${store}`);
}

interface Body {
  readonly tenant: 'A' | 'B';
  /** `performance.now()` when its send started (B only). */
  readonly sentAt?: number;
}

interface Figure {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** How long A's whole backlog took to drain, from the start of the consumer. */
  readonly drainSeconds: number;
  /** A's messages still waiting when B's last one started. */
  readonly aLeft: number;
}

async function measure(spool: Spool, grouped: boolean): Promise<Figure> {
  const queue = await spool.queue<Body>('fair', { visibilityTimeoutMs: 60_000 });
  const groupOf = (tenant: 'A' | 'B') => (grouped ? { group: tenant } : {});
  await concurrently(Math.ceil(backlog / 1000), 4, (b) =>
    queue
      .sendBatch(
        Array.from({ length: Math.min(1000, backlog - b * 1000) }, () => ({
          body: { tenant: 'A' as const },
          ...groupOf('A'),
        })),
      )
      .then(() => undefined),
  );
  const waits: number[] = [];
  let handledA = 0;
  let allB: () => void = () => {};
  const bDone = new Promise<void>((resolve) => (allB = resolve));
  let allA: () => void = () => {};
  const aDone = new Promise<void>((resolve) => (allA = resolve));
  let drainSeconds = 0;
  let aAtLastB = 0;
  const started = process.hrtime.bigint();
  const consumer = queue.process(
    (message) => {
      if (message.body.tenant === 'A') {
        if (++handledA === backlog) {
          drainSeconds = secondsSince(started);
          allA();
        }
        return work();
      }
      waits.push(performance.now() - message.body.sentAt!);
      if (waits.length === small) {
        aAtLastB = handledA;
        allB();
      }
      return work();
    },
    { concurrency: 50 },
  );
  const interval = overMs / small;
  const t0 = performance.now();
  for (let n = 0; n < small; n++) {
    const due = t0 + n * interval;
    const now = performance.now();
    if (due > now) await new Promise((resolve) => setTimeout(resolve, due - now));
    await queue.send({ tenant: 'B', sentAt: performance.now() }, groupOf('B'));
  }
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('B not served within 600 s')), 600_000).unref(),
  );
  await Promise.race([Promise.all([bDone, aDone]), timeout]);
  await consumer.close();
  const sorted = sortedSamples(waits);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
    drainSeconds,
    aLeft: backlog - aAtLastB,
  };
}

async function onSqlite(grouped: boolean): Promise<Figure> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-fairness-'));
  const spool = await openSpool({ path: join(dir, 'spool.db') });
  try {
    return await measure(spool, grouped);
  } finally {
    await spool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function onPostgres(grouped: boolean): Promise<Figure> {
  const schema = `bench_fair_${randomBytes(4).toString('hex')}`;
  const spool = createSpool({
    store: await openPostgresStore({ connectionString: endpoints.postgresUrl, schema }),
  });
  try {
    return await measure(spool, grouped);
  } finally {
    await spool.close();
    await dropSchema(endpoints.postgresUrl, schema);
  }
}

const ms = (value: number) => `${Math.round(value).toLocaleString('en-US')} ms`;
console.log(
  `fairness: ${backlog.toLocaleString('en-US')} of tenant A waiting, ${small} of tenant B sent over ${overMs} ms, concurrency 50, handlers of ${handlerMs} ms; ${cpus().length} cores, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')}`,
);
console.log(
  '| store | mode | B wait p50 | B wait p99 | B wait max | A left when B was done | A drained in |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const store of stores) {
  for (const grouped of [false, true]) {
    const figure = store === 'sqlite' ? await onSqlite(grouped) : await onPostgres(grouped);
    console.log(
      `| ${store} | ${grouped ? 'groups' : 'fifo (no groups)'} | ${ms(figure.p50)} | ${ms(figure.p99)} | ${ms(figure.max)} | ${figure.aLeft.toLocaleString('en-US')} | ${figure.drainSeconds.toFixed(1)} s |`,
    );
  }
}
