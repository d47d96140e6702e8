/**
 * Errors as RFC 9457 problem details. Every error the server answers with — an engine error from
 * the catalogue, a schema violation, a malformed or oversized body, a missing token, an unknown
 * route, or a bug — leaves through {@link toProblem}, so clients see one shape everywhere:
 * `type` (a stable URI per code), `title`, `status`, `detail` (what to fix), `instance` (the
 * request path), and the extensions `code`, `retryable`, `requestId` and, for bad input,
 * `errors` (one entry per field). Unexpected errors become a bare 500: their message and stack
 * go to the log, never to the client.
 *
 * Status, `type`, `title` and `retryable` come from the one error catalogue (`errorCatalogue` in
 * src/core/errors.ts), looked up by the error's code; there is no table of its own here.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyRequest } from 'fastify';
import { errorCatalogue, type ErrorSpec, errorSpecOf, QueueFullError, SpoolError } from '../core/errors.js';

export { problemType, problemTypeBase } from '../core/errors.js';

/**
 * An error raised by the HTTP layer itself: a {@link SpoolError} with a catalogue entry, plus
 * response headers (`WWW-Authenticate`, `Retry-After`, …) and problem extensions.
 */
export class HttpError extends SpoolError {
  constructor(
    readonly spec: ErrorSpec,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly extensions: Readonly<Record<string, unknown>> = {},
  ) {
    super(spec, message, extensions);
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

/** Turns anything thrown while handling `request` into a problem response. */
export function toProblem(error: unknown, request: FastifyRequest): ProblemResponse {
  if (error instanceof HttpError) {
    return build(request, error.spec, error.message, { ...error.extensions }, { ...error.headers });
  }
  if (error instanceof SpoolError) return fromSpoolError(error, request);
  if (isFastifyError(error)) return fromFastifyError(error, request);
  return build(
    request,
    errorCatalogue.INTERNAL,
    `an unexpected error occurred; it was logged with request id ${request.id}`,
    {},
    {},
    true,
  );
}

function fromSpoolError(error: SpoolError, request: FastifyRequest): ProblemResponse {
  const spec = errorSpecOf(error.code) ?? errorCatalogue.INTERNAL;
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
        errorCatalogue.PAYLOAD_TOO_LARGE,
        'the request body is larger than the server accepts; send smaller batches or raise the server body limit',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return build(
        request,
        errorCatalogue.UNSUPPORTED_MEDIA_TYPE,
        'send request bodies as JSON with Content-Type: application/json',
      );
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Fastify's own client errors (bad Content-Length, bad URL encoding, …): its messages describe
    // the request, not our internals, so they are safe to pass on.
    return build(
      request,
      { ...errorCatalogue.BAD_REQUEST, httpStatus: status, title: STATUS_CODES[status] ?? 'Bad request' },
      error.message,
    );
  }
  return build(
    request,
    errorCatalogue.INTERNAL,
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
      type: spec.type,
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

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && ('validation' in error || 'statusCode' in error || 'code' in error);
}
