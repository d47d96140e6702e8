/**
 * Group commit: the one place where the SQLite store writes.
 *
 * With `synchronous=FULL` every COMMIT waits for an fsync (~0.1–10 ms), so one transaction per
 * write caps a store at a few hundred to a few thousand writes per second. Instead, every write
 * method hands the batcher a synchronous operation; all operations that arrive in the same
 * event-loop turn run in ONE `BEGIN IMMEDIATE … COMMIT` on the next `setImmediate`, and only
 * after that COMMIT is durable does each caller's promise settle: at once when COMMIT itself
 * fsyncs, or, with a {@link WalSync} (durability `full` on a file, the default), after the
 * background fsync that covers it, while the event loop goes on; reads are held back the same
 * way, so nothing not yet on disk is ever handed out. Throughput then grows with
 * concurrency while every resolved write is still durable. The price is latency: a write waits
 * for the current turn to end (microseconds) and for its batch's commit.
 *
 * Each operation runs in its own savepoint inside the batch transaction, so a failing operation
 * (a full queue, a stale receipt) rolls back only its own changes and rejects only its own
 * promise; the rest of the batch commits. An operation that is one statement, or that throws
 * before its first change (an ack or extend whose receipt matched nothing), is registered as
 * `atomic` and skips the savepoint: SQLite already rolls back a failed statement by itself,
 * and the two extra statements per write were a fifth of the cost of an ack. Only a failure of the transaction itself (SQLITE_BUSY
 * from another process, disk full, I/O error) fails the whole batch.
 *
 * States:
 * - idle: nothing pending and no flush scheduled.
 * - scheduled: writes are pending and a flush is due on `setImmediate`; new writes join it.
 *   A flush is synchronous (better-sqlite3 is), so no JavaScript runs while a batch is open.
 * - exclusive: a `transaction(work)` holds an open transaction across `await`s. Transactions
 *   queued behind it run next in the same database transaction, each in its own savepoint, and
 *   share its COMMIT. Batches wait
 *   until it commits or rolls back; so do reads from outside it, which would otherwise see its
 *   uncommitted writes on this single connection. Reads made from inside `work` run at once
 *   (they see the transaction's own writes); store writes made from inside `work` are refused,
 *   because they would wait for the transaction that is waiting for them.
 * - closing → closed: new calls are refused with `ClosedError`; pending work finishes first.
 *
 * Reads run directly (outside exclusive mode): they only ever see committed state, because
 * batches never leave a transaction open across a turn of the event loop.
 *
 * Claims need less (see {@link WriteKind}): a claim must only hand out messages that are on
 * disk, and a claim lost to a power cut means those messages are delivered again, which
 * at-least-once allows. Messages are stored by `data` commits only, so in a batch of nothing but
 * lease changes (claims, acks, extends, releases) a claim settles once every `data` commit
 * before it is durable — usually at once, since a consumer working through a backlog commits
 * nothing but leases — without waiting for its own fsync or for those of earlier lease changes.
 * Everything else — sends, acks, every read — still settles only after its own commit is
 * durable, and a batch that also stores something new (a send) holds its claims to that rule too,
 * since they may have read what it stored.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import { ClosedError, InvalidArgumentError } from '../../core/errors.js';
import type { CommitObserver } from '../../store/port.js';
import { storeUnavailable, toStoreError } from './store-errors.js';
import type { WalSync } from './wal-sync.js';

/** Group-commit counters since the store was opened. */
export interface CommitStats {
  /** Transactions committed (batches and `transaction()` calls). */
  readonly commits: number;
  /** Write operations those transactions carried. */
  readonly operations: number;
  /** The most operations one commit carried. */
  readonly largestBatch: number;
  /**
   * fsyncs of the write-ahead log (durability `full` on a file): one covers every commit made
   * since the previous one started, so it is at most `commits`.
   */
  readonly syncs: number;
}

/**
 * Writes made through a `transaction()` scope run at once, each in its own savepoint, inside
 * the open exclusive transaction. The scope refuses work once the transaction has ended.
 */
