/**
 * Workflow throughput: runs of five steps (no-op steps that return a small object) started
 * with `workflows.start` from 50 callers at once and executed by the same process, timed from
 * the first start until the last run is completed. Each run is 5 step records, 2 job
 * transitions and 1 ticket.
 *
 * - `embedded`: SQLite, durability `full`, a fresh file per measurement;
 * - `postgres`: the machine's PostgreSQL (BENCH_POSTGRES_URL), a fresh schema per measurement.
 *
 *   npm run bench:workflows -- [--runs 2000] [--rounds 3] [--concurrency 50] [--only embedded,postgres]
 *
 * Rounds rotate the order; the report gives medians and min – max over the rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { dropSchema } from './systems/postgres-info.js';
import { createSpool, type Spool } from '#spool/engine/spool';
import { Jobs } from '#spool/jobs/jobs';
import { openSpool } from '#spool/open-spool';
import { openPostgresStore } from '#spool/stores/postgres/index';
import { Workflows } from '#spool/workflows/workflows';
import { median } from './report/stats.js';
import { concurrently, secondsSince } from './scenarios/support.js';
import { endpoints } from './services.js';

const allMeasures = ['embedded', 'postgres'] as const;
type Measure = (typeof allMeasures)[number];

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '50' },
    only: { type: 'string', default: allMeasures.join(',') },
  },
});
const count = Number(values.runs);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const measures = values.only.split(',').map((name) => name.trim()) as Measure[];
for (const measure of measures) {
  if (!allMeasures.includes(measure))
    throw new Error(`unknown measure ${measure}: ${allMeasures.join(', ')}`);
}

/** Starts `count` runs and resolves with runs per second once every one has completed. */
async function measure(spool: Spool): Promise<number> {
  const jobs = new Jobs(spool);
  const workflows = new Workflows(jobs);
  workflows.define<{ n: number }>(
    'bench.five-steps',
    async (ctx, { n }) => {
      let total = 0;
      for (const step of ['one', 'two', 'three', 'four', 'five']) {
        total += await ctx.step(step, () => n + 1);
      }
      return total;
    },
    { concurrency },
  );
  await jobs.start();
  const started = process.hrtime.bigint();
  const ids: string[] = [];
  await concurrently(
    count,
    concurrency,
    async (n) => void ids.push((await workflows.start('bench.five-steps', { n })).id),
  );
  for (const id of ids) {
    const run = await workflows.wait(id, { timeoutMs: 600_000 });
    if (run.status !== 'completed') throw new Error(`run ${id} ended ${run.status}`);
  }
  const rate = count / secondsSince(started);
  await jobs.close();
  return rate;
}

const runs: Record<Measure, () => Promise<number>> = {
  embedded: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-bench-workflows-'));
    const spool = await openSpool({ path: join(dir, 'spool.db') });
    try {
      return await measure(spool);
    } finally {
      await spool.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
  postgres: async () => {
    const schema = `bench_wf_${randomBytes(4).toString('hex')}`;
    const spool = createSpool({
      store: await openPostgresStore({ connectionString: endpoints.postgresUrl, schema }),
    });
    try {
      return await measure(spool);
    } finally {
      await spool.close();
      await dropSchema(endpoints.postgresUrl, schema);
    }
  },
};

const results = new Map<Measure, number[]>(measures.map((name) => [name, []]));
console.log(
  `workflows benchmark: ${count.toLocaleString('en')} runs of 5 steps per measurement, ${rounds} rounds, ${concurrency} at once; ${cpus().length} cores, Node ${process.version}, load ${loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')}`,
);
for (let round = 0; round < rounds; round++) {
  for (const name of measures.map((_, i) => measures[(i + round) % measures.length]!)) {
    const rate = await runs[name]();
    results.get(name)!.push(rate);
    console.log(`  round ${round + 1} ${name.padEnd(9)} ${Math.round(rate).toLocaleString('en')} runs/s`);
  }
}
console.log('\nmedian (min – max), runs of 5 steps per second:');
for (const [name, rates] of results) {
  const fmt = (n: number) => Math.round(n).toLocaleString('en');
  console.log(
    `  ${name.padEnd(9)} ${fmt(median(rates)).padStart(7)} (${fmt(Math.min(...rates))} – ${fmt(Math.max(...rates))})`,
  );
}
