/**
 * Tracing with a real OpenTelemetry SDK (Node tracer provider, in-memory exporter): one trace
 * from send to process — in process, through a topic's consumer group, through jobs, and over
 * HTTP between a client, a real server on loopback and workers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpoolClient, Worker } from '../../src/client/index.js';
import { NonRetryableError } from '../../src/core/errors.js';
import type { Message } from '../../src/engine/received-message.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { createLogger } from '../../src/telemetry/logging.js';
import { startTestServer, type TestServer } from '../e2e/helpers.js';
import { openTestSpool, type TestSpool } from '../helpers.js';
import { kindOf, registerRecordingSdk } from './tracing-sdk.js';

const sdk = registerRecordingSdk();
const tracer = trace.getTracer('tracing-test');
const silent = createLogger({ level: 'silent' });

/** Runs `work` with `span` active, as code inside a traced request would. */
function within<R>(span: Span, work: () => R): R {
  return context.with(trace.setSpan(context.active(), span), work);
}

function traceIdOf(span: ReadableSpan): string {
  return span.spanContext().traceId;
}

function spanIdOf(span: ReadableSpan): string {
  return span.spanContext().spanId;
}

/** Asserts `child` is a child of `parent` and links to it (the consumer side of a message). */
function assertProcessOf(child: ReadableSpan, parent: ReadableSpan): void {
  assert.equal(traceIdOf(child), traceIdOf(parent), 'one trace');
  assert.equal(
    child.parentSpanContext?.spanId,
    spanIdOf(parent),
    `${child.name} is a child of ${parent.name}`,
  );
  assert.ok(
    child.links.some((link) => link.context.spanId === spanIdOf(parent)),
    `${child.name} links to the creation context`,
  );
}

function traceparentOf(span: ReadableSpan): string {
  return `00-${traceIdOf(span)}-${spanIdOf(span)}-01`;
}

describe('tracing: embedded queues', () => {
  let test: TestSpool;
  before(async () => {
    test = await openTestSpool({ logger: silent });
  });
  after(() => test.dispose());

  it('send → process is one trace: a PRODUCER span, then a CONSUMER span parented and linked to it', async () => {
    sdk.exporter.reset();
    const orders = await test.spool.queue<{ id: number }>('orders');
    const seen: Message<{ id: number }>[] = [];
    const consumer = orders.process((message) => {
      seen.push(message);
      // The handler runs inside its process span: its own spans nest under it.
      tracer.startSpan('charge card').end();
    });
    const checkout = tracer.startSpan('checkout');
    const { id } = await within(checkout, () => orders.send({ id: 1 }));
    checkout.end();
    const [processed] = await sdk.waitFor('process orders');
    await consumer.close();

    const [send] = sdk.spans('send orders');
    assert.ok(send && processed);
    assert.equal(kindOf(send), 'PRODUCER');
    assert.equal(
      send.parentSpanContext?.spanId,
      checkout.spanContext().spanId,
      'send is a child of the caller',
    );
    assert.deepEqual(send.attributes, {
      'messaging.system': 'spool',
      'messaging.operation.name': 'send',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'orders',
      'messaging.message.id': id,
    });
    assert.equal(kindOf(processed), 'CONSUMER');
    assertProcessOf(processed, send);
    assert.equal(processed.attributes['messaging.operation.type'], 'process');
    assert.equal(processed.attributes['messaging.destination.name'], 'orders');
    assert.equal(processed.attributes['messaging.message.id'], id);
    assert.equal(processed.attributes['messaging.spool.message.attempt'], 1);
    assert.equal(processed.status.code, SpanStatusCode.UNSET);

    const [charge] = sdk.spans('charge card');
    assert.equal(
      charge?.parentSpanContext?.spanId,
      spanIdOf(processed),
      "the handler's spans nest under process",
    );
    assert.equal(
      seen[0]?.headers.traceparent,
      traceparentOf(send),
      'the message carries the send span context',
    );
  });

  it('a batch is one send span with the message count; each message carries its context', async () => {
    sdk.exporter.reset();
    const queue = await test.spool.queue('batch');
    await queue.sendBatch([{ body: 1 }, { body: 2 }, { body: 3 }]);
    const [send] = sdk.spans('send batch');
    assert.ok(send);
    assert.equal(send.attributes['messaging.batch.message_count'], 3);
    assert.equal(send.attributes['messaging.message.id'], undefined, 'no single id for a batch');
    const received = await queue.receive({ max: 3 });
    assert.equal(received.length, 3);
    for (const message of received) assert.equal(message.headers.traceparent, traceparentOf(send));
  });

  it("keeps a traceparent the producer set, and the consumer continues the producer's trace", async () => {
    sdk.exporter.reset();
    const queue = await test.spool.queue('own-context');
    const own = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await queue.send('x', { headers: { traceparent: own, 'x-tenant': 'acme' } });
    const [message] = await queue.receive();
    assert.ok(message);
    assert.deepEqual(message.headers, { traceparent: own, 'x-tenant': 'acme' });
    const consumer = queue.process(() => undefined);
    await message.nack();
    const [processed] = await sdk.waitFor('process own-context');
    await consumer.close();
    assert.equal(traceIdOf(processed!), '0af7651916cd43dd8448eb211c80319c');
    assert.equal(processed!.parentSpanContext?.spanId, 'b7ad6b7169203331');
  });

  it('a failing handler ends its process span with status ERROR and error.type; the retry gets its own span', async () => {
    sdk.exporter.reset();
    const queue = await test.spool.queue('flaky', { backoff: { baseMs: 1, capMs: 1, jitter: 'none' } });
    let calls = 0;
    const consumer = queue.process(() => {
      calls++;
      if (calls === 1) throw new TypeError('card declined');
    });
    await queue.send('pay');
    const [first, second] = await sdk.waitFor('process flaky', 2);
    await consumer.close();
    assert.equal(first!.status.code, SpanStatusCode.ERROR);
    assert.equal(first!.status.message, 'card declined');
    assert.equal(first!.attributes['error.type'], 'TypeError');
    assert.ok(first!.events.some((event) => event.name === 'exception'));
    assert.equal(second!.status.code, SpanStatusCode.UNSET);
    assert.equal(second!.attributes['messaging.spool.message.attempt'], 2);
    const [send] = sdk.spans('send flaky');
    assertProcessOf(first!, send!);
    assertProcessOf(second!, send!);
  });
});

