import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertProblem, startTestServer } from './helpers.js';

/** Every route of the HTTP contract, as `METHOD path` in OpenAPI form. */
const contract = [
  'get /v1/auth/scopes',
  'get /healthz',
  'get /readyz',
  'get /metrics',
  'get /v1/stats',
  'get /v1/stats/history',
  'get /v1/stats/stream',
  'put /v1/queues/{name}',
  'get /v1/queues',
  'get /v1/queues/{name}',
  'delete /v1/queues/{name}',
  'post /v1/queues/{name}/messages',
  'get /v1/queues/{name}/messages',
  'post /v1/queues/{name}/receive',
  'get /v1/queues/{name}/stream',
  'post /v1/queues/{name}/ack',
  'post /v1/queues/{name}/nack',
  'post /v1/queues/{name}/release',
  'post /v1/queues/{name}/extend',
  'post /v1/queues/{name}/dead-letter',
  'get /v1/queues/{name}/dlq',
  'post /v1/queues/{name}/redrive',
  'post /v1/queues/{name}/purge',
  'post /v1/queues/{name}/dlq/purge',
  'put /v1/topics/{name}',
  'get /v1/topics',
  'get /v1/topics/{name}',
  'delete /v1/topics/{name}',
  'delete /v1/topics/{name}/groups/{group}',
  'post /v1/topics/{name}/events',
  'get /v1/topics/{name}/partitions/{partition}/events',
  'post /v1/topics/{name}/groups/{group}/poll',
  'post /v1/topics/{name}/groups/{group}/commit',
  'post /v1/topics/{name}/groups/{group}/seek',
  'post /v1/topics/{name}/groups/{group}/leave',
  'get /v1/topics/{name}/groups/{group}',
  'post /v1/topics/{name}/groups/{group}/pause',
  'post /v1/topics/{name}/groups/{group}/resume',
  'post /v1/jobs',
  'get /v1/jobs',
  'get /v1/jobs/{id}',
  'delete /v1/jobs/{id}',
  'post /v1/jobs/{id}/retry',
  'post /v1/jobs/bulk',
  'post /v1/jobs/types/{type}/pause',
  'post /v1/jobs/types/{type}/resume',
  'post /v1/jobs/batch',
  'post /v1/jobs/claim',
  'get /v1/jobs/stream',
  'get /v1/jobs/types/{type}/rate-limit',
  'post /v1/jobs/{id}/heartbeat',
  'post /v1/jobs/{id}/progress',
  'post /v1/jobs/{id}/complete',
  'post /v1/jobs/{id}/fail',
  'post /v1/jobs/{id}/log',
  'get /v1/jobs/{id}/events',
  'post /v1/workflows/{name}/runs',
  'get /v1/workflows/{name}/runs',
  'get /v1/workflow-runs/{id}',
  'post /v1/workflow-runs/{id}/events',
  'post /v1/workflow-runs/{id}/cancel',
  'get /v1/workflow-runs',
  'post /v1/workflow-runs/{id}/retry',
  'get /v1/breakers',
  'post /v1/breakers/{name}/reset',
  'get /v1/events',
  'post /v1/queues/{name}/pause',
  'post /v1/queues/{name}/resume',
  'get /v1/schedules',
  'put /v1/schedules/{name}',
  'delete /v1/schedules/{name}',
  'post /v1/schedules/{name}/run',
  'get /v1/schedules/{name}',
  'post /v1/schedules/{name}/pause',
  'post /v1/schedules/{name}/resume',
  'get /v1/webhooks/deliveries',
  'get /v1/webhooks/endpoints/disabled',
  'get /v1/alerts',
  'post /v1/webhooks/endpoints/enable',
  'get /v1/workers',
  'delete /v1/workers/{id}',
];

/** The parts of the OpenAPI document these tests read. */
interface OpenApiDocument {
  openapi: string;
  info: { title: string };
  components: {
    securitySchemes: Record<string, { type: string; scheme: string; description: string }>;
    schemas: Record<string, { type?: string }>;
  };
  paths: Record<string, Record<string, Operation>>;
}

interface Operation {
  operationId?: string;
  summary?: string;
  security?: unknown;
  requestBody?: { content: Record<string, { schema: { anyOf?: unknown[] } }> };
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
}

describe('operations', () => {
  it('serves an OpenAPI 3.1 document describing every route', async () => {
    const t = await startTestServer();
    try {
      const answer = await t.call('GET', '/openapi.json');
      assert.equal(answer.status, 200);
      const doc = answer.body as OpenApiDocument;
      assert.equal(doc.openapi, '3.1.0');
      assert.equal(doc.info.title, 'Spool');
      assert.equal(doc.components.securitySchemes.bearerAuth?.scheme, 'bearer');
      assert.equal(doc.components.schemas.Problem?.type, 'object');
      const documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method} ${path}`),
      );
      assert.deepEqual([...documented].sort(), [...contract].sort());

      const operationIds = new Set<string>();
      for (const [path, operations] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          const where = `${method} ${path}`;
          assert.ok(operation.operationId !== undefined && !operationIds.has(operation.operationId), where);
          operationIds.add(operation.operationId);
          assert.ok(operation.summary, where);
          assert.ok(Array.isArray(operation.security), where);
          const problem = operation.responses['4XX']?.content?.['application/problem+json'];
          assert.equal(problem?.schema.$ref, '#/components/schemas/Problem', where);
          if (operation.requestBody) assert.ok(operation.requestBody.content['application/json'], where);
        }
      }
      const send = doc.paths['/v1/queues/{name}/messages']?.post;
      assert.deepEqual(send?.security, [{ bearerAuth: ['produce'] }]);
      const sendBody = send?.requestBody?.content['application/json']?.schema;
      assert.equal(sendBody?.anyOf?.length, 2, 'one message or a batch');
      assert.deepEqual(doc.paths['/v1/queues']?.get?.security, [{ bearerAuth: [] }]);
      assert.deepEqual(doc.paths['/healthz']?.get?.security, []);
    } finally {
      await t.dispose();
    }
  });

  it('answers /healthz and /readyz; /readyz is 503 once the store is closed', async () => {
    const t = await startTestServer();
    try {
      assert.deepEqual((await t.call('GET', '/healthz')).body, { status: 'ok' });
      assert.deepEqual((await t.call('GET', '/readyz')).body, {
        status: 'ready',
        alerts: { firing: 0, items: [] },
      });
      await t.spool.close();
      assert.deepEqual((await t.call('GET', '/healthz')).body, { status: 'ok' });
      assertProblem(await t.call('GET', '/readyz'), 503, 'SPOOL_CLOSED');
    } finally {
      await t.dispose();
    }
  });

  it('closes gracefully: a long poll in flight answers at once, then nothing is accepted', async () => {
    const t = await startTestServer({ shutdownTimeoutMs: 5000 });
    try {
      await t.call('PUT', '/v1/queues/q', { body: {} });
      const polling = t.call('POST', '/v1/queues/q/receive', { body: { waitMs: 20_000 } });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      await t.server.close();
      const answer = await polling;
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, { messages: [] });
      assert.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms`);
      await assert.rejects(t.call('GET', '/healthz'), 'no longer listening');
    } finally {
      await t.dispose();
    }
  });
});
