/**
 * What store-enforced job limits cost when they never bind, across worker processes: `--jobs`
 * keyed jobs (100 keys) are added beforehand on a fresh PostgreSQL schema, then three worker
 * processes (concurrency 17 each, no-op handler) run them, timed from the go until the last one
 * is completed. Modes: `none`; `concurrency` (`globalConcurrency` and `keyConcurrency` of 1,000);
 * `rate` (a `globalRateLimit` per key of 1,000,000 a second); `all` (both). Rounds rotate the
 * order; medians, min – max, and each mode's ratio to `none` (the target: within 20%).
 *
 *   npm run bench:limits -- [--jobs 6000] [--rounds 3] [--processes 3] [--modes none,concurrency,rate,all]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { dropSchema } from './systems/postgres-info.js';
import { createSpool } from '#spool/engine/spool';
import { Jobs, type JobTypeOptions } from '#spool/jobs/index';
import { openPostgresStore } from '#spool/stores/postgres/index';
import { median } from './report/stats.js';
import { endpoints } from './services.js';

const modes: Record<string, JobTypeOptions> = {
  none: {},
  concurrency: { globalConcurrency: 1_000, keyConcurrency: 1_000 },
  rate: { globalRateLimit: { limit: 1_000_000, intervalMs: 1_000, perKey: true } },
  all: {
    globalConcurrency: 1_000,
    keyConcurrency: 1_000,
    globalRateLimit: { limit: 1_000_000, intervalMs: 1_000, perKey: true },
  },
};

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '6000' },
    rounds: { type: 'string', default: '3' },
    processes: { type: 'string', default: '3' },
    modes: { type: 'string', default: Object.keys(modes).join(',') },
  },
});
const count = Number(values.jobs);
const rounds = Number(values.rounds);
const processes = Number(values.processes);
const chosen = values.modes.split(',').map((mode) => mode.trim());
for (const mode of chosen) if (!(mode in modes)) throw new Error(`unknown mode ${mode}`);
const url = endpoints.postgresUrl;

/** One measurement of `mode`: jobs completed per second by the worker processes together. */
async function measure(mode: string): Promise<number> {
  const schema = `bench_limits_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'spool-limits-'));
  const go = join(dir, 'go');
  const spool = createSpool({ store: await openPostgresStore({ connectionString: url, schema }) });
  const jobs = new Jobs(spool);
  const children = [];
  try {
    for (let start = 0; start < count; start += 1_000) {
      await jobs.addBatch(
        Array.from({ length: Math.min(1_000, count - start) }, (_, i) => ({
          type: 'bench.limited',
          payload: { n: start + i },
          options: { key: `customer-${(start + i) % 100}` },
        })),
      );
    }
    const options = JSON.stringify({ concurrency: Math.ceil(50 / processes), ...modes[mode] });
    for (let i = 0; i < processes; i++) {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'bench/limits-worker.ts', url, schema, go, options],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      children.push(child);
    }
    await Promise.all(
      children.map(async (child) => {
        for await (const chunk of child.stdout) if (String(chunk).includes('ready')) return;
      }),
    );
    const started = process.hrtime.bigint();
    writeFileSync(go, 'go');
    for (;;) {
      const counts = await jobs.counts();
      const completed = counts.filter((c) => c.type === 'bench.limited' && c.status === 'completed');
      if (completed.reduce((sum, c) => sum + c.count, 0) >= count) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return count / (Number(process.hrtime.bigint() - started) / 1e9);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) => (child.exitCode === null ? once(child, 'exit') : Promise.resolve())),
    );
    await jobs.close();
    await spool.close();
    await dropSchema(url, schema);
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = new Map<string, number[]>(chosen.map((mode) => [mode, []]));
console.log(
  `${count} keyed jobs, ${processes} worker processes, ${rounds} rounds, load average ${loadavg()[0]!.toFixed(2)}`,
);
for (let round = 0; round < rounds; round++) {
  const rotated = [...chosen.slice(round % chosen.length), ...chosen.slice(0, round % chosen.length)];
  for (const mode of rotated) {
    const rate = await measure(mode);
    results.get(mode)!.push(rate);
    console.log(`round ${round + 1}: ${mode} ${Math.round(rate)} jobs/s`);
  }
}
const base = results.get('none') ? median(results.get('none')!) : null;
console.log('\n| limits that never bind | jobs/s, median (min – max) | vs none |');
console.log('| --- | --- | --- |');
for (const [mode, rates] of results) {
  const m = median(rates);
  const ratio = base ? `${(m / base).toFixed(2)}×` : '—';
  console.log(
    `| ${mode} | ${Math.round(m).toLocaleString('en')} (${Math.round(Math.min(...rates)).toLocaleString('en')} – ${Math.round(Math.max(...rates)).toLocaleString('en')}) | ${ratio} |`,
  );
}