describe('tracing: transactions', () => {
  let test: TestSpool;
  before(async () => {
    test = await openTestSpool({ logger: silent });
  });
  after(() => test.dispose());

  it("consume-and-produce: what a transactional handler sends continues the handler's trace", async () => {
    sdk.exporter.reset();
    const orders = await test.spool.queue('tx-orders');
    const invoices = await test.spool.queue('tx-invoices');
    const relay = orders.process(
      async (message, { tx }) => {
        await tx!.send('tx-invoices', { for: message.id });
        await tx!.publish('tx-audit', { order: message.id });
      },
      { transactional: true },
    );
    await test.spool.topic('tx-audit', { partitions: 1 });
    const billing = invoices.process(() => undefined);
    await orders.send({ total: 12 });
    const [invoiced] = await sdk.waitFor('process tx-invoices');
    await relay.close();
    await billing.close();
    const [send] = sdk.spans('send tx-orders');
    const [relayed] = sdk.spans('process tx-orders');
    assertProcessOf(relayed!, send!);
    assertProcessOf(invoiced!, relayed!);
    const { events } = await (await test.spool.topic('tx-audit')).read(0, 0);
    assert.equal(events[0]?.headers.traceparent, traceparentOf(relayed!));
  });

  it("spool.transaction() sends carry the caller's context, even when queued behind another transaction", async () => {
    sdk.exporter.reset();
    const queue = await test.spool.queue('tx-plain');
    const first = tracer.startSpan('first');
    const second = tracer.startSpan('second');
    let releaseFirst: () => void = () => {};
    const held = new Promise<void>((resolve) => (releaseFirst = resolve));
    const one = within(first, () =>
      test.spool.transaction(async (tx) => {
        await tx.send('tx-plain', 1);
        await held;
      }),
    );
    // Queued behind the first: the store starts it when the first commits, from that flow.
    const two = within(second, () => test.spool.transaction((tx) => tx.send('tx-plain', 2)));
    setTimeout(releaseFirst, 50);
    await Promise.all([one, two]);
    first.end();
    second.end();
    const received = await queue.receive({ max: 2 });
    const byBody = new Map(received.map((message) => [message.body, message.headers.traceparent]));
    assert.equal(byBody.get(1), `00-${first.spanContext().traceId}-${first.spanContext().spanId}-01`);
    assert.equal(byBody.get(2), `00-${second.spanContext().traceId}-${second.spanContext().spanId}-01`);
  });
});

