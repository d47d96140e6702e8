import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SpoolClient } from '../../src/client/index.js';
import { NonRetryableError } from '../../src/core/errors.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { startTestServer, type TestServer } from '../e2e/helpers.js';
import { tempDir } from '../helpers.js';
import { json, type Run, runSpool } from './run.js';

let t: TestServer;
let client: SpoolClient;

/** Runs `spool …` against the test server (SPOOL_URL) and collects its output. */
function spool(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return runSpool(args, { SPOOL_URL: t.url, ...options.env }, options.stdin);
}

describe('spool CLI against a server', () => {
  before(async () => {
    t = await startTestServer({
      jobs: async (spool) => {
        const jobs = new Jobs(spool);
        jobs.define('echo', (job) => ({ echoed: job.payload }));
        jobs.define(
          'boom',
          () => {
            throw new NonRetryableError('cannot work');
          },
          { maxAttempts: 1 },
        );
        await jobs.start();
        return jobs;
      },
    });
    client = new SpoolClient({ url: t.url });
  });
  after(() => t.dispose());

  it('send (argument, stdin, --file) and receive --ack', async () => {
    await client.queues.put('emails');
    const [fromArg, fromStdin] = await Promise.all([
      spool(['send', 'emails', '{"to":"ada"}', '--key', 'ada', '--header', 'trace=1', '--priority', '5']),
      spool(['send', 'emails', '--json'], { stdin: '{"to":"bob"}\n' }),
    ]);
    assert.equal(fromArg.code, 0, fromArg.stderr);
    assert.match(fromArg.stdout.trim(), /^[0-9a-f-]{36}$/);
    const sent = json<{ id: string; duplicate: boolean }>(fromStdin);
    assert.equal(sent.duplicate, false);

    const received = json<{
      messages: Array<{ id: string; body: unknown; key: string | null; headers: object }>;
    }>(await spool(['receive', 'emails', '--max', '5', '--ack', '--json']));
    assert.deepEqual(
      received.messages.map((m) => m.body),
      [{ to: 'ada' }, { to: 'bob' }],
    );
    assert.equal(received.messages[0]?.key, 'ada');
    assert.deepEqual(received.messages[0]?.headers, { trace: '1' });
    const stats = (await client.queues.get('emails')).stats;
    assert.deepEqual([stats.ready, stats.inFlight], [0, 0], 'acknowledged');

    const { dir, cleanup } = tempDir('spool-cli-');
    try {
      const file = join(dir, 'batch.ndjson');
      writeFileSync(file, Array.from({ length: 25 }, (_, i) => JSON.stringify({ n: i })).join('\n') + '\n\n');
      const batch = json<{ sent: number; ids: string[] }>(
        await spool(['send', 'emails', '--file', file, '--batch-size', '10', '--json']),
      );
      assert.equal(batch.sent, 25);
      assert.equal(new Set(batch.ids).size, 25);
    } finally {
      cleanup();
    }
    const human = await spool(['receive', 'emails', '--max', '2']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^ID\s+ATTEMPT\s+KEY\s+BODY\n/);
    assert.match(human.stdout, /\{"n":0\}/);
    assert.match(human.stderr, /not acknowledged/);
  });

  it('jobs add --wait --json, get, list, cancel, retry; a dead job exits 1', async () => {
    const done = json<{ id: string; status: string; result: unknown }>(
      await spool(['jobs', 'add', 'echo', '{"hello":"world"}', '--wait', '--json']),
    );
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.result, { echoed: { hello: 'world' } });

    const [dead, later, got] = await Promise.all([
      spool(['jobs', 'add', 'boom', '--wait']),
      spool(['jobs', 'add', 'later', '--delay-ms', '60000', '--key', 'k1', '--json']),
      spool(['jobs', 'get', done.id]),
    ]);
    assert.equal(dead.code, 1);
    assert.match(dead.stderr, /is dead: NonRetryableError: cannot work/);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /status:\s+completed/);
    const scheduled = json<{ id: string; status: string }>(later);
    assert.equal(scheduled.status, 'scheduled');

    const listed = json<{ items: Array<{ id: string }> }>(
      await spool(['jobs', 'list', '--type', 'later', '--status', 'scheduled', '--key', 'k1', '--json']),
    );
    assert.deepEqual(
      listed.items.map((job) => job.id),
      [scheduled.id],
    );
    const cancel = await spool(['jobs', 'cancel', scheduled.id]);
    assert.equal(cancel.stdout.trim(), `${scheduled.id} cancelled`);
    const again = await spool(['jobs', 'cancel', scheduled.id]);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /SPOOL_JOB_STATE_CONFLICT: /);
    const retried = json<{ status: string }>(await spool(['jobs', 'retry', scheduled.id, '--json']));
    assert.equal(retried.status, 'queued');
  });

  it('dlq list, redrive and purge (confirmation required without --yes)', async () => {
    await client.queues.put('fragile', { maxAttempts: 1 });
    await client.queues.sendBatch('fragile', [{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
    const messages = await client.queues.receive('fragile', { max: 3 });
    await client.queues.deadLetter(
      'fragile',
      messages.map((m) => m.receipt),
      'poison',
    );
    const listed = json<{ items: Array<{ id: string; errors: Array<{ message: string }> }>; next: null }>(
      await spool(['dlq', 'list', 'fragile', '--json']),
    );
    assert.equal(listed.items.length, 3);
    assert.equal(listed.items[0]?.errors.at(-1)?.message, 'poison');
    const table = await spool(['dlq', 'list', 'fragile']);
    assert.match(table.stdout, /LAST ERROR/);
    assert.match(table.stdout, /poison/);

    const [oldest] = listed.items;
    assert.ok(oldest);
    const one = await spool(['dlq', 'redrive', 'fragile', oldest.id]);
    assert.equal(one.stdout.trim(), 'redrove 1 dead letter to fragile');
    assert.equal((await client.queues.get('fragile')).stats.ready, 1);

    const refused = await spool(['dlq', 'purge', 'fragile']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /without --yes/);
    assert.equal((await client.queues.get('fragile')).stats.deadLettered, 2, 'nothing purged');
    const purged = json<{ purged: number }>(await spool(['dlq', 'purge', 'fragile', '--yes', '--json']));
    assert.equal(purged.purged, 2);
  });

  it('publish, tail (Ctrl-C commits and leaves) and stats --json', async () => {
    await client.topics.put('orders', { partitions: 2 });
    const published = json<{ partition: number; offset: number }>(
      await spool(['publish', 'orders', '{"id":1}', '--key', 'c1', '--json']),
    );
    assert.equal(published.offset, 0);

    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'tail',
        'orders',
        '--group',
        'watchers',
        '--from',
        'earliest',
        '--json',
      ],
      { env: { ...process.env, SPOOL_URL: t.url, SPOOL_DATA: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const closed = once(child, 'close');
    const lines = () => stdout.split('\n').filter(Boolean);
    try {
      await client.topics.publishBatch('orders', [{ body: { id: 2 } }, { body: { id: 3 } }]);
      // Up to 30 s: the child compiles the CLI through tsx first, slow on a busy machine.
      for (let i = 0; i < 1200 && lines().length < 3; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(lines().length, 3, stderr);
      const events = lines().map((line) => JSON.parse(line) as { body: { id: number } });
      assert.deepEqual(events.map((e) => e.body.id).sort(), [1, 2, 3]);
      child.kill('SIGINT');
      const [code] = (await closed) as [number | null];
      assert.equal(code, 0, stderr);
    } finally {
      child.kill('SIGKILL');
    }
    const group = await client.topics.group('orders', 'watchers');
    assert.equal(group.totalLag, 0, 'what was printed was committed');
    assert.equal(group.members.length, 0, 'the member left');

    // The document of GET /v1/stats.
    const stats = json<{
      queues: Array<{ name: string; ready: number }>;
      topics: Array<{ name: string; groups: Array<{ name: string; lag: number }> }>;
    }>(await spool(['stats', '--json']));
    assert.ok(stats.queues.some((q) => q.name === 'emails'));
    const orders = stats.topics.find((topic) => topic.name === 'orders');
    assert.deepEqual(
      orders?.groups.map((g) => [g.name, g.lag]),
      [['watchers', 0]],
    );
    const human = await spool(['stats']);
    assert.match(human.stdout, /^QUEUE\s+READY\s+DELAYED\s+IN FLIGHT\s+DEAD/m);
    assert.match(human.stdout, /^orders\s+2\s+3\s+watchers\s+0$/m);
  });

  it("exit codes: usage errors exit 2, problems their code's exit code (3 not found, 6 wait timeout) with the code on stderr, --help exits 0 and lists them", async () => {
    const [missingArg, badNumber, badChoice, badJson, unknownQueue, help, wrongEnv, waited, rootHelp] =
      await Promise.all([
        spool(['send']),
        spool(['receive', 'emails', '--max', '0']),
        spool(['jobs', 'list', '--status', 'sleeping']),
        spool(['send', 'emails', '{not json']),
        spool(['dlq', 'list', 'no-such-queue']),
        spool(['jobs', 'add', '--help']),
        // Flags win over the environment.
        spool(['stats', '--json', '--url', t.url], { env: { SPOOL_URL: 'http://127.0.0.1:9' } }),
        // No worker takes this type: the wait runs out, and the exit code says "try again".
        spool(['jobs', 'add', 'nobody.works.this', '--wait', '--timeout-ms', '300']),
        spool(['--help']),
      ]);
    for (const run of [missingArg, badNumber, badChoice, badJson]) assert.equal(run.code, 2, run.stderr);
    assert.match(missingArg.stderr, /missing required argument 'queue'/);
    assert.match(badJson.stderr, /not valid JSON/);
    assert.equal(unknownQueue.code, 3);
    assert.match(unknownQueue.stderr, /^spool: SPOOL_QUEUE_NOT_FOUND: queue "no-such-queue" does not exist/m);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--wait/);
    assert.match(help.stdout, /SPOOL_URL/);
    assert.equal(wrongEnv.code, 0, wrongEnv.stderr);
    assert.equal(waited.code, 6, waited.stderr);
    assert.match(waited.stderr, /SPOOL_WAIT_TIMEOUT/);
    assert.equal(rootHelp.code, 0);
    assert.match(rootHelp.stdout, /Exit codes/);
    assert.match(rootHelp.stdout, /^ {2}6 {2}unavailable or timed out: try again$/m);
    assert.match(help.stdout, /^ {2}3 {2}not found$/m);
  });
});
