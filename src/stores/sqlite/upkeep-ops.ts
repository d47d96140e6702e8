/**
 * Idempotent-consumer markers and the periodic cleanup of what only matters for a while
 * (processed markers, expired dedup ids). Topic retention is in log-ops.ts.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';

export class UpkeepOps {
  readonly #clock: Clock;
  readonly #markProcessed: Database.Statement<[string, string, number]>;
  readonly #forgetProcessed: Database.Statement<[number]>;
  readonly #forgetDedupIds: Database.Statement<[number]>;

  constructor(db: Database.Database, clock: Clock) {
    this.#clock = clock;
    this.#markProcessed = db.prepare(
      'INSERT OR IGNORE INTO processed (consumer, message_id, processed_at) VALUES (?, ?, ?)',
    );
    this.#forgetProcessed = db.prepare('DELETE FROM processed WHERE processed_at < ?');
    // Expired rows are already ignored by enqueue; deleting them only reclaims space.
    this.#forgetDedupIds = db.prepare('DELETE FROM dedup WHERE expires_at <= ?');
  }

  /** True the first time `consumer` marks `messageId`, false after. */
  markProcessed(consumer: string, messageId: string): boolean {
    return this.#markProcessed.run(consumer, messageId, this.#clock.now()).changes === 1;
  }

  /** Forgets processed markers older than `processedRetentionMs` and expired dedup ids. */
  forgetExpired(processedRetentionMs: number): void {
    const now = this.#clock.now();
    this.#forgetProcessed.run(now - processedRetentionMs);
    this.#forgetDedupIds.run(now);
  }
}
