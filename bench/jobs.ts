/**
 * Jobs throughput, at the doors users take, and the embedded store's ceiling:
 *
 * - `http-single`: `POST /v1/jobs`, one job per request, from `--clients` keep-alive clients
 *   (`SpoolClient`, one connection pool) against a `spool serve` child process;
 * - `http-batch`: `POST /v1/jobs/batch` with `--batch` jobs per request (all-or-nothing), from
 *   8 clients in flight;
 * - `worker-stream` / `worker-poll`: jobs added in batches beforehand, then run by a remote
 *   `Worker` (spool/client, concurrency 50, no-op handler) over the job stream or over HTTP
 *   claims, timed from the worker's start until the last job is completed;
 * - `embedded-e2e`: `jobs.add` → an in-process worker (concurrency 50, no-op handler) →
 *   `completed`, timed from the first add until the last job is completed;
 * - `postgres-e2e`: the same on the machine's PostgreSQL (BENCH_POSTGRES_URL), a fresh schema,
 *   each job with one of 100 keys;
 * - `postgres-e2e-limited`: the same with store-enforced limits that never bind
 *   (`globalConcurrency` and `keyConcurrency` of 1,000 with keyed jobs): what checking them costs;
 * - `sqlite-limit`: the ceiling of the embedded store on this machine — a raw better-sqlite3
 *   loop on the same schema idea (insert a row, then claim 50 and delete them, each step its own
 *   transaction with `synchronous=FULL`), no Spool code at all. Spool's queue process rate is
 *   compared with it in docs/benchmarks.md.
 *
 *   npm run bench:jobs -- [--jobs 20000] [--rounds 3] [--clients 50] [--batch 1000]
 *                         [--only http-single,http-batch,worker-stream,worker-poll,embedded-e2e,postgres-e2e,
 *                          sqlite-limit]
 *
 * Each measurement runs on a fresh data directory, durability `full`; rounds rotate the order;
 * the report gives medians and min – max over the rounds.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { SpoolClient, Worker } from '#spool/client/index';
import type { JsonValue } from '#spool/core/message';
import { Jobs, type JobTypeOptions } from '#spool/jobs/index';
import { openSpool } from '#spool/open-spool';
import { createSpool, type Spool } from '#spool/engine/spool';
import { openPostgresStore } from '#spool/stores/postgres/index';
import { dropSchema } from './systems/postgres-info.js';
import { endpoints } from './services.js';
import { order } from './payload.js';
import { median } from './report/stats.js';
import { concurrently, secondsSince } from './scenarios/support.js';
import { startServer } from './systems/spool-http.js';

const allMeasures = [
  'http-single',
  'http-batch',
  'worker-stream',
  'worker-poll',
  'embedded-e2e',
  'postgres-e2e',
  'postgres-e2e-limited',
  'sqlite-limit',
] as const;
type Measure = (typeof allMeasures)[number];

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '50' },
    batch: { type: 'string', default: '1000' },
    only: { type: 'string', default: allMeasures.join(',') },
  },
});
const count = Number(values.jobs);
const rounds = Number(values.rounds);
const clients = Number(values.clients);
const batch = Number(values.batch);
const measures = values.only.split(',').map((name) => name.trim()) as Measure[];
for (const measure of measures) {
  if (!allMeasures.includes(measure))
    throw new Error(`unknown measure ${measure}: ${allMeasures.join(', ')}`);
}

/** One measurement: jobs (or rows) per second. */
type Run = (dir: string) => Promise<number>;

const runs: Record<Measure, Run> = {
  'http-single': async (dir) =>
    overHttp(dir, async (client) => {
      await warm(client);
      const started = process.hrtime.bigint();
      // A producer that only needs the ids asks for the lean answer (`Prefer: return=minimal`).
      await concurrently(
        count,
        clients,
        async (i) => void (await client.jobs.add('bench.job', order(i), {}, { return: 'minimal' })),
      );
      return count / secondsSince(started);
    }),
  'http-batch': async (dir) =>
    overHttp(dir, async (client) => {
      await warm(client);
      const requests = Math.ceil(count / batch);
      const started = process.hrtime.bigint();
      await concurrently(requests, 8, async (r) => {
        const size = Math.min(batch, count - r * batch);
        await client.jobs.addBatch(
          Array.from({ length: size }, (_, i) => ({ type: 'bench.job', payload: order(r * batch + i) })),
          { return: 'minimal' },
        );
      });
      return count / secondsSince(started);
    }),
  'worker-stream': (dir) => remoteWorker(dir, 'stream'),
  'worker-poll': (dir) => remoteWorker(dir, 'poll'),
  'embedded-e2e': async (dir) => {
    const spool = await openSpool({ path: join(dir, 'spool.db') });
    try {
      return await inProcess(spool);
    } finally {
      await spool.close();
    }
  },
  'postgres-e2e': () => onPostgres({}),
  'postgres-e2e-limited': () => onPostgres({ globalConcurrency: 1_000, keyConcurrency: 1_000 }),
  'sqlite-limit': (dir) => Promise.resolve(sqliteLimit(join(dir, 'limit.db'))),
};

/** `inProcess` on a fresh PostgreSQL schema, dropped afterwards. */
async function onPostgres(limits: JobTypeOptions): Promise<number> {
  const schema = `bench_jobs_${randomBytes(4).toString('hex')}`;
  const spool = createSpool({
    store: await openPostgresStore({ connectionString: endpoints.postgresUrl, schema }),
  });
  try {
    return await inProcess(spool, limits, true);
  } finally {
    await spool.close();
    await dropSchema(endpoints.postgresUrl, schema);
  }
}

