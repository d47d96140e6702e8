/**
 * The HTTP server of Spool: a Fastify application over one {@link Spool}. Routes are thin — each
 * validates its input against a TypeBox schema, calls the engine and shapes the answer — and live
 * one resource per file under `routes/`. To add a resource, write `routes/<resource>.ts` exporting
 * a {@link RouteModule} and list it in `routeModules` below; every `/v1` route declares its
 * `config.access` (see `auth.ts`), and its schemas appear in `/openapi.json` on their own.
 *
 * Cross-cutting behaviour, in request order: shutting-down check (503), authentication
 * (401/403), body parsing (JSON only; 400 malformed, 413 too large, 415 other types), schema
 * validation (400 with a field list), the handler, and one error handler that answers every
 * failure as problem+json (`problems.ts`).
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { assertNotReserved } from '../engine/reserved-names.js';
import type { Spool } from '../engine/spool.js';
import { Jobs } from '../jobs/jobs.js';
import { Webhooks } from '../webhooks/delivery.js';
import { AlertEvaluator } from '../observability/alerts-evaluator.js';
import { SpoolMetrics } from '../observability/metrics.js';
import { metricsRoutes } from './routes/metrics.js';
import { statsRoutes } from './routes/stats.js';
import { alertRoutes } from './routes/alerts.js';
import { workerRoutes } from './routes/workers.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { eventRoutes } from './routes/events.js';
import { jobRoutes } from './routes/jobs.js';
import { jobStreamRoutes } from './routes/job-stream.js';
import { workflowRoutes } from './routes/workflows.js';
import { breakerRoutes } from './routes/breakers.js';
import { accessScopes, type AuthOptions, createAuthenticator, scopes } from './auth.js';
import { createClosingController, type RouteModule, type ServerContext, type SpoolApp } from './context.js';
import { Handles } from './handles.js';
import { errorCatalogue } from '../core/errors.js';
import { HttpError, type ProblemResponse, problemType, toProblem } from './problems.js';
import { opsRoutes } from './routes/ops.js';
import { queueMessageRoutes } from './routes/queue-messages.js';
import { queueStreamRoutes } from './routes/queue-stream.js';
import { streamCloseCodes } from './stream-socket.js';
import { queueRoutes } from './routes/queues.js';
import { topicGroupRoutes } from './routes/topic-groups.js';
import { topicRoutes } from './routes/topics.js';
import { webhookRoutes } from './routes/webhooks.js';
import { continueIncomingTraces } from '../telemetry/tracing-http.js';
import { recordRouteAccess } from './scope-table.js';
import { Problem, problemResponses } from './schemas/common.js';
import { validatorCompiler } from './validation.js';

/** Every resource of the API, in the order they appear in the OpenAPI document. */
const routeModules: readonly RouteModule[] = [
  opsRoutes,
  metricsRoutes,
  statsRoutes,
  queueRoutes,
  queueMessageRoutes,
  queueStreamRoutes,
  topicRoutes,
  topicGroupRoutes,
  jobRoutes,
  jobStreamRoutes,
  workflowRoutes,
  breakerRoutes,
  eventRoutes,
  webhookRoutes,
  alertRoutes,
  workerRoutes,
  dashboardRoutes,
];

