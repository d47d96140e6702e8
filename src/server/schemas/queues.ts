/** Request and response schemas of the queue routes. */
import { Type } from '@sinclair/typebox';
import { BackoffSchema, QueueConfigSchema, queueDefaults } from '../../core/options.js';
import { maxWaitMs } from '../context.js';
import {
  AttemptError,
  Headers,
  incomingBodyFields,
  maxBatch,
  Milliseconds,
  Name,
  outgoingBodyFields,
  Page,
  Timestamp,
} from './common.js';

export const QueueParams = Type.Object({ name: Name });

/** The queue options of the engine (`QueueOptions`), built from its config schema. */
export const QueueOptions = Type.Composite(
  [
    Type.Partial(Type.Omit(QueueConfigSchema, ['name', 'backoff'])),
    Type.Object({ backoff: Type.Optional(Type.Partial(BackoffSchema)) }),
  ],
  {
    additionalProperties: false,
    description:
      'The whole configuration of the queue: omitted fields take their defaults ' +
      `(visibilityTimeoutMs ${queueDefaults.visibilityTimeoutMs}, maxAttempts ${queueDefaults.maxAttempts}, ` +
      `backoff ${JSON.stringify(queueDefaults.backoff)}, maxDepth ${queueDefaults.maxDepth} (unbounded), ` +
      `dedupWindowMs ${queueDefaults.dedupWindowMs}, messageTtlMs ${queueDefaults.messageTtlMs} (messages never expire), ` +
      `globalConcurrency ${queueDefaults.globalConcurrency} (no bound across consumers)).`,
  },
);

export const QueueStats = Type.Object({
  ready: Type.Integer({ description: 'Deliverable now' }),
  delayed: Type.Integer({ description: 'Waiting for a delay or a retry backoff' }),
  inFlight: Type.Integer({ description: 'Leased to a consumer' }),
  deadLettered: Type.Integer({ description: 'In the dead-letter queue' }),
  oldestAgeMs: Type.Integer({ description: 'Age of the oldest message in the queue; 0 when empty' }),
  paused: Type.Boolean({ description: 'A paused queue takes sends but delivers nothing until resumed' }),
  pausedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const QueueWithStats = Type.Composite([QueueConfigSchema, Type.Object({ stats: QueueStats })]);
export const QueueList = Type.Object({ items: Type.Array(QueueWithStats) });

// --- sending ------------------------------------------------------------------------------------

export const OutgoingMessage = Type.Object(
  {
    ...incomingBodyFields,
    headers: Type.Optional(Headers),
    key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: 'Per-key FIFO: messages with one key are delivered in send order, one at a time',
      }),
    ),
    group: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description:
          'Fairness group (a tenant): a queue hands out work round-robin across its groups, the one served least recently first, so one group’s backlog does not starve another’s; within a group, priority then send order. Messages without a group count as one group',
      }),
    ),
    priority: Type.Optional(
      Type.Integer({ minimum: -(2 ** 31 - 1), maximum: 2 ** 31 - 1, description: 'Higher first; default 0' }),
    ),
    delayMs: Type.Optional(Milliseconds('Not delivered before this many ms from now')),
    ttlMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 2 ** 31 - 1,
        description:
          "Expires this long after the send (overrides the queue's messageTtlMs): an expired message is never delivered and goes to the dead-letter queue with a MessageExpired error",
      }),
    ),
    dedupId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: "A repeat within the queue's dedupWindowMs stores nothing and answers the original id",
      }),
    ),
  },
  { additionalProperties: false },
);

export const SendBody = Type.Union(
  [
    OutgoingMessage,
    Type.Object(
      { messages: Type.Array(OutgoingMessage, { minItems: 1, maxItems: maxBatch }) },
      { additionalProperties: false },
    ),
  ],
  { description: 'One message, or a batch `{ messages: [...] }` stored all or nothing' },
);

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'For a single message: used as its dedupId (not accepted with a batch)',
    }),
  ),
});

export const SendResult = Type.Object({
  id: Type.String(),
  duplicate: Type.Boolean({ description: 'True when the dedup id was seen: nothing was stored' }),
});
export const SendResults = Type.Object({
  results: Type.Array(SendResult, { description: 'In the order sent' }),
});
export const SendResponse = Type.Union([SendResult, SendResults]);

// --- receiving and settling ---------------------------------------------------------------------

/** What a receive uses for the fields it omits (the lease defaults to the queue's). */
export const receiveDefaults = { max: 1, waitMs: 0 } as const;

export const ReceiveBody = Type.Object(
  {
    max: Type.Optional(Type.Integer({ minimum: 1, maximum: maxBatch, default: receiveDefaults.max })),
    waitMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: maxWaitMs,
        default: receiveDefaults.waitMs,
        description: 'Long poll: wait up to this long for a message when none is ready',
      }),
    ),
    visibilityMs: Type.Optional(Milliseconds("Lease length; default: the queue's visibilityTimeoutMs", 1)),
  },
  { additionalProperties: false },
);

