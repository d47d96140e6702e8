import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { openSpool } from '../../src/open-spool.js';
import { parseTokenList } from '../../src/server/auth.js';
import { ReceiveResponse } from '../../src/server/schemas/queues.js';
import { startServer } from '../../src/server/serve.js';
import { tempDir } from '../helpers.js';
import { assertProblem, call, startTestServer, type TestServer } from './helpers.js';

describe('bearer tokens with scopes', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      tokens: parseTokenList('producer-token:produce; worker-token:consume ; admin-token:admin'),
    });
    await t.call('PUT', '/v1/queues/jobs', { body: {}, token: 'admin-token' });
  });
  after(() => t.dispose());

  it('401 with WWW-Authenticate when no token is sent', async () => {
    const answer = await t.call('POST', '/v1/queues/jobs/messages', { body: { body: 1 } });
    assertProblem(answer, 401, 'SPOOL_UNAUTHORIZED');
    assert.equal(answer.headers.get('www-authenticate'), 'Bearer realm="spool"');
  });

  it('401 for a token the server does not know', async () => {
    const answer = await t.call('GET', '/v1/queues', { token: 'guessed' });
    assertProblem(answer, 401, 'SPOOL_UNAUTHORIZED');
    assert.match(answer.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it('403 naming the scope when the token lacks it', async () => {
    const answer = await t.call('POST', '/v1/queues/jobs/messages', {
      body: { body: 1 },
      token: 'worker-token',
    });
    const problem = assertProblem(answer, 403, 'SPOOL_FORBIDDEN');
    assert.equal(problem.requiredScope, 'produce');
    assert.match(answer.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="produce"/);
    assertProblem(
      await t.call('DELETE', '/v1/queues/jobs', { token: 'producer-token' }),
      403,
      'SPOOL_FORBIDDEN',
    );
  });

  it('each scope opens its routes: produce sends, consume receives and acks, admin configures', async () => {
    const sent = await t.call('POST', '/v1/queues/jobs/messages', {
      body: { body: 1 },
      token: 'producer-token',
    });
    assert.equal(sent.status, 201);
    const received = await t.call('POST', '/v1/queues/jobs/receive', {
      body: {},
      token: 'worker-token',
      returns: ReceiveResponse,
    });
    assert.equal(received.status, 200);
    const acked = await t.call('POST', '/v1/queues/jobs/ack', {
      body: { receipt: received.body.messages[0]?.receipt },
      token: 'worker-token',
    });
    assert.equal(acked.status, 204);
    assert.equal((await t.call('POST', '/v1/queues/jobs/purge', { token: 'admin-token' })).status, 200);
  });

  it('nack and release take the consume scope', async () => {
    await t.call('POST', '/v1/queues/jobs/messages', { body: { body: 2 }, token: 'producer-token' });
    const received = await t.call('POST', '/v1/queues/jobs/receive', {
      body: {},
      token: 'worker-token',
      returns: ReceiveResponse,
    });
    const receipt = received.body.messages[0]?.receipt;
    for (const action of ['nack', 'release']) {
      const denied = await t.call('POST', `/v1/queues/jobs/${action}`, {
        body: { receipt },
        token: 'producer-token',
      });
      assert.equal(assertProblem(denied, 403, 'SPOOL_FORBIDDEN').requiredScope, 'consume', action);
    }
    const released = await t.call('POST', '/v1/queues/jobs/release', {
      body: { receipt },
      token: 'worker-token',
    });
    assert.equal(released.status, 204);
    assert.equal((await t.call('POST', '/v1/queues/jobs/purge', { token: 'admin-token' })).status, 200);
  });

  it('GET routes take any valid token; health and the API description take none', async () => {
    assert.equal((await t.call('GET', '/v1/queues/jobs', { token: 'producer-token' })).status, 200);
    assert.equal((await t.call('GET', '/v1/queues/jobs', { token: 'worker-token' })).status, 200);
    assert.equal((await t.call('GET', '/healthz')).status, 200);
    assert.equal((await t.call('GET', '/readyz')).status, 200);
    assert.equal((await t.call('GET', '/openapi.json')).status, 200);
  });
});

describe('binding', () => {
  it('refuses a non-loopback address without tokens, with a message that says what to do', async () => {
    const spool = await openSpool({ path: ':memory:' });
    try {
      await assert.rejects(
        startServer({ spool, host: '0.0.0.0', port: 0 }),
        (error: unknown) =>
          error instanceof InvalidArgumentError &&
          /without API tokens/.test(error.message) &&
          /SPOOL_TOKENS/.test(error.message),
      );
      const open = await startServer({ spool, host: '127.0.0.1', port: 0 });
      await open.close();
      const guarded = await startServer({
        spool,
        host: '0.0.0.0',
        port: 0,
        auth: { tokens: parseTokenList('t:admin') },
      });
      await guarded.close();
    } finally {
      await spool.close();
    }
  });
});

describe('token lists', () => {
  it('parse "token:scope,scope;token:scope"', () => {
    assert.deepEqual(parseTokenList('tok1:produce,consume;tok2:admin;'), [
      { token: 'tok1', scopes: ['produce', 'consume'] },
      { token: 'tok2', scopes: ['admin'] },
    ]);
  });

  it('reject unknown scopes and entries without any', () => {
    assert.throws(() => parseTokenList('tok1:write'), InvalidArgumentError);
    assert.throws(() => parseTokenList('tok1'), InvalidArgumentError);
    assert.throws(() => parseTokenList(':admin'), InvalidArgumentError);
  });

  it('read "token:" (nothing after the colon) as a token with no scope', () => {
    assert.deepEqual(parseTokenList('prom-token:;app-token:produce,consume'), [
      { token: 'prom-token', scopes: [] },
      { token: 'app-token', scopes: ['produce', 'consume'] },
    ]);
  });

  it('reject an empty scope between commas and a token listed twice, without repeating the token', () => {
    for (const list of ['tok1:produce,,consume', 'tok1:produce;tok1:admin', 'admin:s3cret-value']) {
      assert.throws(
        () => parseTokenList(list),
        (error: unknown) =>
          error instanceof InvalidArgumentError &&
          /token entry \d/.test(error.message) &&
          !error.message.includes('tok1') &&
          !error.message.includes('s3cret'),
        list,
      );
    }
  });
});

/** Runs the CLI (`spool …`) from source. */
function spoolCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

describe('spool serve with the read-only token of docs/observability.md', () => {
  it('starts with SPOOL_TOKENS="$PROM_TOKEN:;$APP_TOKEN:produce,consume": the scope-less token scrapes /metrics and reads configuration and counts, and gets 403 for the rest', async () => {
    const { dir, cleanup } = tempDir('spool-auth-');
    const server = spoolCli(['serve', '--port', '0', '--data', dir], {
      SPOOL_TOKENS: 'prom-token:;app-token:produce,consume',
    });
    try {
      let url: string | undefined;
      const deadline = Date.now() + 20_000;
      while (url === undefined) {
        url = /listening on (http:\/\/\S+)/.exec(server.stdout())?.[1];
        if (server.child.exitCode !== null) assert.fail(`spool serve exited: ${server.stderr()}`);
        if (Date.now() > deadline) assert.fail(`spool serve did not start: ${server.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }

      const scraped = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer prom-token' } });
      assert.equal(scraped.status, 200);
      assert.match(scraped.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(await scraped.text(), /^spool_/m);
      assert.equal((await call(url, 'GET', '/v1/stats', { token: 'prom-token' })).status, 200);
      assert.equal((await call(url, 'GET', '/v1/queues', { token: 'prom-token' })).status, 200);
      assertProblem(await call(url, 'GET', '/metrics'), 401, 'SPOOL_UNAUTHORIZED');

      const denied: Array<[string, string, unknown, string]> = [
        ['POST', '/v1/queues/emails/messages', { body: 1 }, 'produce'],
        ['POST', '/v1/jobs', { type: 'email.welcome' }, 'produce'],
        ['POST', '/v1/queues/emails/receive', {}, 'consume'],
        ['POST', '/v1/jobs/claim', { types: ['email.welcome'] }, 'consume'],
        ['PUT', '/v1/queues/emails', {}, 'admin'],
      ];
      for (const [method, path, body, scope] of denied) {
        const answer = await call(url, method, path, { body, token: 'prom-token' });
        const problem = assertProblem(answer, 403, 'SPOOL_FORBIDDEN', path);
        assert.equal(problem.requiredScope, scope, `${method} ${path}`);
        assert.match(problem.detail, new RegExp(`"${scope}" scope; this token has no scope`));
      }
      // It sees configuration and counts, not contents: those take the read scope (or admin).
      const browse = await call(url, 'GET', '/v1/queues/emails/messages', { token: 'prom-token' });
      const contents = assertProblem(browse, 403, 'SPOOL_FORBIDDEN', '/v1/queues/emails/messages');
      assert.equal(contents.requiredScope, 'read');
      assert.match(contents.detail, /"read" or "admin" scope; this token has no scope/);
      // The other token keeps exactly its scopes.
      const configure = await call(url, 'PUT', '/v1/queues/emails', { body: {}, token: 'app-token' });
      assert.equal(assertProblem(configure, 403, 'SPOOL_FORBIDDEN').requiredScope, 'admin');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      cleanup();
    }
  });

  it('a malformed SPOOL_TOKENS still stops spool serve with exit code 2 and a message saying what to fix', async () => {
    const { dir, cleanup } = tempDir('spool-auth-');
    try {
      const cases: Array<[string, RegExp]> = [
        ['prom-token', /token entry 1 has no ":" after the token/],
        [':;app-token:produce', /token entry 1 has no token before its ":"/],
        ['prom-token:;app-token:produce,write', /token entry 2 has an unknown scope/],
      ];
      await Promise.all(
        cases.map(async ([tokens, expected], index) => {
          const data = join(dir, `data-${index}`);
          const run = spoolCli(['serve', '--port', '0', '--data', data], { SPOOL_TOKENS: tokens });
          const code = await run.exited;
          assert.equal(code, 2, `${tokens}: ${run.stderr()}`);
          assert.match(run.stderr(), expected);
          assert.match(
            run.stderr(),
            /write token:scope\[,scope…\] with scopes from read, produce, consume, admin/,
          );
          assert.match(
            run.stderr(),
            /"token:" for a token that may only see configuration, counts and metrics/,
          );
          assert.ok(
            !run.stderr().includes('prom-token') && !run.stderr().includes('app-token'),
            'no token echoed',
          );
          assert.equal(run.stdout(), '', 'never listened');
          assert.ok(!existsSync(data), 'nothing created');
        }),
      );
    } finally {
      cleanup();
    }
  });
});
