/**
 * The error catalogue: every code Spool answers or throws, in one place. Each entry gives the
 * stable `code`, the HTTP status and problem+json `type` and `title` the server answers with, the
 * `retryable` flag clients decide on, the exit code of the `spool` command line, and what the
 * error means. The server's problems, the client's error classes, the CLI's exit codes and the
 * tables in README.md and src/server/README.md (`npm run docs:errors`) are all derived from it,
 * so adding a code here is the whole of adding one. Callers branch on `code` or `instanceof`,
 * never on message text.
 *
 * This module is the floor layer: it imports nothing of Spool, so the client may load it too.
 */

/**
 * The exit codes of the `spool` command line, after sysexits(3) in spirit but small, so a script
 * can branch on them: retry on {@link exitCodes.unavailable}, fix the command on
 * {@link exitCodes.usage}, create the missing thing on {@link exitCodes.notFound}.
 */
export const exitCodes = {
  /** Success. */
  ok: 0,
  /** A failure no other code describes: a job that ended dead, a declined confirmation, a bug. */
  failure: 1,
  /** Usage or invalid input (like EX_USAGE): a bad flag, argument or body; fix the command. */
  usage: 2,
  /** What the command names does not exist: a queue, topic, group, job or route. */
  notFound: 3,
  /** The request conflicts with the current state: a stale receipt, a finished job, a name in use. */
  conflict: 4,
  /** The token is missing or invalid, or lacks the scope the command needs. */
  auth: 5,
  /** Unavailable for now (like EX_TEMPFAIL): the server or store is down or closing, a queue is full, a wait ran out. Try again. */
  unavailable: 6,
} as const;

/** One of the CLI's {@link exitCodes}. */
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** What each exit code means, in the words `spool --help` and the README use. */
export const exitCodeMeanings: Readonly<Record<ExitCode, string>> = {
  0: 'ok',
  1: 'failure (a job that ended dead, a declined confirmation, anything else)',
  2: 'usage or invalid input',
  3: 'not found',
  4: 'conflict with the current state',
  5: 'unauthorized or forbidden',
  6: 'unavailable or timed out: try again',
};

/** The base of every problem `type` URI: the code without `SPOOL_`, in kebab case. */
export const problemTypeBase = 'https://spool.dev/problems/';

/** The problem `type` URI of an error code, e.g. `SPOOL_QUEUE_FULL` → `…/problems/queue-full`. */
export function problemType(code: string): string {
  return (
    problemTypeBase +
    code
      .replace(/^SPOOL_/, '')
      .toLowerCase()
      .replaceAll('_', '-')
  );
}

/** One entry of the catalogue. */
export interface ErrorSpec {
  /** The stable code to branch on, `SPOOL_…`. */
  readonly code: string;
  /**
   * The HTTP status the server answers with. For the few codes the server never answers
   * ({@link ErrorSpec.answeredByServer} false) it is the status that would fit, for reference.
   */
  readonly httpStatus: number;
  /** The problem+json `type` URI ({@link problemType} of the code). */
  readonly type: string;
  /** The problem+json `title`: the same for every answer with this code. */
  readonly title: string;
  /** Whether the same request may succeed later. */
  readonly retryable: boolean;
  /** The exit code of `spool` when a command fails with this code. */
  readonly exitCode: ExitCode;
  /** When the error happens, for the docs (Markdown). */
  readonly description: string;
  /** Whether `spool serve` answers this code as a problem (false: raised in-process only). */
  readonly answeredByServer: boolean;
  /** The class raised with this code, when it has one of its own (for the docs). */
  readonly className?: string;
  /** A remark for the server's status table (src/server/README.md), e.g. a header it carries. */
  readonly httpNote?: string;
}

/** What an entry is written as: `type` is derived, `answeredByServer` defaults to true. */
type ErrorRow = Omit<ErrorSpec, 'type' | 'answeredByServer'> & { readonly answeredByServer?: boolean };

