/**
 * `spool/sqlite`: the embedded SQLite store, Spool's default backend. One file holds queues,
 * topics and consumer groups; writes are durable when their promise resolves, and concurrent
 * writes share one commit (group commit) so durability costs little throughput.
 *
 * ```ts
 * const store = await openSqliteStore({ path: './spool.db' });
 * ```
 */
import { type Clock, systemClock } from '../../core/clock.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { StoreFactory } from '../../store/port.js';
import { deferWalSync, openDatabase } from './connection.js';
import { type SqliteStore, SqliteStoreImpl } from './sqlite-store.js';
import { toStoreError } from './store-errors.js';

export type { SqliteStore } from './sqlite-store.js';
export type { CommitStats } from './write-batcher.js';

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** File path (created if missing), or `':memory:'` for a private in-memory database. */
  path: string;
  /**
   * `'full'`: WAL journal with `synchronous=FULL`: every commit is fsynced, so a resolved write
   * survives power loss. `'process'`: WAL with `synchronous=NORMAL`: a resolved write survives
   * the process crashing, but the last commits can be lost if the machine loses power.
   * @defaultValue 'full'
   */
  durability?: 'full' | 'process';
  /**
   * The time source for leases, delays, dedup windows, sessions and retention.
   * @defaultValue systemClock
   */
  clock?: Clock;
  /**
   * Where durability `full` runs the fsync of each group commit. `'background'`: on libuv's
   * thread pool, while JavaScript builds the next batch; results are still handed out only after
   * the fsync (see wal-sync.ts). `'inline'`: inside COMMIT on the event loop, as SQLite's
   * `synchronous=FULL` does, so a write is finished within one turn of the event loop: for tests
   * that step a `TestClock` faster than a disk can sync. Ignored with durability `process`.
   * @defaultValue 'background'
   */
  fsync?: 'background' | 'inline';
}

/**
 * Opens (creating and migrating if needed) a SQLite store. Rejects with `SchemaVersionError` for
 * a file written by a newer Spool, and with `SPOOL_STORE_UNAVAILABLE` when the file cannot be
 * opened or does not accept the durability settings.
 */
export function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const durability = options.durability ?? 'full';
  if (durability !== 'full' && durability !== 'process') {
    return Promise.reject(
      new InvalidArgumentError(
        `sqlite store: durability ${JSON.stringify(durability)} is not supported; use 'full' or 'process'`,
        { field: 'durability' },
      ),
    );
  }
  const fsync = options.fsync ?? 'background';
  if (fsync !== 'background' && fsync !== 'inline') {
    return Promise.reject(
      new InvalidArgumentError(
        `sqlite store: fsync ${JSON.stringify(fsync)} is not supported; use 'background' or 'inline'`,
        { field: 'fsync' },
      ),
    );
  }
  try {
    const db = openDatabase(options.path, durability);
    let walSync = null;
    try {
      if (fsync === 'background') walSync = deferWalSync(db, durability);
    } catch (error) {
      db.close();
      throw error;
    }
    return Promise.resolve(new SqliteStoreImpl(db, options.clock ?? systemClock, walSync));
  } catch (error) {
    return Promise.reject(toStoreError(error));
  }
}

/**
 * A {@link StoreFactory} for the engine and the conformance suite: each call opens
 * `options.path` with the clock it is given.
 */
export function sqliteStore(options: Omit<SqliteStoreOptions, 'clock'>): StoreFactory {
  return ({ clock }) => openSqliteStore({ ...options, clock });
}
