/**
 * Alerts: the configured rules and the alerts firing now (see
 * src/observability/alerts-evaluator.ts). Transitions also appear as `alert.firing` /
 * `alert.resolved` events on `GET /v1/events`, and `/readyz` carries the firing count.
 */
import { AlertsResponseSchema } from '../../observability/alerts-schema.js';
import type { RouteModule } from '../context.js';

export const alertRoutes: RouteModule = (app, { alerts }) => {
  app.get(
    '/v1/alerts',
    {
      schema: {
        operationId: 'listAlerts',
        tags: ['operations'],
        summary: 'Alert rules and the alerts firing now',
        description:
          "Rules come from the alerts file given to `spool serve --alerts` (or `SPOOL_ALERTS_FILE`). An alert fires once its condition has held for the rule's `forSeconds` and resolves at the first evaluation that finds the condition false.",
        response: { 200: AlertsResponseSchema },
      },
      config: { access: 'token' },
    },
    () => ({
      rules: alerts.rules.map(({ states, ...rule }) => ({
        ...rule,
        ...(states === undefined ? {} : { states: [...states] }),
      })),
      alerts: alerts.firing(),
      evaluatedAt: alerts.evaluatedAt === null ? null : new Date(alerts.evaluatedAt).toISOString(),
    }),
  );
};
