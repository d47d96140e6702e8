/**
 * What route modules are given: the typed Fastify instance and the server's shared state. A
 * resource's routes live in one file under `routes/` exporting a {@link RouteModule}; `app.ts`
 * lists the modules.
 */
import { setMaxListeners } from 'node:events';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Spool } from '../engine/spool.js';
import type { Jobs } from '../jobs/jobs.js';
import type { AlertEvaluator } from '../observability/alerts-evaluator.js';
import type { SpoolMetrics } from '../observability/metrics.js';
import type { Webhooks } from '../webhooks/delivery.js';
import type { RouteAccess } from './auth.js';
import type { Handles } from './handles.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (see `auth.ts`). Every `/v1` route must declare it. */
    access?: RouteAccess;
    /**
     * For routes that change the queue or topic named by their `:name`: that change is refused
     * for Spool's own names (403 `SPOOL_RESERVED_NAME`, see engine/reserved-names.ts), before the
     * body is validated. `action` says what is refused, before the name: `'sending to'`.
     */
    refuseReserved?: { readonly kind: 'queue' | 'topic'; readonly action: string };
  }
}

/** The Fastify instance with TypeBox typing of params, query, bodies and replies. */
export type SpoolApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** State shared by every route of one server. */
export interface ServerContext {
  readonly spool: Spool;
  /** The jobs layer: job records, remote workers, schedules, job events. */
  readonly jobs: Jobs;
  /** Webhook delivery: the delivery log and disabled endpoints. */
  readonly webhooks: Webhooks;
  /** Handles on existing queues and topics (404 for unknown names). */
  readonly handles: Handles;
  /** Alert rules and firing alerts (an evaluator without rules when none are configured). */
  readonly alerts: AlertEvaluator;
  /** Prometheus metrics and the JSON stats (`/metrics`, `/v1/stats`). */
  readonly metrics: SpoolMetrics;
  /** Aborted when the server starts closing, so long polls answer at once with what they have. */
  readonly closing: AbortSignal;
}

/** Registers one resource's routes. */
export type RouteModule = (app: SpoolApp, context: ServerContext) => void;

/** The longest a long poll (`waitMs`) may wait, in ms: below common proxy idle timeouts. */
export const maxWaitMs = 20_000;

/** Creates the `closing` signal; many long polls listen to it at once, which is expected. */
export function createClosingController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** The state of one long poll. */
export interface LongPoll {
  /** Aborted when the client disconnects or the server starts closing. */
  readonly signal: AbortSignal;
  /** True once the client disconnected before the answer was written: nobody will read it. */
  readonly abandoned: boolean;
}

/** Starts tracking a long poll on `reply`. */
export function startLongPoll(reply: FastifyReply, closing: AbortSignal): LongPoll {
  const controller = new AbortController();
  let abandoned = false;
  const abort = () => controller.abort();
  if (closing.aborted) abort();
  else closing.addEventListener('abort', abort, { once: true });
  // 'close' fires when the response is done or the connection dropped; either way the wait is over.
  reply.raw.once('close', () => {
    abandoned = !reply.raw.writableEnded;
    closing.removeEventListener('abort', abort);
    abort();
  });
  return {
    signal: controller.signal,
    get abandoned() {
      return abandoned;
    },
  };
}

/** An open Server-Sent Events response (see {@link openEventStream}). */
export interface EventStream {
  /** Where the events go; the caller ends it. */
  readonly raw: FastifyReply['raw'];
  readonly poll: LongPoll;
  /**
   * True for a HEAD request: the headers went out and the response is already over — the caller
   * writes nothing and returns.
   */
  readonly headOnly: boolean;
}

/** The headers of every event stream: no caching, no proxy buffering. */
function eventStreamHeaders(request: FastifyRequest): Record<string, string> {
  return {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': String(request.id),
  };
}

/**
 * Takes `reply` over as a Server-Sent Events stream: the headers (no caching, no proxy
 * buffering), a first comment so clients see the stream open, and a long poll whose signal ends
 * the stream when the client leaves or the server closes. The caller writes the events to `raw`
 * and ends it.
 *
 * A HEAD request (Fastify answers HEAD with the GET route) gets the same status and headers and
 * no body, at once: `headOnly` is true and the response is over. Call this only once the request
 * is known to be good, so that HEAD fails as GET does (401, 404, 416).
 *
 * A stream that ends because the server is shutting down ends its connection too: its client
 * will reconnect elsewhere, and an idle keep-alive connection would hold the closing server open
 * until its shutdown timeout.
 */
export function openEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  closing: AbortSignal,
): EventStream {
  const poll = startLongPoll(reply, closing);
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, eventStreamHeaders(request));
  if (request.method === 'HEAD') {
    raw.end();
    return { raw, poll, headOnly: true };
  }
  const socket = request.raw.socket;
  raw.once('finish', () => {
    if (closing.aborted && !socket.destroyed) socket.end(() => socket.destroy());
  });
  raw.write(': connected\n\n');
  return { raw, poll, headOnly: false };
}
