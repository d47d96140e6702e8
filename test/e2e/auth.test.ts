import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { openSpool } from '../../src/open-spool.js';
import { parseTokenList } from '../../src/server/auth.js';
import { ReceiveResponse } from '../../src/server/schemas/queues.js';
import { startServer } from '../../src/server/serve.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

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
});
