/**
 * A queue's globalConcurrency holds across OS processes: three consumer processes, each running
 * up to 2 handlers at once (6 together), share a bound of 3, on a shared SQLite file and on
 * PostgreSQL. Every run reports its start and end (one machine, one clock); the most runs that
 * overlapped must never pass the bound, and must reach it — which takes two processes at once.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Spool } from '../../src/engine/spool.js';
import { Child, onSharedStores } from './processes.js';

const count = 60;
const bound = 3;

/** The most intervals open at one instant (a run ending as another starts did not overlap it). */
function peakOverlap(runs: readonly [number, number][]): number {
  const edges = runs.flatMap(([start, end]): [number, number][] => [
    [start, 1],
    [end, -1],
  ]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let peak = 0;
  for (const [, change] of edges) peak = Math.max(peak, (open += change));
  return peak;
}

async function boundAcrossProcesses(spool: Spool, where: string): Promise<void> {
  const queue = await spool.queue<{ n: number }>('renders', { globalConcurrency: bound });
  const consumers = Array.from(
    { length: 3 },
    () => new Child(['test/multiprocess/bounded-consumer.ts', where, 'renders']),
  );
  try {
    await Promise.all(consumers.map((child) => child.waitFor(/consumer ready/)));
    await queue.sendBatch(Array.from({ length: count }, (_, n) => ({ body: { n } })));
    const runs = () =>
      consumers.flatMap((child) =>
        [...child.output.matchAll(/^run (\d+) (\d+) (\d+)$/gm)].map((match): [number, number] => [
          Number(match[2]),
          Number(match[3]),
        ]),
      );
    const deadline = Date.now() + 30_000;
    while (runs().length < count && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(runs().length, count, consumers.map((child) => child.output).join('\n'));
    assert.equal(peakOverlap(runs()), bound, `peak overlap ${peakOverlap(runs())}`);
    const busy = consumers.filter((child) => /^run /m.test(child.output)).length;
    assert.ok(busy >= 2, `the work was shared by the processes (${busy} ran some)`);
  } finally {
    for (const child of consumers) child.kill();
    await Promise.all(consumers.map((child) => child.exited));
  }
}

describe('a queue globalConcurrency across three consumer processes', () => {
  onSharedStores('three processes on one database', boundAcrossProcesses);
});