/** Completes each row into an {@link ErrorSpec}, keeping the literal types of the rows. */
function catalogue<const Rows extends Record<string, ErrorRow>>(
  rows: Rows,
): { readonly [K in keyof Rows]: Rows[K] & { readonly type: string; readonly answeredByServer: boolean } } {
  return Object.fromEntries(
    Object.entries(rows).map(([key, row]) => [
      key,
      Object.freeze({ ...row, type: problemType(row.code), answeredByServer: row.answeredByServer ?? true }),
    ]),
  ) as never;
}

/** The catalogue: one row per error code, grouped by where it comes from. */
export const errorCatalogue = catalogue({
  // --- the engine and the library ------------------------------------------------------------
  INVALID_ARGUMENT: {
    code: 'SPOOL_INVALID_ARGUMENT',
    httpStatus: 400,
    title: 'Invalid argument',
    retryable: false,
    exitCode: exitCodes.usage,
    className: 'InvalidArgumentError',
    description:
      "bad option, message or argument; `details.errors` (the problem's `errors`) lists each field",
    httpNote: 'schema, JSON, engine validation',
  },
  QUEUE_NOT_FOUND: {
    code: 'SPOOL_QUEUE_NOT_FOUND',
    httpStatus: 404,
    title: 'Queue not found',
    retryable: false,
    exitCode: exitCodes.notFound,
    className: 'QueueNotFoundError',
    description: 'unknown queue (a call that does not create it, or a server with `--no-auto-create`)',
  },
  TOPIC_NOT_FOUND: {
    code: 'SPOOL_TOPIC_NOT_FOUND',
    httpStatus: 404,
    title: 'Topic not found',
    retryable: false,
    exitCode: exitCodes.notFound,
    className: 'TopicNotFoundError',
    description: 'unknown topic (a call that does not create it, or a server with `--no-auto-create`)',
  },
  CONFIG_CONFLICT: {
    code: 'SPOOL_CONFIG_CONFLICT',
    httpStatus: 409,
    title: 'Configuration conflicts with the stored one',
    retryable: false,
    exitCode: exitCodes.conflict,
    className: 'ConfigConflictError',
    description: 'reopening a topic with another partition count',
  },
  QUEUE_FULL: {
    code: 'SPOOL_QUEUE_FULL',
    httpStatus: 429,
    title: 'Queue is full',
    retryable: true,
    exitCode: exitCodes.unavailable,
    className: 'QueueFullError',
    description: 'send over `maxDepth`; has `retryAfterMs` (over HTTP also `Retry-After`)',
  },
  STALE_RECEIPT: {
    code: 'SPOOL_STALE_RECEIPT',
    httpStatus: 409,
    title: 'Receipt is stale',
    retryable: false,
    exitCode: exitCodes.conflict,
    className: 'StaleReceiptError',
    description: 'settling a lease that was lost (settled already, or expired and delivered again)',
  },
  NOT_PARTITION_OWNER: {
    code: 'SPOOL_NOT_PARTITION_OWNER',
    httpStatus: 409,
    title: 'Member does not own the partition',
    retryable: false,
    exitCode: exitCodes.conflict,
    className: 'NotPartitionOwnerError',
    description: 'a fenced group commit: the member no longer owns the partition',
  },
  UNKNOWN_MEMBER: {
    code: 'SPOOL_UNKNOWN_MEMBER',
    httpStatus: 409,
    title: 'Unknown consumer-group member',
    retryable: true,
    exitCode: exitCodes.conflict,
    className: 'UnknownMemberError',
    description: "a fenced group commit: the member's session expired or it left; join again",
  },
  GROUP_NOT_EMPTY: {
    code: 'SPOOL_GROUP_NOT_EMPTY',
    httpStatus: 409,
    title: 'Consumer group still has live members',
    retryable: false,
    exitCode: exitCodes.conflict,
    className: 'GroupNotEmptyError',
    description: 'deleting a consumer group while a member is live',
  },
  OFFSET_OUT_OF_RANGE: {
    code: 'SPOOL_OFFSET_OUT_OF_RANGE',
    httpStatus: 416,
    title: 'Offset out of range',
    retryable: false,
    exitCode: exitCodes.notFound,
    className: 'OffsetOutOfRangeError',
    description: 'reading a partition that does not exist; an event stream resumed past the end of the log',
    httpNote: 'a partition that does not exist; an event stream resumed past the end of the log',
  },
  RESERVED_NAME: {
    code: 'SPOOL_RESERVED_NAME',
    httpStatus: 403,
    title: "Name reserved for Spool's own queues and topics",
    retryable: false,
    exitCode: exitCodes.usage,
    className: 'ReservedNameError',
    description: "changing one of Spool's own queues or topics (`spool.*`, `jobs.*`)",
    httpNote: "a change to one of Spool's own queues or topics",
  },
  JOB_NOT_FOUND: {
    code: 'SPOOL_JOB_NOT_FOUND',
    httpStatus: 404,
    title: 'Job not found',
    retryable: false,
    exitCode: exitCodes.notFound,
    className: 'JobNotFoundError',
    description: 'unknown job id (or one pruned by retention)',
  },
  SCHEDULE_NOT_FOUND: {
    code: 'SPOOL_SCHEDULE_NOT_FOUND',
    httpStatus: 404,
    title: 'Schedule not found',
    retryable: false,
    exitCode: exitCodes.notFound,
    className: 'ScheduleNotFoundError',
    description: 'running a schedule that does not exist',
  },
  RATE_LIMIT_NOT_FOUND: {
    code: 'SPOOL_RATE_LIMIT_NOT_FOUND',
    httpStatus: 404,
    title: 'Rate limit not found',
    retryable: false,
    exitCode: exitCodes.notFound,
    className: 'RateLimitNotFoundError',
    description: 'reading the budget of a job type that has no `globalRateLimit` where it is asked',
  },
  JOB_STATE_CONFLICT: {
    code: 'SPOOL_JOB_STATE_CONFLICT',
    httpStatus: 409,
    title: 'Job is not in a state that allows this',
    retryable: false,
    exitCode: exitCodes.conflict,
    className: 'JobStateError',
    description: 'cancelling or retrying a job whose status does not allow it',
  },
  IDEMPOTENCY_CONFLICT: {
    code: 'SPOOL_IDEMPOTENCY_CONFLICT',
    httpStatus: 422,
    title: 'Idempotency key reused with a different request',
    retryable: false,
    exitCode: exitCodes.conflict,
    className: 'IdempotencyConflictError',
    description: 'adding a job with an idempotency key already used for a different job',
  },
  WAIT_TIMEOUT: {
    code: 'SPOOL_WAIT_TIMEOUT',
    httpStatus: 408,
    title: 'Gave up waiting',
    retryable: true,
    exitCode: exitCodes.unavailable,
    className: 'WaitTimeoutError',
    description:
      '`jobs.wait` (or `spool jobs add --wait`) gave up before the job finished; spool/client throws `JobWaitTimeoutError`',
    answeredByServer: false,
  },
  CLOSED: {
    code: 'SPOOL_CLOSED',
    httpStatus: 503,
    title: 'Spool is closed',
    retryable: false,
    exitCode: exitCodes.unavailable,
    className: 'ClosedError',
    description: 'using a closed Spool (a closing server answers it too)',
  },
  SCHEMA_VERSION: {
    code: 'SPOOL_SCHEMA_VERSION',
    httpStatus: 500,
    title: 'Store schema version is not supported',
    retryable: false,
    exitCode: exitCodes.failure,
    className: 'SchemaVersionError',
    description: 'a database written by a newer Spool',
  },
  STORE_UNAVAILABLE: {
    code: 'SPOOL_STORE_UNAVAILABLE',
    httpStatus: 503,
    title: 'Store unavailable',
    retryable: true,
    exitCode: exitCodes.unavailable,
    className: 'SpoolError',
    description: 'the store cannot be reached or is busy (database down, connection lost, disk unavailable)',
  },
  JOB_TIMEOUT: {
    code: 'SPOOL_JOB_TIMEOUT',
    httpStatus: 504,
    title: 'Job ran past its timeout',
    retryable: true,
    exitCode: exitCodes.unavailable,
    className: 'JobTimeoutError',
    description:
      "a job's handler ran past its type's `timeoutMs`: its signal aborts and the attempt fails (retried while attempts are left)",
    answeredByServer: false,
  },
  WORKFLOW_RUN_NOT_FOUND: {
    code: 'SPOOL_WORKFLOW_RUN_NOT_FOUND',
    httpStatus: 404,
    title: 'Workflow run not found',
    retryable: false,
    exitCode: exitCodes.notFound,
    className: 'WorkflowRunNotFoundError',
    description: 'unknown workflow run id (or one pruned by retention, or the id of a job that is not a run)',
  },
  WORKFLOW_RUN_FINISHED: {
    code: 'SPOOL_WORKFLOW_RUN_FINISHED',
    httpStatus: 409,
    title: 'Workflow run has finished',
    retryable: false,
    exitCode: exitCodes.conflict,
    className: 'WorkflowRunFinishedError',
    description: 'sending an event to, or cancelling, a run that has already ended',
  },
  WORKFLOW_RUN_NOT_RETRYABLE: {
    code: 'SPOOL_WORKFLOW_RUN_NOT_RETRYABLE',
    httpStatus: 409,
    title: 'Workflow run cannot be retried',
    retryable: false,
    exitCode: exitCodes.conflict,
    className: 'WorkflowRunNotRetryableError',
    description:
      'retrying a run that is not `failed`, or whose compensations have run (its completed steps were undone: start a new run instead)',
  },
  WORKFLOW_TIMEOUT: {
    code: 'SPOOL_WORKFLOW_TIMEOUT',
    httpStatus: 409,
    title: 'Workflow run timed out',
    retryable: false,
    exitCode: exitCodes.conflict,
    className: 'WorkflowTimeoutError',
    description:
      "what the next step, sleep or wait of a run past its `timeoutMs` throws (a running step's signal aborts); the run then compensates and ends `compensated` or `failed`",
    answeredByServer: false,
  },
  WORKFLOW_STEP_FAILED: {
    code: 'SPOOL_WORKFLOW_STEP_FAILED',
    httpStatus: 500,
    title: 'Workflow step failed',
    retryable: false,
    exitCode: exitCodes.failure,
    className: 'StepFailedError',
    description:
      "what `ctx.step` throws in a workflow once the step's attempts are used up (or it threw a `NonRetryableError`); uncaught, the run fails and compensates",
    answeredByServer: false,
  },
  WORKFLOW_CANCELLED: {
    code: 'SPOOL_WORKFLOW_CANCELLED',
    httpStatus: 409,
    title: 'Workflow run was cancelled',
    retryable: false,
    exitCode: exitCodes.conflict,
    className: 'WorkflowCancelledError',
    description: 'what the next step, sleep or wait of a cancelled run throws; the run then compensates',
    answeredByServer: false,
  },
  WORKFLOW_NONDETERMINISM: {
    code: 'SPOOL_WORKFLOW_NONDETERMINISM',
    httpStatus: 500,
    title: "Workflow code does not match the run's history",
    retryable: true,
    exitCode: exitCodes.failure,
    className: 'NonDeterminismError',
    description:
      "a resumed run's code called a different step than its history recorded at that point (the code changed under a running run); the run retries with backoff, so deploying matching code lets it go on",
    answeredByServer: false,
  },
  CIRCUIT_OPEN: {
    code: 'SPOOL_CIRCUIT_OPEN',
    httpStatus: 503,
    title: 'Circuit breaker is open',
    retryable: true,
    exitCode: exitCodes.unavailable,
    className: 'CircuitOpenError',
    description:
      'a call through a circuit breaker that is open (its dependency kept failing): not made; `retryAfterMs` says when the breaker lets a probe through. Jobs and workflow steps wait that long without using an attempt',
    answeredByServer: false,
  },
  LIMIT_REACHED: {
    code: 'SPOOL_LIMIT_REACHED',
    httpStatus: 429,
    title: 'Limit reached',
    retryable: true,
    exitCode: exitCodes.unavailable,
    className: 'LimitReachedError',
    description:
      'a job that may not start yet: its type is at its concurrency (`globalConcurrency`, `keyConcurrency`, in every process) or rate limit. It waits `retryAfterMs` without using an attempt',
    answeredByServer: false,
  },
  JOB_CANCELLED: {
    code: 'SPOOL_JOB_CANCELLED',
    httpStatus: 409,
    title: 'Job was cancelled',
    retryable: false,
    exitCode: exitCodes.conflict,
    className: 'JobCancelledError',
    description: "the reason a running job's signal aborts with when the job is cancelled",
    answeredByServer: false,
  },
  WEBHOOK_TIMEOUT: {
    code: 'SPOOL_WEBHOOK_TIMEOUT',
    httpStatus: 504,
    title: 'Webhook receiver did not answer in time',
    retryable: true,
    exitCode: exitCodes.unavailable,
    className: 'WebhookTimeoutError',
    description: 'a webhook receiver did not answer within the delivery timeout (the delivery is retried)',
    answeredByServer: false,
  },

  // --- the HTTP server -------------------------------------------------------------------------
  BAD_REQUEST: {
    code: 'SPOOL_BAD_REQUEST',
    httpStatus: 400,
    title: 'Bad request',
    retryable: false,
    exitCode: exitCodes.usage,
    description:
      'a request the server cannot read: bad percent-encoding, `Content-Length` or HTTP syntax (the status may be another 4xx, e.g. 431 for headers too large)',
  },
  UNAUTHORIZED: {
    code: 'SPOOL_UNAUTHORIZED',
    httpStatus: 401,
    title: 'Missing or invalid API token',
    retryable: false,
    exitCode: exitCodes.auth,
    description: 'a request without a token, or with one the server does not know',
    httpNote: 'with `WWW-Authenticate: Bearer`',
  },
  FORBIDDEN: {
    code: 'SPOOL_FORBIDDEN',
    httpStatus: 403,
    title: 'API token lacks the required scope',
    retryable: false,
    exitCode: exitCodes.auth,
    description: "a token without the route's scope (`requiredScope` names it)",
    httpNote: '`requiredScope` says which',
  },
  ROUTE_NOT_FOUND: {
    code: 'SPOOL_ROUTE_NOT_FOUND',
    httpStatus: 404,
    title: 'No such route',
    retryable: false,
    exitCode: exitCodes.notFound,
    description: 'a method and path the server has no route for (see `/openapi.json`)',
  },
  GROUP_NOT_FOUND: {
    code: 'SPOOL_GROUP_NOT_FOUND',
    httpStatus: 404,
    title: 'Consumer group not found',
    retryable: false,
    exitCode: exitCodes.notFound,
    description: 'a consumer group the topic does not have',
  },
  WORKER_NOT_FOUND: {
    code: 'SPOOL_WORKER_NOT_FOUND',
    httpStatus: 404,
    title: 'Worker not found',
    retryable: false,
    exitCode: exitCodes.notFound,
    className: 'WorkerNotFoundError',
    description: 'removing a worker the registry does not have (it closed, or was swept or removed)',
  },
  PAYLOAD_TOO_LARGE: {
    code: 'SPOOL_PAYLOAD_TOO_LARGE',
    httpStatus: 413,
    title: 'Request body too large',
    retryable: false,
    exitCode: exitCodes.usage,
    description: "a request body over the server's limit (`--body-limit`, 1 MiB by default)",
  },
  UNSUPPORTED_MEDIA_TYPE: {
    code: 'SPOOL_UNSUPPORTED_MEDIA_TYPE',
    httpStatus: 415,
    title: 'Unsupported content type',
    retryable: false,
    exitCode: exitCodes.usage,
    description: 'a request body that is not `application/json`',
  },
  INTERNAL: {
    code: 'SPOOL_INTERNAL',
    httpStatus: 500,
    title: 'Internal server error',
    retryable: true,
    exitCode: exitCodes.failure,
    description: "a bug: the answer carries the `requestId`, the server's log the details",
  },
  SHUTTING_DOWN: {
    code: 'SPOOL_SHUTTING_DOWN',
    httpStatus: 503,
    title: 'Server is shutting down',
    retryable: true,
    exitCode: exitCodes.unavailable,
    description: 'a request to a server that is closing; retry on another instance or after the restart',
  },

  // --- spool/client, without an answer from the server -----------------------------------------
  NETWORK_ERROR: {
    code: 'SPOOL_NETWORK_ERROR',
    httpStatus: 502,
    title: 'No answer from the server',
    retryable: true,
    exitCode: exitCodes.unavailable,
    className: 'SpoolNetworkError',
    description: 'spool/client could not reach the server, or its answer was cut off or not JSON',
    answeredByServer: false,
  },
  TIMEOUT: {
    code: 'SPOOL_TIMEOUT',
    httpStatus: 504,
    title: 'The request timed out',
    retryable: true,
    exitCode: exitCodes.unavailable,
    className: 'SpoolNetworkError',
    description: 'a spool/client request ran past its `timeoutMs`; whether the server applied it is unknown',
    answeredByServer: false,
  },
  UNEXPECTED_RESPONSE: {
    code: 'SPOOL_UNEXPECTED_RESPONSE',
    httpStatus: 502,
    title: 'Unexpected response',
    retryable: false,
    exitCode: exitCodes.failure,
    className: 'SpoolHttpError',
    description: "an error answer without a problem document (a proxy's page); `retryable` for 429 and 5xx",
    answeredByServer: false,
  },

  // --- the command line --------------------------------------------------------------------------
  ALREADY_EXISTS: {
    code: 'SPOOL_ALREADY_EXISTS',
    httpStatus: 409,
    title: 'Already exists',
    retryable: false,
    exitCode: exitCodes.conflict,
    description: '`spool queues create` or `topics create` on a name that exists, without `--update`',
    answeredByServer: false,
  },
});

