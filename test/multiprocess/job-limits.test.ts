// Job concurrency and rate limits across OS processes on one PostgreSQL database: three worker processes,
// each allowed 8 jobs of a type at once, share a `globalConcurrency` of 3 and a `keyConcurrency`
// of 1. Every run reports its start and end (one machine, one clock); the most runs that
// overlapped must never pass the limit, and must reach it (the limit, not the load, bounded them).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSpool, type Spool } from '../../src/engine/spool.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { Child, FreshDatabase } from './processes.js';

interface Run {
  startedAt: number;
  endedAt: number;
  pid: number;
}

/** The most intervals open at one instant. */
function peakOverlap(runs: readonly Run[]): number {
  const edges = runs.flatMap((run): [number, number][] => [
    [run.startedAt, 1],
    [run.endedAt, -1],
  ]);
  // Ends before starts at the same millisecond: a run that ended as another began did not overlap it.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let peak = 0;
  for (const [, change] of edges) peak = Math.max(peak, (open += change));
  return peak;
}

void describe('job limits across three worker processes on PostgreSQL', () => {
  let database: FreshDatabase;
  let spool: Spool;
  let jobs: Jobs;
  const workers: Child[] = [];

  before(async () => {
    database = await FreshDatabase.create();
    spool = createSpool({
      store: await openPostgresStore({ connectionString: database.url, maxConnections: 4 }),
    });
    jobs = new Jobs(spool);
    for (let i = 0; i < 3; i++)
      workers.push(new Child(['test/multiprocess/limited-worker.ts', database.url]));
    await Promise.all(workers.map((worker) => worker.waitFor(/worker ready/)));
  });
  after(async () => {
    for (const worker of workers) worker.kill('SIGTERM');
    await Promise.all(workers.map((worker) => worker.exited));
    await jobs.close();
    await spool.close();
    await database.drop();
  });

  async function runAll(type: string, count: number, key?: (n: number) => string) {
    const added = await Promise.all(
      Array.from({ length: count }, (_, n) => jobs.add(type, n, key ? { key: key(n) } : {})),
    );
    const done = await Promise.all(added.map((job) => jobs.wait(job.id, { timeoutMs: 60_000 })));
    for (const job of done) {
      assert.equal(job.status, 'completed', JSON.stringify(job.error));
      assert.equal(job.attempts, 1, 'waiting for a slot used no attempt');
    }
    return done;
  }

  it('globalConcurrency 3: never more than 3 running in all processes together, and 3 reached', async () => {
    const done = await runAll('limited.render', 60);
    const runs = done.map((job) => job.result as unknown as Run);
    assert.equal(peakOverlap(runs), 3, `peak overlap ${peakOverlap(runs)}`);
    assert.ok(new Set(runs.map((run) => run.pid)).size >= 2, 'the work was shared by the processes');
  });

  it('keyConcurrency 1: one at a time per key in all processes together, keys side by side', async () => {
    const done = await runAll('limited.sync', 40, (n) => `tenant-${n % 4}`);
    for (let tenant = 0; tenant < 4; tenant++) {
      const runs = done
        .filter((job) => job.key === `tenant-${tenant}`)
        .map((job) => job.result as unknown as Run);
      assert.equal(peakOverlap(runs), 1, `tenant-${tenant} ran ${peakOverlap(runs)} at once`);
    }
    const all = done.map((job) => job.result as unknown as Run);
    assert.ok(peakOverlap(all) > 1, 'different keys ran at the same time');
  });

  it('globalRateLimit 10 per second: a burst of 10, then one start per 100 ms in all processes together', async () => {
    const done = await runAll('limited.notify', 40);
    const starts = done.map((job) => (job.result as unknown as Run).startedAt).sort((a, b) => a - b);
    // Times are from the first handler's start, which comes a little after the bucket's first
    // take (that job's start transaction, on a loaded machine tens of ms): up to one token's
    // interval of slack, never more.
    for (let k = 10; k < starts.length; k++) {
      const earliest = (k - 9) * 100 - 100;
      assert.ok(
        starts[k]! - starts[0]! >= earliest,
        `start ${k} came ${starts[k]! - starts[0]!} ms after the first, before ${earliest} ms`,
      );
    }
    // Three processes each counting alone would have let 30 through in the first second.
    assert.ok(starts[29]! - starts[0]! >= 1_800, 'the 30th start waited for the rate');
  });
});
