/**
 * The wire shapes of alerts (TypeBox), shared by `GET /v1/alerts`, the `alerts` member of
 * `GET /v1/stats` and `/readyz`, so every surface documents the same object in `/openapi.json`.
 */
import { type Static, Type } from '@sinclair/typebox';
import { alertKinds, depthStates } from './alerts-rules.js';

const Kind = Type.Union(
  alertKinds.map((kind) => Type.Literal(kind)),
  { description: alertKinds.join(', ') },
);

/** What an alert is about: a queue, or a consumer group of a topic. */
export const AlertTargetSchema = Type.Object({
  queue: Type.Optional(Type.String()),
  topic: Type.Optional(Type.String()),
  group: Type.Optional(Type.String()),
  breaker: Type.Optional(Type.String()),
});

/** A firing alert. */
export const AlertSchema = Type.Object(
  {
    id: Type.String({
      description: '`<rule name>/<target key>`, e.g. `orders-depth/orders` or `lag/orders.events/payment`',
    }),
    rule: Type.String(),
    kind: Kind,
    target: AlertTargetSchema,
    threshold: Type.Number(),
    value: Type.Number({ description: 'The latest measured value (same unit as the threshold)' }),
    since: Type.String({ format: 'date-time', description: 'When the alert started firing' }),
    message: Type.String({ description: 'A human sentence describing the breach' }),
  },
  { description: 'A firing alert' },
);
export type AlertWire = Static<typeof AlertSchema>;

/** A configured rule (durations normalized to seconds). */
export const AlertRuleSchema = Type.Object(
  {
    name: Type.String(),
    kind: Kind,
    queue: Type.Optional(Type.String({ description: 'A queue name, `*` or `prefix*` (queue kinds)' })),
    topic: Type.Optional(Type.String({ description: 'A topic name, `*` or `prefix*` (consumer-lag)' })),
    group: Type.Optional(Type.String({ description: 'A group name, `*` or `prefix*` (consumer-lag)' })),
    breaker: Type.Optional(
      Type.String({ description: 'A circuit breaker name, `*` or `prefix*` (breaker-open)' }),
    ),
    threshold: Type.Number({ description: 'Fires when the value is above this' }),
    windowSeconds: Type.Optional(
      Type.Number({ description: 'dlq-growth and failure-rate: the sliding window' }),
    ),
    forSeconds: Type.Number({ description: 'How long the condition must hold before firing' }),
    states: Type.Optional(Type.Array(Type.Union(depthStates.map((state) => Type.Literal(state))))),
    minSettled: Type.Optional(
      Type.Integer({ description: 'failure-rate: fewer settlements in the window never fire' }),
    ),
    description: Type.Optional(Type.String()),
  },
  { description: 'A configured alert rule' },
);

/** `GET /v1/alerts`. */
export const AlertsResponseSchema = Type.Object({
  rules: Type.Array(AlertRuleSchema),
  alerts: Type.Array(AlertSchema, { description: 'Firing alerts, oldest first' }),
  evaluatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the rules were last evaluated; null before the first evaluation or without rules',
  }),
});