describe('tracing: topics', () => {
  let test: TestSpool;
  before(async () => {
    test = await openTestSpool({ logger: silent });
  });
  after(() => test.dispose());

  it('publish → group subscription: a PRODUCER publish span, a CONSUMER process span with group and partition', async () => {
    sdk.exporter.reset();
    const events = await test.spool.topic('signups', { partitions: 3 });
    const published = await events.publish({ user: 'ada' }, { key: 'ada' });
    const subscription = events.subscribe('welcome-mail', () => undefined, { heartbeatIntervalMs: 50 });
    const [processed] = await sdk.waitFor('process signups');
    await subscription.close();

    const [publish] = sdk.spans('publish signups');
    assert.ok(publish && processed);
    assert.equal(kindOf(publish), 'PRODUCER');
    assert.equal(publish.attributes['messaging.operation.name'], 'publish');
    assert.equal(publish.attributes['messaging.destination.partition.id'], String(published.partition));
    assert.equal(publish.attributes['messaging.spool.offset'], published.offset);
    assert.equal(publish.attributes['messaging.message.id'], published.id);
    assert.equal(kindOf(processed), 'CONSUMER');
    assertProcessOf(processed, publish);
    assert.equal(processed.attributes['messaging.consumer.group.name'], 'welcome-mail');
    assert.equal(processed.attributes['messaging.destination.partition.id'], String(published.partition));
    assert.equal(processed.attributes['messaging.message.id'], published.id);
  });
});

describe('tracing: jobs', () => {
  let test: TestSpool;
  let jobs: Jobs;
  before(async () => {
    test = await openTestSpool({ logger: silent });
    jobs = new Jobs(test.spool);
    jobs.define('email.welcome', () => {
      tracer.startSpan('smtp send').end();
      return { sent: true };
    });
    jobs.define(
      'email.bounce',
      () => {
        throw new NonRetryableError('mailbox does not exist');
      },
      { maxAttempts: 1 },
    );
    let flaky = 0;
    jobs.define(
      'email.flaky',
      () => {
        if (++flaky === 1) throw new Error('smtp timeout');
        return 'sent';
      },
      { backoff: { baseMs: 1, capMs: 1, jitter: 'none' } },
    );
    await jobs.start();
  });
  after(async () => {
    await jobs.close();
    await test.dispose();
  });

  it("jobs.add → worker: the job's run continues the add's trace", async () => {
    sdk.exporter.reset();
    const signup = tracer.startSpan('signup');
    const job = await within(signup, () => jobs.add('email.welcome', { to: 'ada@example.com' }));
    signup.end();
    await jobs.wait(job.id, { timeoutMs: 10_000 });
    const [run] = await sdk.waitFor('process jobs.email.welcome');
    const [add] = sdk.spans('add jobs.email.welcome');
    assert.ok(add && run);
    assert.equal(kindOf(add), 'PRODUCER');
    assert.equal(add.parentSpanContext?.spanId, signup.spanContext().spanId);
    assert.equal(add.attributes['messaging.spool.job.id'], job.id);
    assert.equal(add.attributes['messaging.spool.job.type'], 'email.welcome');
    assertProcessOf(run, add);
    assert.equal(run.attributes['messaging.spool.job.id'], job.id);
    assert.equal(run.attributes['messaging.spool.job.type'], 'email.welcome');
    assert.equal(run.attributes['messaging.spool.message.attempt'], 1);
    const [smtp] = sdk.spans('smtp send');
    assert.equal(smtp?.parentSpanContext?.spanId, spanIdOf(run), "the handler's spans nest under the run");
  });

  it("a job's retry runs in the same trace as its first attempt", async () => {
    sdk.exporter.reset();
    const job = await jobs.add('email.flaky', null);
    assert.equal((await jobs.wait(job.id, { timeoutMs: 10_000 })).status, 'completed');
    const [first, second] = await sdk.waitFor('process jobs.email.flaky', 2);
    const [add] = sdk.spans('add jobs.email.flaky');
    assert.equal(first!.status.code, SpanStatusCode.ERROR);
    assert.equal(first!.attributes['error.type'], 'Error');
    assertProcessOf(first!, add!);
    assertProcessOf(second!, add!);
    assert.equal(second!.attributes['messaging.spool.message.attempt'], 2);
  });

  it("a failed job marks its run's span failed", async () => {
    sdk.exporter.reset();
    const job = await jobs.add('email.bounce', null);
    const finished = await jobs.wait(job.id, { timeoutMs: 10_000 });
    assert.equal(finished.status, 'dead');
    const [run] = await sdk.waitFor('process jobs.email.bounce');
    assert.equal(run!.status.code, SpanStatusCode.ERROR);
    assert.equal(run!.attributes['error.type'], 'NonRetryableError');
  });
});

