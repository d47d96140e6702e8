/**
 * Errors of the client. Everything the client throws on purpose is a {@link SpoolClientError} with
 * a stable `code`: branch on `code` (or `instanceof` one of the subclasses), never on the message.
 *
 * - {@link SpoolHttpError}: the server answered a problem (any non-2xx). `code` is the problem's
 *   code (`SPOOL_QUEUE_FULL`, `SPOOL_JOB_NOT_FOUND`, …); `problem` is the whole document.
 * - {@link SpoolNetworkError}: no answer — the connection failed or the request timed out.
 * - {@link JobWaitTimeoutError}: `jobs.wait` gave up before the job finished.
 *
 * Every code is an entry of Spool's one error catalogue (`errorCatalogue` in src/core/errors.ts,
 * also exported by `spool`): a problem is thrown as the subclass of its code's HTTP status there
 * ({@link httpErrorClassFor}), so this file lists statuses, not codes.
 */
import { errorCatalogue, type ErrorKey, errorSpecOf } from '../core/errors.js';
import type { ClientErrorCode, Job, ProblemDocument, SpoolErrorCode } from './types.js';

/** A code the client knows, or any string a newer server might send. */
export type AnyErrorCode = SpoolErrorCode | (string & {});

/** The base class of every error the client throws on purpose. */
export class SpoolClientError extends Error {
  /** The stable error code to branch on. */
  readonly code: AnyErrorCode;
  /** Whether the same request may succeed later. */
  readonly retryable: boolean;

  /** @internal */
  constructor(code: AnyErrorCode, message: string, retryable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
  }
}

/**
 * The server answered with an error (RFC 9457 problem+json). The message is `code: detail`.
 *
 * @example
 * ```ts
 * try { await client.queues.send('emails', { to: 'ada@example.com' }); }
 * catch (error) {
 *   if (error instanceof SpoolHttpError && error.code === 'SPOOL_QUEUE_NOT_FOUND') { … }
 * }
 * ```
 */
