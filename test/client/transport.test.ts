/**
 * The client's transport on its default path in Node — its own keep-alive pool (undici), not
 * `fetch` — against a real server on loopback: retries and their rules, timeouts (long polls
 * included), abort signals, typed problems, the token, trace context, connection reuse, closing,
 * and an idle client that lets its process exit. Answers a real server does not give on demand
 * (a 503, a dropped connection, silence) come from a small front door that forwards everything
 * else to the real server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  createServer,
  request as forward,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { context, trace } from '@opentelemetry/api';
import { Transport } from '../../src/client/http.js';
import {
  InvalidArgumentHttpError,
  NotFoundHttpError,
  QueueFullHttpError,
  SpoolClient,
  SpoolHttpError,
  SpoolNetworkError,
  UnauthorizedHttpError,
  UnavailableHttpError,
} from '../../src/client/index.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { startTestServer, type TestServer } from '../e2e/helpers.js';
import { registerRecordingSdk } from '../observability/tracing-sdk.js';

const sdk = registerRecordingSdk();
const tracer = trace.getTracer('transport-test');
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** What the server saw: every request (method, url, headers) and every new connection. */
function watch(t: TestServer) {
  const requests: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }> = [];
  let connections = 0;
  const server = t.server.app.server;
  const onRequest = (request: IncomingMessage) =>
    requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
  const onConnection = () => connections++;
  server.on('request', onRequest);
  server.on('connection', onConnection);
  return {
    requests,
    get connections() {
      return connections;
    },
    to: (suffix: string) => requests.filter((r) => r.url.split('?')[0]!.endsWith(suffix)),
    stop() {
      server.off('request', onRequest);
      server.off('connection', onConnection);
    },
  };
}

type Action =
  | 'forward'
  /** Destroy the connection without answering. */
  | 'drop'
  /** Never answer (the connection stays open until the door closes). */
  | 'hang'
  | { status: number; headers?: Record<string, string>; body?: string };

/**
 * A loopback server in front of `target`: `decide` picks each request's fate; `forward` passes
 * it on (with `prefix` taken off its path) and relays the answer.
 */
async function frontDoor(
  target: string,
  decide: (request: IncomingMessage, index: number) => Action,
  prefix = '',
): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const { hostname, port } = new URL(target);
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    seen.push(`${request.method} ${request.url}`);
    const action = decide(request, seen.length - 1);
    if (action === 'drop') {
      request.socket.destroy();
      return;
    }
    if (action === 'hang') return;
    if (action === 'forward') {
      const upstream = forward(
        {
          host: hostname,
          port,
          method: request.method,
          path: request.url!.slice(prefix.length),
          headers: request.headers,
        },
        (answer) => {
          response.writeHead(answer.statusCode!, answer.headers);
          answer.pipe(response);
        },
      );
      request.pipe(upstream);
      return;
    }
    request.resume();
    response.writeHead(action.status, action.headers);
    response.end(action.body ?? '');
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${own}${prefix}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function problem(status: number, code: string, retryable: boolean): string {
  return JSON.stringify({
    type: `https://spool.dev/problems/${code.toLowerCase()}`,
    title: code,
    status,
    detail: `made up by the front door (${code})`,
    instance: '/',
    code,
    retryable,
    requestId: 'front-door',
  });
}

const problemHeaders = { 'content-type': 'application/problem+json' };

