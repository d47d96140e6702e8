/**
 * Trace context across HTTP. The server continues the caller's trace: a request's W3C
 * `traceparent` becomes the parent of what its handler does (the producer span of a send,
 * publish or job add), and its trace id goes on the request's log lines. The client does the
 * other half: it injects the active context into the requests it sends.
 *
 * Spool creates no HTTP server span: `@opentelemetry/instrumentation-http` does that, and when
 * it is installed its span is already active, so the header is not extracted a second time.
 */
import { context, propagation, trace, type Context } from '@opentelemetry/api';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { activeSpanContext, traceIdOf, tracingEnabled } from './tracing.js';

type IncomingHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Makes every route of `app` declared after this call run in the context of its request's
 * `traceparent`, and adds `traceId` to the request's logger. Call before declaring routes.
 */
export function continueIncomingTraces(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const traceId = activeSpanContext()?.traceId ?? traceIdOf(single(request.headers.traceparent));
    if (traceId !== undefined) request.log = request.log.child({ traceId });
    done();
  });
  app.addHook('onRoute', (route: RouteOptions) => {
    // A WebSocket route's handler gets (socket, request) and lives as long as its connection:
    // not one request's trace.
    if ((route as { websocket?: boolean }).websocket) return;
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, request, reply) {
      const incoming = incomingContext(request.headers);
      return incoming === undefined
        ? handler.call(this, request, reply)
        : context.with(incoming, handler, this, request, reply);
    };
  });
}

/**
 * The caller's context from `headers`, when it should be continued: an SDK is registered, the
 * request carries a `traceparent`, and no server span (HTTP instrumentation) is active already.
 */
export function incomingContext(headers: IncomingHeaders): Context | undefined {
  if (headers.traceparent === undefined || !tracingEnabled()) return undefined;
  const active = context.active();
  if (trace.getSpan(active) !== undefined) return undefined;
  const extracted = propagation.extract(active, headers);
  return trace.getSpan(extracted) === undefined ? undefined : extracted;
}

/**
 * Adds the active context's `traceparent` (and whatever else the registered propagator writes)
 * to outgoing request `headers`, unless they carry a `traceparent` already. Does nothing without
 * an SDK or outside a span.
 */
export function injectActiveContext(headers: Record<string, string>): void {
  if (headers.traceparent !== undefined || !tracingEnabled()) return;
  const active = context.active();
  if (trace.getSpan(active) === undefined) return;
  propagation.inject(active, headers);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
