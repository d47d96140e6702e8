/**
 * Least privilege, from the routes' own declarations: every route of the running server is
 * called over HTTP with a token of each scope (and one without scopes, and none), and each answer
 * must be what the route's `config.access` says — the same declarations that generate the scope
 * table in src/server/README.md, which must equal what they generate now.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { openSpool } from '../../src/open-spool.js';
import { accessScopes, parseTokenList, type Scope, scopes } from '../../src/server/auth.js';
import { buildServer } from '../../src/server/app.js';
import {
  extractScopeTable,
  renderScopeTable,
  type RouteAccessEntry,
  routeAccessList,
} from '../../src/server/scope-table.js';
import { JobAccepted } from '../../src/server/schemas/jobs.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

/** The tokens of the server under test: one per scope, one without scopes. */
const tokens = {
  'no scope': 'meta-token',
  read: 'read-token',
  produce: 'produce-token',
  consume: 'consume-token',
  admin: 'admin-token',
} as const;

/** What the routes declare, read from a server built as `spool serve` builds it. */
async function declaredRoutes(): Promise<readonly RouteAccessEntry[]> {
  const spool = await openSpool({ path: ':memory:' });
  try {
    const app = await buildServer({ spool });
    try {
      await app.ready();
      return routeAccessList(app);
    } finally {
      await app.close();
    }
  } finally {
    await spool.close();
  }
}

/** A concrete path for a route: names nothing that exists, so no call changes anything. */
function probePath(path: string): string {
  return path
    .replace('{name}', 'scope-probe')
    .replace('{group}', 'probe-group')
    .replace('{partition}', '0')
    .replace('{id}', 'no-such-job')
    .replace('*', 'probe-page');
}

/**
 * Calls a route. GETs go as HEAD, which answers what GET would without a body (event streams
 * included). Other methods carry a body with an unknown field, refused (400) by every schema
 * after the token check: a call the token may make changes nothing.
 */
