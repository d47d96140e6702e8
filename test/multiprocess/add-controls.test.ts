// Add controls across OS processes on one PostgreSQL database: three processes add through one
// gate at the same moment (20 adds each, all at once), and the gate holds as in one process —
// one singleton job, one debounced job, one start plus one trailing job per throttle interval.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSpool, type Spool } from '../../src/engine/spool.js';
import { Jobs } from '../../src/jobs/jobs.js';
import type { AddOutcome } from '../../src/jobs/job.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { Child, FreshDatabase } from './processes.js';

const perProcess = 20;

void describe('add controls across three processes on PostgreSQL', () => {
  let database: FreshDatabase;
  let spool: Spool;
  let jobs: Jobs;
  let dir: string;
  const adders: Child[] = [];
  const rounds = {
    singleton: { key: 'acme', singleton: true },
    debounce: { key: 'doc', debounce: { delayMs: 60_000 } },
    throttle: { key: 'sync', throttle: { intervalMs: 60_000 } },
  };

  before(async () => {
    database = await FreshDatabase.create();
    spool = createSpool({
      store: await openPostgresStore({ connectionString: database.url, maxConnections: 2 }),
    });
    jobs = new Jobs(spool);
    dir = mkdtempSync(join(tmpdir(), 'spool-gates-'));
    const args = [
      'test/multiprocess/gated-adder.ts',
      database.url,
      dir,
      String(perProcess),
      JSON.stringify(rounds),
    ];
    for (let i = 0; i < 3; i++) adders.push(new Child(args));
    await Promise.all(adders.map((adder) => adder.waitFor(/adder ready/)));
  });
  after(async () => {
    for (const adder of adders) adder.kill('SIGTERM');
    await Promise.all(adders.map((adder) => adder.exited));
    await jobs.close();
    await spool.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The three processes make the round's adds at once; resolves with every add's job id and outcome. */
  async function raceAdds(round: keyof typeof rounds): Promise<{ id: string; outcome: AddOutcome }[]> {
    writeFileSync(join(dir, round), 'go');
    const result = new RegExp(`RESULT ${round} (.*)`);
    await Promise.all(adders.map((adder) => adder.waitFor(result)));
    return adders.flatMap(
      (adder) => JSON.parse(result.exec(adder.output)![1]!) as { id: string; outcome: AddOutcome }[],
    );
  }

  const count = (added: { outcome: AddOutcome }[], outcome: AddOutcome) =>
    added.filter((add) => add.outcome === outcome).length;

  it('singleton: of 60 adds at once, one creates the job and 59 answer it', async () => {
    const added = await raceAdds('singleton');
    assert.equal(count(added, 'created'), 1);
    assert.equal(count(added, 'singleton'), 3 * perProcess - 1);
    assert.equal(new Set(added.map((add) => add.id)).size, 1);
    assert.equal((await jobs.list({ type: 'gated', key: 'acme' })).items.length, 1);
  });

  it('debounce: 60 adds at once are one job, with the payload of the last add', async () => {
    const added = await raceAdds('debounce');
    assert.equal(count(added, 'created'), 1);
    assert.equal(count(added, 'debounced'), 3 * perProcess - 1);
    const ids = new Set(added.map((add) => add.id));
    assert.equal(ids.size, 1);
    const job = await jobs.get([...ids][0]!);
    assert.equal(job.status, 'scheduled');
    assert.ok(
      typeof (job.payload as { n?: unknown }).n === 'number',
      `the payload is one of the adds': ${JSON.stringify(job.payload)}`,
    );
  });

  it('throttle: 60 adds at once are one start now and one job at the end of the interval', async () => {
    const added = await raceAdds('throttle');
    assert.equal(count(added, 'created'), 1);
    assert.equal(count(added, 'throttled'), 3 * perProcess - 1);
    const ids = [...new Set(added.map((add) => add.id))];
    assert.equal(ids.length, 2);
    const statuses = (await Promise.all(ids.map((id) => jobs.get(id)))).map((job) => job.status).sort();
    assert.deepEqual(statuses, ['queued', 'scheduled']);
  });
});