export class SpoolHttpError extends SpoolClientError {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** What went wrong and what to do about it (the problem's `detail`). */
  readonly detail: string;
  /** The whole problem document, with its extensions (`errors`, `queue`, `maxDepth`, …). */
  readonly problem: ProblemDocument;
  /** The server's request id (also in its log), when it sent one. */
  readonly requestId: string | undefined;
  /** The answer's `Retry-After`, in ms, when it carried one. */
  readonly retryAfterMs: number | undefined;

  /** @internal Use {@link SpoolHttpError.from}. */
  constructor(status: number, problem: ProblemDocument, retryAfterMs?: number) {
    super(
      problem.code,
      `${problem.code}: ${problem.detail}`,
      // Problems from this server always say; anything else is judged by its status.
      typeof problem.retryable === 'boolean' ? problem.retryable : status === 429 || status >= 500,
    );
    this.status = status;
    this.detail = problem.detail;
    this.problem = problem;
    this.requestId = typeof problem.requestId === 'string' ? problem.requestId : undefined;
    this.retryAfterMs = retryAfterMs;
  }

  /** The field-level complaints of a 400 (`[{ in, field, message }]`); empty otherwise. */
  get errors(): NonNullable<ProblemDocument['errors']> {
    return this.problem.errors ?? [];
  }

  /**
   * Builds the error for a problem: an instance of {@link httpErrorClassFor} its code, or, for a
   * code this client does not know (a newer server's), of the subclass of the answer's status.
   */
  static from(status: number, problem: ProblemDocument, retryAfterMs?: number): SpoolHttpError {
    const Subclass = errorSpecOf(problem.code)
      ? httpErrorClassFor(problem.code)
      : (statusClasses[status] ?? SpoolHttpError);
    return new Subclass(status, problem, retryAfterMs);
  }
}

/** 400 `SPOOL_INVALID_ARGUMENT` or `SPOOL_BAD_REQUEST`: fix the request (see `errors`). */
export class InvalidArgumentHttpError extends SpoolHttpError {}
/** 401 `SPOOL_UNAUTHORIZED`: the token is missing or wrong. */
export class UnauthorizedHttpError extends SpoolHttpError {}
/**
 * 403 `SPOOL_FORBIDDEN`: the token lacks the scope in `problem.requiredScope` (any one of
 * `problem.acceptedScopes` would do); or 403 `SPOOL_RESERVED_NAME`: the queue or topic is one of
 * Spool's own (`spool.…`, `jobs.…`), which can be read but not changed through the API.
 */
export class ForbiddenHttpError extends SpoolHttpError {}
/** 404 `SPOOL_QUEUE_NOT_FOUND`, `SPOOL_TOPIC_NOT_FOUND`, `SPOOL_GROUP_NOT_FOUND`, `SPOOL_JOB_NOT_FOUND`, `SPOOL_ROUTE_NOT_FOUND`. */
export class NotFoundHttpError extends SpoolHttpError {}
/**
 * 409: the request conflicts with the current state. The codes with a subclass of their own
 * (below) are thrown as that subclass; the others (`SPOOL_GROUP_NOT_EMPTY`, …) as this class.
 */
export class ConflictHttpError extends SpoolHttpError {}
/** 409 `SPOOL_STALE_RECEIPT`: the lease was lost (settled already, or expired and delivered again). */
export class StaleReceiptHttpError extends ConflictHttpError {}
/** 409 `SPOOL_JOB_STATE_CONFLICT`: the job's status does not allow this (e.g. cancelling a finished job). */
export class JobStateConflictHttpError extends ConflictHttpError {}
/** 409 `SPOOL_CONFIG_CONFLICT`: the configuration conflicts with the stored one (e.g. partition count). */
export class ConfigConflictHttpError extends ConflictHttpError {}
/** 409 `SPOOL_NOT_PARTITION_OWNER` or `SPOOL_UNKNOWN_MEMBER`: poll again (without a cursor) before committing. */
export class GroupMembershipHttpError extends ConflictHttpError {}
/** 422 `SPOOL_IDEMPOTENCY_CONFLICT`: the Idempotency-Key was used with another body. */
export class IdempotencyConflictHttpError extends SpoolHttpError {}
/** 429 `SPOOL_QUEUE_FULL`: the queue is at its `maxDepth` (see `retryAfterMs`, `problem.maxDepth`). */
export class QueueFullHttpError extends SpoolHttpError {}
/** 503 `SPOOL_SHUTTING_DOWN`, `SPOOL_STORE_UNAVAILABLE`, `SPOOL_CLOSED`: try again later or elsewhere. */
export class UnavailableHttpError extends SpoolHttpError {}

/** A subclass of {@link SpoolHttpError}, as {@link SpoolHttpError.from} instantiates them. */
export type SpoolHttpErrorClass = new (
  status: number,
  problem: ProblemDocument,
  retryAfterMs?: number,
) => SpoolHttpError;

/**
 * The subclass of each HTTP status. A code is thrown as the subclass of its status in the error
 * catalogue (`errorCatalogue` in src/core/errors.ts), so a new code needs no change here.
 * Statuses not listed (413, 415, 416, 500, …) are thrown as {@link SpoolHttpError} itself.
 */
const statusClasses: Readonly<Partial<Record<number, SpoolHttpErrorClass>>> = {
  400: InvalidArgumentHttpError,
  401: UnauthorizedHttpError,
  403: ForbiddenHttpError,
  404: NotFoundHttpError,
  409: ConflictHttpError,
  422: IdempotencyConflictHttpError,
  429: QueueFullHttpError,
  503: UnavailableHttpError,
};

/**
 * Refinements of {@link ConflictHttpError} that predate it, by catalogue entry: each is a
 * subclass of its status's class, so `instanceof ConflictHttpError` holds for them too.
 */
const conflictClasses: Readonly<Partial<Record<ErrorKey, typeof ConflictHttpError>>> = {
  STALE_RECEIPT: StaleReceiptHttpError,
  JOB_STATE_CONFLICT: JobStateConflictHttpError,
  CONFIG_CONFLICT: ConfigConflictHttpError,
  NOT_PARTITION_OWNER: GroupMembershipHttpError,
  UNKNOWN_MEMBER: GroupMembershipHttpError,
};

const classesByCode: ReadonlyMap<string, SpoolHttpErrorClass> = new Map(
  (Object.keys(errorCatalogue) as ErrorKey[]).map((key) => {
    const { code, httpStatus } = errorCatalogue[key];
    return [
      code,
      (httpStatus === 409 ? conflictClasses[key] : undefined) ?? statusClasses[httpStatus] ?? SpoolHttpError,
    ];
  }),
);

/**
 * The class a problem with `code` is thrown as: derived from the code's HTTP status in the error
 * catalogue ({@link SpoolHttpError} for a code or status without a subclass).
 */
export function httpErrorClassFor(code: string): SpoolHttpErrorClass {
  return classesByCode.get(code) ?? SpoolHttpError;
}

/**
 * No answer from the server: the connection failed (`SPOOL_NETWORK_ERROR`, the fetch error is the
 * `cause`) or the request ran past `timeoutMs` (`SPOOL_TIMEOUT`). Whether the server applied the
 * request is unknown.
 */
export class SpoolNetworkError extends SpoolClientError {
  /** @internal */
  constructor(
    code: Extract<ClientErrorCode, 'SPOOL_NETWORK_ERROR' | 'SPOOL_TIMEOUT'>,
    message: string,
    cause?: unknown,
  ) {
    super(code, message, errorCatalogue[code === 'SPOOL_TIMEOUT' ? 'TIMEOUT' : 'NETWORK_ERROR'].retryable, {
      cause,
    });
  }
}

/** `jobs.wait` reached its `timeoutMs` before the job finished; `job` is the last state seen. */
export class JobWaitTimeoutError extends SpoolClientError {
  /** @internal */
  constructor(
    readonly jobId: string,
    readonly job: Job,
    timeoutMs: number,
  ) {
    super(
      errorCatalogue.WAIT_TIMEOUT.code,
      `job ${jobId} did not finish within ${timeoutMs} ms`,
      errorCatalogue.WAIT_TIMEOUT.retryable,
    );
  }
}
