/**
 * Leadership across processes with a session-level advisory lock.
 *
 * Each contender keeps one connection (not one the store's transactions need: see
 * postgres-store.ts) and, every `retryMs`, runs
 * `pg_try_advisory_lock` on a key derived from the schema and the role. The lock belongs to the
 * database SESSION, so it is held exactly as long as the leader's connection lives: when the
 * leader process dies, is killed, or its backend is terminated, PostgreSQL drops the lock and
 * the next contender to try (within `retryMs`) becomes the leader. Nothing has to expire, and
 * no table row records who leads.
 *
 * The leader checks its connection every `retryMs` as well (`SELECT 1`, with a deadline of
 * `retryMs`): a connection that errors, ends or stops answering means the lock may already be
 * someone else's, so leadership is given up at once and the connection destroyed (which also
 * ends the session, releasing the lock if the server still had it). For a leader that vanishes
 * from the network without closing its socket, the connection asks the server for TCP
 * keepalives so the server notices the dead session — and frees the lock — in about 25 s
 * instead of the operating system's default of hours.
 *
 * Leadership is an efficiency measure (see the port's `Leadership`): the old leader may run
 * leader-only work for up to `retryMs` after it lost the lock, so that work must be idempotent.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Leadership } from '../../store/port.js';
import type { PostgresPool, PostgresPoolClient } from './connection.js';

/** Server-side TCP keepalives of the lock-holding session (seconds; ignored on Unix sockets). */
const keepaliveSettings =
  'SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3';

export class AdvisoryLeadership implements Leadership {
  readonly #pool: PostgresPool;
  readonly #lockKey: string;
  readonly #clock: Clock;
  readonly #retryMs: number;
  readonly #listeners = new Set<(held: boolean) => void>();
  #client: PostgresPoolClient | null = null;
  #held = false;
  #timer: TimerHandle | null = null;
  #round: Promise<void> = Promise.resolve();
  #closed = false;
  /** Set when a session was lost: the next round is skipped (see #attempt). */
  #sitOut = false;

  /**
   * Starts competing at once, then every `retryMs`.
   * @param lockKey - text naming the role in the database; hashed to the advisory lock's key.
   */
  constructor(pool: PostgresPool, lockKey: string, clock: Clock, retryMs: number) {
    this.#pool = pool;
    this.#lockKey = lockKey;
    this.#clock = clock;
    this.#retryMs = retryMs;
    this.#next(0);
  }

  get held(): boolean {
    return this.#held;
  }

  onChange(listener: (held: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) this.#clock.clearTimer(this.#timer);
    await this.#round;
    const client = this.#client;
    this.#client = null;
    this.#setHeld(false);
    // Destroying the connection ends the session, which releases the lock even if an unlock
    // statement would have failed; a pooled connection that kept it would lead for its next user.
    client?.release(true);
  }

  #next(delayMs: number): void {
    if (this.#closed) return;
    const run = (): void => {
      this.#timer = null;
      this.#round = this.#attempt().finally(() => this.#next(this.#retryMs));
    };
    if (delayMs === 0) run();
    else this.#timer = this.#clock.setTimer(run, delayMs);
  }

  /** One round: take the lock if nobody has it, or, as leader, make sure the session still lives. */
  async #attempt(): Promise<void> {
    if (this.#sitOut) {
      // A process that just lost its session lets the others try first for one round: they are
      // more likely to be healthy than the process whose connection failed.
      this.#sitOut = false;
      return;
    }
    let client: PostgresPoolClient | null = null;
    try {
      client = this.#client ?? (await this.#connect());
      if (this.#closed) return;
      if (this.#held) {
        await this.#withDeadline(client.query('SELECT 1'));
        return;
      }
      const result = await this.#withDeadline(
        client.query('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [this.#lockKey]),
      );
      const locked = (result.rows[0] as { locked?: boolean } | undefined)?.locked === true;
      if (locked && !this.#closed && this.#client === client) this.#setHeld(true);
    } catch (error) {
      // Unreachable database or a lost session: whatever we held is gone. The next round
      // connects again.
      if (client) this.#lost(client, error);
    }
  }

  async #connect(): Promise<PostgresPoolClient> {
    const client = await this.#pool.connect();
    // A checked-out connection that fails emits 'error'; without a listener that would crash
    // the process.
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('connection ended')));
    try {
      await client.query(keepaliveSettings);
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      throw error;
    }
    if (this.#closed) {
      client.release(true);
      throw new Error('leadership closed');
    }
    this.#client = client;
    return client;
  }

  #lost(client: PostgresPoolClient, error: unknown): void {
    if (this.#client !== client) return;
    this.#client = null;
    this.#sitOut = true;
    this.#setHeld(false);
    client.release(error instanceof Error ? error : true);
  }

  #setHeld(held: boolean): void {
    if (this.#held === held) return;
    this.#held = held;
    for (const listener of [...this.#listeners]) {
      try {
        listener(held);
      } catch {
        // One failing listener must not keep the others from hearing about the change.
      }
    }
  }

  /** Rejects when `query` takes longer than a round: a connection that hangs is as good as lost. */
  #withDeadline<T>(query: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimer(
        () => reject(new Error(`leadership check took longer than ${this.#retryMs} ms`)),
        this.#retryMs,
      );
      query.then(
        (value) => {
          this.#clock.clearTimer(timer);
          resolve(value);
        },
        (error: unknown) => {
          this.#clock.clearTimer(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }
}