describe('tracing over HTTP', () => {
  let server: TestServer;
  let client: SpoolClient;
  before(async () => {
    server = await startTestServer();
    client = new SpoolClient({ url: server.url });
  });
  after(() => server.dispose());

  it('client (active span) → POST send → server send span → process in a worker: one trace', async () => {
    sdk.exporter.reset();
    await client.queues.put('http-orders');
    const queue = await server.spool.queue('http-orders');
    const consumer = queue.process(() => undefined);
    const request = tracer.startSpan('place order', { kind: SpanKind.CLIENT });
    const sent = await within(request, () => client.queues.send('http-orders', { id: 7 }));
    request.end();
    const [processed] = await sdk.waitFor('process http-orders');
    await consumer.close();
    const [send] = sdk.spans('send http-orders');
    assert.ok(send && processed);
    assert.equal(traceIdOf(send), request.spanContext().traceId, 'the server joined the client trace');
    assert.equal(send.parentSpanContext?.spanId, request.spanContext().spanId);
    assert.equal(send.parentSpanContext?.isRemote, true, 'the parent came over the wire');
    assert.equal(send.attributes['messaging.message.id'], sent.id);
    assertProcessOf(processed, send);
  });

  it('a plain HTTP caller that sends a traceparent header gets its trace continued', async () => {
    sdk.exporter.reset();
    await client.topics.put('http-events', { partitions: 1 });
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const answer = await server.call('POST', '/v1/topics/http-events/events', {
      body: { body: { hello: 'world' } },
      headers: { traceparent },
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const [publish] = await sdk.waitFor('publish http-events');
    assert.equal(traceIdOf(publish!), '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(publish!.parentSpanContext?.spanId, '00f067aa0ba902b7');
  });

  it('POST /v1/jobs → claim over HTTP → remote Worker: the claim hands over the trace and the worker continues it', async () => {
    sdk.exporter.reset();
    const request = tracer.startSpan('request report');
    const { id } = await within(request, () => client.jobs.add('report.build', { month: '2026-10' }));
    request.end();
    const [add] = sdk.spans('add jobs.report.build');
    assert.ok(add);
    assert.equal(add.parentSpanContext?.spanId, request.spanContext().spanId);

    // The claim answer carries the job's trace context, for workers in any language.
    const claimed = await client.jobs.claim({ types: ['report.build'], waitMs: 5_000, leaseMs: 5_000 });
    assert.equal(claimed.length, 1);
    assert.equal(claimed[0]!.traceparent, traceparentOf(add));
    await client.jobs.heartbeat(id, claimed[0]!.lease, 1_000);
    // Let the lease run out: the job runs again, still in its trace.
    let attempts = 0;
    const worker = new Worker(client, {
      types: ['report.build'],
      waitMs: 1_000,
      handler: () => {
        tracer.startSpan('render pdf').end();
        attempts++;
        if (attempts === 1) throw new Error('printer jammed');
        return { pages: 3 };
      },
    }).start();
    try {
      const job = await client.jobs.wait(id, { timeoutMs: 30_000 });
      assert.equal(job.status, 'completed');
    } finally {
      await worker.close();
    }
    const [failed, run] = await sdk.waitFor('process jobs.report.build', 2);
    assert.equal(kindOf(failed!), 'CONSUMER');
    assertProcessOf(failed!, add);
    assert.equal(failed!.status.code, SpanStatusCode.ERROR);
    assert.equal(failed!.attributes['messaging.spool.job.id'], id);
    assert.equal(sdk.spans('render pdf')[0]?.parentSpanContext?.spanId, spanIdOf(failed!));
    // The retry's ticket was sent from within the failed attempt's span: same trace, linked to it.
    assertProcessOf(run!, failed!);
    assert.equal(run!.status.code, SpanStatusCode.UNSET);
  });
});