export interface BuildServerOptions {
  /** The engine to serve. The server does not close it: its owner does, after the server. */
  spool: Spool;
  /**
   * The jobs layer to serve (its owner starts and closes it). Without one, the server creates
   * one on `spool` with no local handlers, starts it, and closes it with the server.
   */
  jobs?: Jobs;
  /**
   * The webhook delivery to report on (delivery log, disabled endpoints); its owner opens, starts
   * and closes it. Without one, the server creates one on `spool` and opens it without starting
   * it (this server then delivers nothing itself), and closes it with the server.
   */
  webhooks?: Webhooks;
  /**
   * The alert evaluator to report on (`GET /v1/alerts`, `/readyz`); its owner starts and closes
   * it. Without one, no rules are configured and nothing fires.
   */
  alerts?: AlertEvaluator;
  /**
   * The metrics to serve at `/metrics` and `/v1/stats` (e.g. one made with
   * `collectDefaultMetrics`, or registering into your registry). Without, the server counts with
   * its own, from when it is built until it closes.
   */
  metrics?: SpoolMetrics;
  /** API tokens. Without tokens every route is open (fine on loopback, see `startServer`). */
  auth?: AuthOptions;
  /**
   * Whether send, receive and publish create a missing queue or topic with the default
   * configuration (names under `spool.` and `jobs.` excepted). Off: they answer 404, and queues
   * and topics are created with PUT only. @defaultValue true
   */
  autoCreate?: boolean;
  /** Larger request bodies are refused with 413. @defaultValue 1048576 (1 MiB) */
  bodyLimitBytes?: number;
  /** Where request and error logs go (pino, as Fastify uses). @defaultValue no logging */
  logger?: FastifyBaseLogger;
}

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Builds the server without listening: call `listen()` (see `startServer`) or `inject()` in tests. */
export async function buildServer(options: BuildServerOptions): Promise<SpoolApp> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    genReqId: requestId,
    logController: new OneLinePerRequest({ requestIdLogLabel: 'requestId' }),
    // Requests arriving while closing get our own problem+json 503 (see `guardRequests`).
    return503OnClosing: false,
    // Names are up to 200 characters, percent-encoded up to three times that. Longer path
    // parameters (up to what fits in a request line) reach the schemas and get their 400 instead of the router's bare 414.
    routerOptions: { maxParamLength: 16_384 },
    // Errors raised before routing (a bad percent-encoding in the path) answer problem+json too.
    frameworkErrors: (error, request, reply) =>
      void sendProblem(toProblem(error, request), reply.header('x-request-id', request.id)),
    clientErrorHandler: answerMalformedRequest,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // First: its onRequest hook marks upgrade requests, so that a refused one (401, 403) has its
  // socket ended after the answer — a hook registered before it would skip that.
  await app.register(websocket, {
    // Client frames are settle batches (at most 1,000 receipts); anything near this is not one.
    options: { maxPayload: 4 * 1024 * 1024 },
    // Every open stream is told the server is going away (1001); the stream routes then wait for
    // their leases to be released (see routes/queue-stream.ts).
    preClose(done) {
      for (const client of this.websocketServer.clients) {
        client.close(streamCloseCodes.goingAway, 'server shutting down');
      }
      this.websocketServer.close(() => done());
    },
  });
  const closing = createClosingController();
  app.addHook('preClose', (done) => {
    closing.abort();
    done();
  });
  app.setValidatorCompiler(validatorCompiler);
  answerProblems(app);
  acceptJsonOnly(app);
  guardRequests(app, closing.signal, createAuthenticator(options.auth));
  refuseReservedNames(app);
  // Before any route is declared: each handler runs in its caller's trace context.
  continueIncomingTraces(app);
  await describeApi(app);

  // Webhooks first: opening them starts nothing, so a failure to start jobs leaves nothing running.
  let webhooks = options.webhooks;
  if (!webhooks) {
    const own = new Webhooks(options.spool);
    await own.open();
    app.addHook('onClose', async () => own.close());
    webhooks = own;
  }
  let jobs = options.jobs;
  if (!jobs) {
    const own = new Jobs(options.spool);
    await own.start();
    app.addHook('onClose', async () => own.close());
    jobs = own;
  }
  const context: ServerContext = {
    spool: options.spool,
    jobs,
    webhooks,
    handles: new Handles(options.spool, undefined, options.autoCreate ?? true),
    alerts: options.alerts ?? AlertEvaluator.none(options.spool),
    metrics: options.metrics ?? ownMetrics(app, options.spool),
    closing: closing.signal,
  };
  for (const register of routeModules) register(app, context);
  return app;
}

/** Metrics counted from now until the server closes. */
function ownMetrics(app: SpoolApp, spool: Spool): SpoolMetrics {
  const metrics = new SpoolMetrics(spool);
  app.addHook('onClose', (_instance, done) => {
    metrics.close();
    done();
  });
  return metrics;
}

/** Every error, and every unknown route, is answered as problem+json. */
function answerProblems(app: SpoolApp): void {
  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error, request);
    if (problem.unexpected) request.log.error({ err: error }, 'unexpected error');
    return sendProblem(problem, reply);
  });
  app.setNotFoundHandler((request) => {
    throw new HttpError(
      errorCatalogue.ROUTE_NOT_FOUND,
      `there is no route ${request.method} ${request.url.split('?')[0]}; the API is described at /openapi.json`,
    );
  });
}

function sendProblem(problem: ProblemResponse, reply: FastifyReply): FastifyReply {
  return reply
    .code(problem.status)
    .headers(problem.headers)
    .type('application/problem+json')
    .send(JSON.stringify(problem.body));
}

/**
 * Requests Node's HTTP parser cannot read (bad request line or headers, headers too large, a
 * request that took too long) never reach Fastify. They still get a problem+json answer, with
 * `Connection: close` — the parser cannot find where the next request would start, so the
 * connection ends, and a keep-alive client told so opens a new one instead of meeting a reset.
 */
