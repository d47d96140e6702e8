/**
 * The event and ticket of every job a batch add creates, gathered and written at the end of its
 * transaction as one publish and one send per ticket queue: 1,000 jobs then cost three writes
 * besides their records instead of 2,000 (each write an await, a statement and its bookkeeping).
 * Order is kept: events in the order the jobs were created (a parent before its children), and
 * each queue's tickets likewise. Nothing is visible before the transaction commits either way.
 */
import type { OutgoingMessage } from '../engine/outgoing.js';
import type { SpoolTransaction } from '../engine/transaction.js';
import type { JobRecord } from '../store/port.js';
import type { JobTicket } from './job-attempts.js';
import type { JobEvents } from './job-events.js';

export class JobAddWrites {
  readonly #created: JobRecord[] = [];
  readonly #tickets = new Map<string, OutgoingMessage<JobTicket>[]>();

  constructor(
    private readonly tx: SpoolTransaction,
    private readonly events: JobEvents,
  ) {}

  /** A job was stored: its `job.<status>` event is due. */
  created(record: JobRecord): void {
    this.#created.push(record);
  }

  /** A stored job is runnable: its ticket is due on `queue`. */
  ticket(queue: string, ticket: OutgoingMessage<JobTicket>): void {
    const tickets = this.#tickets.get(queue);
    if (tickets) tickets.push(ticket);
    else this.#tickets.set(queue, [ticket]);
  }

  /** Writes what was gathered, through the transaction. */
  async flush(): Promise<void> {
    await this.events.recordMany(this.tx, this.#created.splice(0));
    for (const [queue, tickets] of this.#tickets) await this.tx.sendBatch(queue, tickets);
    this.#tickets.clear();
  }
}
