/**
 * Circuit breakers for outbound dependencies, with their state kept in the store, so every
 * process on one store (several servers on PostgreSQL, processes sharing a SQLite file) sees one
 * state: once the dependency has failed enough, all of them stop calling it, and one probe
 * decides when it is back. Transitions: breaker-state.ts.
 *
 * Cost: a call through a closed breaker reads its row once; failures, and the first success
 * after one, write it in a transaction under its lock (so concurrent outcomes of several
 * processes are none of them lost). With `failureRate`, every call writes.
 */
import { CircuitOpenError } from '../core/wait-errors.js';
import { describeFailure, type FailureInfo } from '../core/message.js';
import { validateName } from '../core/names.js';
import { type BreakerEvent, eventsTopic } from '../engine/events-log.js';
import type { Spool } from '../engine/spool.js';
import type { SpoolTransaction } from '../engine/transaction.js';
import type { BreakerRecord, StoreWrites } from '../store/port.js';
import {
  admit,
  type BreakerOptions,
  type BreakerState,
  type BreakerStateName,
  closedState,
  type ResolvedBreakerOptions,
  resolveBreakerOptions,
  settle,
} from './breaker-state.js';

/** A breaker as the API shows it. */
export interface BreakerView {
  readonly name: string;
  readonly state: BreakerStateName;
  readonly consecutiveFailures: number;
  /** When it left closed (a failed probe that re-opens it keeps this time). */
  readonly openedAt: Date | null;
  /** When an open breaker lets its next probe through. */
  readonly openUntil: Date | null;
  /** Times it has opened. */
  readonly opened: number;
  readonly lastFailure: FailureInfo | null;
  readonly updatedAt: Date | null;
}

/** Counts of this process, for metrics. */
export interface BreakerCounters {
  calls: number;
  failures: number;
  rejected: number;
}

export class Breakers {
  readonly #options = new Map<string, ResolvedBreakerOptions>();
  readonly #breakers = new Map<string, CircuitBreaker>();

  constructor(readonly spool: Spool) {}

  /** Sets breaker `name`'s options in this process (each process that uses it defines it alike). */
  define(name: string, options: BreakerOptions = {}): CircuitBreaker {
    validateName('queue', name);
    this.#options.set(name, resolveBreakerOptions(name, options));
    this.#breakers.delete(name);
    return this.get(name);
  }

  /** Breaker `name`, with the options it was defined with (or the defaults). */
  get(name: string): CircuitBreaker {
    let breaker = this.#breakers.get(name);
    if (!breaker) {
      validateName('queue', name);
      breaker = new CircuitBreaker(this.spool, name, this.#options.get(name) ?? resolveBreakerOptions(name));
      this.#breakers.set(name, breaker);
    }
    return breaker;
  }

  /** This process's calls, failures and refusals, by breaker it has used. */
  counters(): { readonly name: string; readonly counters: BreakerCounters }[] {
    return [...this.#breakers.values()].map((breaker) => ({
      name: breaker.name,
      counters: breaker.counters,
    }));
  }

  /** Every breaker the store has seen, by name. */
  async list(): Promise<BreakerView[]> {
    return (await this.spool.store.listBreakers()).map(toView);
  }

  /** Closes breaker `name` now (an operator's reset), whatever its state. */
  async reset(name: string): Promise<BreakerView> {
    await this.spool.openEventsLog();
    await this.spool.transaction(async (tx) => {
      const locked = await tx.records.lockBreaker(name, JSON.stringify(closedState));
      const state = JSON.parse(locked.state) as BreakerState;
      const next = { ...closedState, opened: state.opened };
      await tx.records.saveBreaker(name, JSON.stringify(next));
      await recordTransition(tx, name, state, next, this.spool.clock.now(), true);
    });
    return this.get(name).view();
  }
}

const sharedBreakers = new WeakMap<Spool, Breakers>();

/**
 * The breakers of `spool` in this process — one set per Spool, so the jobs layer, workflows and
 * metrics see the same definitions and counters.
 */
export function breakersOf(spool: Spool): Breakers {
  let breakers = sharedBreakers.get(spool);
  if (!breakers) {
    breakers = new Breakers(spool);
    sharedBreakers.set(spool, breakers);
  }
  return breakers;
}