export interface TransactionScope {
  /** Runs `operation` in the transaction; `atomic` ones (see the header) skip their savepoint. */
  run<T>(operation: () => T, atomic?: boolean): Promise<T>;
}

/**
 * What a write does, for when it may settle (see the header):
 * - `data` (the default): stores something new (a send, a publish, a job, configuration);
 * - `lease`: only changes leases of messages already stored (ack, extend, release, dead-letter);
 *   settles after its own commit is durable, like `data`;
 * - `claim`: leases messages; in a batch with no `data` it settles once the commits before its
 *   batch are durable.
 */
export type WriteKind = 'data' | 'lease' | 'claim';

interface PendingWrite {
  readonly kind: 'write';
  readonly operation: () => unknown;
  /** True when the operation needs no savepoint (see the header). */
  readonly atomic: boolean;
  readonly writeKind: WriteKind;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingTransaction {
  readonly kind: 'transaction';
  readonly work: (scope: TransactionScope) => Promise<unknown>;
  /** False: may settle before its own commit is durable (see `transaction`). */
  readonly synchronous: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * The most operations one commit carries. Beyond this, a backlog is split into several commits
 * with a turn of the event loop between them, so one huge burst neither holds the event loop
 * for long nor grows the WAL without bound; by then the per-commit fsync is already amortised.
 */
const maxBatchSize = 1024;

export class WriteBatcher {
  readonly #db: Database.Database;
  readonly #pending: Array<PendingWrite | PendingTransaction> = [];
  /** Which transaction the running code belongs to, to tell its calls from everybody else's. */
  readonly #context = new AsyncLocalStorage<ExclusiveScope>();
  readonly #runBatch: Database.Transaction<(batch: readonly PendingWrite[]) => Outcome[]>;
  readonly #inSavepoint: Database.Transaction<(operation: () => unknown) => unknown>;
  readonly #begin: Database.Statement;
  readonly #commit: Database.Statement;
  readonly #rollback: Database.Statement;
  readonly #savepoint: Database.Statement;
  readonly #releaseSavepoint: Database.Statement;
  readonly #rollbackToSavepoint: Database.Statement;
  #flushScheduled = false;
  #exclusive: ExclusiveScope | null = null;
  /** Reads from outside the exclusive transaction, run when it ends. */
  #deferredReads: Array<() => void> = [];
  #closing: Promise<void> | null = null;
  #onIdle: (() => void) | null = null;
  #stats = { commits: 0, operations: 0, largestBatch: 0 };
  /** The commit count right after the last commit that may have stored messages (see WriteKind). */
  #lastDataCommit = 0;
  /** Makes commits durable off the event loop (durability `full` on a file); null: COMMIT suffices. */
  readonly #walSync: WalSync | null;
  /** Sees every commit (metrics); null when nobody observes, so nothing is timed. */
  onCommit: CommitObserver | null = null;

  constructor(db: Database.Database, walSync: WalSync | null = null) {
    this.#db = db;
    this.#walSync = walSync;
    if (walSync) walSync.onIdle = () => this.#afterUnit();
    // better-sqlite3 turns a transaction function called inside an open transaction into a
    // savepoint, which is exactly the per-operation isolation a batch needs.
    this.#inSavepoint = db.transaction((operation: () => unknown) => operation());
    this.#runBatch = db.transaction((batch: readonly PendingWrite[]) => {
      const outcomes: Outcome[] = [];
      for (const entry of batch) {
        try {
          outcomes.push({
            ok: true,
            value: entry.atomic ? entry.operation() : this.#inSavepoint(entry.operation),
          });
        } catch (error) {
          // Some errors (disk full, I/O) make SQLite roll back the whole transaction; running the
          // rest of the batch would then autocommit each operation, outside any batch.
          if (!db.inTransaction) throw error;
          outcomes.push({ ok: false, error });
        }
      }
      return outcomes;
    });
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
    this.#savepoint = db.prepare('SAVEPOINT spool_transaction');
    this.#releaseSavepoint = db.prepare('RELEASE spool_transaction');
    this.#rollbackToSavepoint = db.prepare('ROLLBACK TO spool_transaction');
  }

