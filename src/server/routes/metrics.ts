/**
 * `GET /metrics`: every Spool metric in the Prometheus text format (see
 * src/observability/metrics.ts and docs/observability.md). Outside `/v1` like the other
 * operational endpoints, but it needs a token (any valid one: `read`) when tokens are configured
 * — Prometheus sends one with `authorization: { credentials_file: … }` in its scrape config.
 *
 * This module also times every HTTP request of the server for `spool_http_requests_total` and
 * `spool_http_request_duration_seconds`, labelled by the route's pattern — never the raw URL,
 * which would make a series per queue name, message id or typo.
 */
import type { RouteModule } from '../context.js';

export const metricsRoutes: RouteModule = (app, { metrics }) => {
  app.addHook('onResponse', (request, reply, done) => {
    // A path no route matched has no pattern: one `unmatched` series for all of them.
    const route = request.routeOptions.url ?? null;
    metrics.observeHttpRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format 0.0.4)',
        description:
          'Queue depths by state, dead-letter depth, oldest message age, send/ack/retry/dead-letter counters, processing and end-to-end latency histograms, topic end offsets, consumer-group committed offsets and lag, jobs by type and state, webhook deliveries by outcome, HTTP requests, and store commit latency and batch size. Store-derived gauges are read at most once a second. Needs any valid token when tokens are configured.',
        produces: ['text/plain'],
        response: {
          200: {
            description: 'The metrics in the Prometheus text exposition format 0.0.4',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
      config: { access: 'token' },
    },
    async (_request, reply) => {
      const text = await metrics.metrics();
      return reply.type(metrics.contentType).send(text);
    },
  );
};
