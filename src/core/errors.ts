/**
 * The error catalogue. Every error Spool raises on purpose has a stable `code`, an HTTP status
 * for the server's problem+json answers, and a `retryable` flag that clients use to decide
 * whether to try again. Callers branch on `code` or `instanceof`, never on message text.
 */

/** One entry of the catalogue. */
export interface ErrorSpec {
  readonly code: string;
  readonly httpStatus: number;
  readonly title: string;
  readonly retryable: boolean;
}

/** The catalogue: one row per error code. The problem+json `type` is derived from the code. */
export const errorCatalogue = {
  INVALID_ARGUMENT: {
    code: 'SPOOL_INVALID_ARGUMENT',
    httpStatus: 400,
    title: 'Invalid argument',
    retryable: false,
  },
  QUEUE_NOT_FOUND: {
    code: 'SPOOL_QUEUE_NOT_FOUND',
    httpStatus: 404,
    title: 'Queue not found',
    retryable: false,
  },
  TOPIC_NOT_FOUND: {
    code: 'SPOOL_TOPIC_NOT_FOUND',
    httpStatus: 404,
    title: 'Topic not found',
    retryable: false,
  },
  CONFIG_CONFLICT: {
    code: 'SPOOL_CONFIG_CONFLICT',
    httpStatus: 409,
    title: 'Configuration conflicts with the stored one',
    retryable: false,
  },
  QUEUE_FULL: { code: 'SPOOL_QUEUE_FULL', httpStatus: 429, title: 'Queue is full', retryable: true },
  STALE_RECEIPT: {
    code: 'SPOOL_STALE_RECEIPT',
    httpStatus: 409,
    title: 'Receipt is stale',
    retryable: false,
  },
  NOT_PARTITION_OWNER: {
    code: 'SPOOL_NOT_PARTITION_OWNER',
    httpStatus: 409,
    title: 'Member does not own the partition',
    retryable: false,
  },
  UNKNOWN_MEMBER: {
    code: 'SPOOL_UNKNOWN_MEMBER',
    httpStatus: 409,
    title: 'Unknown consumer-group member',
    retryable: true,
  },
  GROUP_NOT_EMPTY: {
    code: 'SPOOL_GROUP_NOT_EMPTY',
    httpStatus: 409,
    title: 'Consumer group still has live members',
    retryable: false,
  },
  OFFSET_OUT_OF_RANGE: {
    code: 'SPOOL_OFFSET_OUT_OF_RANGE',
    httpStatus: 416,
    title: 'Offset out of range',
    retryable: false,
  },
  RESERVED_NAME: {
    code: 'SPOOL_RESERVED_NAME',
    httpStatus: 403,
    title: "Name reserved for Spool's own queues and topics",
    retryable: false,
  },
  JOB_NOT_FOUND: { code: 'SPOOL_JOB_NOT_FOUND', httpStatus: 404, title: 'Job not found', retryable: false },
  JOB_STATE_CONFLICT: {
    code: 'SPOOL_JOB_STATE_CONFLICT',
    httpStatus: 409,
    title: 'Job is not in a state that allows this',
    retryable: false,
  },
  IDEMPOTENCY_CONFLICT: {
    code: 'SPOOL_IDEMPOTENCY_CONFLICT',
    httpStatus: 422,
    title: 'Idempotency key reused with a different request',
    retryable: false,
  },
  WAIT_TIMEOUT: {
    code: 'SPOOL_WAIT_TIMEOUT',
    httpStatus: 408,
    title: 'Gave up waiting',
    retryable: true,
  },
  CLOSED: { code: 'SPOOL_CLOSED', httpStatus: 503, title: 'Spool is closed', retryable: false },
  SCHEMA_VERSION: {
    code: 'SPOOL_SCHEMA_VERSION',
    httpStatus: 500,
    title: 'Store schema version is not supported',
    retryable: false,
  },
  STORE_UNAVAILABLE: {
    code: 'SPOOL_STORE_UNAVAILABLE',
    httpStatus: 503,
    title: 'Store unavailable',
    retryable: true,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = (typeof errorCatalogue)[keyof typeof errorCatalogue]['code'];

/** The base class of every error Spool raises on purpose. */
export class SpoolError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly retryable: boolean;
  /** Extra machine-readable facts (which field, which queue, …) for problem+json extensions. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    spec: ErrorSpec,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = spec.code as ErrorCode;
    this.httpStatus = spec.httpStatus;
    this.retryable = spec.retryable;
    this.details = Object.freeze({ ...details });
  }
}

/** Bad input: an option, a message or an argument that cannot be accepted as given. */
export class InvalidArgumentError extends SpoolError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(errorCatalogue.INVALID_ARGUMENT, message, details);
  }
}

export class QueueNotFoundError extends SpoolError {
  constructor(readonly queue: string) {
    super(errorCatalogue.QUEUE_NOT_FOUND, `queue "${queue}" does not exist; create it first`, { queue });
  }
}