function answerMalformedRequest(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const status =
    error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const id = randomUUID();
  const body = JSON.stringify({
    type: problemType(errorCatalogue.BAD_REQUEST.code),
    title: STATUS_CODES[status],
    status,
    detail: `the request could not be parsed as HTTP/1.1 (${error.code ?? error.message}); check the request line and headers`,
    instance: '',
    code: errorCatalogue.BAD_REQUEST.code,
    retryable: false,
    requestId: id,
  });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\n` +
      `X-Request-Id: ${id}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Request ids on every answer, 503 while closing, and the token check. */
function guardRequests(
  app: SpoolApp,
  closing: AbortSignal,
  authenticate: ((request: FastifyRequest) => void) | null,
): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    try {
      if (closing.aborted) {
        reply.header('connection', 'close');
        throw new HttpError(
          errorCatalogue.SHUTTING_DOWN,
          'the server is shutting down; retry on another instance',
          { 'retry-after': '1' },
        );
      }
      authenticate?.(request);
      done();
    } catch (error) {
      done(error as Error);
    }
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    // Answers finishing during shutdown end their connection, so keep-alive clients reconnect
    // elsewhere instead of holding the closing server open.
    if (closing.aborted) reply.header('connection', 'close');
    done(null, payload);
  });
}

/**
 * Spool's own queues and topics (`spool.…`, `jobs.…`) are read-only through the API: a route
 * declaring `config.refuseReserved` answers 403 `SPOOL_RESERVED_NAME` for them, whatever the
 * token. The engine refuses deletes and purges of them by itself, for every caller.
 */
function refuseReservedNames(app: SpoolApp): void {
  app.addHook('preValidation', (request, _reply, done) => {
    const refused = request.routeOptions.config.refuseReserved;
    const name = (request.params as { name?: unknown } | undefined)?.name;
    try {
      if (refused && typeof name === 'string') assertNotReserved(refused.kind, name, refused.action);
      done();
    } catch (error) {
      done(error as Error);
    }
  });
}

/**
 * The OpenAPI document: every route's schemas, plus what applies to all of them — the scope it
 * needs and the problem+json error answers. Routes must declare `config.access`; a `/v1` route
 * without it fails at start-up rather than ending up unprotected. A route open to several scopes
 * lists one security requirement per scope (OpenAPI reads them as alternatives).
 */
async function describeApi(app: SpoolApp): Promise<void> {
  recordRouteAccess(app);
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/v1/') && route.config?.access === undefined) {
      throw new Error(`route ${[route.method].flat().join(',')} ${route.url} must declare config.access`);
    }
    const access = accessScopes(route.config?.access ?? 'public');
    if (route.schema && !route.schema.hide) {
      route.schema = {
        ...route.schema,
        security:
          access === 'public'
            ? []
            : access === 'token'
              ? [{ bearerAuth: [] }]
              : access.map((scope) => ({ bearerAuth: [scope] })),
        response: { ...problemResponses, ...describeResponses(route.schema.response) },
      };
    }
  });
  app.addSchema(Problem);
  await app.register(swagger, {
    // Shared schemas appear under their own $id in components.schemas.
    refResolver: {
      buildLocalReference: (schema, _baseUri, _fragment, index) =>
        typeof schema.$id === 'string' ? schema.$id : `def-${index}`,
    },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Spool',
        version,
        description:
          'Durable queues and partitioned topics over HTTP. Bodies are JSON; every error is RFC 9457 problem+json with a stable `code`. Bytes bodies travel base64-encoded in `bodyBase64`.',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: `API token; each operation lists the scopes that open it (${scopes.join(', ')}; any one of those listed suffices), none meaning any valid token, even one without scopes.`,
          },
        },
      },
      tags: [
        { name: 'queues', description: 'Queue configuration, stats, browsing and dead letters' },
        { name: 'queue messages', description: 'Send, receive under a lease, and settle by receipt' },
        { name: 'topics', description: 'Partitioned logs: publish and replay' },
        { name: 'consumer groups', description: 'Poll and commit as a remote group member; seek' },
        { name: 'operations', description: 'Health and readiness' },
        { name: 'webhooks', description: 'The webhook delivery log and disabled endpoints' },
        { name: 'workers', description: 'Who consumes what: the workers registry of every process' },
      ],
    },
  });
}

/** Gives each documented response a description (its status text) unless its schema has one. */
function describeResponses(responses: unknown): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries((responses ?? {}) as Record<string, { description?: string }>).map(([status, schema]) => [
      status,
      schema.description === undefined ? { ...schema, description: STATUS_CODES[status] } : schema,
    ]),
  );
}

/**
 * Logs one line per request, when it completes, instead of Fastify's two — at debug: at the
 * default level a busy server's log shows what went wrong, not every request.
 */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
    const line = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error) request.log.error({ ...line, err: error }, 'request failed');
    else request.log.debug(line, 'request completed');
  }
}

/** The caller's `X-Request-Id` when it is a plausible id, so logs correlate across services. */
function requestId(request: { headers: FastifyRequest['headers'] }): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

/**
 * JSON bodies only (Fastify also parses text/plain by default), and an empty JSON body counts as
 * no body rather than malformed JSON, so `curl -X POST -H 'content-type: application/json'` works
 * on routes whose fields are all optional.
 */
function acceptJsonOnly(app: SpoolApp): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text === '') done(null, undefined);
    // The default parser is callback-style: it reports through `done` and returns nothing.
    else void parseJson(request, text, done);
  });
}
