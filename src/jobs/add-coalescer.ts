/**
 * Adds made at the same time, outside any transaction of the caller, written together: every
 * add called in one turn of the event loop joins one store transaction, with the events and
 * tickets of all its jobs written as one publish and one send per ticket queue (as a batch add
 * does, job-add-writes.ts). Fifty producers adding one job each then cost the store one
 * transaction with fifty inserts and two more writes, instead of fifty transactions of three
 * writes each — the per-transaction and per-write costs were most of a single add's.
 *
 * Each add keeps its own outcome: a group is all-or-nothing in the store, so when its transaction
 * fails, every add of the group runs again alone, in a transaction of its own, and gets its own
 * result or error. Nothing of a failed group was committed, so nothing is added twice.
 */
import type { Spool } from '../engine/spool.js';
import type { SpoolTransaction } from '../engine/transaction.js';
import { transitionTransaction } from './job-attempts.js';
import { JobAddWrites } from './job-add-writes.js';
import type { JobEvents } from './job-events.js';

/** One add's writes: `writes` gathers its event and ticket for the group's single write. */
export type AddWork<T> = (tx: SpoolTransaction, writes: JobAddWrites) => Promise<T>;

interface PendingAdd {
  readonly work: AddWork<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The most adds one transaction carries: beyond it a burst is split, so one transaction neither
 * holds the store for long nor makes an add wait for a thousand others.
 */
const maxGroupSize = 500;

export class AddCoalescer {
  #pending: PendingAdd[] = [];
  #scheduled = false;
  /** Group writes running now; they settle their adds themselves and never reject. */
  readonly #writing = new Set<Promise<void>>();

  constructor(
    private readonly spool: Spool,
    private readonly events: JobEvents,
  ) {}

  /** Runs `work` in the transaction of the adds called in this turn; resolves once it commits. */
  add<T>(work: AddWork<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.#schedule();
    });
  }

  /** Writes what is pending now and resolves once every add handed in so far has settled. */
  async settled(): Promise<void> {
    while (this.#pending.length > 0 || this.#writing.size > 0) {
      this.#flush();
      await Promise.all(this.#writing);
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#pending.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#pending.length > 0) {
      const writing = this.#write(this.#pending.splice(0, maxGroupSize));
      this.#writing.add(writing);
      void writing.finally(() => this.#writing.delete(writing));
    }
  }

  async #write(group: readonly PendingAdd[]): Promise<void> {
    let results: unknown[];
    try {
      results = await this.#inOneTransaction(group);
    } catch (error) {
      if (group.length === 1) {
        group[0]!.reject(error);
        return;
      }
      // Which add failed is unknown, and the others must not fail with it: each runs alone.
      await Promise.all(
        group.map((add) => this.#inOneTransaction([add]).then(([value]) => add.resolve(value), add.reject)),
      );
      return;
    }
    group.forEach((add, index) => add.resolve(results[index]));
  }

  #inOneTransaction(group: readonly PendingAdd[]): Promise<unknown[]> {
    return this.spool.transaction(async (tx) => {
      const writes = new JobAddWrites(tx, this.events);
      const results: unknown[] = [];
      for (const add of group) results.push(await add.work(tx, writes));
      await writes.flush();
      return results;
    }, transitionTransaction);
  }
}
