/**
 * Token buckets of rate limits that hold across processes (`takeRateToken`): read, refilled and
 * written back in one write transaction, which SQLite runs one at a time.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import { takeToken } from '../../core/token-bucket.js';

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

  take(name: string, limit: number, intervalMs: number): number {
    const row = this.#bucket.get(name);
    const taken = takeToken(
      row ? { tokens: row.tokens, refilledAt: row.refilled_at } : null,
      limit,
      intervalMs,
      this.#clock.now(),
    );
    this.#save.run(name, taken.tokens, taken.refilledAt);
    return taken.waitMs;
  }
}
