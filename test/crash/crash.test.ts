/**
 * Crash safety: a child process produces and consumes while this test SIGKILLs it at random
 * moments, restarting it each time. Afterwards every send and publish that resolved was
 * processed at least once, duplicates stay within what was in flight at the kills, committed
 * offsets never moved backwards, and SQLite's integrity check passes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { tempDir } from '../helpers.js';

const worker = join(import.meta.dirname, 'crash-worker.ts');
const cycles = Number(process.env.SPOOL_CRASH_CYCLES ?? 12);

function readLog(dir: string, file: string): number[] {
  const path = join(dir, file);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map(Number);
}

/** Starts the worker and resolves once it printed `expect` (or exited). */
function start(dir: string, mode: string, first: number, expect: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, dir, mode, String(first)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const seen = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(expect)) resolve();
    });
    child.on('exit', (code, signal) => {
      if (output.includes(expect)) resolve();
      else reject(new Error(`worker exited (${code ?? signal}) before "${expect}"`));
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, seen, exited };
}

/** Committed offsets per partition, read through the store while no worker runs. */
async function committedOffsets(dir: string): Promise<Map<number, number>> {
  const store = await openSqliteStore({ path: join(dir, 'spool.db') });
  try {
    const state = await store.groupState('crash-events', 'auditors');
    return new Map(state?.committed.map((c) => [c.partition, c.offset]));
  } finally {
    await store.close();
  }
}

describe('crash safety', () => {
  it(`loses nothing across ${cycles} SIGKILLs of a producing and consuming process`, async () => {
    const { dir, cleanup } = tempDir('spool-crash-');
    try {
      let next = 0;
      let previous = new Map<number, number>();
      for (let cycle = 0; cycle < cycles; cycle++) {
        const run = start(dir, 'produce', next, 'ready');
        await run.seen;
        await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 600));
        run.child.kill('SIGKILL');
        await run.exited;
        // Sequence numbers stay unique across runs; a gap of unsent numbers is harmless.
        next = Math.max(next, ...readLog(dir, 'sent.log'), ...readLog(dir, 'published.log')) + 1000;
        const committed = await committedOffsets(dir);
        for (const [partition, offset] of previous) {
          assert.ok(
            (committed.get(partition) ?? 0) >= offset,
            `partition ${partition} offset went backwards`,
          );
        }
        previous = committed;
      }
      const drain = start(dir, 'drain', next, 'drained');
      await drain.seen;
      assert.equal(await drain.exited, 0);

      const sent = readLog(dir, 'sent.log');
      const processed = readLog(dir, 'processed.log');
      const published = readLog(dir, 'published.log');
      const consumed = readLog(dir, 'consumed.log');
      assert.ok(sent.length > 100 && published.length > 50, `the workload ran (${sent.length} sent)`);
      const processedSet = new Set(processed);
      const consumedSet = new Set(consumed);
      const lostMessages = sent.filter((seq) => !processedSet.has(seq));
      const lostEvents = published.filter((seq) => !consumedSet.has(seq));
      assert.deepEqual(lostMessages, [], 'queue messages lost');
      assert.deepEqual(lostEvents, [], 'topic events lost');
      // Duplicates come only from work in flight at a kill: at most the handler concurrency (8)
      // for the queue and one uncommitted batch (20) per partition (2) for the topic, per kill.
      const queueDuplicates = processed.length - processedSet.size;
      const topicDuplicates = consumed.length - consumedSet.size;
      assert.ok(queueDuplicates <= cycles * 8, `${queueDuplicates} queue duplicates`);
      assert.ok(topicDuplicates <= cycles * 2 * 20, `${topicDuplicates} topic duplicates`);
      const db = new Database(join(dir, 'spool.db'), { readonly: true });
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      } finally {
        db.close();
      }
      console.log(
        `crash test: ${cycles} kills, ${sent.length} sent / ${processedSet.size} processed (${queueDuplicates} duplicates), ` +
          `${published.length} published / ${consumedSet.size} consumed (${topicDuplicates} duplicates)`,
      );
    } finally {
      cleanup();
    }
  });
});
