import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../src/core/clock.js';
import { createSpool, type Spool, type SpoolOptions } from '../src/engine/spool.js';
import { openSqliteStore } from '../src/stores/sqlite/index.js';

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'spool-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestSpool {
  spool: Spool;
  path: string;
  /** Closes the spool and removes its files. */
  dispose(): Promise<void>;
}

/** A Spool on a real SQLite file in a fresh temp dir. */
export async function openTestSpool(
  options: { clock?: Clock; durability?: 'full' | 'process' } & Omit<SpoolOptions, 'store'> = {},
): Promise<TestSpool> {
  const { clock, durability, ...spoolOptions } = options;
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'spool.db');
  const store = await openSqliteStore({
    path,
    durability: durability ?? 'full',
    // A TestClock steps faster than a disk syncs: fsync inside COMMIT, so every store write is
    // finished within the turn of the event loop that the clock's `advance` waits for.
    ...(clock ? { clock, fsync: 'inline' as const } : {}),
  });
  const spool = createSpool({ ...spoolOptions, store });
  return {
    spool,
    path,
    async dispose() {
      await spool.close({ timeoutMs: 2000 });
      cleanup();
    },
  };
}

/** Resolves when `predicate` holds, checking every few ms; rejects after `timeoutMs`. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A promise with its resolve function, for handlers that a test releases. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets pending I/O and promise callbacks run. */
export function tick(times = 5): Promise<void> {
  let chain = Promise.resolve();
  for (let i = 0; i < times; i++) chain = chain.then(() => new Promise((r) => setImmediate(r)));
  return chain;
}
