/**
 * Opening the database: durability pragmas (checked, not assumed), then migrations.
 *
 * "Acked means durable" rests on two pragmas. `journal_mode=WAL` makes a commit one sequential
 * append to the write-ahead log; `synchronous=FULL` fsyncs that log on every commit, so a
 * committed write survives power loss. `synchronous=NORMAL` (durability 'process') skips the
 * per-commit fsync: a commit survives the process dying but the last commits may be lost if the
 * machine does. Group commit (write-batcher.ts) is what makes FULL affordable.
 *
 * better-sqlite3's default is not FULL, and a pragma that SQLite does not accept is silently
 * ignored, so each one is read back after it is set and the open fails if it did not take.
 */
import { realpathSync } from 'node:fs';
import Database from 'better-sqlite3';
import { InvalidArgumentError } from '../../core/errors.js';
import { migrate } from './migrations.js';
import { storeUnavailable } from './store-errors.js';
import { WalSync } from './wal-sync.js';

/** How committed writes are protected; see {@link openDatabase}. */
export type Durability = 'full' | 'process';

/** SQLite's numeric values of `PRAGMA synchronous`. */
const synchronousLevels = { full: 2, process: 1 } as const satisfies Record<Durability, number>;

/** How long a write waits for another process's write lock before failing with SQLITE_BUSY. */
const busyTimeoutMs = 5_000;

/** Opens (creating if needed) and migrates the database at `path` (`':memory:'` for a private one). */
export function openDatabase(path: string, durability: Durability): Database.Database {
  const db = connect(path);
  try {
    configure(db, durability);
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Durability 'full' on a file: moves the per-commit fsync of the WAL from inside SQLite's COMMIT
 * (which blocks the event loop) to a {@link WalSync} that runs it on the thread pool; the store's
 * write batcher then holds every result back until the fsync covering it has finished (see
 * wal-sync.ts for why this keeps FULL's guarantee). Returns null when COMMIT is all there is to
 * wait for: durability 'process', or an in-memory database.
 */
export function deferWalSync(db: Database.Database, durability: Durability): WalSync | null {
  if (durability !== 'full' || db.memory || db.name === '') return null;
  // SQLite names the WAL after the database's real path (it follows symbolic links); a database
  // opened through a symlink would otherwise have the WAL of the link's name synced: missing
  // (every write refused), or a stale file (acknowledged writes not durable).
  const walPath = `${realpathSync(db.name)}-wal`;
  db.pragma(`synchronous = ${synchronousLevels.process}`);
  const synchronous = db.pragma('synchronous', { simple: true }) as number;
  if (synchronous !== synchronousLevels.process) {
    throw storeUnavailable(
      `could not set synchronous=${synchronousLevels.process} on ${db.name}: SQLite answered ${synchronous}`,
    );
  }
  return new WalSync(walPath);
}

function connect(file: string): Database.Database {
  try {
    return new Database(file, { timeout: busyTimeoutMs });
  } catch (error) {
    if (error instanceof Database.SqliteError) {
      throw storeUnavailable(`sqlite store: cannot open ${file}: ${error.message}`, error);
    }
    // better-sqlite3 checks the path itself (e.g. a missing directory) with a TypeError.
    throw new InvalidArgumentError(`sqlite store: cannot open ${file}: ${(error as Error).message}`, {
      field: 'path',
    });
  }
}

function configure(db: Database.Database, durability: Durability): void {
  // An in-memory database has no file to put a log next to; SQLite keeps it in 'memory' mode.
  const wantedJournal = db.memory ? 'memory' : 'wal';
  const journal = db.pragma('journal_mode = WAL', { simple: true }) as string;
  if (journal.toLowerCase() !== wantedJournal) {
    throw storeUnavailable(
      `could not enable the ${wantedJournal} journal on ${db.name}: SQLite answered ${journal}`,
    );
  }
  // Each write of a group commit runs in a savepoint; SQLite journals the pages a savepoint
  // touches in a temporary file unless temp storage is in memory, which more than halved the
  // throughput of batched writes.
  db.pragma('temp_store = MEMORY');
  db.pragma(`synchronous = ${synchronousLevels[durability]}`);
  const synchronous = db.pragma('synchronous', { simple: true }) as number;
  if (synchronous !== synchronousLevels[durability]) {
    throw storeUnavailable(
      `could not set synchronous=${synchronousLevels[durability]} on ${db.name}: SQLite answered ${synchronous}`,
    );
  }
}
