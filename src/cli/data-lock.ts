/**
 * One `spool serve` per SQLite database: a second server on the same file refuses to start,
 * naming the one that holds it.
 *
 * Two servers on one SQLite file would both work — SQLite serialises their writes — but each
 * would count only its own traffic (metrics, stats, long-poll wake-ups, the leader of schedules
 * would be decided between them without their knowing), which looks like lost messages. A
 * deployment that wants several servers shares a PostgreSQL store instead (`--store postgres://…`).
 *
 * The lock is `<db>.lock`, a small SQLite file next to the database, held with a write
 * transaction (SQLite's RESERVED lock, an fcntl lock underneath) for as long as the server runs.
 * The operating system drops it when the process ends, however it ends (kill -9, a crash, a power
 * cut), so there is no stale lock to clean up and no pid to trust. The holder's pid, host and
 * start time are written in the file before it takes the lock; a reader may still read them (a
 * RESERVED lock lets readers in), which is how the refusal names the holder. The file stays when
 * the server stops: deleting it could let two servers lock two different files of one name.
 *
 * Direct-mode commands (`spool … --data <dir>`) do not take the lock: they are short and meant
 * for when no server runs (or for reads), see `support/client-options.ts`.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';

/** Held until `release()` or the end of the process. */
export interface DataLock {
  /** The lock file. */
  readonly path: string;
  /** Releases the lock (safe to call twice). */
  release(): void;
}

/** Another process holds the lock of that database. */
export class DataInUseError extends Error {
  constructor(
    readonly database: string,
    readonly holder: Holder | null,
  ) {
    const who = holder
      ? `another spool serve (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt})`
      : 'another spool serve';
    super(
      `${who} is already using ${database}: stop it first, or give this one another --data directory. ` +
        'Two servers on one SQLite file would each count only their own traffic; to run several, share a PostgreSQL store (--store postgres://…)',
    );
    this.name = 'DataInUseError';
  }
}

interface Holder {
  pid: number;
  host: string;
  startedAt: string;
}

/** Takes the lock of the SQLite database `databasePath`; throws {@link DataInUseError} if held. */
export function lockDatabase(databasePath: string): DataLock {
  const database = resolve(databasePath);
  const path = `${database}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  // timeout 0: a held lock answers SQLITE_BUSY at once instead of after 5 s of retries.
  const db = new Database(path, { timeout: 0 });
  try {
    db.exec(
      'CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid, host, started_at)',
    );
    if (!tryBegin(db)) throw new DataInUseError(database, readHolder(db));
    // Ours now: say who we are, then hold the lock again at once. Between the two, another
    // process may take it — then it has written its own name, and we report it.
    db.prepare('INSERT OR REPLACE INTO holder (id, pid, host, started_at) VALUES (1, ?, ?, ?)').run(
      process.pid,
      hostname(),
      new Date().toISOString(),
    );
    // Committing waits for readers of the file (a refused server reading our name) to finish.
    db.pragma('busy_timeout = 2000');
    db.exec('COMMIT');
    db.pragma('busy_timeout = 0');
    if (!tryBegin(db)) throw new DataInUseError(database, readHolder(db));
  } catch (error) {
    db.close();
    throw error;
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      db.exec('ROLLBACK');
      db.close();
    },
  };
}

/** Begins the write transaction that is the lock; false when another connection holds it. */
function tryBegin(db: Database.Database): boolean {
  try {
    db.exec('BEGIN IMMEDIATE');
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return false;
    throw error;
  }
}

function readHolder(db: Database.Database): Holder | null {
  try {
    const row = db.prepare('SELECT pid, host, started_at FROM holder WHERE id = 1').get() as
      { pid: number; host: string; started_at: string } | undefined;
    return row ? { pid: row.pid, host: row.host, startedAt: row.started_at } : null;
  } catch {
    return null;
  }
}
