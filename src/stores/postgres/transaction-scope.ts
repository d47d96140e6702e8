/**
 * The writes of one `transaction()` call, on one connection that is inside a transaction: the
 * store's own (`BEGIN … COMMIT` around `work`) or the caller's (the outbox: the caller opened
 * it and will commit or roll it back; nothing here ends it).
 *
 * - On a caller's connection the whole of `work` also runs in a savepoint of its own
 *   ({@link inCallerTransaction}), so a `work` that throws leaves none of its writes behind.
 * - Each write runs in its own savepoint, as on SQLite: a write that fails (a full queue, a
 *   stale receipt, a constraint) rolls back only its own statements and rejects only its own
 *   promise, and `work` may catch the error and go on. On a caller's connection the savepoint
 *   also proves that a transaction is open: PostgreSQL refuses `SAVEPOINT` outside one, and
 *   the write is rejected with `InvalidArgumentError` instead of autocommitting piece by piece.
 * - Writes run one at a time, in call order: statements of two writes interleaved on one
 *   connection would tangle their savepoints. Writes started with `Promise.all` are queued.
 * - {@link TransactionScope.end} waits for the write in progress and refuses later ones, so no
 *   statement of a write can reach the connection after the COMMIT.
 */
import { ClosedError, InvalidArgumentError } from '../../core/errors.js';
import type { PostgresQueryable } from './connection.js';
import { ClientSql, type Sql, type SqlContext } from './sql.js';
import { sqlState, toStoreError } from './store-errors.js';

/** SQLSTATE no_active_sql_transaction: SAVEPOINT outside a transaction block. */
const noTransaction = '25P01';

export class TransactionScope {
  readonly #client: PostgresQueryable;
  readonly #sql: Sql;
  #tail: Promise<unknown> = Promise.resolve();
  #open = true;
  #failed = false;

  /**
   * @param notices - where notifications are collected for the store to announce after its
   *   COMMIT; null on a caller's connection, where they are sent with `pg_notify` instead.
   */
  constructor(
    client: PostgresQueryable,
    context: SqlContext,
    notices: string[] | null,
    private readonly savepoints = true,
  ) {
    this.#client = client;
    this.#sql = new ClientSql(client, context, notices);
  }

  /** Runs one write in its own savepoint (unless told not to), after the writes called before it. */
  run<T>(operation: (sql: Sql) => Promise<T>): Promise<T> {
    if (!this.#open) return Promise.reject(new ClosedError('transaction'));
    const result = this.#tail.then(() =>
      this.savepoints ? this.#inSavepoint(operation) : this.#direct(operation),
    );
    this.#tail = result.catch(() => {});
    return result;
  }

  /** Refuses further writes and resolves when the last one has finished. */
  async end(): Promise<void> {
    this.#open = false;
    await this.#tail;
  }

  /** A write without a savepoint: its failure leaves the transaction aborted, so COMMIT fails too. */
  async #direct<T>(operation: (sql: Sql) => Promise<T>): Promise<T> {
    if (!this.#open) throw new ClosedError('transaction');
    try {
      return await operation(this.#sql);
    } catch (error) {
      this.#failed = true;
      throw toStoreError(error);
    }
  }

  /** A write failed outside a savepoint: the transaction cannot commit. */
  get failed(): boolean {
    return this.#failed;
  }

  async #inSavepoint<T>(operation: (sql: Sql) => Promise<T>): Promise<T> {
    if (!this.#open) throw new ClosedError('transaction');
    try {
      await this.#client.query('SAVEPOINT spool_write');
    } catch (error) {
      if (sqlState(error) === noTransaction) throw notInTransaction();
      throw toStoreError(error);
    }
    try {
      const value = await operation(this.#sql);
      await this.#client.query('RELEASE SAVEPOINT spool_write');
      return value;
    } catch (error) {
      try {
        await this.#client.query('ROLLBACK TO SAVEPOINT spool_write');
        await this.#client.query('RELEASE SAVEPOINT spool_write');
      } catch {
        // The connection or transaction is broken; the error below says why, and COMMIT will fail.
      }
      throw toStoreError(error);
    }
  }
}

/**
 * Runs `work` inside the transaction a caller opened on `client` (the outbox), all or nothing:
 * `work`'s writes sit inside one savepoint of their own, so when `work` throws they are rolled
 * back to it — even if the caller then COMMITs what else it did — and when `work` resolves they
 * stay in the caller's transaction, to commit or roll back with it.
 */
export async function inCallerTransaction<T>(
  client: PostgresQueryable,
  context: SqlContext,
  work: (scope: TransactionScope) => Promise<T>,
): Promise<T> {
  try {
    await client.query('SAVEPOINT spool_transaction');
  } catch (error) {
    if (sqlState(error) === noTransaction) throw notInTransaction();
    throw toStoreError(error);
  }
  const scope = new TransactionScope(client, context, null);
  let value: T;
  try {
    value = await work(scope).finally(() => scope.end());
  } catch (error) {
    try {
      await client.query('ROLLBACK TO SAVEPOINT spool_transaction');
      await client.query('RELEASE SAVEPOINT spool_transaction');
    } catch {
      // The caller's transaction is broken: its COMMIT will fail, taking these writes with it.
    }
    // Whatever work threw comes back as it was: it may be the caller's own error.
    throw error;
  }
  try {
    await client.query('RELEASE SAVEPOINT spool_transaction');
  } catch (error) {
    throw toStoreError(error);
  }
  return value;
}

function notInTransaction(): InvalidArgumentError {
  return new InvalidArgumentError(
    'transaction({ connection }): the connection is not inside a transaction; run BEGIN on it first, and COMMIT after',
    { field: 'connection' },
  );
}

/** Checks that a caller's `connection` can run queries (a `pg.Client` or `pg.PoolClient`). */
export function asQueryable(connection: unknown): PostgresQueryable {
  if (
    typeof connection === 'object' &&
    connection !== null &&
    typeof (connection as { query?: unknown }).query === 'function'
  ) {
    return connection as PostgresQueryable;
  }
  throw new InvalidArgumentError(
    'transaction({ connection }): pass the pg Client or PoolClient on which you ran BEGIN',
    { field: 'connection' },
  );
}
