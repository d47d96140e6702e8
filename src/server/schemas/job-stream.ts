/**
 * The frames of the job stream (`GET /v1/jobs/stream`, a WebSocket): remote workers take jobs
 * pushed under credit and send completes, fails and heartbeats back in batches. The framing is
 * the queue stream's (docs/streaming.md); each item carries what the matching HTTP route's body
 * does, plus the job id.
 */
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { CompleteBody, FailBody, HeartbeatBody } from './jobs.js';
import { workerIdentity } from './queue-stream.js';

const JobRef = Type.Object({
  job: Type.String({ minLength: 1, description: 'The job id' }),
  traceparent: Type.Optional(
    Type.String({
      maxLength: 256,
      description: "W3C trace context of the worker's span, as the HTTP routes take it in a header",
    }),
  ),
  tracestate: Type.Optional(Type.String({ maxLength: 512 })),
});
const FrameId = Type.Integer({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  description: "The client's number for this frame; the `settled` answer carries it back",
});
const Credit = Type.Integer({ minimum: 0, maximum: 1000 });
const items = <T extends TObject>(body: T) =>
  Type.Array(Type.Composite([JobRef, body], { additionalProperties: false }), {
    minItems: 1,
    maxItems: 1000,
  });

export const JobClientFrame = Type.Union([
  Type.Object({ type: Type.Literal('credit'), n: Credit }, { additionalProperties: false }),
  Type.Object(
    {
      type: Type.Literal('complete'),
      id: FrameId,
      items: items(CompleteBody),
      credit: Type.Optional(Credit),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal('fail'), id: FrameId, items: items(FailBody), credit: Type.Optional(Credit) },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal('heartbeat'), id: FrameId, items: items(HeartbeatBody) },
    { additionalProperties: false },
  ),
]);
export type JobClientFrame = Static<typeof JobClientFrame>;

export const JobStreamQuery = Type.Object(
  {
    types: Type.String({
      minLength: 1,
      maxLength: 19_000,
      description: 'The job types to run, comma-separated (at most 100)',
    }),
    credit: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 1000, description: 'Credit granted at once: jobs it may push' }),
    ),
    leaseMs: Type.Optional(
      Type.Integer({
        minimum: 1000,
        maximum: 2 ** 31 - 1,
        description: 'The lease of each pushed job; heartbeat within it. Default 30000',
      }),
    ),
    ...workerIdentity,
  },
  { additionalProperties: false },
);
