/** Request and response schemas of the circuit breaker routes. */
import { Type } from '@sinclair/typebox';
import { Name } from './common.js';

const Timestamp = Type.String({ format: 'date-time' });
export const Breaker = Type.Object({
  name: Type.String(),
  state: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half-open')]),
  consecutiveFailures: Type.Integer(),
  openedAt: Type.Union([Timestamp, Type.Null()]),
  openUntil: Type.Union([Timestamp, Type.Null()], {
    description: 'When an open breaker lets a probe through',
  }),
  opened: Type.Integer({ description: 'Times it has opened' }),
  lastFailure: Type.Union([Type.Object({ name: Type.String(), message: Type.String() }), Type.Null()]),
  updatedAt: Type.Union([Timestamp, Type.Null()]),
});
export const BreakerList = Type.Object({ items: Type.Array(Breaker) });
export const BreakerParams = Type.Object({ name: Name });