/** `jobs.add` from 100 callers → an in-process worker (concurrency 50) → completed, on `spool`. */
async function inProcess(spool: Spool, limits: JobTypeOptions = {}, keyed = false): Promise<number> {
  const jobs = new Jobs(spool);
  try {
    let completed = 0;
    let allDone: () => void = () => {};
    const done = new Promise<void>((resolve) => (allDone = resolve));
    jobs.define(
      'bench.job',
      () => {
        if (++completed === count) allDone();
        return null;
      },
      { concurrency: 50, ...limits },
    );
    await jobs.start();
    const started = process.hrtime.bigint();
    await concurrently(
      count,
      100,
      async (i) =>
        void (await jobs.add(
          'bench.job',
          order(i) as unknown as JsonValue,
          keyed ? { key: `customer-${i % 100}` } : {},
        )),
    );
    await done;
    return count / secondsSince(started);
  } finally {
    await jobs.close();
  }
}

/** A fresh server and client for one HTTP measurement. */
async function overHttp(dir: string, measure: (client: SpoolClient) => Promise<number>): Promise<number> {
  const server = await startServer(dir, 'full');
  const client = new SpoolClient({ url: server.url, retries: { maxAttempts: 1 } });
  try {
    return await measure(client);
  } finally {
    await client.close();
    await server.stop();
  }
}

/** A remote Worker draining `count` jobs added beforehand; jobs completed per second. */
function remoteWorker(dir: string, transport: 'stream' | 'poll'): Promise<number> {
  return overHttp(dir, async (client) => {
    for (let start = 0; start < count; start += 1000) {
      await client.jobs.addBatch(
        Array.from({ length: Math.min(1000, count - start) }, (_, i) => ({
          type: 'bench.job',
          payload: order(start + i),
        })),
      );
    }
    let completed = 0;
    let allDone: () => void = () => {};
    const done = new Promise<void>((resolve) => (allDone = resolve));
    const started = process.hrtime.bigint();
    const worker = new Worker(client, {
      types: ['bench.job'],
      concurrency: 50,
      transport,
      handler: () => {
        if (++completed === count) setImmediate(allDone);
        return null;
      },
    }).start();
    await done;
    // The last outcome is on the wire when its handler returns: close() waits for it.
    await worker.close();
    return count / secondsSince(started);
  });
}

/** Unmeasured adds, so the timed ones do not pay for the first queue creation and JIT warm-up. */
async function warm(client: SpoolClient): Promise<void> {
  await concurrently(1_000, clients, async (i) => void (await client.jobs.add('bench.warm', order(i))));
}

/**
 * The raw loop: `count` rows inserted one transaction each by a producer step, and claimed 50 at
 * a time (select + delete in one transaction) by a consumer step, interleaved as a queue under
 * load runs them — with WAL and `synchronous=FULL`, what durability `full` asks of SQLite. Rows
 * per second, counting each row once (inserted and claimed).
 */
function sqliteLimit(path: string): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(
    'CREATE TABLE q (id INTEGER PRIMARY KEY, body TEXT NOT NULL, visible_at INTEGER NOT NULL); CREATE INDEX q_visible ON q (visible_at, id)',
  );
  const insert = db.prepare('INSERT INTO q (body, visible_at) VALUES (?, 0)');
  const claim = db.prepare('SELECT id FROM q WHERE visible_at <= ? ORDER BY visible_at, id LIMIT 50');
  const remove = db.prepare('DELETE FROM q WHERE id = ?');
  const produce = db.transaction((bodies: string[]) => {
    for (const body of bodies) insert.run(body);
  });
  const consume = db.transaction(() => {
    const rows = claim.all(Date.now()) as { id: number }[];
    for (const row of rows) remove.run(row.id);
    return rows.length;
  });
  const body = JSON.stringify(order(0));
  const started = process.hrtime.bigint();
  let produced = 0;
  let consumed = 0;
  // Producers commit in groups of 50, as Spool's group commit does for concurrent sends.
  while (consumed < count) {
    if (produced < count) {
      const n = Math.min(50, count - produced);
      produce(Array.from({ length: n }, () => body));
      produced += n;
    }
    consumed += consume();
  }
  const rate = count / secondsSince(started);
  db.close();
  return rate;
}

const results = new Map<Measure, number[]>(measures.map((measure) => [measure, []]));
console.log(
  `jobs benchmark: ${count.toLocaleString('en')} jobs per measurement, ${rounds} rounds, ${clients} HTTP clients, batches of ${batch}; ${cpus().length} cores, Node ${process.version}, load ${loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')}`,
);
for (let round = 0; round < rounds; round++) {
  const order_ = measures.map((_, i) => measures[(i + round) % measures.length]!);
  for (const measure of order_) {
    const dir = mkdtempSync(join(tmpdir(), `spool-bench-jobs-${measure}-`));
    try {
      const rate = await runs[measure](dir);
      results.get(measure)!.push(rate);
      console.log(`  round ${round + 1} ${measure.padEnd(13)} ${Math.round(rate).toLocaleString('en')}/s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
console.log('\nmedian (min – max) per second:');
for (const [measure, rates] of results) {
  const fmt = (n: number) => Math.round(n).toLocaleString('en');
  console.log(
    `  ${measure.padEnd(13)} ${fmt(median(rates)).padStart(9)} (${fmt(Math.min(...rates))} – ${fmt(Math.max(...rates))})`,
  );
}
