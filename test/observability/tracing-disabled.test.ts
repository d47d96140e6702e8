/**
 * Without an OpenTelemetry SDK, Spool adds nothing: no trace headers on messages, nothing
 * extracted from requests. (A separate file: registering an SDK is process-wide.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { SpoolClient } from '../../src/client/index.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { createLogger } from '../../src/telemetry/logging.js';
import { tracingEnabled } from '../../src/telemetry/tracing.js';
import { startTestServer, type TestServer } from '../e2e/helpers.js';
import { openTestSpool, type TestSpool } from '../helpers.js';

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('tracing without an SDK', () => {
  let test: TestSpool;
  before(async () => {
    test = await openTestSpool({ logger: createLogger({ level: 'silent' }) });
  });
  after(() => test.dispose());

  it('adds no trace header to messages, events or job tickets', async () => {
    assert.equal(tracingEnabled(), false);
    const queue = await test.spool.queue('plain');
    await queue.send({ n: 1 }, { headers: { 'x-tenant': 'acme' } });
    await queue.sendBatch([{ body: 2 }, { body: 3 }]);
    const received = await queue.receive({ max: 3 });
    assert.deepEqual(
      received.map((message) => message.headers),
      [{ 'x-tenant': 'acme' }, {}, {}],
    );

    const topic = await test.spool.topic('plain-events', { partitions: 1 });
    await topic.publish('e');
    const { events } = await topic.read(0, 0);
    assert.deepEqual(events[0]?.headers, {});

    const jobs = new Jobs(test.spool);
    try {
      await jobs.add('report', null);
      const [ticket] = await (await test.spool.queue('jobs.report')).receive();
      assert.deepEqual(ticket?.headers, {});
      const leased = await jobs.claim(['report'], { waitMs: 0 });
      assert.equal(leased.length, 0, 'the one ticket is leased above');
    } finally {
      await jobs.close();
    }
  });

  it("passes a producer's own traceparent through untouched", async () => {
    const queue = await test.spool.queue('own');
    await queue.send('x', { headers: { traceparent } });
    const [message] = await queue.receive();
    assert.deepEqual(message?.headers, { traceparent });
  });

  it('honours an SDK registered later, one disabled again, and one that replaces it', async () => {
    const queue = await test.spool.queue('later');
    for (const round of [1, 2]) {
      const exporter = new InMemorySpanExporter();
      const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      provider.register();
      try {
        assert.equal(tracingEnabled(), true);
        await queue.send(round);
        const [message] = await queue.receive();
        assert.match(message?.headers.traceparent ?? '', /^00-[\da-f]{32}-[\da-f]{16}-01$/);
        assert.deepEqual(
          exporter.getFinishedSpans().map((span) => span.name),
          ['send later'],
          `round ${round}: the span goes to the provider registered now`,
        );
        await message?.ack();
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
        await provider.shutdown();
      }
      assert.equal(tracingEnabled(), false);
    }
  });
});

describe('tracing without an SDK, over HTTP', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.dispose());

  it('neither extracts a traceparent from requests nor adds one', async () => {
    const client = new SpoolClient({ url: server.url });
    await client.queues.put('http-plain');
    await client.queues.send('http-plain', 1);
    const sent = await server.call('POST', '/v1/queues/http-plain/messages', {
      body: { body: 2 },
      headers: { traceparent },
    });
    assert.equal(sent.status, 201);
    const received = await client.queues.receive('http-plain', { max: 2 });
    assert.deepEqual(
      received.map((message) => message.headers),
      [{}, {}],
    );
  });
});
