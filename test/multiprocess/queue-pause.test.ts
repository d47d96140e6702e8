/**
 * Pausing a queue holds it for consumers in other OS processes: on a shared SQLite file and on
 * PostgreSQL, a consumer in a child process handles nothing while the queue is paused (sends
 * still land), and everything within about a second of the resume (its safety poll).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createSpool, type Spool } from '../../src/engine/spool.js';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { tempDir } from '../helpers.js';
import { Child, FreshDatabase } from './processes.js';

const handled = (child: Child) =>
  [...child.output.matchAll(/^handled (\d+)$/gm)].map((match) => Number(match[1]));

async function pauseAcrossProcesses(spool: Spool, where: string): Promise<void> {
  const queue = await spool.queue<{ n: number }>('renders');
  const child = new Child(['test/multiprocess/queue-consumer.ts', where, 'renders']);
  try {
    await child.waitFor(/consumer ready/);
    await queue.send({ n: 0 });
    await child.waitFor(/^handled 0$/m, 10_000);

    await queue.pause();
    for (let n = 1; n <= 5; n++) await queue.send({ n });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.deepEqual(handled(child), [0], 'the other process handled nothing while paused');
    assert.equal((await queue.stats()).ready, 5);

    const resumedAt = Date.now();
    await queue.resume();
    await child.waitFor(/^handled 5$/m, 10_000);
    for (let n = 1; n <= 4; n++) await child.waitFor(new RegExp(`^handled ${n}$`, 'm'), 5_000);
    const took = Date.now() - resumedAt;
    assert.ok(took < 3_000, `the other process took ${took} ms to see the resume`);
  } finally {
    child.kill();
    await child.exited;
  }
}

describe('a paused queue across processes', () => {
  it('on a shared SQLite file', async () => {
    const dir = tempDir('spool-pause-');
    const path = join(dir.dir, 'spool.db');
    const spool = createSpool({ store: await openSqliteStore({ path }) });
    try {
      await pauseAcrossProcesses(spool, path);
    } finally {
      await spool.close();
      dir.cleanup();
    }
  });

  describe('on PostgreSQL', () => {
    let database: FreshDatabase | undefined;
    after(() => database?.drop());
    it('two processes on one database', async () => {
      database = await FreshDatabase.create();
      const spool = createSpool({ store: await openPostgresStore({ connectionString: database.url }) });
      try {
        await pauseAcrossProcesses(spool, database.url);
      } finally {
        await spool.close();
      }
    });
  });
});
