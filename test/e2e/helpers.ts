/**
 * End-to-end helpers: a real server on a loopback port over a real SQLite file in a fresh temp
 * directory, and a small fetch wrapper that returns status, headers and parsed body.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { Static, TSchema, TUnknown } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { SpoolClient } from '../../src/client/index.js';
import type { Spool } from '../../src/engine/spool.js';
import type { Jobs } from '../../src/jobs/jobs.js';
import type { Webhooks } from '../../src/webhooks/delivery.js';
import { openSpool } from '../../src/open-spool.js';
import type { ApiToken } from '../../src/server/auth.js';
import { Problem } from '../../src/server/schemas/common.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { tempDir } from '../helpers.js';

export interface TestServer {
  readonly url: string;
  readonly spool: Spool;
  readonly server: RunningServer;
  /** Calls the server (see {@link call}). */
  call<S extends TSchema = TUnknown>(
    method: string,
    path: string,
    options?: CallOptions<S>,
  ): Promise<Answer<S>>;
  /** Closes the server, then the spool, and removes the files. */
  dispose(): Promise<void>;
}

export interface CallOptions<S extends TSchema = TUnknown> {
  /** Sent as JSON, or as is when a string. */
  body?: unknown;
  headers?: Record<string, string>;
  token?: string;
  signal?: AbortSignal;
  /** The documented schema of a successful answer: types `body`, and a 2xx body is checked against it. */
  returns?: S;
}

export interface Answer<S extends TSchema = TUnknown> {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed JSON body; undefined when there is none. */
  readonly body: Static<S>;
}

export async function startTestServer(
  options: {
    tokens?: ApiToken[];
    bodyLimitBytes?: number;
    shutdownTimeoutMs?: number;
    /** Sets up a jobs layer (handlers, options) on the server's spool; the server serves it. */
    jobs?: (spool: Spool) => Promise<Jobs>;
    /** Sets up webhook delivery (options, start) on the server's spool; the server reports on it. */
    webhooks?: (spool: Spool) => Promise<Webhooks>;
  } = {},
): Promise<TestServer> {
  const { dir, cleanup } = tempDir('spool-e2e-');
  const spool = await openSpool({ path: join(dir, 'spool.db'), safetyPollMs: 100 });
  const jobs = options.jobs ? await options.jobs(spool) : undefined;
  const webhooks = options.webhooks ? await options.webhooks(spool) : undefined;
  const server = await startServer({
    spool,
    ...(jobs ? { jobs } : {}),
    ...(webhooks ? { webhooks } : {}),
    port: 0,
    auth: { tokens: options.tokens ?? [] },
    ...(options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes }),
    ...(options.shutdownTimeoutMs === undefined ? {} : { shutdownTimeoutMs: options.shutdownTimeoutMs }),
  });
  return {
    url: server.url,
    spool,
    server,
    call: (method, path, callOptions) => call(server.url, method, path, callOptions),
    async dispose() {
      await server.close();
      await jobs?.close({ timeoutMs: 2000 });
      await webhooks?.close({ timeoutMs: 2000 });
      await spool.close({ timeoutMs: 2000 });
      cleanup();
    },
  };
}

/**
 * Calls `base + path` over HTTP. With `returns`, a 2xx answer must match that response schema —
 * the one the route documents — so every typed call also checks the OpenAPI contract.
 */
export async function call<S extends TSchema = TUnknown>(
  base: string,
  method: string,
  path: string,
  options: CallOptions<S> = {},
): Promise<Answer<S>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(base + path, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = await response.text();
  const parsed: unknown = text === '' ? undefined : JSON.parse(text);
  if (options.returns && response.ok) {
    const errors = [...Value.Errors(options.returns, parsed)].map(
      (error) => `${error.path} ${error.message}`,
    );
    assert.deepEqual(errors, [], `${method} ${path} answered outside its documented schema`);
  }
  return { status: response.status, headers: response.headers, body: parsed as Static<S> };
}

/** A problem answer's members, as documented. */
export type ProblemBody = Static<typeof Problem> & Record<string, unknown>;

/**
 * Checks that `answer` is an RFC 9457 problem with the given status and code, carrying every
 * member the server promises and nothing that leaks internals. Returns the problem.
 */
export function assertProblem(
  answer: Answer<TSchema>,
  status: number,
  code: string,
  instance?: string,
): ProblemBody {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.ok(Value.Check(Problem, answer.body), 'a problem document');
  const problem = answer.body as ProblemBody;
  assert.equal(problem.status, status);
  assert.equal(problem.code, code);
  assert.equal(
    problem.type,
    `https://spool.dev/problems/${code.slice('SPOOL_'.length).toLowerCase().replaceAll('_', '-')}`,
  );
  assert.equal(typeof problem.title, 'string');
  assert.equal(typeof problem.detail, 'string');
  assert.equal(typeof problem.retryable, 'boolean');
  assert.equal(problem.requestId, answer.headers.get('x-request-id'));
  if (instance !== undefined) assert.equal(problem.instance, instance);
  assert.ok(!JSON.stringify(problem).includes('    at '), 'no stack trace');
  return problem;
}

/**
 * A test server and a client of it for the tests of the calling `describe` block: started in its
 * `before`, closed in its `after`. Read `fixture.t` and `fixture.client` inside the tests.
 */
export function serverWithClient(options: Parameters<typeof startTestServer>[0] = {}): {
  readonly t: TestServer;
  readonly client: SpoolClient;
} {
  const fixture = {} as { t: TestServer; client: SpoolClient };
  before(async () => {
    fixture.t = await startTestServer(options);
    fixture.client = new SpoolClient({ url: fixture.t.url });
  });
  after(async () => {
    await fixture.client.close();
    await fixture.t.dispose();
  });
  return fixture;
}

/** The stats of a queue with nothing in it, as `GET /v1/queues/{name}` answers them. */
export const emptyQueueStats = Object.freeze({
  ready: 0,
  delayed: 0,
  inFlight: 0,
  deadLettered: 0,
  oldestAgeMs: 0,
  paused: false,
  pausedAt: null,
});
