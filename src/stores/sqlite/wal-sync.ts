/**
 * Durability without blocking the event loop: the write-ahead log is fsynced on libuv's thread
 * pool while JavaScript goes on building the next batch.
 *
 * With `synchronous=FULL`, SQLite fsyncs the WAL inside every COMMIT, and better-sqlite3 runs
 * COMMIT on the main thread: each group commit stopped all JavaScript for the length of an fsync
 * (0.2–2 ms here), which was a fifth to a half of the engine's time under load. The store now
 * runs the connection at `synchronous=NORMAL` (a COMMIT only writes its WAL frames) and calls
 * fsync on the WAL itself; the batcher hands out no result of a commit, nor of any read, before
 * an fsync that started after that commit has finished. Nothing observable changes: what FULL
 * adds over NORMAL in WAL mode is exactly the fsync of the WAL after each commit, and a
 * checkpoint still fsyncs the WAL before it copies pages into the database file. An fsync covers
 * every commit made before it started: a commit made while one runs starts a second at once
 * (see {@link maxSyncsInFlight}), and commits made while two run share the next.
 *
 * An fsync that fails leaves the WAL's durability unknown: Linux may drop the dirty pages and
 * report later fsyncs as successful. So a failure is final, as in PostgreSQL: every write or read
 * waiting for it and every later one is refused until the store is reopened (reopening recovers
 * the WAL from what actually reached the disk).
 */
import fs from 'node:fs';

/**
 * fsyncs run at once. A commit made while an fsync runs is not covered by it; waiting for it to
 * end before starting the next one put two fsyncs in the way of that commit, so their tail
 * latency added up (send→handler p99 at 1,000 msg/s: 5–6.6 ms with one, 2.9–3.1 ms with two,
 * measured here). More than two gained nothing: each fsync covers every commit before it.
 */
const maxSyncsInFlight = 2;

/** Called once everything committed before the call is on disk, or with why it never will be. */
export type DurableCallback = (error: Error | null) => void;

/** How a descriptor is flushed to disk: `fs.fdatasync`, or a stand-in in tests. */
export type SyncFile = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void;

interface Waiter {
  /** The commit count the waiter needs durable. */
  readonly upTo: number;
  readonly callback: DurableCallback;
}

export class WalSync {
  readonly #walPath: string;
  readonly #syncFile: SyncFile;
  #fd: number | null = null;
  /** Commits made, and how many of them are known to be on disk. */
  #committed = 0;
  #durable = 0;
  /** fsyncs running now, and the commit count the last one started covers. */
  #inFlight = 0;
  #covered = 0;
  #failure: Error | null = null;
  /** Oldest first; `upTo` never decreases along the queue. */
  #waiters: Waiter[] = [];
  /** fsyncs run, for the commit statistics. */
  syncs = 0;
  /**
   * Called when the last running fsync ends with nobody waiting: with two in flight, the one
   * that ends last may release no waiter, and a close waiting for idleness must still hear it.
   */
  onIdle: (() => void) | null = null;

  /**
   * @param walPath - the database's `-wal` file, which SQLite creates before the first commit.
   * @param syncFile - flushes a descriptor; fdatasync suffices for the WAL, whose growth it syncs too.
   */
  constructor(walPath: string, syncFile: SyncFile = fs.fdatasync) {
    this.#walPath = walPath;
    this.#syncFile = syncFile;
  }

  /** Records a COMMIT that returned; its frames are in the WAL but perhaps not on disk yet. */
  committed(): void {
    this.#committed++;
  }

  /** True while some commit is not yet known to be on disk. */
  get behind(): boolean {
    return this.#durable < this.#committed;
  }

  /** True when no fsync runs and nobody waits for one. */
  get idle(): boolean {
    return this.#inFlight === 0 && this.#waiters.length === 0;
  }

  /** Commits recorded so far: pass it to {@link WalSync.whenDurable} to wait for just those. */
  get commits(): number {
    return this.#committed;
  }

  /**
   * Calls `callback` once every commit recorded so far (or the first `upTo` of them) is on disk:
   * at once if they already are, otherwise after the fsync that covers them.
   */
  whenDurable(callback: DurableCallback, upTo = this.#committed): void {
    if (this.#failure) {
      callback(this.#failure);
      return;
    }
    if (this.#durable >= upTo) {
      callback(null);
      return;
    }
    // upTo never decreases along the queue: a waiter for fewer commits goes before later ones.
    let index = this.#waiters.length;
    while (index > 0 && this.#waiters[index - 1]!.upTo > upTo) index--;
    this.#waiters.splice(index, 0, { upTo, callback });
    this.#sync();
  }

  /** Closes the WAL's descriptor; call once idle (SQLite deletes the file when it closes). */
  close(): void {
    if (this.#fd !== null) fs.closeSync(this.#fd);
    this.#fd = null;
  }

  #sync(): void {
    const wanted = this.#waiters.at(-1)?.upTo ?? 0;
    // Nothing to wait for, or a running fsync covers it, or enough run already.
    if (wanted <= this.#covered || this.#inFlight >= maxSyncsInFlight) return;
    let fd: number;
    try {
      // Opened for writing because some platforms (Windows) only flush through a writable handle.
      fd = this.#fd ??= fs.openSync(this.#walPath, 'r+');
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    this.#inFlight++;
    // Every COMMIT counted so far has written its frames (write(2) returned), so this fsync covers them.
    const target = this.#committed;
    this.#covered = target;
    this.#syncFile(fd, (error) => {
      this.#inFlight--;
      this.syncs++;
      if (error) {
        this.#fail(error);
        return;
      }
      this.#durable = Math.max(this.#durable, target);
      let released = 0;
      const durable = this.#durable;
      while (released < this.#waiters.length && this.#waiters[released]!.upTo <= durable) released++;
      const ready = this.#waiters.splice(0, released);
      // The next fsync starts before anyone is told, so it overlaps the callers' reactions.
      this.#sync();
      for (const waiter of ready) waiter.callback(null);
      if (ready.length === 0 && this.idle) this.onIdle?.();
    });
  }

  #fail(cause: Error): void {
    this.#failure = new Error(
      `could not make the write-ahead log ${this.#walPath} durable (${cause.message}); committed writes may not survive a power loss, so the store refuses further work until it is reopened`,
      { cause },
    );
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.callback(this.#failure);
  }
}
