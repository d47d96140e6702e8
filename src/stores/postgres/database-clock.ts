/**
 * The database's clock, read locally: the default time source of a PostgreSQL store, so that
 * leases, delays, dedup windows, group sessions and schedule slots are all measured on ONE
 * timeline — the database server's — however far the clocks of the machines running Spool
 * drift apart.
 *
 * Why an offset and not `now()` in every statement: the engine needs the same time outside SQL
 * (the expiry a consumer is told, the timer armed for `nextDeliveryAt`, a schedule's next slot,
 * a job's `runAt`). If statements compared against the server's `now()` while the engine armed
 * timers from the local clock, a machine whose clock is a second fast would wake a second early,
 * find nothing and compute every delay on a different timeline from the one that enforces it.
 * Reading the server's clock once and carrying it forward locally gives the SQL and the engine
 * the same numbers, keeps time an injected dependency (the conformance suite drives the store
 * with a test clock), and costs nothing per statement.
 *
 * How: a sample is `clock_timestamp()` on the server bracketed by two readings of the local
 * monotonic clock (`performance.now()`); the server's reading is placed at the midpoint of the
 * round trip, so its error is at most half of it (a fraction of a millisecond on a LAN). The
 * best of a few samples (the shortest round trip) becomes the anchor, and `now()` is the
 * anchor's server time plus the monotonic time elapsed since — the local wall clock is never
 * read, so an NTP step on this machine changes nothing. The anchor is re-measured periodically
 * to cancel the (parts-per-million) rate error of the local oscillator; `now()` never moves
 * backwards across a re-measure. A failed re-measure keeps the previous anchor.
 */
import { performance } from 'node:perf_hooks';
import { type Clock, type TimerHandle, systemClock } from '../../core/clock.js';
import type { PostgresQueryable } from './connection.js';

/** One reading of the server clock and where it sits on the local monotonic clock. */
interface Anchor {
  /** Server time (ms since epoch) at `localMs`. */
  readonly serverMs: number;
  /** `performance.now()` at the midpoint of the round trip. */
  readonly localMs: number;
  /** Half the round trip: the most the anchor can be off. */
  readonly uncertaintyMs: number;
}

export interface DatabaseClockOptions {
  /** Samples per measurement; the one with the shortest round trip wins. @defaultValue 5 */
  samples?: number;
  /** How often the anchor is measured again; null never. @defaultValue 60000 */
  refreshMs?: number | null;
}

export class DatabaseClock implements Clock {
  readonly #db: PostgresQueryable;
  readonly #samples: number;
  readonly #refreshMs: number | null;
  #anchor: Anchor;
  #last = 0;
  #refresh: TimerHandle | null = null;
  #stopped = false;

  private constructor(db: PostgresQueryable, anchor: Anchor, options: Required<DatabaseClockOptions>) {
    this.#db = db;
    this.#anchor = anchor;
    this.#samples = options.samples;
    this.#refreshMs = options.refreshMs;
    this.#scheduleRefresh();
  }

  /** Measures the server's clock through `db` and returns a clock that follows it. */
  static async start(db: PostgresQueryable, options: DatabaseClockOptions = {}): Promise<DatabaseClock> {
    const resolved = { samples: options.samples ?? 5, refreshMs: options.refreshMs ?? 60_000 };
    return new DatabaseClock(db, await measure(db, resolved.samples), resolved);
  }

  now(): number {
    const { serverMs, localMs } = this.#anchor;
    // Whole milliseconds, like Date.now(): the stores keep times as integers.
    this.#last = Math.max(this.#last, Math.floor(serverMs + (performance.now() - localMs)));
    return this.#last;
  }

  /** How far this clock may be from the server's: half the round trip of its anchor sample. */
  get uncertaintyMs(): number {
    return this.#anchor.uncertaintyMs;
  }

  /** The server's clock minus this machine's wall clock, for diagnostics (skew between machines). */
  get offsetMs(): number {
    // eslint-disable-next-line no-restricted-properties -- the machine's own wall clock is what this compares with
    return this.now() - Date.now();
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    return systemClock.setTimer(callback, delayMs);
  }

  clearTimer(handle: TimerHandle): void {
    systemClock.clearTimer(handle);
  }

  /** Measures the anchor again now; on failure the previous one stays. */
  async resync(): Promise<void> {
    this.#anchor = await measure(this.#db, this.#samples);
  }

  /** Stops re-measuring (the clock keeps running on its last anchor). */
  stop(): void {
    this.#stopped = true;
    if (this.#refresh) systemClock.clearTimer(this.#refresh);
    this.#refresh = null;
  }

  #scheduleRefresh(): void {
    if (this.#stopped || this.#refreshMs === null) return;
    this.#refresh = systemClock.setTimer(() => {
      this.resync()
        .catch(() => {
          // The database is unreachable: the last anchor keeps time, and nothing that needs the
          // database works anyway until it is back.
        })
        .finally(() => this.#scheduleRefresh());
    }, this.#refreshMs);
  }
}

/** The sample with the shortest round trip out of `samples`. */
async function measure(db: PostgresQueryable, samples: number): Promise<Anchor> {
  let best: Anchor | null = null;
  for (let i = 0; i < Math.max(1, samples); i++) {
    const sent = performance.now();
    const result = await db.query('SELECT extract(epoch FROM clock_timestamp()) * 1000 AS ms');
    const received = performance.now();
    const row = result.rows[0] as { ms: string | number } | undefined;
    const serverMs = Number(row?.ms);
    if (!Number.isFinite(serverMs)) throw new Error('postgres store: cannot read the server clock');
    const sample = { serverMs, localMs: (sent + received) / 2, uncertaintyMs: (received - sent) / 2 };
    if (!best || sample.uncertaintyMs < best.uncertaintyMs) best = sample;
  }
  return best!;
}
