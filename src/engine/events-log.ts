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

export class EventsLog {
  #ready: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly topicSignals: WakeSignals,
  ) {}

  /** Creates the topic if needed. */
  open(): Promise<void> {
    this.#ready ??= this.store
      .saveTopic(resolveTopicConfig(eventsTopic, { partitions: 1, retentionMs: 86_400_000 }))
      .then(() => undefined);
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