export class TopicNotFoundError extends SpoolError {
  constructor(readonly topic: string) {
    super(errorCatalogue.TOPIC_NOT_FOUND, `topic "${topic}" does not exist; create it first`, { topic });
  }
}

/** A topic was opened with a partition count other than the one it was created with. */
export class ConfigConflictError extends SpoolError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(errorCatalogue.CONFIG_CONFLICT, message, details);
  }
}

/**
 * A send would take the queue over its `maxDepth`. Nothing of the send was stored; retry after
 * `retryAfterMs` or when consumers have caught up.
 */
export class QueueFullError extends SpoolError {
  constructor(
    readonly queue: string,
    readonly maxDepth: number,
    readonly retryAfterMs: number,
  ) {
    super(
      errorCatalogue.QUEUE_FULL,
      `queue "${queue}" is at its maximum depth of ${maxDepth}; retry after ${retryAfterMs} ms`,
      { queue, maxDepth, retryAfterMs },
    );
  }
}

/**
 * An ack, nack or extend named a lease that is no longer held: the lease expired and the
 * message was delivered again, or it was already settled.
 */
export class StaleReceiptError extends SpoolError {
  constructor(
    readonly queue: string,
    readonly receipt: string,
  ) {
    super(
      errorCatalogue.STALE_RECEIPT,
      `receipt ${receipt} on queue "${queue}" is stale: the message was settled or its lease expired and it was delivered again`,
      { queue, receipt },
    );
  }
}

/** A consumer-group member tried to commit or read a partition it does not currently own. */
export class NotPartitionOwnerError extends SpoolError {
  constructor(topic: string, group: string, partition: number, memberId: string) {
    super(
      errorCatalogue.NOT_PARTITION_OWNER,
      `member ${memberId} of group "${group}" does not own partition ${partition} of topic "${topic}"`,
      { topic, group, partition, memberId },
    );
  }
}

/** A member that the group no longer knows (it timed out or left) tried to act; rejoin. */
export class UnknownMemberError extends SpoolError {
  constructor(topic: string, group: string, memberId: string) {
    super(
      errorCatalogue.UNKNOWN_MEMBER,
      `member ${memberId} is not in group "${group}" of topic "${topic}" (its session expired or it left); join again`,
      { topic, group, memberId },
    );
  }
}

/** A consumer group cannot be deleted while members are in it (their sessions have not expired). */
export class GroupNotEmptyError extends SpoolError {
  constructor(topic: string, group: string, members: readonly string[]) {
    super(
      errorCatalogue.GROUP_NOT_EMPTY,
      `group "${group}" of topic "${topic}" has ${members.length} live member${members.length === 1 ? '' : 's'} (${members.join(', ')}): stop them, or wait until their sessions expire, then delete it`,
      { topic, group, members },
    );
  }
}

export class OffsetOutOfRangeError extends SpoolError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(errorCatalogue.OFFSET_OUT_OF_RANGE, message, details);
  }
}

/**
 * A queue or topic named under `spool.` or `jobs.` — Spool's own: webhook deliveries, the events
 * log, the queues of job types — was to be changed from outside: deleted, purged, reconfigured,
 * sent or published to, consumed. They can be read; only the layers that own them change them.
 * `action` is what was refused, e.g. `deleting`, `sending to`.
 */
export class ReservedNameError extends SpoolError {
  constructor(kind: 'queue' | 'topic', name: string, action: string) {
    super(
      errorCatalogue.RESERVED_NAME,
      `${action.charAt(0).toUpperCase()}${action.slice(1)} ${kind} "${name}" is refused: names starting with "spool." or "jobs." are Spool's own queues and topics (webhook deliveries, the events log, the queues of job types). They can be read (configuration, stats, messages, events, dead letters), but only Spool changes them`,
      { [kind]: name },
    );
  }
}

/** A wait (for a job to finish) ran out before what it waited for happened; waiting again may succeed. */
export class WaitTimeoutError extends SpoolError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(errorCatalogue.WAIT_TIMEOUT, message, details);
  }
}

/** The Spool instance or its store has been closed. */
export class ClosedError extends SpoolError {
  constructor(what = 'spool') {
    super(errorCatalogue.CLOSED, `${what} is closed`);
  }
}

/** The store's schema is newer than this version of Spool understands. */
export class SchemaVersionError extends SpoolError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(errorCatalogue.SCHEMA_VERSION, message, details);
  }
}

/**
 * Thrown by a handler to say: this message can never succeed; dead-letter it now instead of
 * retrying.
 */
export class NonRetryableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

/** Thrown by a handler to say: retry, but not before `retryAfterMs` has passed. */
export class RetryAfterError extends Error {
  constructor(
    readonly retryAfterMs: number,
    message = `retry after ${retryAfterMs} ms`,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RetryAfterError';
  }
}
