/**
 * Circuit breakers over HTTP: their shared state, and an operator's reset. Breakers are defined
 * and used in the processes that call the dependency (`jobs.breakers`); the server reads and
 * resets the state they share through the store.
 */
import type { BreakerView } from '../../breakers/breakers.js';
import type { RouteModule } from '../context.js';
import { Breaker, BreakerList, BreakerParams } from '../schemas/breakers.js';

const tags = ['breakers'];
export const breakerRoutes: RouteModule = (app, { jobs }) => {
  app.get(
    '/v1/breakers',
    {
      schema: {
        operationId: 'listBreakers',
        tags,
        summary: 'Every circuit breaker with its shared state: closed, open (until when) or half-open',
        response: { 200: BreakerList },
      },
      config: { access: ['read', 'admin'] },
    },
    async () => ({ items: (await jobs.breakers.list()).map(wireBreaker) }),
  );

  app.post(
    '/v1/breakers/:name/reset',
    {
      schema: {
        operationId: 'resetBreaker',
        tags,
        summary: 'Close a breaker now, in every process (an operator who knows the dependency is back)',
        params: BreakerParams,
        response: { 200: Breaker },
      },
      config: { access: 'admin' },
    },
    async (request) => wireBreaker(await jobs.breakers.reset(request.params.name)),
  );
};

export function wireBreaker(breaker: BreakerView) {
  const iso = (date: Date | null) => (date === null ? null : date.toISOString());
  return {
    ...breaker,
    openedAt: iso(breaker.openedAt),
    openUntil: iso(breaker.openUntil),
    updatedAt: iso(breaker.updatedAt),
    lastFailure: breaker.lastFailure && {
      name: breaker.lastFailure.name,
      message: breaker.lastFailure.message,
    },
  };
}
