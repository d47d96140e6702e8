// Workflow runs on PostgreSQL with three worker processes, one of them SIGKILLed and restarted
// again and again while the runs go on (SPOOL_MP_WORKFLOW_KILLS times, default 10).
//
// Asserted: every run ends as its input says (completed with all its steps' results, or — for a
// declined charge — compensated, its reservation released exactly as recorded); no step ever
// ran again after its completion was recorded (each side effect carries the attempt it ran in,
// and none is later than the attempt the record completed in); every completed compensation
// left its side effect.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSpool, type Spool } from '../../src/engine/spool.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { type WorkflowRun, Workflows } from '../../src/workflows/workflows.js';
import { Child, FreshDatabase } from './processes.js';

const runCount = 60;
const kills = Number(process.env.SPOOL_MP_WORKFLOW_KILLS ?? 10);

void describe('workflow runs on PostgreSQL while workers are SIGKILLed', () => {
  let database: FreshDatabase;
  let dir: string;
  let spool: Spool;
  let workflows: Workflows;
  const workers: Child[] = [];

  before(async () => {
    database = await FreshDatabase.create();
    dir = mkdtempSync(join(tmpdir(), 'spool-wf-crash-'));
    spool = createSpool({ store: await openPostgresStore({ connectionString: database.url }) });
    workflows = new Workflows(new Jobs(spool));
  });
  after(async () => {
    for (const worker of workers) worker.kill('SIGKILL');
    await Promise.all(workers.map((worker) => worker.exited));
    await spool?.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const effectsLog = () => join(dir, 'effects.log');
  async function startWorker(name: string): Promise<Child> {
    const child = new Child(['test/multiprocess/workflow-worker.ts', database.url, effectsLog(), name]);
    await child.waitFor(/worker ready/);
    workers.push(child);
    return child;
  }

  it(`${runCount} runs end correctly through ${kills} SIGKILLs`, { timeout: 240_000 }, async () => {
    writeFileSync(effectsLog(), '');
    const live = [await startWorker('w1'), await startWorker('w2'), await startWorker('w3')];
    // Runs are started while the workers are being killed, so kills land in every phase of them.
    const runs: WorkflowRun[] = [];
    const starting = (async () => {
      for (let n = 0; n < runCount; n += 1) {
        runs.push(await workflows.start('mp.order', { n, declined: n % 5 === 0 }, { key: `order-${n}` }));
        await sleep(300);
      }
    })();
    const restarts: Promise<void>[] = [];
    for (let kill = 0; kill < kills; kill += 1) {
      await sleep(400 + Math.random() * 300);
      const index = kill % live.length;
      const victim = live[index]!;
      victim.kill('SIGKILL');
      restarts.push(
        victim.exited.then(async () => {
          live[index] = await startWorker(`w${index + 1}-${kill}`);
        }),
      );
      await restarts.at(-1);
    }
    await starting;
    await Promise.all(restarts);
    const deadline = Date.now() + 180_000;
    const ended = new Map<string, WorkflowRun>();
    while (ended.size < runs.length) {
      assert.ok(Date.now() < deadline, `only ${ended.size} of ${runs.length} runs ended`);
      for (const run of runs) {
        if (ended.has(run.id)) continue;
        const current = await workflows.get(run.id);
        if (['completed', 'compensated', 'failed', 'cancelled'].includes(current.status))
          ended.set(run.id, current);
      }
      await sleep(200);
    }

    // The kills must have landed in runs, or this test proves nothing.
    let interrupted = 0;
    for (const run of runs) {
      const job = await workflows.jobs.get(run.id);
      if (job.history.some((attempt) => attempt.error?.name === 'LeaseExpired')) interrupted += 1;
    }
    process.stderr.write(
      `workflow crash test: ${interrupted} of ${runs.length} runs resumed after a killed worker\n`,
    );
    assert.ok(interrupted > 0, 'no run was interrupted by a kill');

    const effects = readFileSync(effectsLog(), 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const [runId, what, attempt] = line.split(' ');
        return { runId: runId!, what: what!, attempt: Number(attempt) };
      });
    for (const [n, started] of runs.entries()) {
      const run = ended.get(started.id)!;
      const declined = n % 5 === 0;
      const mine = effects.filter((effect) => effect.runId === run.id);
      if (declined) {
        assert.equal(run.status, 'compensated', `run ${n}: ${JSON.stringify(run.error)}`);
        assert.equal(mine.filter((effect) => effect.what === 'undo-reserve').length >= 1, true);
        assert.equal(
          mine.filter((effect) => effect.what === 'ship').length,
          0,
          `run ${n} shipped after a decline`,
        );
      } else {
        assert.equal(run.status, 'completed', `run ${n}: ${JSON.stringify(run.error)}`);
        assert.deepEqual(run.output, {
          n,
          steps: ['reserve-done', 'price-done', 'fraud-check-done', 'charge-done', 'ship-done'],
        });
        assert.equal(mine.filter((effect) => effect.what.startsWith('undo-')).length, 0);
      }
      for (const step of run.steps.filter((record) => record.kind === 'step')) {
        const ranIn = mine.filter((effect) => effect.what === step.id).map((effect) => effect.attempt);
        assert.ok(ranIn.length >= 1, `run ${n}: step ${step.id} is recorded but never ran`);
        assert.ok(
          Math.max(...ranIn) <= step.attempts,
          `run ${n}: step ${step.id} ran in attempt ${Math.max(...ranIn)} after completing in attempt ${step.attempts}`,
        );
      }
      for (const compensation of run.steps.filter((record) => record.kind === 'compensation')) {
        assert.equal(compensation.status, 'completed');
        const what = `undo-${compensation.id.slice('#compensate.'.length)}`;
        assert.ok(
          mine.some((effect) => effect.what === what),
          `run ${n}: ${what} recorded without its effect`,
        );
      }
    }
  });
});
