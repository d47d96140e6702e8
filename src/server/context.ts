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
import type { RemoteMembers } from './remote-members.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (see `auth.ts`). Every `/v1` route must declare it. */
    access?: RouteAccess;
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
  /** Consumer-group members that poll over HTTP. */
  readonly remoteMembers: RemoteMembers;
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

/**
 * Takes `reply` over as a Server-Sent Events stream: the headers (no caching, no proxy
 * buffering), a first comment so clients see the stream open, and a long poll whose signal ends
 * the stream when the client leaves or the server closes. The caller writes the events to `raw`
 * and ends it.
 */
export function openEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  closing: AbortSignal,
): { raw: FastifyReply['raw']; poll: LongPoll } {
  const poll = startLongPoll(reply, closing);
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': String(request.id),
  });
  raw.write(': connected\n\n');
  return { raw, poll };
}
