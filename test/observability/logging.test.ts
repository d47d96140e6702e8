/**
 * Structured logs: JSON lines captured from a pino destination stream, checked field by field —
 * the engine's lines about messages, events and jobs carry their queue/topic, id and trace id;
 * the level decides what is written; the server's request lines carry the caller's trace id;
 * `spool serve` takes its level from --log-level over SPOOL_LOG_LEVEL over `info`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { InvalidArgumentError, NonRetryableError } from '../../src/core/errors.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { createLogger, resolveLogLevel } from '../../src/telemetry/logging.js';
import { openSpool } from '../../src/open-spool.js';
import { startServer } from '../../src/server/serve.js';
import { openTestSpool, tempDir, type TestSpool } from '../helpers.js';
import { registerRecordingSdk } from './tracing-sdk.js';

registerRecordingSdk();
const tracer = trace.getTracer('logging-test');

type Line = Record<string, unknown> & { level: string; msg: string };

/** A pino destination that keeps every line, parsed. */
function captureLines(): { write(line: string): void; lines: Line[]; find(msg: string): Line[] } {
  const lines: Line[] = [];
  return {
    lines,
    write(line) {
      lines.push(JSON.parse(line) as Line);
    },
    find: (msg) => lines.filter((line) => line.msg === msg),
  };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a log line');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('log levels', () => {
  it('a flag wins over SPOOL_LOG_LEVEL, which wins over info', () => {
    assert.equal(resolveLogLevel('debug', 'warn'), 'debug');
    assert.equal(resolveLogLevel(undefined, 'WARN'), 'warn');
    assert.equal(resolveLogLevel(undefined, undefined), 'info');
    assert.equal(resolveLogLevel(undefined, ''), 'info');
  });

  it('refuses an unknown level with a typed error naming the choices', () => {
    assert.throws(
      () => resolveLogLevel(undefined, 'verbose'),
      (error: unknown) =>
        error instanceof InvalidArgumentError &&
        /SPOOL_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "verbose"/.test(
          error.message,
        ),
    );
  });

  it('writes JSON lines with the level as a name, and the active span on lines inside one', () => {
    const out = captureLines();
    const logger = createLogger({ level: 'info', destination: out });
    logger.debug('not written at info');
    logger.info({ queue: 'orders' }, 'outside a span');
    const span = tracer.startSpan('work');
    context.with(trace.setSpan(context.active(), span), () => logger.warn('inside a span'));
    span.end();
    assert.equal(out.lines.length, 2);
    assert.deepEqual(
      { level: out.lines[0]?.level, queue: out.lines[0]?.queue, traceId: out.lines[0]?.traceId },
      { level: 'info', queue: 'orders', traceId: undefined },
    );
    assert.equal(out.lines[1]?.level, 'warn');
    assert.equal(out.lines[1]?.traceId, span.spanContext().traceId);
    assert.equal(out.lines[1]?.spanId, span.spanContext().spanId);
    assert.equal(out.lines[1]?.name, 'spool');
  });
});

