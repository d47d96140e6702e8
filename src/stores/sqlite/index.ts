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
import { openDatabase } from './connection.js';
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
  try {
    const db = openDatabase(options.path, durability);
    return Promise.resolve(new SqliteStoreImpl(db, options.clock ?? systemClock));
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
