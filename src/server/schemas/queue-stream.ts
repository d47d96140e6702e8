/**
 * The frames of the streaming consume protocol (`GET /v1/queues/{name}/stream`, a WebSocket).
 * Every frame is one JSON object in a text message with a `type`. docs/streaming.md describes
 * the protocol for clients in any language; these schemas are what the server checks.
 */
import { Type, type Static } from '@sinclair/typebox';
import { maxBatch, Milliseconds } from './common.js';

const Receipt = Type.String({ minLength: 1, maxLength: 512 });
const FrameId = Type.Integer({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  description: "The client's number for this frame; the `settled` answer carries it back",
});
const Reason = Type.String({ minLength: 1, maxLength: 1000 });
const items = <T extends Parameters<typeof Type.Object>[0]>(fields: T) =>
  Type.Array(Type.Object({ receipt: Receipt, ...fields }, { additionalProperties: false }), {
    minItems: 1,
    maxItems: maxBatch,
  });

export const CreditFrame = Type.Object(
  { type: Type.Literal('credit'), n: Type.Integer({ minimum: 0, maximum: 10_000 }) },
  { additionalProperties: false },
);
export const AckFrame = Type.Object(
  {
    type: Type.Literal('ack'),
    id: FrameId,
    receipts: Type.Array(Receipt, { minItems: 1, maxItems: maxBatch }),
    credit: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
export const NackFrame = Type.Object(
  {
    type: Type.Literal('nack'),
    id: FrameId,
    items: items({
      delayMs: Type.Optional(
        Milliseconds("Delivered again after this many ms; default: the queue's backoff"),
      ),
      error: Type.Optional(Reason),
    }),
    credit: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
export const ReleaseFrame = Type.Object(
  {
    type: Type.Literal('release'),
    id: FrameId,
    items: items({ delayMs: Type.Optional(Milliseconds('Delivered again after this many ms; default 0')) }),
    credit: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
export const DeadLetterFrame = Type.Object(
  {
    type: Type.Literal('dead-letter'),
    id: FrameId,
    items: items({ reason: Reason }),
    credit: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
export const ExtendFrame = Type.Object(
  {
    type: Type.Literal('extend'),
    id: FrameId,
    items: items({ visibilityMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 12 * 3600_000 })) }),
  },
  { additionalProperties: false },
);

export const ClientFrame = Type.Union([
  CreditFrame,
  AckFrame,
  NackFrame,
  ReleaseFrame,
  DeadLetterFrame,
  ExtendFrame,
]);
export type ClientFrame = Static<typeof ClientFrame>;

/** Who the consumer is, for the workers registry (GET /v1/workers): its host and process id. */
export const workerIdentity = {
  host: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "The consumer's host name" })),
  pid: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description: "The consumer's process id" }),
  ),
};

export const StreamQuery = Type.Object(
  {
    credit: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 10_000,
        description: 'Credit granted at once, as if the first frame were `{"type":"credit","n":credit}`',
      }),
    ),
    visibilityMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 12 * 3600_000,
        description: "The lease of each delivered message; default the queue's visibilityTimeoutMs",
      }),
    ),
    ...workerIdentity,
  },
  { additionalProperties: false },
);
