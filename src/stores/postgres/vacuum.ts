/**
 * Keeping claims cheap as history grows.
 *
 * A claim walks `messages_claimable` from the head of the queue. Every claim and settle leaves
 * the old row version's index entry behind (an UPDATE that changes indexed columns, then a
 * DELETE), and those entries sit exactly where the next claim starts. PostgreSQL marks them dead
 * as scans pass, but only VACUUM removes them, and new entries are always added at the tail, so
 * nothing else ever cleans the head pages. Measured here without vacuuming: after 40,000
 * messages a claim read 723 index pages instead of 7, and the claim rate halved.
 *
 * Autovacuum alone reacts too slowly for a queue (it looks once a minute per database and waits
 * for a fraction of the table to be dead), and some installations turn it off. So the store
 * runs `VACUUM (SKIP_LOCKED)` on the messages table itself after every `every` messages that
 * were claimed or purged through it: in the background, one at a time, never blocking writes
 * (VACUUM takes no lock that conflicts with them). With a large backlog a VACUUM also scans the
 * table's indexes, so `every` trades that cost against the slope of the claim cost; `null`
 * leaves the table to autovacuum (tune it per table then).
 */
import type { PostgresPool, SchemaNames } from './connection.js';

export class Vacuum {
  readonly #pool: PostgresPool;
  readonly #statement: string;
  readonly #every: number | null;
  #churned = 0;
  #running: Promise<void> | null = null;

  constructor(pool: PostgresPool, names: SchemaNames, every: number | null) {
    this.#pool = pool;
    this.#statement = `VACUUM (SKIP_LOCKED) ${names.messages}`;
    this.#every = every;
  }

  /** Counts messages claimed or purged; starts a VACUUM when enough have passed. */
  churned(messages: number): void {
    if (this.#every === null) return;
    this.#churned += messages;
    if (this.#churned < this.#every || this.#running) return;
    this.#churned = 0;
    this.#running = this.#pool
      .query(this.#statement)
      // Best effort: a VACUUM that fails (no privilege, server restarting) only means claims
      // stay slower until the next one or until autovacuum gets there.
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        this.#running = null;
      });
  }

  /** Resolves when the VACUUM in progress, if any, has finished. */
  async close(): Promise<void> {
    await this.#running;
  }
}
