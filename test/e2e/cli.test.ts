import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { tempDir } from '../helpers.js';

function spool(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a stream's text and resolves the first match of `pattern` in it. */
function collect(stream: NodeJS.ReadableStream, pattern?: RegExp) {
  let text = '';
  let found: (match: RegExpMatchArray) => void = () => {};
  const match = new Promise<RegExpMatchArray>((resolve) => (found = resolve));
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
    const result = pattern && text.match(pattern);
    if (result) found(result);
  });
  return { match, text: () => text };
}

describe('spool serve', () => {
  it('prints the URL, answers /healthz, logs JSON to stderr and exits 0 on SIGTERM', async () => {
    const { dir, cleanup } = tempDir('spool-cli-');
    // Request lines are written at debug.
    const child = spool(['serve', '--port', '0', '--data', dir, '--log-level', 'debug']);
    try {
      const stdout = collect(child.stdout!, /listening on (http:\/\/\S+)/);
      const stderr = collect(child.stderr!);
      const exited = once(child, 'exit');
      const [, url] = await Promise.race([
        stdout.match,
        exited.then(() => assert.fail(`exited early: ${stderr.text()}`)),
      ]);
      const health = await fetch(`${url}/healthz`);
      assert.deepEqual(await health.json(), { status: 'ok' });
      assert.ok(existsSync(join(dir, 'spool.db')), 'the embedded store lives in --data');

      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, stderr.text());
      const lines = stderr
        .text()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const request = lines.find((line) => line.url === '/healthz');
      assert.equal(request?.statusCode, 200);
      assert.equal(typeof request?.requestId, 'string');
      assert.ok(lines.some((line) => line.msg === 'stopped'));
    } finally {
      child.kill('SIGKILL');
      cleanup();
    }
  });

  it('serves from PostgreSQL with --store postgres://…', async () => {
    const url = 'postgres://postgres@127.0.0.1:5432/test';
    const child = spool(['serve', '--port', '0', '--store', url]);
    const admin = new pg.Client({ connectionString: url });
    try {
      const stdout = collect(child.stdout!, /listening on (http:\/\/\S+)/);
      const stderr = collect(child.stderr!);
      const exited = once(child, 'exit');
      const [, base] = await Promise.race([
        stdout.match,
        exited.then(() => assert.fail(`exited early: ${stderr.text()}`)),
      ]);
      const queue = `cli-pg-${process.pid}`;
      const json = { 'content-type': 'application/json' };
      assert.equal(
        (await fetch(`${base}/v1/queues/${queue}`, { method: 'PUT', headers: json, body: '{}' })).status,
        201,
      );
      const sent = await fetch(`${base}/v1/queues/${queue}/messages`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ body: { hello: 'postgres' } }),
      });
      assert.equal(sent.status, 201);
      const received = (await (
        await fetch(`${base}/v1/queues/${queue}/receive`, { method: 'POST', headers: json, body: '{}' })
      ).json()) as { messages: { body: unknown }[] };
      assert.deepEqual(received.messages[0]?.body, { hello: 'postgres' });
      await fetch(`${base}/v1/queues/${queue}`, { method: 'DELETE' });
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, stderr.text());
      await admin.connect();
      const rows = await admin.query('SELECT count(*)::int AS n FROM spool.queues WHERE name = $1', [queue]);
      assert.equal(
        (rows.rows[0] as { n: number }).n,
        0,
        'the queue lived in PostgreSQL and was deleted there',
      );
    } finally {
      child.kill('SIGKILL');
      await admin.end().catch(() => undefined);
    }
  });

  it('exits 2 with a clear message when asked to bind a public address without tokens', async () => {
    const { dir, cleanup } = tempDir('spool-cli-');
    try {
      const child = spool(['serve', '--host', '0.0.0.0', '--data', join(dir, 'data')], { SPOOL_TOKENS: '' });
      const stderr = collect(child.stderr!);
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 2);
      assert.match(stderr.text(), /refusing to listen on 0\.0\.0\.0 without API tokens/);
      assert.ok(!existsSync(join(dir, 'data')), 'nothing created');
    } finally {
      cleanup();
    }
  });
});
