/**
 * The events log: one topic, `spool.events` (one partition, kept a day), where operator-visible
 * changes are recorded — queue events from the engine, job events from the jobs layer — so that
 * live streams (SSE) and webhook subscriptions read one ordered log and resume by offset.
 *
 * Queue events describe operations that already committed (a dead-lettering, a redrive, a purge)
 * and are appended right after them: a crash in between loses that event, never the operation.
 * A message the store dead-letters on its own (its lease expired on the last attempt) has no event.
 */
import { resolveTopicConfig } from '../core/options.js';
import { newId } from '../core/ids.js';
import type { Store } from '../store/port.js';
import type { WakeSignals } from './wake-signal.js';

export const eventsTopic = 'spool.events';

/** A queue change an operator wants to see live. */
export interface QueueEvent {
  readonly event: 'queue.dead-lettered' | 'queue.redriven' | 'queue.purged' | 'queue.dead-letters-purged';
  readonly queue: string;
  /** The message concerned, when the event is about one message and its id is known. */
  readonly messageId: string | null;
  /** How many messages the operation concerned. */
  readonly count: number;
  /** When it happened (ms since epoch). */
  readonly at: number;
  /** Why a message was dead-lettered. */
  readonly error: { readonly name: string; readonly message: string } | null;
}

/**
 * An alert starting or stopping to fire (recorded by the alert evaluator, see
 * src/observability/alerts-evaluator.ts), so live streams and webhook subscriptions see it.
 */
export interface AlertEvent {
  readonly event: 'alert.firing' | 'alert.resolved';
  /** The queue the alert is about, if any: `GET /v1/events?queue=` streams include its alerts. */
  readonly queue: string | null;
  /** When the transition was observed (ms since epoch). */
  readonly at: number;
  /** The alert as `GET /v1/alerts` shows it; on resolution, with the value that cleared it. */
  readonly alert: {
    readonly id: string;
    readonly rule: string;
    readonly kind: string;
    readonly target: {
      readonly queue?: string;
      readonly topic?: string;
      readonly group?: string;
      readonly breaker?: string;
    };
    readonly threshold: number;
    readonly value: number;
    readonly since: string;
    readonly message: string;
  };
}

/**
 * A circuit breaker changed state (src/breakers): `breaker.open` (calls are refused),
 * `breaker.half-open` (a probe is let through), `breaker.closed` (calls flow again; also an
 * operator's reset). Recorded in the transaction that changed the shared state.
 */
export interface BreakerEvent {
  readonly event: 'breaker.open' | 'breaker.half-open' | 'breaker.closed';
  readonly breaker: string;
  /** The state it left. */
  readonly from: 'closed' | 'open' | 'half-open';
  /** When it happened (ms since epoch). */
  readonly at: number;
  readonly consecutiveFailures: number;
  /** An open breaker: when it lets a probe through (ms since epoch). */
  readonly openUntil: number | null;
  /** The failure that opened it, or the last one. */
  readonly lastFailure: { readonly name: string; readonly message: string } | null;
  /** Closed by an operator (`reset`), not by a probe. */
  readonly reset: boolean;
}

export class EventsLog {
  #ready: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly topicSignals: WakeSignals,
  ) {}

  /** Creates the topic if needed (once; a failed attempt is tried again at the next call). */
  open(): Promise<void> {
    this.#ready ??= this.store
      .saveTopic(resolveTopicConfig(eventsTopic, { partitions: 1, retentionMs: 86_400_000 }))
      .then(
        () => undefined,
        (error: unknown) => {
          this.#ready = undefined;
          throw error;
        },
      );
    return this.#ready;
  }

  /** Appends a queue event. Failures are reported, not thrown: the operation itself committed. */
  async record(event: QueueEvent): Promise<void> {
    try {
      await this.open();
      await this.store.append(eventsTopic, [
        { id: newId(), partition: 0, payload: JSON.stringify(event), headers: {}, key: event.queue },
      ]);
      this.topicSignals.for(eventsTopic).notify();
    } catch (error) {
      console.error(`spool: could not record ${event.event} of queue "${event.queue}":`, error);
    }
  }
}
