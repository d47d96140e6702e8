/**
 * Atomic consume-and-produce. A {@link SpoolTransaction} collects sends, publishes, acks, offset
 * commits and processed-markers that the store commits together or not at all; consumers are
 * woken only after the commit, so nobody sees a write that might still roll back.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { bindActiveContext, traceHeadersToContinue } from '../telemetry/tracing.js';
import type { EnqueueResult, StoreWrites, TransactionOptions } from '../store/port.js';
import type { EngineContext } from './context.js';
import {
  toEnqueueMessage,
  type OutgoingEvent,
  type OutgoingMessage,
  type PublishOptions,
  type SendOptions,
} from './outgoing.js';
import type { Message } from './received-message.js';
import type { PublishResult } from './topic-event.js';

export class SpoolTransaction {
  readonly #touchedQueues = new Set<string>();
  readonly #touchedTopics = new Set<string>();
  /** Stored sends and acks per queue, reported to the instrumentation once committed. */
  #sent: Map<string, number> | undefined;
  #acked: Pick<Message, 'queue' | 'receipt'>[] | undefined;

  constructor(
    private readonly context: EngineContext,
    private readonly writes: StoreWrites,
  ) {}

  /**
   * The store writes of this transaction, for layers built on the engine (the jobs layer keeps
   * its records with them). Queues and topics written through here are not woken: use
   * {@link SpoolTransaction.send} and {@link SpoolTransaction.publish} for those.
   */
  get records(): Pick<
    StoreWrites,
    | 'insertJob'
    | 'updateJob'
    | 'lockJob'
    | 'takeJobSlot'
    | 'lockJobGate'
    | 'saveJobGate'
    | 'saveSchedule'
    | 'advanceSchedule'
    | 'saveWorkflowStep'
    | 'workflowSteps'
    | 'addWorkflowEvent'
    | 'workflowEvents'
    | 'lockBreaker'
    | 'saveBreaker'
  > {
    return this.writes;
  }

  /** Sends a message to `queue` as part of the transaction. */
  async send(queue: string, body: unknown, options: SendOptions = {}): Promise<EnqueueResult> {
    const [result] = await this.sendBatch(queue, [{ ...options, body }]);
    return result!;
  }

  async sendBatch(queue: string, messages: readonly OutgoingMessage<unknown>[]): Promise<EnqueueResult[]> {
    const now = this.context.clock.now();
    // No span of its own: the messages carry the context of the code sending them (a handler's).
    const traceHeaders = traceHeadersToContinue();
    const items = messages.map((message) => toEnqueueMessage(message.body, message, now, traceHeaders));
    const results = await this.writes.enqueue(queue, items);
    this.#touchedQueues.add(queue);
    const stored = results.filter((result) => !result.duplicate).length;
    if (stored > 0) (this.#sent ??= new Map()).set(queue, (this.#sent.get(queue) ?? 0) + stored);
    return results;
  }

  /** Publishes an event to `topic` as part of the transaction. */
  async publish(topic: string, body: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const [result] = await this.publishBatch(topic, [{ ...options, body }]);
    return result!;
  }

  async publishBatch(topic: string, events: readonly OutgoingEvent<unknown>[]): Promise<PublishResult[]> {
    // Read through the transaction: a second connection from in here can exhaust a pool.
    const partitioner = await this.context.partitionerFor(topic, undefined, this.writes);
    const traceHeaders = traceHeadersToContinue();
    const items = events.map((event) => partitioner.toAppendEvent(event.body, event, traceHeaders));
    const results = await this.writes.append(topic, items);
    this.#touchedTopics.add(topic);
    return results.map((result) => ({ ...result, timestamp: new Date(result.timestamp) }));
  }

  /**
   * Publishes events that commit with the transaction but take their place in the log right
   * after the commit (see `StoreWrites.appendAfterCommit`): for a hot partition many
   * transactions publish to, such as Spool's events log. They are in the log when the
   * transaction resolves; their offsets are not returned.
   */
  async publishAfterCommit(topic: string, events: readonly OutgoingEvent<unknown>[]): Promise<void> {
    const partitioner = await this.context.partitionerFor(topic, undefined, this.writes);
    const traceHeaders = traceHeadersToContinue();
    const items = events.map((event) => partitioner.toAppendEvent(event.body, event, traceHeaders));
    await this.writes.appendAfterCommit(topic, items);
    this.#touchedTopics.add(topic);
  }

  /** Acks a received message as part of the transaction. */
  async ack(message: Pick<Message, 'queue' | 'receipt'>): Promise<void> {
    await this.writes.ack(message.queue, message.receipt);
    // Settling may unblock the next message of a key: wake that queue's consumers after commit.
    this.#touchedQueues.add(message.queue);
    (this.#acked ??= []).push(message);
  }

  /** Records that `consumer` processed `messageId`; false if it had been recorded before. */
  markProcessed(consumer: string, messageId: string): Promise<boolean> {
    return this.writes.markProcessed(consumer, messageId);
  }

  /** @internal Used by subscriptions to commit a group offset with the work. */
  commitOffset(
    topic: string,
    group: string,
    memberId: string,
    partition: number,
    offset: number,
  ): Promise<void> {
    return this.writes.commitOffset(topic, group, memberId, partition, offset);
  }

  /** @internal Wakes the consumers of what this transaction wrote; called after commit. */
  notifyCommitted(): void {
    for (const queue of this.#touchedQueues) this.context.queueSignals.for(queue).notify();
    for (const topic of this.#touchedTopics) this.context.topicSignals.for(topic).notify();
    const { instrumentation, clock } = this.context;
    for (const [queue, count] of this.#sent ?? []) instrumentation.messagesSent(queue, count);
    for (const message of this.#acked ?? []) {
      // A received Message knows when it was first sent; a bare receipt does not.
      const enqueuedAt =
        'enqueuedAt' in message && message.enqueuedAt instanceof Date ? message.enqueuedAt : null;
      instrumentation.messageAcked(
        message.queue,
        enqueuedAt ? Math.max(0, clock.now() - enqueuedAt.getTime()) / 1000 : undefined,
      );
    }
  }
}

/** The transaction whose `work` is running, for layers that join it (see {@link currentTransaction}). */
const running = new AsyncLocalStorage<{ readonly tx: SpoolTransaction; ended: boolean }>();

/**
 * The transaction whose `work` the caller runs in, if any: a layer on the engine (`jobs.add`)
 * joins it instead of committing on its own while the work around it may still roll back.
 */
export function currentTransaction(): SpoolTransaction | undefined {
  const scope = running.getStore();
  return scope && !scope.ended ? scope.tx : undefined;
}

/** What {@link joinTransaction} needs of a Spool. */
interface TransactionRunner {
  transaction<T>(work: (tx: SpoolTransaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

/**
 * Runs `work` in the caller's transaction when there is one (see {@link currentTransaction}),
 * else in a new transaction of `spool` with `options`: for a layer's writes that must commit
 * with the work around them, or on their own when called outside one.
 */
export function joinTransaction<T>(
  spool: TransactionRunner,
  work: (tx: SpoolTransaction) => Promise<T>,
  options?: TransactionOptions,
): Promise<T> {
  const joined = currentTransaction();
  return joined ? work(joined) : spool.transaction(work, options);
}

/** Runs `work` in one store transaction and wakes consumers after it commits. */
export async function runTransaction<T>(
  context: EngineContext,
  work: (tx: SpoolTransaction) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  context.assertOpen();
  let scope: { readonly tx: SpoolTransaction; ended: boolean } | undefined;
  // The store may start `work` from another caller's flow (queued transactions): keep ours.
  const ownWork = bindActiveContext(work);
  try {
    const result = await context.store.transaction(async (writes) => {
      scope = { tx: new SpoolTransaction(context, writes), ended: false };
      return running.run(scope, () => ownWork(scope!.tx));
    }, options);
    scope?.tx.notifyCommitted();
    return result;
  } finally {
    // Anything started inside work that outlives it must not take it for a running transaction.
    if (scope) scope.ended = true;
  }
}
