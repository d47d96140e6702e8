/** Operations: liveness, readiness and the OpenAPI document. None of them needs a token. */
import { Type } from '@sinclair/typebox';
import { errorCatalogue, SpoolError } from '../../core/errors.js';
import { requestScopes, scopes } from '../auth.js';
import type { RouteModule } from '../context.js';

const tags = ['operations'];
const Status = Type.Object({ status: Type.String() });
const Readiness = Type.Object({
  status: Type.String(),
  alerts: Type.Object(
    {
      firing: Type.Integer({ description: 'How many alerts fire now' }),
      items: Type.Array(
        Type.Object({ id: Type.String(), rule: Type.String(), kind: Type.String(), since: Type.String() }),
        { description: 'The firing alerts (details at GET /v1/alerts)' },
      ),
    },
    {
      description:
        'Firing alerts, for a glance: they do not make the server unready (a backlog is not cured by taking the instance out of rotation)',
    },
  ),
});

export const opsRoutes: RouteModule = (app, { spool, alerts }) => {
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
        description:
          'Answers 503 (problem+json) while the store is unreachable or the server is closing. Firing alerts are listed but never make the answer 503.',
        response: { 200: Readiness },
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
      const firing = alerts.firing();
      return {
        status: 'ready',
        alerts: {
          firing: firing.length,
          items: firing.map(({ id, rule, kind, since }) => ({ id, rule, kind, since })),
        },
      };
    },
  );

  app.get(
    '/v1/auth/scopes',
    {
      schema: {
        operationId: 'tokenScopes',
        tags,
        summary: 'The scopes of the token this request presents (every scope on a server without tokens)',
        description:
          'For a console to offer only the actions its token may take (the dashboard hides the others). 401 without a valid token when the server has tokens.',
        response: {
          200: Type.Object({
            scopes: Type.Array(Type.Union(scopes.map((scope) => Type.Literal(scope)))),
          }),
        },
      },
      config: { access: 'token' },
    },
    (request) => ({ scopes: requestScopes(request) }),
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
