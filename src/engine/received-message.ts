import { inspect } from 'node:util';
import {
  decodeBody,
  type AttemptError,
  type Headers,
  type MessageBody,
  type Payload,
} from '../core/message.js';
import type { ClaimedMessage, ReleaseOutcome } from '../store/port.js';

/** Settles a leased message; implemented by {@link Queue}. */
export interface LeaseSettler {
  /** `enqueuedAt`: the message's first send (ms since epoch), for the end-to-end latency metric. */
  ack(receipt: string, enqueuedAt?: number): Promise<void>;
  nack(
    receipt: string,
    options?: { delayMs?: number; error?: unknown },
    messageId?: string,
  ): Promise<ReleaseOutcome>;
  release(receipt: string, options?: { delayMs?: number }): Promise<void>;
  extend(receipt: string, visibilityTimeoutMs?: number): Promise<number>;
  deadLetter(receipt: string, reason: unknown, messageId?: string): Promise<void>;
  /** Wakes idle consumers: settling a keyed message makes the next one of its key deliverable. */
  wake(): void;
}

/** Reads a message's stored payload (see {@link encodedBody}); set by the class's static block. */
let payloadOf: (message: Message<unknown>) => Payload;

/**
 * A message delivered from a queue under a lease. Settle it exactly once: `ack()` when the work
 * is done, `nack()` when it failed (it is retried, or dead-lettered after its last attempt),
 * `release()` to hand it back untried, `deadLetter()` to give up on it.
 */
export class Message<T = MessageBody> {
  readonly id: string;
  readonly queue: string;
  readonly headers: Readonly<Headers>;
  readonly key: string | null;
  readonly priority: number;
  /** When it was first sent. */
  readonly enqueuedAt: Date;
  /** This delivery's number: 1 on first delivery. */
  readonly attempt: number;
  /** Proof of the lease; what the low-level `queue.ack(receipt)` takes. */
  readonly receipt: string;
  /** Errors of earlier attempts, oldest first. */
  readonly errors: readonly AttemptError[];
  #leaseExpiresAt: number;
  readonly #payload: Payload;
  #body: T | undefined;
  #decoded = false;

  static {
    payloadOf = (message) => message.#payload;
  }

  constructor(
    claimed: ClaimedMessage,
    private readonly settler: LeaseSettler,
  ) {
    this.id = claimed.id;
    this.queue = claimed.queue;
    this.#payload = claimed.payload;
    this.headers = claimed.headers;
    this.key = claimed.key;
    this.priority = claimed.priority;
    this.enqueuedAt = new Date(claimed.enqueuedAt);
    this.attempt = claimed.attempt;
    this.receipt = claimed.receipt;
    this.errors = claimed.errors;
    this.#leaseExpiresAt = claimed.leaseExpiresAt;
  }

  /**
   * The body as it was sent: a JSON value, or the bytes. Decoded on first use, so that a
   * message only passed on (the server's stream hands the stored JSON text to the socket) is
   * never parsed.
   */
  get body(): T {
    if (!this.#decoded) {
      this.#body = decodeBody<T>(this.#payload);
      this.#decoded = true;
    }
    return this.#body as T;
  }

  /** When the lease ends unless extended. */
  get leaseExpiresAt(): Date {
    return new Date(this.#leaseExpiresAt);
  }

  /** The message as data (the body decoded): what `JSON.stringify` and a logger see. */
  toJSON() {
    return {
      id: this.id,
      queue: this.queue,
      body: this.body,
      headers: this.headers,
      key: this.key,
      priority: this.priority,
      enqueuedAt: this.enqueuedAt,
      attempt: this.attempt,
      receipt: this.receipt,
      errors: this.errors,
      leaseExpiresAt: this.leaseExpiresAt,
    };
  }

  /** `console.log(message)` shows the body too, although it is decoded on first use. */
  [inspect.custom](_depth: number, options: object): string {
    return `Message ${inspect(this.toJSON(), options)}`;
  }

  /** Deletes the message: the work is done. */
  async ack(): Promise<void> {
    await this.settler.ack(this.receipt, this.enqueuedAt.getTime());
    if (this.key !== null) this.settler.wake();
  }

  /**
   * This delivery failed: the message is delivered again after `delayMs` (default 0) with
   * `attempt + 1`, or dead-lettered with `error` when this was its last allowed attempt.
   * Resolves with which of the two happened.
   */
  nack(options: { delayMs?: number; error?: unknown } = {}): Promise<ReleaseOutcome> {
    return this.settler.nack(this.receipt, options, this.id);
  }

  /**
   * Hands the message back untried: it is delivered again after `delayMs` (default 0) with the
   * same `attempt` (the delivery does not count), and never dead-lettered by this.
   */
  release(options: { delayMs?: number } = {}): Promise<void> {
    return this.settler.release(this.receipt, options);
  }

  /** Keeps the lease for another `visibilityTimeoutMs` (default: the queue's). */
  async extend(visibilityTimeoutMs?: number): Promise<void> {
    this.#leaseExpiresAt = await this.settler.extend(this.receipt, visibilityTimeoutMs);
  }

  /** Moves the message to the dead-letter queue with `reason` as its last error. */
  deadLetter(reason: unknown): Promise<void> {
    return this.settler.deadLetter(this.receipt, reason, this.id);
  }
}

/**
 * The body of `message` as the store keeps it — its JSON text, or the bytes — for a layer that
 * passes it on without decoding it (see `wireMessagesFrame` in the server).
 */
export function encodedBody(message: Message<unknown>): Payload {
  return payloadOf(message);
}
