/**
 * Token buckets of rate limits that hold across processes (`takeRateToken`). A take locks its
 * bucket's row (an upsert that returns the row as it was), refills and writes it back, in a
 * transaction that does not wait for its WAL flush: a take lost to a crash only lets one more
 * call through, and the row lock is then held for microseconds instead of a disk sync, so takes
 * of one busy bucket do not queue behind each other's commits.
 */
import type { Clock } from '../../core/clock.js';
import { takeToken, type TokenBucket } from '../../core/token-bucket.js';
import type { SchemaNames } from './connection.js';
import type { Sql } from './sql.js';

export class RateOps {
  readonly #clock: Clock;
  readonly #sql: { lock: string; save: string; read: string };

  constructor(names: SchemaNames, clock: Clock) {
    this.#clock = clock;
    const { rateBuckets } = names;
    this.#sql = {
      // A no-op update on conflict: it locks the existing row and returns it unchanged.
      lock: `
        INSERT INTO ${rateBuckets} AS b (name, tokens, refilled_at) VALUES ($1, $2, -1)
        ON CONFLICT (name) DO UPDATE SET name = b.name
        RETURNING tokens, refilled_at`,
      save: `UPDATE ${rateBuckets} SET tokens = $2, refilled_at = $3 WHERE name = $1`,
      read: `SELECT tokens, refilled_at FROM ${rateBuckets} WHERE name = $1`,
    };
  }

  /** The bucket as kept (see `readRateBucket`), or null if it was never used. */
  async read(sql: Sql, name: string): Promise<TokenBucket | null> {
    const [row] = await sql.rows<{ tokens: number; refilled_at: string | number }>(this.#sql.read, [name]);
    const refilledAt = Number(row?.refilled_at ?? -1);
    // No row, or (never committed, but read as the take does) one just made: full.
    return row && refilledAt >= 0 ? { tokens: Number(row.tokens), refilledAt } : null;
  }

  take(sql: Sql, name: string, limit: number, intervalMs: number): Promise<number> {
    return sql.atomic(async (tx) => {
      await tx.rows('SET LOCAL synchronous_commit TO OFF');
      const [row] = await tx.rows<{ tokens: number; refilled_at: string | number }>(this.#sql.lock, [
        name,
        limit,
      ]);
      const refilledAt = Number(row!.refilled_at);
      // refilled_at -1: the row was just made, full.
      const bucket = refilledAt < 0 ? null : { tokens: Number(row!.tokens), refilledAt };
      const taken = takeToken(bucket, limit, intervalMs, this.#clock.now());
      await tx.count(this.#sql.save, [name, taken.tokens, taken.refilledAt]);
      return taken.waitMs;
    });
  }
}
