/**
 * The zero-configuration way in: a Spool on the embedded SQLite store, in one call.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from './core/clock.js';
import { createSpool, type Spool, type SpoolOptions } from './engine/spool.js';
import { openSqliteStore } from './stores/sqlite/index.js';

export interface OpenSpoolOptions extends Omit<SpoolOptions, 'store'> {
  /**
   * The database file (its folder is created if needed), or `':memory:'` for a store that lives
   * and dies with the process.
   * @defaultValue './data/spool.db'
   */
  path?: string;
  /**
   * `full`: fsync on every commit (survives power loss). `process`: survives a crash of the
   * process but not of the machine, for more throughput.
   * @defaultValue 'full'
   */
  durability?: 'full' | 'process';
  /** @defaultValue the system clock */
  clock?: Clock;
}

/** Opens (creating if needed) a Spool on an embedded SQLite database file. */
export async function openSpool(options: OpenSpoolOptions = {}): Promise<Spool> {
  const { path = './data/spool.db', durability = 'full', clock, ...spoolOptions } = options;
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const store = await openSqliteStore({ path, durability, ...(clock ? { clock } : {}) });
  return createSpool({ ...spoolOptions, store });
}