  /**
   * Runs `operation` in the next group commit; settles after that commit. Pass `atomic` only for
   * an operation that writes with one statement or fails before writing anything.
   */
  write<T>(operation: () => T, atomic = false, writeKind: WriteKind = 'data'): Promise<T> {
    const refused = this.#refuseWrite();
    if (refused) return Promise.reject(refused);
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({
        kind: 'write',
        operation,
        atomic,
        writeKind,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.#schedule();
    });
  }

  /**
   * Runs `work` with exclusive use of one transaction, after the writes queued before it. Writes
   * made through the scope commit when `work` resolves and roll back when it throws.
   *
   * With `synchronous` false it settles once its commit is made and every commit before its
   * chain is durable, without waiting for the fsync of its own: a power cut may then undo it
   * (never a crash of the process), so it is for work that may be done again, like a claim. It
   * still waits for its own fsync when a synchronous transaction ran before it in the same
   * chain, whose writes it may have read.
   */
  transaction<T>(work: (scope: TransactionScope) => Promise<T>, synchronous = true): Promise<T> {
    const refused = this.#refuseWrite();
    if (refused) return Promise.reject(refused);
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({
        kind: 'transaction',
        work,
        synchronous,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.#schedule();
    });
  }

  /** Runs a query against committed state (or, from inside `transaction()`, that transaction's). */
  read<T>(query: () => T): Promise<T> {
    const insideTransaction = this.#insideExclusive();
    if (this.#closing && !insideTransaction) return Promise.reject(new ClosedError('sqlite store'));
    if (this.#exclusive && !insideTransaction) {
      return new Promise<T>((resolve) => this.#deferredReads.push(() => resolve(this.read(query))));
    }
    let result: T;
    try {
      result = query();
    } catch (error) {
      return Promise.reject(toStoreError(error));
    }
    // What a read saw may include commits not yet on disk; it is handed out once they are.
    if (!this.#walSync || insideTransaction) return Promise.resolve(result);
    return new Promise<T>((resolve, reject) => {
      this.#whenDurable(
        () => resolve(result),
        (failure) => reject(failure),
      );
    });
  }

  commitStats(): CommitStats {
    return { ...this.#stats, syncs: this.#walSync?.syncs ?? 0 };
  }

  /** Finishes everything pending, then closes the database. Safe to call more than once. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      if (this.#isIdle()) resolve();
      else this.#onIdle = resolve;
    }).then(() => {
      this.#walSync?.close();
      // Closing the last connection checkpoints the WAL into the database file and removes it.
      this.#db.close();
    });
    return this.#closing;
  }

  #refuseWrite(): Error | null {
    if (this.#insideExclusive()) {
      return new InvalidArgumentError(
        'a store write was called inside transaction(); make writes through the tx argument (a store write would wait for the transaction that is waiting for it)',
      );
    }
    return this.#closing ? new ClosedError('sqlite store') : null;
  }

  #insideExclusive(): boolean {
    return this.#exclusive !== null && this.#context.getStore() === this.#exclusive;
  }

  #isIdle(): boolean {
    return (
      this.#pending.length === 0 &&
      this.#exclusive === null &&
      !this.#flushScheduled &&
      (this.#walSync?.idle ?? true)
    );
  }

  #schedule(): void {
    if (this.#flushScheduled || this.#exclusive || this.#pending.length === 0) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** Commits one batch of leading writes, or opens the transaction at the head of the queue. */
  #flush(): void {
    this.#flushScheduled = false;
    const head = this.#pending[0];
    if (head?.kind === 'transaction') {
      this.#pending.shift();
      this.#openExclusive(head);
      return;
    }
    // The writes up to the next transaction, at most maxBatchSize of them.
    const end = this.#pending.findIndex(
      (entry, index) => entry.kind === 'transaction' || index === maxBatchSize,
    );
    const batch = this.#pending.splice(0, end === -1 ? this.#pending.length : end) as PendingWrite[];
    this.#commitBatch(batch);
    this.#afterUnit();
  }

  #commitBatch(batch: readonly PendingWrite[]): void {
    let outcomes: Outcome[];
    const started = this.onCommit ? performance.now() : 0;
    try {
      outcomes = this.#runBatch.immediate(batch);
    } catch (error) {
      // Nothing of the batch was committed.
      const failure = storeUnavailable(
        `sqlite store: a group commit of ${batch.length} writes failed, none was stored: ${(error as Error).message}`,
        error,
      );
      for (const entry of batch) entry.reject(failure);
      return;
    }
    const stored = batch.some((entry) => entry.writeKind === 'data');
    this.#record(batch.length, stored);
    this.onCommit?.((performance.now() - started) / 1000, batch.length);
    if (stored || !batch.some((entry) => entry.writeKind === 'claim')) {
      this.#settle(batch, outcomes, () => true);
      return;
    }
    // Claims read only messages of earlier data commits: those must be durable, nothing more.
    this.#settle(batch, outcomes, (entry) => entry.writeKind === 'claim', this.#lastDataCommit);
    this.#settle(batch, outcomes, (entry) => entry.writeKind !== 'claim');
  }

