/**
 * Group commit for the hottest operations, the PostgreSQL way: concurrent calls of the same kind
 * on the same key (a send to one queue, a claim on one queue with one lease time, an ack on one
 * queue) are run as ONE set-based statement, so they share one round trip, one plan execution
 * and one commit. Unlike SQLite's batcher there are no savepoints and no long transactions:
 * every batch is a single autocommit statement.
 *
 * States of one key's lane: idle → running (up to `maxInFlight` statements in flight) → while
 * all are in flight, new calls wait in `pending` and the next statement to start takes all of
 * them (up to `maxBatch`). A lone call therefore runs at once, alone, with no added latency;
 * batches only form under load, and grow with it.
 *
 * A batch statement fails as a whole; then every call of the batch is run again on its own, so
 * that one bad input (a payload the column rejects) fails only its own call.
 */

import type { CommitMeter } from './commit-meter.js';

/** What one call of a batch gets back. */
export type Outcome<O> =
  { readonly ok: true; readonly value: O } | { readonly ok: false; readonly error: unknown };

/** Runs one batch: `inputs` in arrival order, one outcome each, in the same order. */
export type BatchRunner<I, O> = (key: string, inputs: readonly I[]) => Promise<Outcome<O>[]>;

/** The settings every coalescer of the store uses. */
export const coalescing = Object.freeze({ maxInFlight: 4, maxBatch: 256 });

/** The value of a successful outcome; throws the error of a failed one. */
export function unwrap<O>(outcome: Outcome<O>): O {
  if (outcome.ok) return outcome.value;
  throw outcome.error;
}

interface Waiting<I, O> {
  readonly input: I;
  readonly resolve: (value: O) => void;
  readonly reject: (error: unknown) => void;
}

interface Lane<I, O> {
  readonly pending: Waiting<I, O>[];
  inFlight: number;
}

export class Coalescer<I, O> {
  readonly #run: BatchRunner<I, O>;
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  readonly #lanes = new Map<string, Lane<I, O>>();
  readonly #meter: CommitMeter | null;

  /**
   * @param maxInFlight - statements one key may have running at once
   * @param maxBatch - calls one statement carries at most
   */
  constructor(
    run: BatchRunner<I, O>,
    options: { maxInFlight: number; maxBatch: number; meter?: CommitMeter },
  ) {
    this.#run = run;
    this.#meter = options.meter ?? null;
    this.#maxInFlight = options.maxInFlight;
    this.#maxBatch = options.maxBatch;
  }

  submit(key: string, input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let lane = this.#lanes.get(key);
      if (!lane) {
        lane = { pending: [], inFlight: 0 };
        this.#lanes.set(key, lane);
      }
      lane.pending.push({ input, resolve, reject });
      this.#pump(key, lane);
    });
  }

  #pump(key: string, lane: Lane<I, O>): void {
    while (lane.inFlight < this.#maxInFlight && lane.pending.length > 0) {
      const batch = lane.pending.splice(0, this.#maxBatch);
      lane.inFlight++;
      void this.#flush(key, batch).finally(() => {
        lane.inFlight--;
        this.#pump(key, lane);
        if (lane.inFlight === 0 && lane.pending.length === 0) this.#lanes.delete(key);
      });
    }
  }

  async #flush(key: string, batch: readonly Waiting<I, O>[]): Promise<void> {
    let outcomes: Outcome<O>[];
    try {
      const inputs = batch.map((waiting) => waiting.input);
      // Each batch is one autocommit statement: one commit carrying the whole batch.
      outcomes = await (this.#meter
        ? this.#meter.time(batch.length, () => this.#run(key, inputs))
        : this.#run(key, inputs));
    } catch (error) {
      if (batch.length > 1) {
        await Promise.all(batch.map((waiting) => this.#flush(key, [waiting])));
        return;
      }
      outcomes = [{ ok: false, error }];
    }
    // Every waiter is settled, even if the runner broke its contract: a call left pending would
    // keep close() waiting forever.
    batch.forEach((waiting, index) => {
      const outcome = outcomes[index] ?? {
        ok: false,
        error: new Error('coalescer: the batch gave no outcome'),
      };
      if (outcome.ok) waiting.resolve(outcome.value);
      else waiting.reject(outcome.error);
    });
  }
}