/** The name of an entry of the catalogue: `QUEUE_FULL`. */
export type ErrorKey = keyof typeof errorCatalogue;

/** Every code of the catalogue: `SPOOL_QUEUE_FULL`, …. */
export type ErrorCode = (typeof errorCatalogue)[ErrorKey]['code'];

const specsByCode: ReadonlyMap<string, ErrorSpec> = new Map(
  Object.values(errorCatalogue).map((spec: ErrorSpec) => [spec.code, spec]),
);

/** The catalogue entry of `code`, or undefined for a code Spool does not know (a newer server's). */
export function errorSpecOf(code: string): ErrorSpec | undefined {
  return specsByCode.get(code);
}

/** Whether `code` is one of the catalogue's. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && specsByCode.has(code);
}

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

export class WorkerNotFoundError extends SpoolError {
  constructor(readonly workerId: string) {
    super(errorCatalogue.WORKER_NOT_FOUND, `worker "${workerId}" is not in the registry`, { workerId });
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
export class GroupNotFoundError extends SpoolError {
  constructor(topic: string, group: string) {
    super(
      errorCatalogue.GROUP_NOT_FOUND,
      `topic "${topic}" has no consumer group "${group}": it is created by its first member or seek`,
      { topic, group },
    );
  }
}

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
