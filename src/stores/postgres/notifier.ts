/**
 * Wake-ups across processes with LISTEN/NOTIFY.
 *
 * Senders. Every write that can make work available (enqueue, redrive, release, a settle that
 * hands a key's head on, append) notifies the schema's channel (`spool_<schema>`) with
 * `<kind>:<name>`, never before the write is committed:
 *
 * - Inside a caller's own transaction (the outbox) the write runs `pg_notify` in that
 *   transaction: PostgreSQL delivers it when, and only if, the caller commits.
 * - For writes the store commits itself, the notification is sent right AFTER the commit, and
 *   coalesced: {@link Notifier.announce} queues the payload, and one `pg_notify` statement at a
 *   time carries everything queued meanwhile. Notifying inside each write's transaction would
 *   be simpler, but PostgreSQL serialises the commits of all transactions that notified behind
 *   one cluster-wide lock (so that notifications are queued in commit order); measured here, a
 *   `pg_notify` in every send took a third off the send rate. The cost of announcing after the
 *   fact: if the process dies between a commit and its announcement, that one wake-up is lost.
 *
 * Listeners. {@link Notifier} holds ONE connection per store that LISTENs while at least one
 * listener is subscribed, and fans notifications out as {@link StoreNotice}s. If that
 * connection is lost it is re-established with backoff, and listeners then get a `resync`
 * notice: notifications sent while nobody listened are lost, so they should look for work as
 * if woken for everything. Notifications are a latency optimisation, never the only path to a
 * message: consumers keep a slow fallback poll, which also covers a lost announcement.
 *
 * The listening connection is checked out of the store's pool for as long as anybody listens;
 * with a pool the caller passed in, that is one of the caller's connections.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { ClosedError } from '../../core/errors.js';
import { type PostgresPool, type PostgresPoolClient, quoteIdentifier } from './connection.js';
import type { StoreNotice } from '../../store/port.js';

/** What a notification says (the port's type): which queue or topic may have new work, or `resync`. */
export type { StoreNotice } from '../../store/port.js';

/** Receives notices; it runs on the listening connection's I/O callback, so keep it short. */
export type NoticeListener = (notice: StoreNotice) => void;

/** What a notification is about. */
export type NoticeKind = 'queue' | 'topic';

/** The payload `pg_notify` sends for a queue or topic; parsed back by {@link parseNotice}. */
export function noticePayload(kind: NoticeKind, name: string): string {
  return `${kind}:${name}`;
}

/** The notice a payload stands for; null for a payload that is not Spool's. */
function parseNotice(payload: string | undefined): StoreNotice | null {
  const colon = payload?.indexOf(':') ?? -1;
  if (payload === undefined || colon < 0) return null;
  const kind = payload.slice(0, colon);
  const name = payload.slice(colon + 1);
  return kind === 'queue' || kind === 'topic' ? { kind, name } : null;
}

const firstRetryDelayMs = 500;
const maxRetryDelayMs = 30_000;

export class Notifier {
  readonly #pool: PostgresPool;
  readonly #channel: string;
  readonly #clock: Clock;
  readonly #listeners = new Set<NoticeListener>();
  #client: PostgresPoolClient | null = null;
  #connecting: Promise<void> | null = null;
  #retry: TimerHandle | null = null;
  #retryDelayMs = firstRetryDelayMs;
  #closed = false;
  /** Payloads announced and not sent yet; one flush at a time sends them. */
  readonly #announced = new Set<string>();
  #flushing: Promise<void> | null = null;

  constructor(pool: PostgresPool, channel: string, clock: Clock) {
    this.#pool = pool;
    this.#channel = channel;
    this.#clock = clock;
  }

  /**
   * Adds a listener; resolves once the LISTEN is in place, so every notification committed
   * after that reaches it. Resolves with a function that removes the listener; the connection
   * is given back when the last one is removed.
   */
  async subscribe(listener: NoticeListener): Promise<() => void> {
    if (this.#closed) throw new ClosedError('postgres store');
    this.#listeners.add(listener);
    try {
      await this.#listen();
    } catch (error) {
      this.#listeners.delete(listener);
      throw error;
    }
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      this.#disconnect();
    };
  }

  /**
   * Notifies listeners in every process about a change that is already committed. Returns at
   * once; the notification goes out with the next flush (see the header).
   */
  announce(payload: string): void {
    if (this.#closed) return;
    this.#announced.add(payload);
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = null;
    });
  }

  /** Sends what was announced, then stops listening for good and gives the connection back. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#flushing;
    this.#listeners.clear();
    this.#disconnect();
    await this.#connecting?.catch(() => {});
  }

  async #flush(): Promise<void> {
    while (this.#announced.size > 0) {
      const payloads = [...this.#announced];
      this.#announced.clear();
      try {
        await this.#pool.query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [
          this.#channel,
          payloads,
        ]);
      } catch {
        // A lost wake-up only delays consumers until their fallback poll; the write itself is
        // committed, so its caller must not see an error for it.
      }
    }
  }

  #listen(): Promise<void> {
    if (this.#client) return Promise.resolve();
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const client = await this.#pool.connect();
    client.on('notification', (message) => {
      if (message.channel !== this.#channel) return;
      const notice = parseNotice(message.payload);
      if (notice) this.#emit(notice);
    });
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    try {
      await client.query(`LISTEN ${quoteIdentifier(this.#channel)}`);
    } catch (error) {
      client.release(true);
      throw error;
    }
    this.#client = client;
    this.#retryDelayMs = firstRetryDelayMs;
    // Everybody unsubscribed (or the store closed) while the LISTEN was on its way.
    if (this.#closed || this.#listeners.size === 0) this.#disconnect();
  }

  #emit(notice: StoreNotice): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(notice);
      } catch {
        // A failing listener must not take the listening connection down with it.
      }
    }
  }

  /** The listening connection failed: drop it and, while anybody listens, connect again. */
  #lost(client: PostgresPoolClient): void {
    if (this.#client !== client) return;
    this.#client = null;
    client.release(true);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#listeners.size === 0 || this.#retry) return;
    this.#retry = this.#clock.setTimer(() => {
      this.#retry = null;
      this.#listen().then(
        () => this.#emit({ kind: 'resync' }),
        () => {
          this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, maxRetryDelayMs);
          this.#scheduleReconnect();
        },
      );
    }, this.#retryDelayMs);
  }

  #disconnect(): void {
    if (this.#retry) this.#clock.clearTimer(this.#retry);
    this.#retry = null;
    const client = this.#client;
    this.#client = null;
    // Closing the connection ends its LISTEN; a pooled connection that kept it would go on
    // receiving notifications for whoever checks it out next.
    client?.release(true);
  }
}
