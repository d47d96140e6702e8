import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '../../src/core/clock.js';
import type { Spool } from '../../src/engine/spool.js';
import type { Jobs } from '../../src/jobs/jobs.js';
import type { Webhooks } from '../../src/webhooks/delivery.js';
import { buildServer } from '../../src/server/app.js';
import { ReceiveResponse } from '../../src/server/schemas/queues.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

describe('errors are RFC 9457 problems', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ bodyLimitBytes: 64 * 1024 });
    await t.call('PUT', '/v1/queues/q', { body: {} });
  });
  after(() => t.dispose());

  it('names follow one rule over HTTP as in the engine: 200 characters work, 201 are a 400 problem', async () => {
    const longest = 'q'.repeat(200);
    assert.equal((await t.call('PUT', `/v1/queues/${longest}`, { body: {} })).status < 300, true);
    assert.equal((await t.call('POST', `/v1/queues/${longest}/messages`, { body: { body: 1 } })).status, 201);
    const tooLong = assertProblem(
      await t.call('GET', `/v1/queues/${'q'.repeat(201)}`),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
    assert.match(tooLong.detail, /name/);
    assertProblem(await t.call('GET', `/v1/topics/${'t'.repeat(5000)}`), 400, 'SPOOL_INVALID_ARGUMENT');
    assertProblem(await t.call('GET', '/v1/queues/a%20b'), 400, 'SPOOL_INVALID_ARGUMENT');
  });

  it('a path with bad percent-encoding → 400 problem', async () => {
    const answer = await fetch(`${t.url}/v1/queues/%zz`);
    assert.equal(answer.status, 400);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const problem = (await answer.json()) as { code: string; status: number; requestId: string };
    assert.equal(problem.code, 'SPOOL_BAD_REQUEST');
    assert.equal(answer.headers.get('x-request-id'), problem.requestId);
  });

  it('requests the HTTP parser rejects get a problem and Connection: close, never a bare reset', async () => {
    const { port, hostname } = new URL(t.url);
    const cases: [string, number][] = [
      ['GARBAGE\r\n\r\n', 400],
      ['GET /v1/queues HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 400],
      [`GET /v1/queues HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ];
    for (const [request, status] of cases) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => socket.write(request));
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      assert.match(head, new RegExp(`^HTTP/1.1 ${status} `), request.slice(0, 30));
      assert.match(head, /content-type: application\/problem\+json/i);
      assert.match(head, /connection: close/i);
      const problem = JSON.parse(body) as { status: number; code: string; requestId: string };
      assert.equal(problem.status, status);
      assert.equal(problem.code, 'SPOOL_BAD_REQUEST');
      assert.match(head, new RegExp(`x-request-id: ${problem.requestId}`, 'i'));
    }
  });

  it('a job payload nested deeper than JSON can serialise → 400 naming it, not a 500', async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const answer = await t.call('POST', '/v1/jobs', {
      body: `{"type":"deep.nesting","payload":${deep}}`,
    });
    const problem = assertProblem(answer, 400, 'SPOOL_INVALID_ARGUMENT');
    assert.match(String(problem.detail), /job payload cannot be serialised as JSON: it is nested too deeply/);
  });

  it('malformed JSON → 400', async () => {
    const answer = await t.call('POST', '/v1/queues/q/messages', { body: '{"body": ' });
    const problem = assertProblem(answer, 400, 'SPOOL_INVALID_ARGUMENT', '/v1/queues/q/messages');
    assert.deepEqual(problem.errors, [{ in: 'body', field: '(root)', message: 'is not valid JSON' }]);
  });

  it('schema violations → 400 with one entry per field', async () => {
    const answer = await t.call('POST', '/v1/queues/q/receive', {
      body: { max: 0, waitMs: 60_000, visibilityMS: 5 },
    });
    const problem = assertProblem(answer, 400, 'SPOOL_INVALID_ARGUMENT');
    const fields = (problem.errors as Array<{ in: string; field: string; message: string }>).map(
      (error) => `${error.in}:${error.field}`,
    );
    assert.deepEqual(fields.sort(), ['body:max', 'body:visibilityMS', 'body:waitMs']);
    assert.match(problem.detail, /max/);
  });

  it('a violation inside a batch names the message', async () => {
    const answer = await t.call('POST', '/v1/queues/q/messages', {
      body: { messages: [{ body: 1 }, { body: 2, priority: 'high' }] },
    });
    const problem = assertProblem(answer, 400, 'SPOOL_INVALID_ARGUMENT');
    assert.deepEqual(
      (problem.errors as Array<{ field: string }>).map((error) => error.field),
      ['messages.1.priority'],
    );
  });

  it('a message without a body → 400 naming the field', async () => {
    const answer = await t.call('POST', '/v1/queues/q/messages', { body: { key: 'k' } });
    const problem = assertProblem(answer, 400, 'SPOOL_INVALID_ARGUMENT');
    assert.equal(problem.errors?.[0]?.field, 'body');
  });

  it('Idempotency-Key where it cannot be honoured → 400 naming the header', async () => {
    const headers = { 'idempotency-key': 'k1' };
    const batch = await t.call('POST', '/v1/queues/q/messages', {
      body: { messages: [{ body: 1 }] },
      headers,
    });
    assert.deepEqual(
      assertProblem(batch, 400, 'SPOOL_INVALID_ARGUMENT').errors?.[0]?.field,
      'idempotency-key',
    );
    await t.call('PUT', '/v1/topics/events', { body: {} });
    const topic = await t.call('POST', '/v1/topics/events/events', { body: { body: 1 }, headers });
    assert.deepEqual(
      assertProblem(topic, 400, 'SPOOL_INVALID_ARGUMENT').errors?.[0]?.field,
      'idempotency-key',
    );
  });

  it('bad query parameters → 400', async () => {
    const answer = await t.call('GET', '/v1/queues/q/dlq?limit=lots');
    const problem = assertProblem(answer, 400, 'SPOOL_INVALID_ARGUMENT');
    assert.deepEqual(problem.errors, [{ in: 'querystring', field: 'limit', message: 'Expected integer' }]);
  });

  it('unknown queue → 404', async () => {
    const answer = await t.call('GET', '/v1/queues/nope/messages');
    const problem = assertProblem(answer, 404, 'SPOOL_QUEUE_NOT_FOUND', '/v1/queues/nope/messages');
    assert.equal(problem.queue, 'nope');
  });

  it('unknown route → 404', async () => {
    assertProblem(await t.call('GET', '/v1/nothing-here'), 404, 'SPOOL_ROUTE_NOT_FOUND');
  });

  it('body over the limit → 413', async () => {
    const answer = await t.call('POST', '/v1/queues/q/messages', { body: { body: 'x'.repeat(100 * 1024) } });
    assertProblem(answer, 413, 'SPOOL_PAYLOAD_TOO_LARGE');
  });

  it('a body that is not JSON → 415', async () => {
    const answer = await t.call('POST', '/v1/queues/q/messages', {
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    assertProblem(answer, 415, 'SPOOL_UNSUPPORTED_MEDIA_TYPE');
  });

  it('stale receipt → 409', async () => {
    await t.call('POST', '/v1/queues/q/messages', { body: { body: 1 } });
    const received = await t.call('POST', '/v1/queues/q/receive', { body: {}, returns: ReceiveResponse });
    const receipt = received.body.messages[0]?.receipt;
    await t.call('POST', '/v1/queues/q/ack', { body: { receipt } });
    const answer = await t.call('POST', '/v1/queues/q/ack', { body: { receipt } });
    const problem = assertProblem(answer, 409, 'SPOOL_STALE_RECEIPT');
    assert.equal(problem.retryable, false);
  });

  it('another partition count for an existing topic → 409', async () => {
    await t.call('PUT', '/v1/topics/fixed', { body: { partitions: 2 } });
    assertProblem(
      await t.call('PUT', '/v1/topics/fixed', { body: { partitions: 3 } }),
      409,
      'SPOOL_CONFIG_CONFLICT',
    );
  });

  it('echoes a caller-supplied X-Request-Id in the header and the problem', async () => {
    const answer = await t.call('GET', '/v1/queues/nope', { headers: { 'x-request-id': 'trace-123' } });
    assert.equal(answer.headers.get('x-request-id'), 'trace-123');
    assert.equal(assertProblem(answer, 404, 'SPOOL_QUEUE_NOT_FOUND').requestId, 'trace-123');
  });
});

describe('unexpected errors', () => {
  it('answer 500 without internals and log the error', async () => {
    const logged: unknown[] = [];
    const failingStore = {
      getQueue: () => Promise.reject(new Error('disk sector 7 is on fire at /var/lib/secret')),
    };
    const logger = {
      level: 'info',
      child: () => logger,
      error: (entry: unknown) => logged.push(entry),
      fatal: () => {},
      warn: () => {},
      info: () => {},
      debug: () => {},
      trace: () => {},
      silent: () => {},
    };
    // No jobs layer or webhooks are used by this route; stand-ins keep buildServer from creating them.
    const app = await buildServer({
      // The metrics attach to the engine's clock and instrumentation; the stand-in has both.
      spool: { store: failingStore, clock: systemClock, instrument: () => () => {} } as unknown as Spool,
      jobs: {} as Jobs,
      webhooks: {} as Webhooks,
      logger,
    });
    const response = await app.inject({ method: 'GET', url: '/v1/queues/anything' });
    await app.close();
    assert.equal(response.statusCode, 500);
    assert.match(response.headers['content-type'] as string, /^application\/problem\+json/);
    const problem = response.json<Record<string, unknown>>();
    assert.equal(problem.code, 'SPOOL_INTERNAL');
    assert.doesNotMatch(response.body, /fire|secret|at /);
    assert.match(problem.detail as string, new RegExp(problem.requestId as string));
    assert.equal(logged.length, 1, 'the error is logged once');
  });
});
