/**
 * Alerts end to end: a real server on loopback over a real SQLite file, a depth rule evaluated
 * by the real evaluator on its own timer, and a real webhook receiver. A breach must show in
 * GET /v1/alerts, /readyz, the SSE stream and as a signed webhook; draining the queue must clear
 * it everywhere. Also: `spool serve --alerts` reads rules from a file (and refuses a bad one).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EventSubscriptions } from '../../src/jobs/event-subscriptions.js';
import { AlertEvaluator } from '../../src/observability/alerts-evaluator.js';
import { AlertsResponseSchema } from '../../src/observability/alerts-schema.js';
import { openSpool } from '../../src/open-spool.js';
import { startServer } from '../../src/server/serve.js';
import { verify } from '../../src/webhooks/signature.js';
import { Webhooks } from '../../src/webhooks/index.js';
import { startReceiver } from '../webhooks/receiver.js';
import { tempDir, until } from '../helpers.js';
import { call } from './helpers.js';

const secret = 'whsec_' + Buffer.from('alerts-e2e-secret-32-bytes-long!').toString('base64');

interface SseEvent {
  readonly id: string;
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** Follows an SSE stream in the background, collecting its events. */
async function followEvents(url: string): Promise<{ events: SseEvent[]; stop: () => void }> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: SseEvent[] = [];
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    for (;;) {
      let chunk: { value?: Uint8Array | undefined; done: boolean };
      try {
        chunk = await reader.read();
      } catch {
        return; // the test stopped following
      }
      const { value, done } = chunk;
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = new Map(
          block
            .split('\n')
            .filter((line) => !line.startsWith(':') && line.includes(': '))
            .map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
        );
        if (fields.has('id')) {
          events.push({
            id: fields.get('id')!,
            event: fields.get('event')!,
            data: JSON.parse(fields.get('data')!) as Record<string, unknown>,
          });
        }
      }
    }
  })();
  return { events, stop: () => controller.abort() };
}

