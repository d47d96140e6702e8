/**
 * Errors as RFC 9457 problem details. Every error the server answers with — an engine error from
 * the catalogue, a schema violation, a malformed or oversized body, a missing token, an unknown
 * route, or a bug — leaves through {@link toProblem}, so clients see one shape everywhere:
 * `type` (a stable URI per code), `title`, `status`, `detail` (what to fix), `instance` (the
 * request path), and the extensions `code`, `retryable`, `requestId` and, for bad input,
 * `errors` (one entry per field). Unexpected errors become a bare 500: their message and stack
 * go to the log, never to the client.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyRequest } from 'fastify';
import { errorCatalogue, type ErrorSpec, QueueFullError, SpoolError } from '../core/errors.js';

/** The base of every problem `type` URI: the code without `SPOOL_`, in kebab case. */
export const problemTypeBase = 'https://spool.dev/problems/';

/**
 * Errors that only exist at the HTTP boundary, in the same shape as the engine's catalogue.
 * They belong next to it (one list for the client, the CLI and the docs); they live here only
 * while `src/core` is owned by the engine.
 */
export const httpErrorCatalogue = {
  BAD_REQUEST: { code: 'SPOOL_BAD_REQUEST', httpStatus: 400, title: 'Bad request', retryable: false },
  UNAUTHORIZED: {
    code: 'SPOOL_UNAUTHORIZED',
    httpStatus: 401,
    title: 'Missing or invalid API token',
    retryable: false,
  },
  FORBIDDEN: {
    code: 'SPOOL_FORBIDDEN',
    httpStatus: 403,
    title: 'API token lacks the required scope',
    retryable: false,
  },
  ROUTE_NOT_FOUND: {
    code: 'SPOOL_ROUTE_NOT_FOUND',
    httpStatus: 404,
    title: 'No such route',
    retryable: false,
  },
  GROUP_NOT_FOUND: {
    code: 'SPOOL_GROUP_NOT_FOUND',
    httpStatus: 404,
    title: 'Consumer group not found',
    retryable: false,
  },
  PAYLOAD_TOO_LARGE: {
    code: 'SPOOL_PAYLOAD_TOO_LARGE',
    httpStatus: 413,
    title: 'Request body too large',
    retryable: false,
  },
  UNSUPPORTED_MEDIA_TYPE: {
    code: 'SPOOL_UNSUPPORTED_MEDIA_TYPE',
    httpStatus: 415,
    title: 'Unsupported content type',
    retryable: false,
  },
  INTERNAL: { code: 'SPOOL_INTERNAL', httpStatus: 500, title: 'Internal server error', retryable: true },
  SHUTTING_DOWN: {
    code: 'SPOOL_SHUTTING_DOWN',
    httpStatus: 503,
    title: 'Server is shutting down',
    retryable: true,
  },
} as const satisfies Record<string, ErrorSpec>;

/** An error raised by the HTTP layer itself, with a catalogue entry and optional response headers. */
export class HttpError extends Error {
  constructor(
    readonly spec: ErrorSpec,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly extensions: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** One field-level complaint in a 400 problem. */
export interface FieldError {
  /** Where the field is: `body`, `querystring`, `params` or `headers`; absent when the engine reported it. */
  readonly in?: string;
  /** Dotted path inside that part, e.g. `messages.2.delayMs`; `(root)` for the part as a whole. */
  readonly field: string;
  readonly message: string;
}

/** A problem document, ready to be sent, with the response headers it needs. */
export interface ProblemResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;
  /** True when the error was not one we raise on purpose: log it in full. */
  readonly unexpected: boolean;
}

const engineSpecs = new Map<string, ErrorSpec>(
  Object.values(errorCatalogue).map((spec) => [spec.code, spec]),
);

/** Turns anything thrown while handling `request` into a problem response. */
export function toProblem(error: unknown, request: FastifyRequest): ProblemResponse {
  if (error instanceof SpoolError) return fromSpoolError(error, request);
  if (error instanceof HttpError) {
    return build(request, error.spec, error.message, { ...error.extensions }, { ...error.headers });
  }
  if (isFastifyError(error)) return fromFastifyError(error, request);
  return build(
    request,
    httpErrorCatalogue.INTERNAL,
    `an unexpected error occurred; it was logged with request id ${request.id}`,
    {},
    {},
    true,
  );
}

function fromSpoolError(error: SpoolError, request: FastifyRequest): ProblemResponse {
  const spec = engineSpecs.get(error.code) ?? httpErrorCatalogue.INTERNAL;
  const { errors, field, ...facts } = error.details;
  const extensions: Record<string, unknown> = { ...facts };
  if (Array.isArray(errors)) extensions.errors = errors;
  else if (typeof field === 'string') extensions.errors = [{ field, message: error.message }];
  const headers: Record<string, string> = {};
  if (error instanceof QueueFullError) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  } else if (error.retryable && error.httpStatus === 503) {
    headers['retry-after'] = '1';
  }
  return build(request, spec, error.message, extensions, headers);
}

function fromFastifyError(error: FastifyError, request: FastifyRequest): ProblemResponse {
  if (error.validation) {
    const part = error.validationContext ?? 'body';
    const errors: FieldError[] = error.validation.map((item) => ({
      in: part,
      field: item.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(root)',
      message: item.message ?? 'is invalid',
    }));
    const summary = errors.map((item) => `${item.field} ${item.message}`).join('; ');
    return build(request, errorCatalogue.INVALID_ARGUMENT, `the request ${part} is invalid: ${summary}`, {
      errors,
    });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return build(request, errorCatalogue.INVALID_ARGUMENT, 'the request body is not valid JSON', {
        errors: [{ in: 'body', field: '(root)', message: 'is not valid JSON' }],
      });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return build(
        request,
        httpErrorCatalogue.PAYLOAD_TOO_LARGE,
        'the request body is larger than the server accepts; send smaller batches or raise the server body limit',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return build(
        request,
        httpErrorCatalogue.UNSUPPORTED_MEDIA_TYPE,
        'send request bodies as JSON with Content-Type: application/json',
      );
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Fastify's own client errors (bad Content-Length, bad URL encoding, …): its messages describe
    // the request, not our internals, so they are safe to pass on.
    return build(
      request,
      { ...httpErrorCatalogue.BAD_REQUEST, httpStatus: status, title: STATUS_CODES[status] ?? 'Bad request' },
      error.message,
    );
  }
  return build(
    request,
    httpErrorCatalogue.INTERNAL,
    `an unexpected error occurred; it was logged with request id ${request.id}`,
    {},
    {},
    true,
  );
}

function build(
  request: FastifyRequest,
  spec: ErrorSpec,
  detail: string,
  extensions: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  unexpected = false,
): ProblemResponse {
  return {
    status: spec.httpStatus,
    headers,
    unexpected,
    body: {
      ...extensions,
      type: problemType(spec.code),
      title: spec.title,
      status: spec.httpStatus,
      detail,
      instance: request.url,
      code: spec.code,
      retryable: spec.retryable,
      requestId: request.id,
    },
  };
}

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

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && ('validation' in error || 'statusCode' in error || 'code' in error);
}