/** A change of state goes on the events log (the live stream), in the transaction that made it. */
async function recordTransition(
  tx: SpoolTransaction,
  name: string,
  from: BreakerState,
  to: BreakerState,
  at: number,
  reset = false,
): Promise<void> {
  if (from.state === to.state) return;
  const event: BreakerEvent = {
    event: `breaker.${to.state}`,
    breaker: name,
    from: from.state,
    at,
    consecutiveFailures: to.consecutiveFailures,
    openUntil: to.state === 'open' ? to.openUntil : null,
    lastFailure: to.lastFailure && { name: to.lastFailure.name, message: to.lastFailure.message },
    reset,
  };
  await tx.publishAfterCommit(eventsTopic, [{ body: event, partition: 0, key: name }]);
}

export class CircuitBreaker {
  /** This process's calls, failures and refusals through the breaker. */
  readonly counters: BreakerCounters = { calls: 0, failures: 0, rejected: 0 };

  constructor(
    private readonly spool: Spool,
    readonly name: string,
    readonly options: ResolvedBreakerOptions,
  ) {}

  /**
   * Calls `fn` unless the breaker is open: then throws `CircuitOpenError` (with `retryAfterMs`,
   * the time until a probe is let through) without calling it. The outcome is recorded; an error
   * `isFailure` does not count is passed through as a success of the dependency.
   */
  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const admitted = await this.#admit();
    this.counters.calls += 1;
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      const failed = this.options.isFailure(error);
      if (failed) this.counters.failures += 1;
      await this.#record(admitted, failed ? describeFailure(error) : null);
      throw error;
    }
    await this.#record(admitted, null);
    return result;
  }

  /** The breaker's shared state now. */
  async view(): Promise<BreakerView> {
    const record = await this.spool.store.getBreaker(this.name);
    return record
      ? toView(record)
      : toView({ name: this.name, state: JSON.stringify(closedState), updatedAt: 0 });
  }

  async #admit(): Promise<{ probe: boolean; seen: BreakerState }> {
    const now = this.spool.clock.now();
    const record = await this.spool.store.getBreaker(this.name);
    const seen = record ? (JSON.parse(record.state) as BreakerState) : closedState;
    if (admit(seen, this.options, now).kind === 'call') return { probe: false, seen };
    // Open or half-open: decide under the lock, so that one process lets the probe through.
    const decided = await this.#change((state) => {
      const admission = admit(state, this.options, this.spool.clock.now());
      return { next: admission.kind === 'probe' ? admission.next : null, result: admission };
    });
    if (decided.kind === 'refused') {
      this.counters.rejected += 1;
      throw new CircuitOpenError(this.name, decided.retryAfterMs);
    }
    return { probe: decided.kind === 'probe', seen };
  }

  async #record(
    admitted: { probe: boolean; seen: BreakerState },
    failure: FailureInfo | null,
  ): Promise<void> {
    const outcome = { failure, probe: admitted.probe };
    // Nothing to write, judged from what the admission read: most calls through a closed breaker.
    if (settle(admitted.seen, this.options, this.spool.clock.now(), outcome) === null && !admitted.probe)
      return;
    try {
      await this.#change((state) => ({
        next: settle(state, this.options, this.spool.clock.now(), outcome),
        result: null,
      }));
    } catch (error) {
      // The call's own outcome stands; a lost record only delays the breaker's reaction.
      this.spool.logger.warn(
        { breaker: this.name, err: error },
        'circuit breaker: recording an outcome failed',
      );
    }
  }

  async #change<R>(decide: (state: BreakerState) => { next: BreakerState | null; result: R }): Promise<R> {
    await this.spool.openEventsLog();
    return this.spool.transaction(async (tx) => {
      const writes: Pick<StoreWrites, 'lockBreaker' | 'saveBreaker'> = tx.records;
      const locked = await writes.lockBreaker(this.name, JSON.stringify(closedState));
      const state = JSON.parse(locked.state) as BreakerState;
      const { next, result } = decide(state);
      if (next) {
        await writes.saveBreaker(this.name, JSON.stringify(next));
        await recordTransition(tx, this.name, state, next, this.spool.clock.now());
      }
      return result;
    });
  }
}

function toView(record: BreakerRecord): BreakerView {
  const state = JSON.parse(record.state) as BreakerState;
  const date = (ms: number | null) => (ms === null ? null : new Date(ms));
  return {
    name: record.name,
    state: state.state,
    consecutiveFailures: state.consecutiveFailures,
    openedAt: date(state.openedAt),
    openUntil: date(state.openUntil),
    opened: state.opened,
    lastFailure: state.lastFailure,
    updatedAt: record.updatedAt === 0 ? null : new Date(record.updatedAt),
  };
}
