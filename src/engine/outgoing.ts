/**
 * Turning what a producer hands over into what a store keeps: validated once, encoded once,
 * stamped with a time-ordered id.
 */
import { newId } from '../core/ids.js';
import { InvalidArgumentError } from '../core/errors.js';
import { encodeBody, validateHeaders, type Headers, type MessageBody } from '../core/message.js';
import { partitionForKey } from '../core/partitioner.js';
import { refuseUnknownOptions } from '../core/options.js';
import { withTraceHeaders } from '../telemetry/tracing.js';
import type { AppendEvent, EnqueueMessage } from '../store/port.js';

/** Per-message options of a queue send. */
export interface SendOptions {
  /** Headers carried with the message (W3C `traceparent`, CloudEvents attributes, your own). */
  headers?: Headers;
  /**
   * Per-key FIFO: messages with the same key are delivered in send order, one at a time.
   * At most 256 characters.
   */
  key?: string;
  /**
   * Fairness group (a tenant, a customer): a queue whose messages carry groups hands out work
   * round-robin across them, the group served least recently first, so one group's backlog
   * does not starve another's. Within a group, `priority` then send order; messages without a
   * group count as one group of their own. Independent of `key` (per-key FIFO still holds).
   * At most 256 characters.
   */
  group?: string;
  /** Higher is delivered first; an integer. @defaultValue 0 */
  priority?: number;
  /** Not delivered before this many ms from now. */
  delayMs?: number;
  /** Not delivered before this time (a Date or ms since epoch). Wins over `delayMs`. */
  notBefore?: Date | number;
  /**
   * A send with a dedup id seen in this queue within its dedup window stores nothing and
   * returns the original message's id. At most 256 characters.
   */
  dedupId?: string;
  /**
   * Expires this long after the send (ms, counted from the send even when delayed), overriding
   * the queue's `messageTtlMs`: an expired message is never delivered and goes to the dead-letter
   * queue with a `MessageExpired` error.
   */
  ttlMs?: number;
}

/** A message of a batch send: its body and its options. */
export interface OutgoingMessage<T = MessageBody> extends SendOptions {
  body: T;
}

/** Per-event options of a topic publish. */
export interface PublishOptions {
  headers?: Headers;
  /** Events with the same key go to the same partition (`murmur2(key) % partitions`). */
  key?: string;
  /** An explicit partition; wins over `key`. */
  partition?: number;
}

/** An event of a batch publish. */
export interface OutgoingEvent<T = MessageBody> extends PublishOptions {
  body: T;
}

const MAX_PRIORITY = 2 ** 31 - 1;
/** What a message of a send may carry (`body` rides along in a batch's messages). */
const sendOptionNames = [
  'body',
  'headers',
  'key',
  'priority',
  'delayMs',
  'notBefore',
  'dedupId',
  'ttlMs',
  'group',
];
const publishOptionNames = ['body', 'headers', 'key', 'partition'];

/**
 * Validates and encodes one message of a send. `traceHeaders` (from the producer span) are added
 * to its headers unless the producer set its own `traceparent`.
 */
export function toEnqueueMessage(
  body: unknown,
  options: SendOptions,
  now: number,
  traceHeaders?: Headers,
): EnqueueMessage {
  const where = 'send';
  refuseUnknownOptions(options, sendOptionNames, where);
  const priority = options.priority ?? 0;
  if (!Number.isInteger(priority) || Math.abs(priority) > MAX_PRIORITY) {
    throw new InvalidArgumentError(`${where}: priority must be an integer between -2^31+1 and 2^31-1`, {
      field: 'priority',
    });
  }
  let availableAt = now;
  if (options.notBefore !== undefined) {
    const at = options.notBefore instanceof Date ? options.notBefore.getTime() : options.notBefore;
    if (!Number.isFinite(at)) {
      throw new InvalidArgumentError(`${where}: notBefore must be a valid Date or ms since epoch`, {
        field: 'notBefore',
      });
    }
    availableAt = Math.max(now, Math.trunc(at));
  } else if (options.delayMs !== undefined) {
    if (!Number.isFinite(options.delayMs) || options.delayMs < 0) {
      throw new InvalidArgumentError(`${where}: delayMs must be a number of milliseconds >= 0`, {
        field: 'delayMs',
      });
    }
    availableAt = now + Math.trunc(options.delayMs);
  }
  if (
    options.ttlMs !== undefined &&
    (!Number.isInteger(options.ttlMs) || options.ttlMs < 1 || options.ttlMs > 2 ** 31 - 1)
  ) {
    throw new InvalidArgumentError(
      `${where}: ttlMs must be a whole number of milliseconds from 1 to 2^31-1`,
      {
        field: 'ttlMs',
      },
    );
  }
  const group = optionalShortString(options.group, 'group', where);
  return {
    id: newId(),
    payload: encodeBody(body as MessageBody),
    headers: withTraceHeaders(validateHeaders(options.headers, where), traceHeaders),
    key: optionalShortString(options.key, 'key', where),
    ...(group !== null && { group }),
    priority,
    availableAt,
    dedupId: optionalShortString(options.dedupId, 'dedupId', where),
    ...(options.ttlMs !== undefined && { ttlMs: options.ttlMs }),
  };
}

/** Chooses partitions for events: explicit, by key, or round-robin for keyless events. */
export class Partitioner {
  #next = 0;

  constructor(private readonly partitions: number) {}

  /** Validates, encodes and places one event; `traceHeaders` as in {@link toEnqueueMessage}. */
  toAppendEvent(body: unknown, options: PublishOptions, traceHeaders?: Headers): AppendEvent {
    const where = 'publish';
    refuseUnknownOptions(options, publishOptionNames, where);
    const key = optionalShortString(options.key, 'key', where);
    let partition: number;
    if (options.partition !== undefined) {
      if (
        !Number.isInteger(options.partition) ||
        options.partition < 0 ||
        options.partition >= this.partitions
      ) {
        throw new InvalidArgumentError(
          `${where}: partition must be an integer from 0 to ${this.partitions - 1}`,
          { field: 'partition' },
        );
      }
      partition = options.partition;
    } else if (key !== null) {
      partition = partitionForKey(key, this.partitions);
    } else {
      partition = this.#next;
      this.#next = (this.#next + 1) % this.partitions;
    }
    return {
      id: newId(),
      partition,
      payload: encodeBody(body as MessageBody),
      headers: withTraceHeaders(validateHeaders(options.headers, where), traceHeaders),
      key,
    };
  }
}

function optionalShortString(value: unknown, field: string, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new InvalidArgumentError(`${where}: ${field} must be a string of 1 to 256 characters`, { field });
  }
  return value;
}
