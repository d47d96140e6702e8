/**
 * `spool/postgres`: the PostgreSQL store, for running Spool on many machines against one
 * database. Queues, topics, consumer groups, jobs and schedules live in tables of their own
 * schema (`spool` by default); claims use `FOR UPDATE SKIP LOCKED`, topic offsets stay dense under concurrent
 * publishers, and wake-ups cross processes with LISTEN/NOTIFY (`store.onNotify`). Writes can
 * join a transaction of your own connection (`transaction(work, { connection })`), so a
 * message exists if and only if your business write commits.
 *
 * ```ts
 * const store = await openPostgresStore({ connectionString: 'postgres://localhost/app' });
 * ```
 *
 * Durability is PostgreSQL's: a write resolves after its COMMIT returned, so it survives what
 * the server's `synchronous_commit` and replication settings say a commit survives.
 */
import type { Clock } from '../../core/clock.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { StoreFactory } from '../../store/port.js';
import { type PostgresPool, SchemaNames, createPool } from './connection.js';
import { DatabaseClock } from './database-clock.js';
import { migrate } from './migrations.js';
import { type PostgresStore, PostgresStoreImpl } from './postgres-store.js';
import { toStoreError } from './store-errors.js';

export type {
  PostgresNotification,
  PostgresPool,
  PostgresPoolClient,
  PostgresQueryConfig,
  PostgresQueryResult,
  PostgresQueryable,
} from './connection.js';
export type { NoticeListener, StoreNotice } from './notifier.js';
export type { PostgresStore } from './postgres-store.js';
export { DatabaseClock, type DatabaseClockOptions } from './database-clock.js';

/** Options of {@link openPostgresStore}: give `connectionString` or `pool`, not both. */
export interface PostgresStoreOptions {
  /** A libpq connection URI, e.g. `postgres://user@host:5432/app`. The store creates (and closes) its own pool. */
  connectionString?: string;
  /**
   * A pool of your own, e.g. a `pg.Pool`. The store borrows connections from it and leaves it
   * open on `close()`. It holds one connection for as long as anybody listens to `onNotify`, and
   * one for each `leadership()` handle (a Spool has one): size the pool for them.
   */
  pool?: PostgresPool;
  /**
   * The schema that holds Spool's tables; created (with its tables) on first open. 1-48
   * lowercase letters, digits or `_`.
   * @defaultValue 'spool'
   */
  schema?: string;
  /**
   * Connections of the pool the store creates from `connectionString`.
   * @defaultValue 10
   */
  maxConnections?: number;
  /**
   * Send statements as named prepared statements, parsed and planned once per connection. Turn
   * off behind a pooler that does not keep them across transactions (PgBouncer before 1.21 in
   * transaction mode).
   * @defaultValue true
   */
  preparedStatements?: boolean;
  /**
   * Runs `VACUUM` on the messages table after this many messages were claimed or purged through
   * the store, so that claims stay cheap however many messages went through the queue
   * (vacuum.ts explains why autovacuum alone is too slow for a queue). `null` leaves it to
   * autovacuum.
   * @defaultValue 10000
   */
  vacuumEvery?: number | null;
  /**
   * How often a process that does not lead a role ({@link PostgresStore.leadership}) tries to
   * take it over, and how often the leader checks that its lock connection lives: a dead
   * leader is replaced within about this long.
   * @defaultValue 5000
   */
  leadershipRetryMs?: number;
  /**
   * The time source for leases, delays, dedup windows, sessions and retention. Every process on
   * one schema compares times written by the others, so by default the store reads the DATABASE
   * server's clock ({@link DatabaseClock}: measured at open, carried forward on the local
   * monotonic clock, re-measured every minute): leases are enforced on the server's timeline and
   * the clocks of the machines running Spool need not agree. Pass a clock only for tests (a
   * `TestClock`) or if every process is known to share one.
   * @defaultValue a {@link DatabaseClock} on the store's pool
   */
  clock?: Clock;
}

/**
 * Opens a PostgreSQL store, creating and migrating its schema if needed (safe when several
 * processes start at once). Rejects with `SchemaVersionError` for a schema written by a newer
 * Spool, and with `SPOOL_STORE_UNAVAILABLE` when the database cannot be reached.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { connectionString, pool } = options;
  if ((connectionString === undefined) === (pool === undefined)) {
    throw new InvalidArgumentError('postgres store: give either connectionString or pool', {
      field: 'connectionString',
    });
  }
  const maxConnections = options.maxConnections ?? 10;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new InvalidArgumentError('postgres store: maxConnections must be a positive integer', {
      field: 'maxConnections',
    });
  }
  const vacuumEvery = options.vacuumEvery === undefined ? 10_000 : options.vacuumEvery;
  if (vacuumEvery !== null && (!Number.isInteger(vacuumEvery) || vacuumEvery < 1)) {
    throw new InvalidArgumentError('postgres store: vacuumEvery must be a positive integer or null', {
      field: 'vacuumEvery',
    });
  }
  const leadershipRetryMs = options.leadershipRetryMs ?? 5_000;
  if (!Number.isInteger(leadershipRetryMs) || leadershipRetryMs < 10) {
    throw new InvalidArgumentError('postgres store: leadershipRetryMs must be an integer >= 10', {
      field: 'leadershipRetryMs',
    });
  }
  const names = new SchemaNames(options.schema ?? 'spool');
  const ownsPool = pool === undefined;
  const usedPool = pool ?? (await createPool(connectionString!, maxConnections));
  let clock = options.clock;
  try {
    await migrate(usedPool, names);
    clock ??= await DatabaseClock.start(usedPool);
  } catch (error) {
    if (ownsPool) await usedPool.end();
    throw toStoreError(error);
  }
  return new PostgresStoreImpl({
    pool: usedPool,
    ownsPool,
    // Leadership holds a connection for as long as it leads. From the store's own pool that
    // connection would be missing for transactions, so the store opens a small pool of its own
    // for it (connecting only when somebody competes); a pool passed in is used as it is.
    sessionPool: ownsPool ? await createPool(connectionString!, 4) : null,
    names,
    clock,
    ownsClock: options.clock === undefined,
    preparedStatements: options.preparedStatements ?? true,
    vacuumEvery,
    leadershipRetryMs,
  });
}

/**
 * A {@link StoreFactory} for the engine and the conformance suite: each call opens a store with
 * these options and the clock it is given.
 */
export function postgresStore(options: Omit<PostgresStoreOptions, 'clock'>): StoreFactory {
  return ({ clock }) => openPostgresStore({ ...options, clock });
}
