/** Operations: liveness, readiness and the OpenAPI document. None of them needs a token. */
import { Type } from '@sinclair/typebox';
import { errorCatalogue, SpoolError } from '../../core/errors.js';
import type { RouteModule } from '../context.js';

const tags = ['operations'];
const Status = Type.Object({ status: Type.String() });

export const opsRoutes: RouteModule = (app, { spool }) => {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'health',
        tags,
        summary: 'Liveness: the process answers',
        response: { 200: Status },
      },
      config: { access: 'public' },
    },
    () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'ready',
        tags,
        summary: 'Readiness: the store answers and the server is not shutting down',
        description: 'Answers 503 (problem+json) while the store is unreachable or the server is closing.',
        response: { 200: Status },
      },
      config: { access: 'public' },
    },
    async (request) => {
      // A store read that touches the schema: fails when the database is gone, locked or closed.
      // (A closing server answers 503 before reaching here.)
      try {
        await spool.listQueues();
      } catch (error) {
        if (error instanceof SpoolError) throw error;
        request.log.error({ err: error }, 'readiness check: the store did not answer');
        throw new SpoolError(
          errorCatalogue.STORE_UNAVAILABLE,
          'the store did not answer; see the server log',
        );
      }
      return { status: 'ready' };
    },
  );

  app.get(
    '/openapi.json',
    {
      schema: { hide: true },
      config: { access: 'public' },
    },
    () => app.swagger(),
  );
};
