/** Request and response schemas of the webhook routes: the delivery log and disabled endpoints. */
import { Type } from '@sinclair/typebox';
import { maxBatch, defaultPageLimit, Timestamp } from './common.js';

const Outcome = Type.Union(
  [
    Type.Literal('delivered'),
    Type.Literal('retrying'),
    Type.Literal('dead-lettered'),
    Type.Literal('skipped'),
  ],
  {
    description:
      'delivered: 2xx. retrying: failed, will be tried again. dead-lettered: failed for good (in the DLQ). skipped: endpoint disabled, dead-lettered unsent.',
  },
);

export const DeliveryQuery = Type.Object({
  webhookId: Type.Optional(Type.String({ minLength: 1 })),
  jobId: Type.Optional(
    Type.String({ minLength: 1, description: "Only the attempts of this job's completion webhooks" }),
  ),
  since: Type.Optional(
    Type.String({
      format: 'date-time',
      description: 'Start at attempts made at or after this time (ignored with a cursor)',
    }),
  ),
  url: Type.Optional(Type.String({ minLength: 1 })),
  event: Type.Optional(Type.String({ minLength: 1 })),
  outcome: Type.Optional(Outcome),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'The `next` of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxBatch, default: defaultPageLimit })),
});

export const DeliveryAttempt = Type.Object({
  offset: Type.Integer({ description: 'Position in the delivery log' }),
  webhookId: Type.String(),
  url: Type.String(),
  event: Type.String(),
  attempt: Type.Integer({ description: '1 for the first attempt; counts again from 1 after a redrive' }),
  status: Type.Union([Type.Integer(), Type.Null()], {
    description: "The receiver's HTTP status; null without a response",
  }),
  outcome: Outcome,
  durationMs: Type.Integer(),
  error: Type.Optional(Type.String({ description: 'Why it failed (absent when delivered)' })),
  at: Timestamp,
});

export const DeliveryPage = Type.Object({
  items: Type.Array(DeliveryAttempt),
  next: Type.Union([Type.String(), Type.Null()], {
    description:
      'Pass as `cursor` to continue; null once the end of the log was reached. A filter that matches rarely may answer a short (even empty) page with a cursor.',
  }),
});

export const DisabledEndpoint = Type.Object({
  url: Type.String(),
  reason: Type.String(),
  at: Timestamp,
});

export const DisabledEndpointList = Type.Object({ items: Type.Array(DisabledEndpoint) });

export const EnableEndpointBody = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'The endpoint URL, as deliveries are posted to it (an absolute http(s) URL)',
    }),
  },
  { additionalProperties: false },
);

export const EnableEndpointResponse = Type.Object({
  url: Type.String(),
  enabled: Type.Boolean({ description: 'false when the endpoint was not disabled' }),
});