describe('engine logs', () => {
  let test: TestSpool;
  const out = captureLines();
  before(async () => {
    test = await openTestSpool({ logger: createLogger({ level: 'debug', destination: out }) });
  });
  after(() => test.dispose());

  it('queue messages: processed at debug, dead-lettered at warn, each with queue, messageId and traceId', async () => {
    const queue = await test.spool.queue<string>('emails', { maxAttempts: 3 });
    const ok = await queue.send('ok', { headers: { traceparent } });
    const bad = await queue.send('bad');
    const consumer = queue.process((message) => {
      if (message.body === 'bad') throw new NonRetryableError('no such mailbox');
    });
    await until(
      () => out.find('message dead-lettered').length === 1 && out.find('message processed').length === 1,
    );
    await consumer.close();

    const [processed] = out.find('message processed');
    assert.deepEqual(
      {
        level: processed?.level,
        queue: processed?.queue,
        messageId: processed?.messageId,
        attempt: processed?.attempt,
      },
      { level: 'debug', queue: 'emails', messageId: ok.id, attempt: 1 },
    );
    assert.equal(processed?.traceId, traceId, 'from the traceparent the message carries');

    const [dead] = out.find('message dead-lettered');
    assert.equal(dead?.level, 'warn');
    assert.equal(dead?.queue, 'emails');
    assert.equal(dead?.messageId, bad.id);
    // Sent with an SDK registered: the message carries its send span's trace.
    assert.match(String(dead?.traceId), /^[\da-f]{32}$/);
    assert.equal((dead?.err as { message?: string }).message, 'no such mailbox');
    assert.equal((dead?.err as { type?: string }).type, 'NonRetryableError');
  });

  it('a retried message is logged at debug with its delay', async () => {
    const queue = await test.spool.queue('retries', { backoff: { baseMs: 1, capMs: 1, jitter: 'none' } });
    let calls = 0;
    const consumer = queue.process(() => {
      if (++calls === 1) throw new Error('flaky');
    });
    const { id } = await queue.send('x');
    await until(() => out.find('message failed; retrying').some((line) => line.messageId === id));
    await consumer.close();
    const line = out.find('message failed; retrying').find((entry) => entry.messageId === id);
    assert.equal(line?.level, 'debug');
    assert.equal(line?.queue, 'retries');
    assert.equal(line?.attempt, 1);
    assert.equal(typeof line?.delayMs, 'number');
  });

  it('topic events dead-lettered by a group are logged with topic, group, partition, offset and eventId', async () => {
    const topic = await test.spool.topic('signups', { partitions: 1 });
    const published = await topic.publish('ada', { headers: { traceparent } });
    const subscription = topic.subscribe(
      'crm',
      () => {
        throw new NonRetryableError('crm down for good');
      },
      { maxAttempts: 1, deadLetterQueue: 'signups.crm.dlq', onError: () => undefined },
    );
    await until(() => out.find('event dead-lettered').length === 1);
    await subscription.close();
    const [line] = out.find('event dead-lettered');
    assert.deepEqual(
      {
        level: line?.level,
        topic: line?.topic,
        group: line?.group,
        partition: line?.partition,
        offset: line?.offset,
        eventId: line?.eventId,
        traceId: line?.traceId,
        deadLetterQueue: line?.deadLetterQueue,
      },
      {
        level: 'warn',
        topic: 'signups',
        group: 'crm',
        partition: 0,
        offset: published.offset,
        eventId: published.id,
        traceId,
        deadLetterQueue: 'signups.crm.dlq',
      },
    );
  });

  it('jobs: completed at debug and dead at warn, with jobId, jobType and the trace of the add', async () => {
    const jobs = new Jobs(test.spool);
    jobs.define('invoice.send', (job) => {
      if ((job.payload as { fail?: boolean }).fail) throw new NonRetryableError('invoice has no recipient');
      return 'sent';
    });
    await jobs.start();
    try {
      const span = tracer.startSpan('billing run');
      const [good, bad] = await context.with(trace.setSpan(context.active(), span), () =>
        Promise.all([jobs.add('invoice.send', { fail: false }), jobs.add('invoice.send', { fail: true })]),
      );
      span.end();
      await jobs.wait(good.id, { timeoutMs: 10_000 });
      await jobs.wait(bad.id, { timeoutMs: 10_000 });
      await until(() => out.find('job dead').length === 1 && out.find('job completed').length === 1);
      const [completed] = out.find('job completed');
      assert.equal(completed?.level, 'debug');
      assert.equal(completed?.jobId, good.id);
      assert.equal(completed?.jobType, 'invoice.send');
      assert.equal(completed?.traceId, span.spanContext().traceId);
      const [dead] = out.find('job dead');
      assert.equal(dead?.level, 'warn');
      assert.equal(dead?.jobId, bad.id);
      assert.equal(dead?.traceId, span.spanContext().traceId);
      assert.equal((dead?.err as { message?: string }).message, 'invoice has no recipient');
    } finally {
      await jobs.close();
    }
  });

  it('at info, nothing is logged per message', async () => {
    const quiet = captureLines();
    const info = await openTestSpool({ logger: createLogger({ level: 'info', destination: quiet }) });
    try {
      const queue = await info.spool.queue('busy');
      await queue.sendBatch(Array.from({ length: 50 }, (_, n) => ({ body: n })));
      const consumer = queue.process(() => undefined, { concurrency: 8 });
      await until(() => consumer.processed === 50);
      await consumer.close();
      assert.deepEqual(quiet.lines, []);
    } finally {
      await info.dispose();
    }
  });
});

describe('server logs', () => {
  it("request lines (debug) carry the caller's trace id from its traceparent header", async () => {
    const { dir, cleanup } = tempDir('spool-logs-');
    const out = captureLines();
    const logger = createLogger({ level: 'debug', destination: out });
    const spool = await openSpool({ path: join(dir, 'spool.db'), logger });
    const server = await startServer({ spool, port: 0, logger });
    try {
      await fetch(`${server.url}/v1/queues/traced`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
      });
      const answer = await fetch(`${server.url}/v1/queues/traced/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent },
        body: JSON.stringify({ body: 'hello' }),
      });
      assert.equal(answer.status, 201);
      await until(() => out.find('request completed').length === 2);
      const [put, post] = out.find('request completed');
      assert.equal(put?.traceId, undefined);
      assert.equal(post?.traceId, traceId);
      assert.equal(post?.url, '/v1/queues/traced/messages');
      assert.equal(post?.level, 'debug');
    } finally {
      await server.close();
      await spool.close();
      cleanup();
    }
  });
});

describe('spool serve --log-level', () => {
  /** Starts `spool serve`, stops it once listening, and returns its stderr lines. */
  async function serveLines(args: string[], env: Record<string, string>): Promise<Line[]> {
    const { dir, cleanup } = tempDir('spool-serve-logs-');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--data', dir, ...args],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    try {
      let stdout = '';
      child.stdout.setEncoding('utf8');
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: string) => {
          stdout += chunk;
          if (stdout.includes('listening on')) resolve();
        });
        child.once('exit', () => reject(new Error(`exited early: ${stderr}`)));
      });
      // 'close', not 'exit': stderr may still hold lines when the process exits.
      const exited = once(child, 'close');
      child.kill('SIGTERM');
      await exited;
      return stderr
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Line);
    } finally {
      child.kill('SIGKILL');
      cleanup();
    }
  }

  it('takes SPOOL_LOG_LEVEL, and --log-level over it', async () => {
    const fromEnv = await serveLines([], { SPOOL_LOG_LEVEL: 'warn' });
    assert.deepEqual(
      fromEnv.filter((line) => line.level === 'info'),
      [],
      'SPOOL_LOG_LEVEL=warn: no info lines',
    );
    const fromFlag = await serveLines(['--log-level', 'info'], {
      SPOOL_LOG_LEVEL: 'warn',
    });
    const listening = fromFlag.find((line) => String(line.msg).startsWith('listening'));
    assert.equal(
      listening?.level,
      'info',
      `--log-level info wins over the environment: ${JSON.stringify(fromFlag)}`,
    );
    assert.ok(fromFlag.some((line) => line.msg === 'stopped'));
  });
});