describe('alerts over HTTP', () => {
  it('a depth breach fires in /v1/alerts, /readyz, SSE and a signed webhook, and clears when drained', async () => {
    const { dir, cleanup } = tempDir('spool-alerts-e2e-');
    const receiver = await startReceiver();
    const spool = await openSpool({ path: join(dir, 'spool.db'), safetyPollMs: 100 });
    const webhooks = new Webhooks(spool, { allow: ['127.0.0.1'], secret });
    const subscriptions = new EventSubscriptions(spool, [{ url: receiver.url, events: ['alert.*'] }]);
    const alerts = new AlertEvaluator(spool, {
      interval: '200ms',
      rules: [
        { name: 'orders-depth', kind: 'depth', queue: 'orders', threshold: 5, description: 'backlog' },
        { name: 'lag', kind: 'consumer-lag', topic: '*', group: 'billing', threshold: 100 },
      ],
    });
    await webhooks.open();
    await webhooks.start();
    await subscriptions.start();
    await alerts.start();
    const server = await startServer({ spool, webhooks, alerts, port: 0 });
    const stream = await followEvents(`${server.url}/v1/events`);
    const otherQueueStream = await followEvents(`${server.url}/v1/events?queue=billing`);
    try {
      const listed = await call(server.url, 'GET', '/v1/alerts', { returns: AlertsResponseSchema });
      assert.deepEqual(listed.body.rules, [
        {
          name: 'orders-depth',
          kind: 'depth',
          queue: 'orders',
          threshold: 5,
          forSeconds: 0,
          states: ['ready', 'delayed', 'inFlight'],
          description: 'backlog',
        },
        { name: 'lag', kind: 'consumer-lag', topic: '*', group: 'billing', threshold: 100, forSeconds: 0 },
      ]);
      assert.deepEqual(listed.body.alerts, []);
      assert.equal(typeof listed.body.evaluatedAt, 'string');

      // Six messages: one past the threshold of five.
      assert.equal((await call(server.url, 'PUT', '/v1/queues/orders', { body: {} })).status, 201);
      const sent = await call(server.url, 'POST', '/v1/queues/orders/messages', {
        body: { messages: Array.from({ length: 6 }, (_, i) => ({ body: { order: i } })) },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));

      await until(
        async () =>
          (await call(server.url, 'GET', '/v1/alerts', { returns: AlertsResponseSchema })).body.alerts
            .length === 1,
        5000,
        'the alert to fire',
      );
      const firing = await call(server.url, 'GET', '/v1/alerts', { returns: AlertsResponseSchema });
      const [alert] = firing.body.alerts;
      assert.equal(alert?.id, 'orders-depth/orders');
      assert.equal(alert.rule, 'orders-depth');
      assert.equal(alert.kind, 'depth');
      assert.deepEqual(alert.target, { queue: 'orders' });
      assert.equal(alert.threshold, 5);
      assert.equal(alert.value, 6);
      assert.ok(Date.parse(alert.since) <= Date.now());
      assert.match(alert.message, /queue "orders" holds 6 messages/);

      const ready = await call(server.url, 'GET', '/readyz');
      assert.equal(ready.status, 200, 'a firing alert does not make the server unready');
      assert.deepEqual(ready.body, {
        status: 'ready',
        alerts: { firing: 1, items: [{ id: alert.id, rule: alert.rule, kind: 'depth', since: alert.since }] },
      });

      await until(() => stream.events.some((e) => e.event === 'alert.firing'), 5000, 'alert.firing on SSE');
      const sseFiring = stream.events.find((e) => e.event === 'alert.firing')!;
      assert.equal(sseFiring.data.queue, 'orders');
      assert.deepEqual(sseFiring.data.alert, alert);
      assert.match(String(sseFiring.data.at), /^\d{4}-\d\d-\d\dT/);

      await until(() => receiver.requests.length >= 1, 10_000, 'the alert.firing webhook');
      const delivery = receiver.requests[0]!;
      const verified = verify(delivery.body, delivery.headers, secret);
      assert.ok(verified.webhookId.startsWith('evt-'));
      const payload = JSON.parse(delivery.body) as {
        type: string;
        data: { alert: { id: string; value: number } };
      };
      assert.equal(payload.type, 'alert.firing');
      assert.equal(payload.data.alert.id, 'orders-depth/orders');
      assert.equal(payload.data.alert.value, 6);

      // Drain the queue over HTTP: the alert resolves everywhere, once.
      const received = await call(server.url, 'POST', '/v1/queues/orders/receive', { body: { max: 10 } });
      const { messages } = received.body as { messages: { receipt: string }[] };
      assert.equal(messages.length, 6);
      for (const message of messages) {
        const acked = await call(server.url, 'POST', '/v1/queues/orders/ack', {
          body: { receipt: message.receipt },
        });
        assert.equal(acked.status, 204);
      }
      await until(
        async () =>
          (await call(server.url, 'GET', '/v1/alerts', { returns: AlertsResponseSchema })).body.alerts
            .length === 0,
        5000,
        'the alert to resolve',
      );
      assert.deepEqual((await call(server.url, 'GET', '/readyz')).body, {
        status: 'ready',
        alerts: { firing: 0, items: [] },
      });
      await until(
        () => stream.events.some((e) => e.event === 'alert.resolved'),
        5000,
        'alert.resolved on SSE',
      );
      await until(() => receiver.requests.length >= 2, 10_000, 'the alert.resolved webhook');
      const resolved = JSON.parse(receiver.requests[1]!.body) as {
        type: string;
        data: { alert: { id: string; since: string } };
      };
      assert.equal(resolved.type, 'alert.resolved');
      assert.equal(resolved.data.alert.id, 'orders-depth/orders');
      assert.equal(resolved.data.alert.since, alert.since);
      verify(receiver.requests[1]!.body, receiver.requests[1]!.headers, secret);

      // Several evaluations later: still exactly one firing and one resolved, in that order.
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.deepEqual(
        stream.events.filter((e) => e.event.startsWith('alert.')).map((e) => e.event),
        ['alert.firing', 'alert.resolved'],
      );
      assert.equal(receiver.requests.length, 2);
      assert.deepEqual(
        otherQueueStream.events.filter((e) => e.event.startsWith('alert.')),
        [],
        "a stream filtered to another queue does not see this queue's alerts",
      );
    } finally {
      stream.stop();
      otherQueueStream.stop();
      await server.close();
      await alerts.close();
      await subscriptions.close();
      await webhooks.close({ timeoutMs: 2000 });
      await spool.close({ timeoutMs: 2000 });
      await receiver.close();
      cleanup();
    }
  });

  it('GET /v1/alerts needs a token when tokens are configured; /readyz stays public', async () => {
    const { dir, cleanup } = tempDir('spool-alerts-e2e-');
    const spool = await openSpool({ path: join(dir, 'spool.db') });
    const server = await startServer({ spool, port: 0, auth: { tokens: [{ token: 'reader', scopes: [] }] } });
    try {
      assert.equal((await call(server.url, 'GET', '/v1/alerts')).status, 401);
      const answer = await call(server.url, 'GET', '/v1/alerts', {
        token: 'reader',
        returns: AlertsResponseSchema,
      });
      assert.deepEqual(answer.body, { rules: [], alerts: [], evaluatedAt: null });
      assert.equal((await call(server.url, 'GET', '/readyz')).status, 200);
    } finally {
      await server.close();
      await spool.close();
      cleanup();
    }
  });
});

function spoolCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function collect(stream: NodeJS.ReadableStream): () => string {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (text += chunk));
  return () => text;
}

describe('spool serve --alerts', () => {
  it('loads rules from the file named by SPOOL_ALERTS_FILE, and --alerts wins over it', async () => {
    const { dir, cleanup } = tempDir('spool-alerts-cli-');
    const fromEnv = join(dir, 'env.json');
    const fromFlag = join(dir, 'flag.json');
    writeFileSync(fromEnv, JSON.stringify([{ name: 'from-env', kind: 'depth', queue: '*', threshold: 1 }]));
    writeFileSync(
      fromFlag,
      JSON.stringify({
        interval: '1s',
        rules: [{ name: 'from-flag', kind: 'oldest-age', queue: '*', threshold: 60 }],
      }),
    );
    for (const [args, expected] of [
      [[], 'from-env'],
      [['--alerts', fromFlag], 'from-flag'],
    ] as const) {
      const child = spoolCli(['serve', '--port', '0', '--data', dir, ...args], {
        SPOOL_ALERTS_FILE: fromEnv,
      });
      const stdout = collect(child.stdout!);
      const stderr = collect(child.stderr!);
      const exited = once(child, 'exit');
      try {
        await until(
          () => /listening on http/.test(stdout()) || child.exitCode !== null,
          20_000,
          'the server',
        );
        const url = /listening on (http:\/\/\S+)/.exec(stdout())?.[1];
        assert.ok(url, stderr());
        const answer = await call(url, 'GET', '/v1/alerts', { returns: AlertsResponseSchema });
        assert.deepEqual(
          answer.body.rules.map((rule) => rule.name),
          [expected],
        );
        child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        assert.equal(code, 0, stderr());
      } finally {
        child.kill('SIGKILL');
      }
    }
    cleanup();
  });

  it('refuses to start with an invalid rule, saying what to fix (exit code 2)', async () => {
    const { dir, cleanup } = tempDir('spool-alerts-cli-');
    const file = join(dir, 'alerts.json');
    writeFileSync(file, JSON.stringify([{ name: 'dlq', kind: 'dlq-growth', queue: 'orders', threshold: 1 }]));
    const child = spoolCli(['serve', '--port', '0', '--data', dir, '--alerts', file]);
    const stderr = collect(child.stderr!);
    try {
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 2);
      assert.match(stderr(), /alert rule 0 \("dlq"\): a dlq-growth rule needs "window", e\.g\. "5m"/);
    } finally {
      child.kill('SIGKILL');
      cleanup();
    }
  });
});