export const ReceivedMessage = Type.Object({
  id: Type.String(),
  receipt: Type.String({ description: 'Proof of the lease: ack, nack, release or extend with it' }),
  ...outgoingBodyFields,
  headers: Headers,
  key: Type.Union([Type.String(), Type.Null()]),
  priority: Type.Integer(),
  attempt: Type.Integer({ description: 'This delivery: 1 on first delivery' }),
  enqueuedAt: Timestamp,
  leaseExpiresAt: Timestamp,
  errors: Type.Array(AttemptError, { description: 'Errors of earlier attempts' }),
});
export const ReceiveResponse = Type.Object({ messages: Type.Array(ReceivedMessage) });

const Receipt = Type.String({ minLength: 1 });
const Receipts = Type.Array(Receipt, { minItems: 1, maxItems: maxBatch });

export const AckBody = Type.Union([
  Type.Object({ receipt: Receipt }, { additionalProperties: false }),
  Type.Object({ receipts: Receipts }, { additionalProperties: false }),
]);

const Reason = (description: string) => Type.String({ minLength: 1, maxLength: 1000, description });
const nackFields = {
  delayMs: Type.Optional(Milliseconds('Delivered again after this many ms; default 0')),
  error: Type.Optional(Reason("Why the attempt failed: recorded in the message's errors")),
};
export const NackBody = Type.Union([
  Type.Object({ receipt: Receipt, ...nackFields }, { additionalProperties: false }),
  Type.Object({ receipts: Receipts, ...nackFields }, { additionalProperties: false }),
]);

const releaseFields = {
  delayMs: Type.Optional(Milliseconds('Delivered again after this many ms; default 0')),
};
export const ReleaseBody = Type.Union([
  Type.Object({ receipt: Receipt, ...releaseFields }, { additionalProperties: false }),
  Type.Object({ receipts: Receipts, ...releaseFields }, { additionalProperties: false }),
]);

const reason = Reason("Why: recorded as the message's last error");
export const DeadLetterBody = Type.Union([
  Type.Object({ receipt: Receipt, reason }, { additionalProperties: false }),
  Type.Object({ receipts: Receipts, reason }, { additionalProperties: false }),
]);

const extendBy = Type.Optional(Milliseconds("New lease length from now; default: the queue's", 1));
export const ExtendBody = Type.Union([
  Type.Object({ receipt: Receipt, visibilityMs: extendBy }, { additionalProperties: false }),
  Type.Object({ receipts: Receipts, visibilityMs: extendBy }, { additionalProperties: false }),
]);

export const SettleResult = Type.Object({
  receipt: Type.String(),
  ok: Type.Boolean(),
  leaseExpiresAt: Type.Optional(Timestamp),
  code: Type.Optional(Type.String({ description: 'Why it failed, e.g. SPOOL_STALE_RECEIPT' })),
  detail: Type.Optional(Type.String()),
});
export const SettleResults = Type.Object({
  results: Type.Array(SettleResult, { description: 'One per receipt, in the order given' }),
});
export const ExtendResult = Type.Object({ leaseExpiresAt: Timestamp });

// --- browsing and dead letters ------------------------------------------------------------------

export const QueuedMessage = Type.Object({
  id: Type.String(),
  ...outgoingBodyFields,
  headers: Headers,
  key: Type.Union([Type.String(), Type.Null()]),
  priority: Type.Integer(),
  state: Type.Union([Type.Literal('ready'), Type.Literal('delayed'), Type.Literal('in-flight')]),
  attempts: Type.Integer(),
  enqueuedAt: Timestamp,
  availableAt: Timestamp,
  expiresAt: Type.Union([Timestamp, Type.Null()], {
    description: "When it expires (its ttlMs, or the queue's messageTtlMs): never delivered after that",
  }),
  errors: Type.Array(AttemptError),
});
export const QueuedMessagePage = Page(QueuedMessage);

export const DeadLetter = Type.Object({
  id: Type.String(),
  ...outgoingBodyFields,
  headers: Headers,
  key: Type.Union([Type.String(), Type.Null()]),
  priority: Type.Integer(),
  attempts: Type.Integer({ description: 'Deliveries made before it was dead-lettered' }),
  enqueuedAt: Timestamp,
  deadLetteredAt: Timestamp,
  errors: Type.Array(AttemptError, { description: 'Every failure; the last is why it was dead-lettered' }),
});
export const DeadLetterPage = Page(DeadLetter);

export const DeadLetterSelection = Type.Object(
  {
    ids: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        maxItems: maxBatch,
        description: 'Only these dead letters; all of them when omitted',
      }),
    ),
  },
  { additionalProperties: false },
);
export const Redriven = Type.Object({ redriven: Type.Integer() });
export const Purged = Type.Object({ purged: Type.Integer() });
