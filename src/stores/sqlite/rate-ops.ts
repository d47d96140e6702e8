/**
 * Token buckets of rate limits that hold across processes (`takeRateToken`): read, refilled and
 * written back in one write transaction, which SQLite runs one at a time.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import { takeToken, type TokenBucket } from '../../core/token-bucket.js';

export class RateOps {
  readonly #clock: Clock;
  readonly #bucket: Database.Statement<[string], { tokens: number; refilled_at: number }>;
  readonly #save: Database.Statement<[string, number, number]>;

  constructor(db: Database.Database, clock: Clock) {
    this.#clock = clock;
    this.#bucket = db.prepare('SELECT tokens, refilled_at FROM rate_buckets WHERE name = ?');
    this.#save = db.prepare(
      `INSERT INTO rate_buckets (name, tokens, refilled_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, refilled_at = excluded.refilled_at`,
    );
  }

  /** The bucket as kept (see `readRateBucket`), or null if it was never used. */
  read(name: string): TokenBucket | null {
    const row = this.#bucket.get(name);
    return row ? { tokens: row.tokens, refilledAt: row.refilled_at } : null;
  }

  take(name: string, limit: number, intervalMs: number): number {
    const taken = takeToken(this.read(name), limit, intervalMs, this.#clock.now());
    this.#save.run(name, taken.tokens, taken.refilledAt);
    return taken.waitMs;
  }
}
