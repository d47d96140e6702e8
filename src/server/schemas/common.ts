/**
 * Schema pieces shared by every resource. Route schemas are TypeBox: the same objects validate
 * requests (see `validation.ts`), type the handlers and become the OpenAPI document.
 */
import { type TSchema, Type } from '@sinclair/typebox';
import { namePatternSource } from '../../core/names.js';

/** A queue, topic, group or member name, as the engine accepts it. */
export const Name = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: namePatternSource,
  description:
    "1-200 characters of letters, digits, '.', '_', '-' or ':' ('.' and '..' alone are refused: a URL cannot carry them)",
});

/** An RFC 9457 problem document, as every error is answered. */
export const Problem = Type.Object(
  {
    type: Type.String({
      description: 'A stable URI per error code',
      examples: ['https://spool.dev/problems/queue-full'],
    }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String({ description: 'What went wrong and what to do about it' }),
    instance: Type.String({ description: 'The request path' }),
    code: Type.String({ description: 'The stable error code to branch on', examples: ['SPOOL_QUEUE_FULL'] }),
    retryable: Type.Boolean({ description: 'Whether the same request may succeed later' }),
    requestId: Type.String({ description: 'Also in the X-Request-Id header and the server log' }),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          in: Type.Optional(Type.String({ description: 'body, querystring, params or headers' })),
          field: Type.String({ description: "Dotted path, e.g. 'messages.2.delayMs'" }),
          message: Type.String(),
        }),
        { description: 'One entry per invalid field (400 only)' },
      ),
    ),
  },
  {
    $id: 'Problem',
    additionalProperties: true,
    description: 'RFC 9457 problem details; extra members carry facts about the error',
  },
);

/** The response entries every route documents for its errors. */
export const problemResponses = {
  '4xx': {
    description: 'A problem with the request (see `code`); 429 and 503 carry `Retry-After`',
    content: { 'application/problem+json': { schema: Type.Ref('Problem') } },
  },
  '5xx': {
    description: 'A server-side problem',
    content: { 'application/problem+json': { schema: Type.Ref('Problem') } },
  },
} as const;

/**
 * The 200 of a Server-Sent Events route: a stream of `id:`/`event:`/`data:` records (data is
 * JSON), written as they happen; comment lines (`: heartbeat`) keep idle connections open.
 */
export function eventStreamResponse(description: string) {
  return {
    description,
    content: { 'text/event-stream': { schema: Type.String({ description: 'text/event-stream records' }) } },
  } as const;
}

/** The most messages, events or receipts one request may carry. */
export const maxBatch = 1000;

export const defaultPageLimit = 100;
export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxBatch, default: defaultPageLimit })),
  cursor: Type.Optional(Type.String({ minLength: 1, description: 'The `next` of the previous page' })),
});

/** A page of a listing. */
export function Page<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    next: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as `cursor` for the next page; null on the last page',
    }),
  });
}

/** Ms quantities the engine stores in 32-bit fields. */
export const Milliseconds = (description: string, minimum = 0) =>
  Type.Integer({ minimum, maximum: 2 ** 31 - 1, description });

export const Headers = Type.Record(Type.String(), Type.String(), {
  description: 'String headers carried with the message (W3C traceparent, CloudEvents attributes, your own)',
});

/** The body fields of an incoming message or event: exactly one of them. */
export const incomingBodyFields = {
  body: Type.Optional(Type.Unknown({ description: 'The body, any JSON value. Give this or bodyBase64.' })),
  bodyBase64: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9+/]*={0,2}$',
      contentEncoding: 'base64',
      description: 'A bytes body, base64-encoded; delivered back as bodyBase64. Give this or body.',
    }),
  ),
};

/** The body fields of an outgoing message or event: `body` for JSON, `bodyBase64` for bytes. */
export const outgoingBodyFields = {
  body: Type.Optional(Type.Unknown({ description: 'The body, when it was sent as JSON' })),
  bodyBase64: Type.Optional(Type.String({ description: 'The body, when it was sent as bytes' })),
};

export const Timestamp = Type.String({ format: 'date-time' });

export const AttemptError = Type.Object({
  attempt: Type.Integer(),
  at: Timestamp,
  name: Type.String(),
  message: Type.String(),
});

/** A response without a body. */
export const NoContent = Type.Null({ description: 'No content' });
