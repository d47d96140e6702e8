/**
 * Pausing a queue holds it for consumers in other OS processes: on a shared SQLite file and on
 * PostgreSQL, a consumer in a child process handles nothing while the queue is paused (sends
 * still land), and everything within about a second of the resume (its safety poll).
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Spool } from '../../src/engine/spool.js';
import { Child, onSharedStores } from './processes.js';

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
  onSharedStores('two processes on one database', pauseAcrossProcesses);
});