describe('client transport (the Node pool)', () => {
  let t: TestServer;
  let client: SpoolClient;
  before(async () => {
    t = await startTestServer({
      tokens: [{ token: 'secret', scopes: ['admin', 'produce', 'consume'] }],
      jobs: async (spool) => {
        const jobs = new Jobs(spool);
        jobs.define('noop', () => undefined);
        await jobs.start();
        return jobs;
      },
    });
    client = new SpoolClient({ url: t.url, token: 'secret' });
    for (const name of ['transport', 'transport-empty', 'transport-idle']) await client.queues.put(name);
  });
  after(() => t.dispose());

  it('reuses its keep-alive connections: 200 calls in a row over two at most, 400 from 50 callers over ≤ 100', async () => {
    const fresh = new SpoolClient({ url: t.url, token: 'secret' });
    const seen = watch(t);
    try {
      for (let i = 0; i < 200; i++) await fresh.queues.send('transport', { i });
      assert.equal(seen.to('/messages').length, 200);
      // undici lets a connection rest one event-loop turn after an answer before it takes the
      // next request (pipelining off); a call made at once takes a second one, then they alternate.
      assert.ok(seen.connections <= 2, `${seen.connections} connections for 200 calls in a row`);
      await Promise.all(
        Array.from({ length: 50 }, async (_, caller) => {
          for (let i = 0; i < 8; i++) await fresh.queues.send('transport', { caller, i });
        }),
      );
      assert.equal(seen.to('/messages').length, 600);
      assert.ok(seen.connections <= 100, `${seen.connections} connections for 50 callers`);
    } finally {
      seen.stop();
    }
  });

  it('opens at most `connections` connections; calls beyond them wait for one', async () => {
    const narrow = new SpoolClient({ url: t.url, token: 'secret', connections: 4 });
    const seen = watch(t);
    try {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => narrow.queues.send('transport', { i })),
      );
      assert.equal(new Set(results.map((r) => r.id)).size, 40);
      assert.equal(seen.connections, 4);
    } finally {
      seen.stop();
    }
  });

  it('sends the bearer token; a wrong one is a typed 401', async () => {
    const seen = watch(t);
    try {
      await client.queues.get('transport');
      assert.equal(seen.requests[0]?.headers.authorization, 'Bearer secret');
      assert.equal(seen.requests[0]?.headers.accept, 'application/json');
    } finally {
      seen.stop();
    }
    const wrong = new SpoolClient({ url: t.url, token: 'nope' });
    const error = await wrong.queues.get('transport').catch((e: unknown) => e);
    assert.ok(error instanceof UnauthorizedHttpError, String(error));
    assert.equal(error.status, 401);
    assert.equal(error.code, 'SPOOL_UNAUTHORIZED');
    const none = new SpoolClient({ url: t.url });
    assert.ok((await none.queues.list().catch((e: unknown) => e)) instanceof UnauthorizedHttpError);
  });

  it('turns problem+json into typed errors with the message, requestId and field errors', async () => {
    const missing = await client.queues.get('nowhere').catch((e: unknown) => e);
    assert.ok(missing instanceof NotFoundHttpError, String(missing));
    assert.equal(missing.code, 'SPOOL_QUEUE_NOT_FOUND');
    assert.equal(missing.status, 404);
    assert.match(missing.message, /^SPOOL_QUEUE_NOT_FOUND: queue "nowhere" does not exist/);
    assert.equal(missing.problem.queue, 'nowhere');
    assert.match(missing.requestId ?? '', /./);

    const invalid = await client.queues.receive('transport', { max: 0 }).catch((e: unknown) => e);
    assert.ok(invalid instanceof InvalidArgumentHttpError, String(invalid));
    assert.ok(invalid.errors.some((e) => e.field === 'max'));
  });

  it('gives successful answers their headers (built on demand) and an empty body as undefined', async () => {
    const transport = new Transport({ url: t.url, token: 'secret' });
    try {
      const added = await transport.call<{ id: string }>({
        method: 'POST',
        path: '/v1/jobs',
        body: { type: 'noop' },
        retryOnNetworkError: false,
      });
      assert.equal(added.status, 202);
      assert.equal(added.headers.get('location'), `/v1/jobs/${added.body.id}`);
      assert.equal(added.headers.get('retry-after'), '1');
      assert.match(added.headers.get('x-request-id') ?? '', /./);
      assert.match(added.headers.get('content-type') ?? '', /^application\/json/);
      await transport.call({ method: 'PUT', path: '/v1/queues/emptied', retryOnNetworkError: true });
      const deleted = await transport.call({
        method: 'DELETE',
        path: '/v1/queues/emptied',
        retryOnNetworkError: false,
      });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.body, undefined);
    } finally {
      await transport.close();
    }
  });

  it('retries a 429 after its Retry-After, then throws SPOOL_QUEUE_FULL', async () => {
    await client.queues.put('tiny', { maxDepth: 1 });
    await client.queues.send('tiny', 'first');
    const patient = new SpoolClient({ url: t.url, token: 'secret', retries: { maxAttempts: 2 } });
    const seen = watch(t);
    const started = Date.now();
    const error = await patient.queues.send('tiny', 'second').catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    seen.stop();
    assert.ok(error instanceof QueueFullHttpError, String(error));
    assert.equal(error.status, 429);
    assert.equal(error.retryAfterMs, 1000);
    assert.equal(seen.to('/tiny/messages').length, 2, 'tried twice');
    assert.ok(elapsed >= 950, `waited Retry-After (1 s) between the tries: ${elapsed} ms`);

    // Room made during the wait: the retry stores the message.
    const sending = new SpoolClient({ url: t.url, token: 'secret' }).queues.send('tiny', 'third');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [first] = await client.queues.receive('tiny');
    await first!.ack();
    assert.equal((await sending).duplicate, false);
  });

  it('retries a retryable 503 after its Retry-After; not one that says retryable: false; not a 500', async () => {
    let unavailable = 1;
    const door = await frontDoor(t.url, (request) => {
      if (request.url === '/v1/queues/transport' && unavailable-- > 0) {
        return {
          status: 503,
          headers: { ...problemHeaders, 'retry-after': '1' },
          body: problem(503, 'SPOOL_SHUTTING_DOWN', true),
        };
      }
      if (request.url === '/v1/queues/closed') {
        return {
          status: 503,
          headers: { ...problemHeaders, 'retry-after': '1' },
          body: problem(503, 'SPOOL_CLOSED', false),
        };
      }
      if (request.url === '/v1/queues/broken') {
        return { status: 502, headers: { 'content-type': 'text/html' }, body: '<h1>Bad gateway</h1>' };
      }
      return 'forward';
    });
    try {
      const behind = new SpoolClient({ url: door.url, token: 'secret' });
      const started = Date.now();
      assert.equal((await behind.queues.get('transport')).name, 'transport');
      const elapsed = Date.now() - started;
      assert.deepEqual(door.seen, ['GET /v1/queues/transport', 'GET /v1/queues/transport']);
      assert.ok(elapsed >= 950, `waited Retry-After (1 s): ${elapsed} ms`);

      const closed = await behind.queues.get('closed').catch((e: unknown) => e);
      assert.ok(closed instanceof UnavailableHttpError, String(closed));
      assert.equal(closed.code, 'SPOOL_CLOSED');
      assert.equal(closed.retryAfterMs, 1000);
      assert.equal(door.seen.filter((s) => s.endsWith('/closed')).length, 1, 'retryable: false is final');

      const broken = await behind.queues.get('broken').catch((e: unknown) => e);
      assert.ok(broken instanceof SpoolHttpError, String(broken));
      assert.equal(broken.status, 502);
      assert.equal(broken.code, 'SPOOL_UNEXPECTED_RESPONSE');
      assert.equal(
        broken.message,
        'SPOOL_UNEXPECTED_RESPONSE: the server answered 502 Bad Gateway without a problem document: <h1>Bad gateway</h1>',
      );
      assert.equal(broken.problem.title, 'Bad Gateway');
      assert.equal(door.seen.filter((s) => s.endsWith('/broken')).length, 1, 'only 429 and 503 are retried');
    } finally {
      await door.close();
    }
  });

  it('never repeats a plain send after a dropped connection; repeats a keyed send and a GET', async () => {
    const dropped = new Set<string>();
    const door = await frontDoor(t.url, (request) => {
      const key = `${request.method} ${request.url}`;
      if (dropped.has(key)) return 'forward';
      dropped.add(key);
      return 'drop';
    });
    try {
      const behind = new SpoolClient({ url: door.url, token: 'secret', retries: { baseMs: 10 } });
      await client.queues.put('dropped');
      const error = await behind.queues.send('dropped', 'once?').catch((e: unknown) => e);
      assert.ok(error instanceof SpoolNetworkError, String(error));
      assert.equal(error.code, 'SPOOL_NETWORK_ERROR');
      assert.match(error.message, /^POST \/v1\/queues\/dropped\/messages failed: /);
      assert.ok(error.message.endsWith(`(is the server at ${door.url} running?)`), error.message);
      assert.equal(door.seen.length, 1, 'a send without a dedup id is not repeated');
      assert.equal((await client.queues.get('dropped')).stats.ready, 0);

      dropped.clear();
      await behind.queues.send('dropped', 'exactly once', { dedupId: 'd-1' });
      assert.equal(door.seen.length, 3, 'a send with a dedup id is repeated');
      assert.equal((await behind.queues.get('dropped')).stats.ready, 1);
      assert.equal(door.seen.length, 5, 'a GET is repeated');
    } finally {
      await door.close();
    }
  });

  it('reports a refused connection as the fetch transport did', async () => {
    // A port nothing listens on (any more).
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const url = `http://127.0.0.1:${port}`;
    const messages = await Promise.all(
      [undefined, globalThis.fetch.bind(globalThis)].map(async (fetch) => {
        const nowhere = new SpoolClient({
          url,
          retries: { maxAttempts: 1 },
          ...(fetch && { fetch }),
        });
        const error = await nowhere.queues.list().catch((e: unknown) => e);
        assert.ok(error instanceof SpoolNetworkError, String(error));
        assert.equal(error.code, 'SPOOL_NETWORK_ERROR');
        return error.message;
      }),
    );
    assert.equal(
      messages[0],
      `GET /v1/queues failed: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:${port} (is the server at ${url} running?)`,
    );
    assert.equal(messages[0], messages[1]);
  });

  it('times out an attempt with SPOOL_TIMEOUT; a long poll gets its wait on top', async () => {
    const door = await frontDoor(t.url, (request) => (request.url!.includes('/silent') ? 'hang' : 'forward'));
    try {
      const quick = new SpoolClient({
        url: door.url,
        token: 'secret',
        timeoutMs: 200,
        retries: { maxAttempts: 2, baseMs: 10 },
      });
      const started = Date.now();
      const error = await quick.queues.get('silent').catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      assert.ok(error instanceof SpoolNetworkError, String(error));
      assert.equal(error.code, 'SPOOL_TIMEOUT');
      assert.equal(error.message, 'GET /v1/queues/silent got no answer within 200 ms');
      assert.equal((error.cause as Error).name, 'TimeoutError');
      assert.equal(door.seen.length, 2, 'a GET that timed out is tried again');
      assert.ok(elapsed >= 400 && elapsed < 10_000, `two attempts of 200 ms: ${elapsed} ms`);

      const error2 = await quick.queues.send('silent', 'x').catch((e: unknown) => e);
      assert.ok(error2 instanceof SpoolNetworkError && error2.code === 'SPOOL_TIMEOUT', String(error2));
      assert.equal(door.seen.length, 3, 'a plain send that timed out is not');

      // The server holds this receive for 600 ms, past timeoutMs: the wait is added to it.
      const polled = await quick.queues.receive('transport-empty', { waitMs: 600 });
      assert.deepEqual(polled, []);
    } finally {
      await door.close();
    }
  });

  it('times out a call waiting for a connection, and never sends it afterwards', async () => {
    const single = new SpoolClient({ url: t.url, token: 'secret', connections: 1, timeoutMs: 150 });
    await client.queues.put('held');
    const seen = watch(t);
    try {
      const holding = single.queues.receive('held', { waitMs: 800 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const error = await single.queues.send('held', 'queued').catch((e: unknown) => e);
      assert.ok(error instanceof SpoolNetworkError, String(error));
      assert.equal(error.code, 'SPOOL_TIMEOUT');
      assert.deepEqual(await holding, []);
      // The connection is free again: the next call goes through on it.
      await single.queues.send('held', 'after');
      assert.equal(seen.to('/held/messages').length, 1, 'the timed-out send never reached the server');
      assert.equal(seen.connections, 1);
      assert.equal((await client.queues.get('held')).stats.ready, 1);
    } finally {
      seen.stop();
    }
  });

  it("ends a call when its signal aborts, with the signal's reason, and the pool carries on", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const receiving = client.queues.receive('transport-idle', { waitMs: 20_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('shutting down')), 100);
    const error = await receiving.catch((e: unknown) => e);
    assert.ok(error instanceof Error && error.message === 'shutting down', String(error));
    assert.ok(Date.now() - started < 10_000, 'ended at once, not after the wait');

    const aborted = AbortSignal.abort();
    const seen = watch(t);
    const early = await client.queues
      .receive('transport-idle', { waitMs: 1000, signal: aborted })
      .catch((e: unknown) => e);
    seen.stop();
    assert.equal((early as Error).name, 'AbortError');
    assert.equal(seen.requests.length, 0, 'an aborted signal sends nothing');
    assert.equal((await client.queues.get('transport')).name, 'transport');
  });

  it('sends the active trace context as traceparent, unless told not to', async () => {
    sdk.exporter.reset();
    const seen = watch(t);
    const span = tracer.startSpan('caller');
    try {
      await context.with(trace.setSpan(context.active(), span), () =>
        client.queues.send('transport', { traced: true }),
      );
      const quiet = new SpoolClient({ url: t.url, token: 'secret', propagateTraceContext: false });
      await context.with(trace.setSpan(context.active(), span), () =>
        quiet.queues.send('transport', { traced: false }),
      );
      await client.queues.send('transport', { outside: true });
    } finally {
      span.end();
      seen.stop();
    }
    const { traceId, spanId } = span.spanContext();
    const sends = seen.to('/messages');
    assert.equal(sends.length, 3);
    assert.equal(sends[0]!.headers.traceparent, `00-${traceId}-${spanId}-01`);
    assert.equal(sends[1]!.headers.traceparent, undefined, 'propagateTraceContext: false');
    assert.equal(sends[2]!.headers.traceparent, undefined, 'no active span');
    const sendSpans = await sdk.waitFor('send transport', 3);
    const joined = sendSpans.filter((s) => s.spanContext().traceId === traceId);
    assert.equal(joined.length, 1, 'the server joined the trace of the first send only');
    assert.equal(joined[0]!.parentSpanContext?.spanId, spanId);
  });

  it('uses a fetch it is given instead of its pool', async () => {
    const urls: string[] = [];
    const fetching = new SpoolClient({
      url: t.url,
      token: 'secret',
      fetch: (input, init) => {
        urls.push(input instanceof Request ? input.url : input.toString());
        return fetch(input, init);
      },
    });
    await fetching.queues.send('transport', 'via fetch');
    assert.deepEqual(urls, [`${t.url}/v1/queues/transport/messages`]);
  });

  it('keeps a base URL path, and a trailing slash', async () => {
    const door = await frontDoor(t.url, () => 'forward', '/spool');
    try {
      const prefixed = new SpoolClient({ url: `${door.url}/`, token: 'secret' });
      assert.equal((await prefixed.queues.get('transport')).name, 'transport');
      const page = await prefixed.queues.browse('transport', { limit: 1 });
      assert.equal(page.items.length, 1);
      assert.deepEqual(door.seen, [
        'GET /spool/v1/queues/transport',
        'GET /spool/v1/queues/transport/messages?limit=1',
      ]);
    } finally {
      await door.close();
    }
  });

  it('close(): waits for calls in flight, closes the connections, then refuses calls', async () => {
    const transport = new Transport({ url: t.url, token: 'secret' });
    const seen = watch(t);
    let closedSockets = 0;
    const onConnection = (socket: Socket) => socket.once('close', () => closedSockets++);
    t.server.app.server.on('connection', onConnection);
    try {
      await transport.call({ method: 'GET', path: '/v1/queues/transport', retryOnNetworkError: true });
      const polling = transport.call<{ messages: unknown[] }>({
        method: 'POST',
        path: '/v1/queues/transport-idle/receive',
        body: { waitMs: 300 },
        waitMs: 300,
        retryOnNetworkError: true,
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await transport.close();
      assert.deepEqual((await polling).body.messages, [], 'the call in flight was answered');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(closedSockets, seen.connections, 'every connection closed');
      const error = await transport
        .call({ method: 'GET', path: '/v1/queues/transport', retryOnNetworkError: true })
        .catch((e: unknown) => e);
      assert.ok(error instanceof SpoolNetworkError, String(error));
      assert.equal(error.message, 'GET /v1/queues/transport failed: the client is closed');
      await transport.close();
    } finally {
      t.server.app.server.off('connection', onConnection);
      seen.stop();
    }
  });

  it('lets the process exit while idle connections stay open', async () => {
    const script = `
      import { SpoolClient } from './src/client/index.ts';
      const client = new SpoolClient({ url: ${JSON.stringify(t.url)}, token: 'secret' });
      await Promise.all(Array.from({ length: 4 }, () => client.queues.get('transport')));
      console.log('idle');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    let idleAt = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('idle')) idleAt ||= Date.now();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const exitedAfter = Date.now() - idleAt;
    clearTimeout(killer);
    assert.equal(output.trim(), 'idle');
    assert.equal(code, 0, 'exited by itself');
    // The server keeps idle connections for 72 s (and the pool would for 70): an exit within
    // seconds of going idle means they did not hold the process.
    assert.ok(exitedAfter < 10_000, `exited ${exitedAfter} ms after going idle`);
  });
});