  /** Settles the entries of `batch` that `which` picks once the first `upTo` commits are durable. */
  #settle(
    batch: readonly PendingWrite[],
    outcomes: readonly Outcome[],
    which: (entry: PendingWrite) => boolean,
    upTo?: number,
  ): void {
    // Nobody to tell: no fsync is asked for (a later write's covers the commit).
    if (!batch.some(which)) return;
    this.#whenDurable(
      () => {
        for (let index = 0; index < batch.length; index++) {
          const entry = batch[index]!;
          if (!which(entry)) continue;
          const outcome = outcomes[index]!;
          if (outcome.ok) entry.resolve(outcome.value);
          else entry.reject(toStoreError(outcome.error));
        }
      },
      (failure) => {
        for (const entry of batch) if (which(entry)) entry.reject(failure);
      },
      upTo,
    );
  }

  /**
   * Runs `settle` once every commit made so far (or the first `upTo`) is durable (at once without a WAL sync), or
   * `fail` with a `StoreUnavailable` error if it cannot be made so; then checks for idleness,
   * since a close may be waiting for that sync.
   */
  #whenDurable(settle: () => void, fail: (failure: Error) => void, upTo?: number): void {
    if (!this.#walSync) {
      settle();
      return;
    }
    this.#walSync.whenDurable((error) => {
      if (error) fail(storeUnavailable(`sqlite store: ${error.message}`, error));
      else settle();
      this.#afterUnit();
    }, upTo);
  }

  #openExclusive(entry: PendingTransaction): void {
    try {
      this.#begin.run();
    } catch (error) {
      entry.reject(toStoreError(error));
      this.#afterUnit();
      return;
    }
    void this.#runExclusive(entry);
  }

  /**
   * Runs `first`, then every transaction queued right behind it, in ONE database transaction:
   * each in a savepoint of its own (a throw rolls back only its writes), all committed by one
   * COMMIT — group commit for transactions. They still run one after another, exclusively.
   */
  async #runExclusive(first: PendingTransaction): Promise<void> {
    /** `early`: settles before the chain's own fsync (see `transaction`). */
    const done: { entry: PendingTransaction; value: unknown; early: boolean }[] = [];
    let operations = 0;
    // Whether only asynchronous transactions have run so far in the chain.
    let asynchronousSoFar = true;
    let entry: PendingTransaction | undefined = first;
    try {
      while (entry) {
        const scope = new ExclusiveScope(this.#db, this.#inSavepoint);
        this.#exclusive = scope;
        this.#savepoint.run();
        let outcome: Outcome;
        try {
          outcome = { ok: true, value: await this.#context.run(scope, () => entry!.work(scope)) };
        } catch (error) {
          outcome = { ok: false, error };
        }
        scope.end();
        if (!this.#db.inTransaction) {
          // SQLite rolled everything back (disk full, I/O error): nothing of the chain survives.
          const failure = storeUnavailable('sqlite store: the transaction was rolled back by the database');
          entry.reject(outcome.ok ? failure : outcome.error);
          for (const earlier of done) earlier.entry.reject(failure);
          return;
        }
        asynchronousSoFar &&= !entry.synchronous;
        if (outcome.ok) {
          this.#releaseSavepoint.run();
          done.push({ entry, value: outcome.value, early: asynchronousSoFar });
          operations += scope.operations;
        } else {
          this.#rollbackToSavepoint.run();
          this.#releaseSavepoint.run();
          // Whatever work threw comes back as it was: it may be the caller's own error.
          entry.reject(outcome.error);
        }
        const next = this.#pending[0];
        entry =
          next?.kind === 'transaction' && done.length < maxBatchSize
            ? (this.#pending.shift() as PendingTransaction)
            : undefined;
      }
      // Timed from COMMIT only: the time before it is the callers' work between their writes.
      const committing = this.onCommit ? performance.now() : 0;
      const before = this.#walSync?.commits ?? 0;
      this.#commit.run();
      this.onCommit?.((performance.now() - committing) / 1000, operations);
      this.#record(operations, true);
      const settle = (early: boolean, upTo?: number) => {
        if (!done.some((item) => item.early === early)) return;
        this.#whenDurable(
          () => {
            for (const item of done) if (item.early === early) item.entry.resolve(item.value);
          },
          (failure) => {
            for (const item of done) if (item.early === early) item.entry.reject(failure);
          },
          upTo,
        );
      };
      settle(true, before);
      settle(false);
    } catch (error) {
      if (this.#db.inTransaction) this.#rollback.run();
      for (const { entry: settled } of done) settled.reject(toStoreError(error));
      entry?.reject(toStoreError(error));
    } finally {
      this.#exclusive = null;
      const reads = this.#deferredReads;
      this.#deferredReads = [];
      for (const read of reads) read();
      this.#afterUnit();
    }
  }

  #afterUnit(): void {
    this.#schedule();
    if (this.#onIdle && this.#isIdle()) {
      this.#onIdle();
      this.#onIdle = null;
    }
  }

  #record(operations: number, stored: boolean): void {
    this.#walSync?.committed();
    if (stored) this.#lastDataCommit = this.#walSync?.commits ?? 0;
    const stats = this.#stats;
    stats.commits++;
    stats.operations += operations;
    if (operations > stats.largestBatch) stats.largestBatch = operations;
  }
}

class ExclusiveScope implements TransactionScope {
  readonly #db: Database.Database;
  readonly #inSavepoint: (operation: () => unknown) => unknown;
  #open = true;
  /** Writes made through the scope, for the commit statistics. */
  operations = 0;

  constructor(db: Database.Database, inSavepoint: (operation: () => unknown) => unknown) {
    this.#db = db;
    this.#inSavepoint = inSavepoint;
  }

  /** `atomic`: as for a batch's writes, an operation that cannot half-apply skips its savepoint. */
  run<T>(operation: () => T, atomic = false): Promise<T> {
    if (!this.#open) return Promise.reject(new ClosedError('transaction'));
    // After an error that made SQLite roll the whole transaction back, a further write would
    // autocommit on its own; refuse it (the COMMIT at the end then fails too).
    if (!this.#db.inTransaction) {
      return Promise.reject(
        storeUnavailable('sqlite store: the transaction was rolled back by an earlier error'),
      );
    }
    try {
      const value = atomic ? operation() : (this.#inSavepoint(operation) as T);
      this.operations++;
      return Promise.resolve(value);
    } catch (error) {
      return Promise.reject(toStoreError(error));
    }
  }

  end(): void {
    this.#open = false;
  }
}
