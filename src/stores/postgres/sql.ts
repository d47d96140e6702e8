/**
 * How the operation modules run SQL without knowing whether they are inside a transaction.
 *
 * An operation gets a {@link Sql}. A single statement is atomic by itself, so most hot paths
 * (send, claim, ack of an unkeyed message) are one statement run in autocommit mode: one round
 * trip and one commit. An operation that needs several statements to be atomic (a keyed ack,
 * the general enqueue) asks for `sql.atomic(work)`:
 *
 * - on the store ({@link PoolSql}) that opens a transaction on a pooled connection (`BEGIN …
 *   COMMIT`), and runs it again when PostgreSQL aborts it for a deadlock or a serialization
 *   failure (a lost race, not an error: the work is pure database work and can be repeated);
 * - inside a transaction ({@link ClientSql}, for `transaction()` and for a caller's connection)
 *   the statements simply join the transaction that is already open.
 *
 * Isolation is PostgreSQL's default, READ COMMITTED: every statement sees what was committed
 * before it started. The operations rely on that in one pattern, used wherever two transactions
 * must not interleave: first take a row lock (an upsert or `FOR UPDATE`), then read in a LATER
 * statement, whose fresh snapshot includes everything the previous lock holder committed.
 *
 * Statements are sent as named prepared statements (unless turned off): parsed and planned once
 * per connection instead of on every call, which more than halves the server's work for the
 * larger statements here.
 *
 * `sql.notify()` wakes listeners once the change is committed (notifier.ts): after the commit
 * for work the store commits itself, with `pg_notify` inside the transaction on a connection
 * whose transaction the caller ends.
 */
import { createHash } from 'node:crypto';
import type { PostgresPool, PostgresQueryResult, PostgresQueryable } from './connection.js';
import { type NoticeKind, noticePayload } from './notifier.js';
import { isRetryableConflict } from './store-errors.js';

export interface Sql {
  /** Runs one statement and resolves with its rows. */
  rows<Row>(text: string, values?: readonly unknown[]): Promise<Row[]>;
  /** Runs one statement and resolves with the number of rows it affected. */
  count(text: string, values?: readonly unknown[]): Promise<number>;
  /** Runs `work` atomically: in a new transaction, or in the transaction already open. */
  atomic<T>(work: (sql: Sql) => Promise<T>): Promise<T>;
  /** Wakes the listeners of a queue or topic once what was written so far is committed. */
  notify(kind: NoticeKind, name: string): Promise<void>;
}

/** What every {@link Sql} of one store shares. */
export interface SqlContext {
  /** Send statements as named prepared statements. */
  readonly prepare: boolean;
  /** The schema's notification channel, for `pg_notify` inside a caller's transaction. */
  readonly channel: string;
  /** Announces committed changes to listeners (coalesced, after the fact; notifier.ts). */
  readonly announce: (payload: string) => void;
}

/** How many times a store-owned transaction runs before a deadlock or serialization failure is reported. */
const maxTransactionAttempts = 5;

const statementNames = new Map<string, string>();

/** The name a statement is prepared under: derived from its text, so equal texts share it. */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `spool_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

function send(
  db: PostgresQueryable,
  context: SqlContext,
  text: string,
  values: readonly unknown[],
): Promise<PostgresQueryResult> {
  const parameters = values as unknown[];
  return context.prepare
    ? db.query({ name: statementName(text), text, values: parameters })
    : db.query(text, parameters);
}

/** Statements on a pool, each in autocommit mode; `atomic` opens a transaction. */
export class PoolSql implements Sql {
  readonly #pool: PostgresPool;
  readonly #context: SqlContext;

  constructor(pool: PostgresPool, context: SqlContext) {
    this.#pool = pool;
    this.#context = context;
  }

  async rows<Row>(text: string, values: readonly unknown[] = []): Promise<Row[]> {
    return (await send(this.#pool, this.#context, text, values)).rows as Row[];
  }

  async count(text: string, values: readonly unknown[] = []): Promise<number> {
    return (await send(this.#pool, this.#context, text, values)).rowCount ?? 0;
  }

  /** In autocommit mode every statement before this one has committed already. */
  notify(kind: NoticeKind, name: string): Promise<void> {
    this.#context.announce(noticePayload(kind, name));
    return Promise.resolve();
  }

  async atomic<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool.connect();
      const notices: string[] = [];
      // A connection whose ROLLBACK failed is in an unknown state: close it instead of reusing it.
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(new ClientSql(client, this.#context, notices));
        await client.query('COMMIT');
        for (const notice of new Set(notices)) this.#context.announce(notice);
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
        if (attempt < maxTransactionAttempts && isRetryableConflict(error)) continue;
        throw error;
      } finally {
        client.release(broken);
      }
    }
  }
}

/**
 * Statements on one connection that is inside a transaction; `atomic` joins it. With `notices`,
 * notifications are collected there for whoever commits to announce; without, the transaction
 * is the caller's and they are sent with `pg_notify`, to be delivered when the caller commits.
 */
export class ClientSql implements Sql {
  readonly #client: PostgresQueryable;
  readonly #context: SqlContext;
  readonly #notices: string[] | null;

  constructor(client: PostgresQueryable, context: SqlContext, notices: string[] | null) {
    this.#client = client;
    this.#context = context;
    this.#notices = notices;
  }

  async rows<Row>(text: string, values: readonly unknown[] = []): Promise<Row[]> {
    return (await send(this.#client, this.#context, text, values)).rows as Row[];
  }

  async count(text: string, values: readonly unknown[] = []): Promise<number> {
    return (await send(this.#client, this.#context, text, values)).rowCount ?? 0;
  }

  async notify(kind: NoticeKind, name: string): Promise<void> {
    const payload = noticePayload(kind, name);
    if (this.#notices) this.#notices.push(payload);
    else await this.rows('SELECT pg_notify($1, $2)', [this.#context.channel, payload]);
  }

  atomic<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return work(this);
  }
}