async function probe(t: TestServer, route: RouteAccessEntry, token: string | undefined) {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const method = route.method === 'GET' ? 'HEAD' : route.method;
  let body: string | undefined;
  if (method === 'POST' || method === 'PUT') {
    headers['content-type'] = 'application/json';
    body = JSON.stringify({ scopeProbe: true });
  }
  const response = await fetch(t.url + probePath(route.path), {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    code: text === '' ? undefined : (JSON.parse(text) as { code?: string }).code,
  };
}

describe('scopes: every route answers as it declares', () => {
  let t: TestServer;
  let routes: readonly RouteAccessEntry[];
  before(async () => {
    routes = await declaredRoutes();
    t = await startTestServer({
      tokens: parseTokenList(
        `${tokens['no scope']}:;${tokens.read}:read;${tokens.produce}:produce;${tokens.consume}:consume;${tokens.admin}:admin`,
      ),
    });
  });
  after(() => t.dispose());

  it('GET /v1/auth/scopes tells each token its scopes (for a console to offer only those actions)', async () => {
    for (const [name, token] of Object.entries(tokens)) {
      const answer = await t.call('GET', '/v1/auth/scopes', { token });
      assert.equal(answer.status, 200, name);
      assert.deepEqual((answer.body as { scopes: string[] }).scopes, name === 'no scope' ? [] : [name]);
    }
    assertProblem(await t.call('GET', '/v1/auth/scopes'), 401, 'SPOOL_UNAUTHORIZED');
    const open = await startTestServer();
    try {
      const answer = await open.call('GET', '/v1/auth/scopes');
      assert.deepEqual(
        (answer.body as { scopes: string[] }).scopes,
        [...scopes],
        'an open server: every scope',
      );
    } finally {
      await open.dispose();
    }
  });

  it('each token gets past the token check exactly on the routes its scopes open', async () => {
    assert.ok(routes.length > 50, `${routes.length} routes`);
    const wrong: string[] = [];
    for (const route of routes) {
      const access = accessScopes(route.access);
      const where = `${route.method} ${route.path}`;
      const anonymous = await probe(t, route, undefined);
      if ((anonymous.status === 401) !== (access !== 'public'))
        wrong.push(`${where} without a token: ${anonymous.status}`);
      for (const [name, token] of Object.entries(tokens)) {
        const answer = await probe(t, route, token);
        const opens =
          access === 'public' ||
          access === 'token' ||
          (name !== 'no scope' && access.includes(name as Scope));
        // HEAD answers carry no body: the status alone tells (the probe names nothing reserved).
        const forbidden = answer.status === 403;
        if (answer.status === 401) wrong.push(`${where} with the ${name} token: 401`);
        if (forbidden === opens)
          wrong.push(`${where} with the ${name} token: ${answer.status} ${answer.code}`);
        if (answer.status >= 500) wrong.push(`${where} with the ${name} token: ${answer.status}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('produce and consume read no contents; produce cannot cancel or retry jobs', () => {
    const open = (scope: Scope) =>
      routes
        .filter((route) => {
          const access = accessScopes(route.access);
          return access !== 'public' && access !== 'token' && access.includes(scope);
        })
        .map((route) => `${route.method} ${route.path}`);
    assert.deepEqual(open('produce'), [
      'POST /v1/queues/{name}/messages',
      'POST /v1/topics/{name}/events',
      'POST /v1/jobs',
      'POST /v1/jobs/batch',
      'POST /v1/workflows/{name}/runs',
      'POST /v1/workflow-runs/{id}/events',
    ]);
    assert.ok(
      open('consume').every(
        (route) =>
          route.startsWith('POST ') ||
          route === 'GET /v1/queues/{name}/stream' ||
          route === 'GET /v1/jobs/stream',
      ),
      `consume opens only the work-taking POSTs and the two streams: ${open('consume').join(', ')}`,
    );
    assert.ok(
      open('read').every((route) => route.startsWith('GET ')),
      'read opens only GETs',
    );
    // The contents: each is open to read (and admin), to nothing else.
    for (const route of [
      'GET /v1/queues/{name}/messages',
      'GET /v1/queues/{name}/dlq',
      'GET /v1/topics/{name}/partitions/{partition}/events',
      'GET /v1/jobs',
      'GET /v1/jobs/{id}',
      'GET /v1/jobs/{id}/events',
      'GET /v1/events',
      'GET /v1/schedules',
      'GET /v1/workflows/{name}/runs',
      'GET /v1/workflow-runs',
      'GET /v1/workflow-runs/{id}',
    ]) {
      assert.ok(open('read').includes(route) && open('admin').includes(route), route);
      assert.ok(!open('produce').includes(route) && !open('consume').includes(route), route);
    }
    assert.ok(
      open('admin').includes('DELETE /v1/jobs/{id}') && open('admin').includes('POST /v1/jobs/{id}/retry'),
    );
    assert.deepEqual(
      routes.find((route) => route.path === '/v1/jobs/bulk')?.access,
      'admin',
      'bulk retry and cancel are an operator action',
    );
  });

  it('the OpenAPI document lists, for each operation, the scopes that open it', async () => {
    const doc = (await t.call('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { security?: Array<{ bearerAuth?: string[] }> }>>;
    };
    for (const route of routes) {
      const operation = doc.paths[route.path]?.[route.method.toLowerCase()];
      if (!operation) continue; // the dashboard and /openapi.json itself are not documented
      const access = accessScopes(route.access);
      const expected =
        access === 'public'
          ? []
          : access === 'token'
            ? [{ bearerAuth: [] }]
            : access.map((s) => ({ bearerAuth: [s] }));
      assert.deepEqual(operation.security, expected, `${route.method} ${route.path}`);
    }
  });

  it('a token without the scope gets 403 naming the scopes that would do; the token is never echoed', async () => {
    const job = await t.call('POST', '/v1/jobs', {
      body: { type: 'scoped' },
      token: tokens.produce,
      returns: JobAccepted,
    });
    assert.equal(job.status, 202);
    const read = await t.call('GET', `/v1/jobs/${job.body.id}`, { token: tokens.produce });
    const problem = assertProblem(read, 403, 'SPOOL_FORBIDDEN');
    assert.equal(problem.requiredScope, 'read');
    assert.deepEqual(problem.acceptedScopes, ['read', 'admin']);
    assert.match(problem.detail, /"read" or "admin" scope; this token has: produce/);
    assert.match(read.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="read"/);
    assert.ok(!JSON.stringify(problem).includes(tokens.produce));
    const cancel = await t.call('DELETE', `/v1/jobs/${job.body.id}`, { token: tokens.produce });
    assert.equal(assertProblem(cancel, 403, 'SPOOL_FORBIDDEN').requiredScope, 'admin');
    const meta = await t.call('GET', `/v1/jobs/${job.body.id}`, { token: tokens['no scope'] });
    assert.match(assertProblem(meta, 403, 'SPOOL_FORBIDDEN').detail, /this token has no scope/);
    assert.equal((await t.call('GET', `/v1/jobs/${job.body.id}`, { token: tokens.read })).status, 200);
    assert.equal((await t.call('DELETE', `/v1/jobs/${job.body.id}`, { token: tokens.admin })).status, 200);
  });

  it('tokens differing in one character, in length, or only in case are all unknown (401)', async () => {
    for (const guess of ['read-tokeN', 'read-toke', 'read-token-', 'READ-TOKEN', 'x'.repeat(4096)]) {
      assertProblem(await t.call('GET', '/v1/queues', { token: guess }), 401, 'SPOOL_UNAUTHORIZED');
    }
  });
});

describe('scopes: the table in src/server/README.md', () => {
  it('is the one the routes generate (run `npm run docs:scopes` after changing a route)', async () => {
    const readme = readFileSync(new URL('../../src/server/README.md', import.meta.url), 'utf8');
    assert.equal(extractScopeTable(readme), renderScopeTable(await declaredRoutes()));
  });

  it('covers every scope and declares access on every /v1 route', async () => {
    const routes = await declaredRoutes();
    for (const scope of scopes) {
      assert.ok(
        routes.some((route) => {
          const access = accessScopes(route.access);
          return access !== 'public' && access !== 'token' && access.includes(scope);
        }),
        scope,
      );
    }
    assert.ok(
      routes.filter((route) => route.path.startsWith('/v1/')).every((route) => route.access !== 'public'),
    );
  });
});
