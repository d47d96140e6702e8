/**
 * Instrumentation hooks: what the engine reports as it works, for metrics (see
 * `src/observability/metrics.ts`) or anything else a user wants to count. The engine stays
 * usable without them — with no sink attached every hook is a call over an empty list.
 *
 * Hooks are called synchronously on hot paths (every ack, every handler run, every commit), so
 * a sink must be cheap: increment numbers, do not allocate, never throw, never do I/O. What is
 * expensive to know (depths, lags) is not pushed here; a metrics sink reads it from the store
 * when it is scraped.
 */

/** The outcome of one webhook delivery attempt (see `src/webhooks/delivery-log.ts`). */
export type WebhookAttemptOutcome = 'delivered' | 'retrying' | 'dead-lettered' | 'skipped';

/**
 * A receiver of engine events. Every method is optional: implement the ones you need. Queue
 * names are the only identifiers passed: never a message or job id, so a sink that labels by
 * them stays low-cardinality.
 */
export interface Instrumentation {
  /** `count` messages were durably stored in `queue` by a send (duplicates by dedup id excluded). */
  messagesSent?(queue: string, count: number): void;
  /**
   * A message of `queue` was acked. `endToEndSeconds` is the time from its first send to the
   * ack (retries and redrives included), when the acking side knew when it was sent — acks by
   * receipt alone (over HTTP) do not.
   */
  messageAcked?(queue: string, endToEndSeconds: number | undefined): void;
  /**
   * A message of `queue` was nacked to be delivered again (a handler failure, or a nack before
   * its last attempt). A plain release, which hands a message back untried, is not reported.
   */
  messageRetried?(queue: string): void;
  /**
   * A message of `queue` was moved to its dead-letter queue by a consumer, an explicit call or a
   * nack of its last attempt.
   */
  messageDeadLettered?(queue: string): void;
  /** A `process()` consumer of `queue` finished with a message: handler run and settlement. */
  messageProcessed?(queue: string, seconds: number): void;
  /** The store committed `operations` writes in one durable commit that took `seconds`. */
  storeCommitted?(seconds: number, operations: number): void;
  /** A webhook delivery attempt ended with `outcome` after `seconds`. */
  webhookAttempted?(outcome: WebhookAttemptOutcome, seconds: number): void;
}

/**
 * The hooks the engine calls: fans each event out to the attached sinks. One per Spool.
 * A sink that throws is a bug in the sink; it is reported once and detached rather than
 * allowed to break a send or an ack that already committed.
 */
export class InstrumentationHub implements Required<Instrumentation> {
  #sinks: Instrumentation[] = [];

  /** Attaches `sink`; returns the function that detaches it. */
  attach(sink: Instrumentation): () => void {
    if (!this.#sinks.includes(sink)) this.#sinks = [...this.#sinks, sink];
    return () => {
      this.#sinks = this.#sinks.filter((attached) => attached !== sink);
    };
  }

  /** True when at least one sink listens: callers may skip measuring otherwise. */
  get active(): boolean {
    return this.#sinks.length > 0;
  }

  messagesSent(queue: string, count: number): void {
    for (const sink of this.#sinks) {
      try {
        sink.messagesSent?.(queue, count);
      } catch (error) {
        this.#detach(sink, error);
      }
    }
  }

  messageAcked(queue: string, endToEndSeconds: number | undefined): void {
    for (const sink of this.#sinks) {
      try {
        sink.messageAcked?.(queue, endToEndSeconds);
      } catch (error) {
        this.#detach(sink, error);
      }
    }
  }

  messageRetried(queue: string): void {
    for (const sink of this.#sinks) {
      try {
        sink.messageRetried?.(queue);
      } catch (error) {
        this.#detach(sink, error);
      }
    }
  }

  messageDeadLettered(queue: string): void {
    for (const sink of this.#sinks) {
      try {
        sink.messageDeadLettered?.(queue);
      } catch (error) {
        this.#detach(sink, error);
      }
    }
  }

  messageProcessed(queue: string, seconds: number): void {
    for (const sink of this.#sinks) {
      try {
        sink.messageProcessed?.(queue, seconds);
      } catch (error) {
        this.#detach(sink, error);
      }
    }
  }

  storeCommitted(seconds: number, operations: number): void {
    for (const sink of this.#sinks) {
      try {
        sink.storeCommitted?.(seconds, operations);
      } catch (error) {
        this.#detach(sink, error);
      }
    }
  }

  webhookAttempted(outcome: WebhookAttemptOutcome, seconds: number): void {
    for (const sink of this.#sinks) {
      try {
        sink.webhookAttempted?.(outcome, seconds);
      } catch (error) {
        this.#detach(sink, error);
      }
    }
  }

  // Inline try/catch in every hook rather than a wrapper taking a closure: a closure per call
  // would be an allocation per message.
  #detach(sink: Instrumentation, error: unknown): void {
    this.#sinks = this.#sinks.filter((attached) => attached !== sink);
    console.error('spool: an instrumentation sink threw and was detached:', error);
  }
}
