/**
 * Settlement counts per queue for failure-rate alerts: an instrumentation sink (see
 * src/engine/instrumentation.ts) that counts acks, retries and dead-letterings made through this
 * process's engine — `process()` consumers, and receipts settled over HTTP alike.
 *
 * Counts are cumulative since the sink was attached; the evaluator turns them into a rate over
 * its window. Messages the store dead-letters on its own (a lease expiring on the last attempt)
 * and settlements made by other processes sharing the store are not seen: on a shared
 * PostgreSQL store, each server's failure rate covers the consumers it serves.
 */
import type { Instrumentation } from '../engine/instrumentation.js';

/** Cumulative settlements of one queue. */
export interface SettlementCounts {
  readonly acked: number;
  readonly retried: number;
  readonly deadLettered: number;
}

/** Where failure-rate rules read settlement counts from. */
export interface SettlementSource {
  /** Cumulative counts for `queue`; zeros for a queue nothing was settled on. */
  settlements(queue: string): SettlementCounts;
}

interface MutableCounts {
  acked: number;
  retried: number;
  deadLettered: number;
}

const none: SettlementCounts = Object.freeze({ acked: 0, retried: 0, deadLettered: 0 });

/** Counts settlements per queue as the engine reports them. Attach with `spool.instrument(counter)`. */
export class SettlementCounter implements Instrumentation, SettlementSource {
  readonly #byQueue = new Map<string, MutableCounts>();

  messageAcked(queue: string): void {
    this.#counts(queue).acked++;
  }

  messageRetried(queue: string): void {
    this.#counts(queue).retried++;
  }

  messageDeadLettered(queue: string): void {
    this.#counts(queue).deadLettered++;
  }

  settlements(queue: string): SettlementCounts {
    const counts = this.#byQueue.get(queue);
    return counts ? { ...counts } : none;
  }

  #counts(queue: string): MutableCounts {
    let counts = this.#byQueue.get(queue);
    if (!counts) {
      counts = { acked: 0, retried: 0, deadLettered: 0 };
      this.#byQueue.set(queue, counts);
    }
    return counts;
  }
}
