import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSpool } from '../../src/open-spool.js';
import { tempDir } from '../helpers.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
let cleanup: () => void;

/** Runs `spool …` with no server in the environment and collects its output. */
async function spool(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { ...process.env, SPOOL_URL: '', SPOOL_TOKEN: '', SPOOL_DATA: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** `spool … --data <dir>`. */
function direct(args: string[]): Promise<Run> {
  return spool([...args, '--data', dir]);
}

function json<T>(run: Run): T {
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as T;
}

describe('spool CLI in direct mode (--data)', () => {
  before(() => ({ dir, cleanup } = tempDir('spool-cli-direct-')));
  after(() => cleanup());

  it('send then receive --ack, and the store is closed cleanly', async () => {
    const sent = await direct(['send', 'emails', '{"to":"ada"}', '--key', 'ada', '--header', 'trace=1']);
    assert.equal(sent.code, 0, sent.stderr);
    const id = sent.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    const second = json<{ id: string; duplicate: boolean }>(
      await direct(['send', 'emails', '{"to":"bob"}', '--json', '--dedup-id', 'bob-1']),
    );
    assert.equal(second.duplicate, false);

    const received = json<{
      messages: Array<{ id: string; queue: string; body: unknown; key: string | null; headers: object }>;
    }>(await direct(['receive', 'emails', '--max', '5', '--ack', '--json']));
    assert.deepEqual(
      received.messages.map((m) => [m.id, m.queue, m.body, m.key, m.headers]),
      [
        [id, 'emails', { to: 'ada' }, 'ada', { trace: '1' }],
        [second.id, 'emails', { to: 'bob' }, null, {}],
      ],
    );

    // Acknowledged, and written through: another process sees an empty queue.
    const again = await direct(['receive', 'emails']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /no messages/);
    const check = await openSpool({ path: join(dir, 'spool.db') });
    try {
      const stats = await (await check.openQueue('emails')).stats();
      assert.equal(stats.ready + stats.inFlight, 0);
    } finally {
      await check.close();
    }
  });

  it('receive creates a missing queue, as send does; other commands fail with CODE: detail', async () => {
    const created = await direct(['receive', 'fresh']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, /no messages/);
    const run = await direct(['dlq', 'list', 'nope']);
    assert.equal(run.code, 3);
    assert.match(run.stderr, /SPOOL_QUEUE_NOT_FOUND: queue "nope"/);
  });

  it('jobs add, then get and list: without a worker the job stays queued', async () => {
    const added = json<{ id: string; status: string; job: { type: string } }>(
      await direct(['jobs', 'add', 'resize', '{"w":100}', '--key', 'img-1', '--json']),
    );
    assert.equal(added.status, 'queued');
    assert.equal(added.job.type, 'resize');

    const job = json<{ id: string; status: string; payload: unknown; key: string }>(
      await direct(['jobs', 'get', added.id, '--json']),
    );
    assert.deepEqual([job.id, job.status, job.payload, job.key], [added.id, 'queued', { w: 100 }, 'img-1']);

    const table = await direct(['jobs', 'get', added.id]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^status: +queued$/m);

    const page = json<{ items: Array<{ id: string; status: string }>; next: string | null }>(
      await direct(['jobs', 'list', '--type', 'resize', '--json']),
    );
    assert.deepEqual(
      page.items.map((item) => [item.id, item.status]),
      [[added.id, 'queued']],
    );
    assert.equal(page.next, null);
    const listed = await direct(['jobs', 'list', '--status', 'queued']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${added.id}\\s+resize\\s+queued\\s+0/\\d+`, 'm'));

    const missing = await direct(['jobs', 'get', 'no-such-job']);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /SPOOL_JOB_NOT_FOUND: /);
  });

  it('jobs add with an add control says what the add did', async () => {
    const first = await direct(['jobs', 'add', 'crm.sync', '{"n":1}', '--key', 'acme', '--singleton']);
    assert.equal(first.code, 0, first.stderr);
    const [id] = first.stdout.trim().split(' ');
    assert.match(first.stdout, /^\S+ queued$/m, 'a created job: the id and status only');
    const again = await direct(['jobs', 'add', 'crm.sync', '{"n":2}', '--key', 'acme', '--singleton']);
    assert.equal(again.stdout.trim(), `${id} queued singleton`);
    const started = json<{ outcome: string }>(
      await direct(['jobs', 'add', 'reindex', '{"v":1}', '--key', 'd', '--debounce-ms', '60000', '--json']),
    );
    assert.equal(started.outcome, 'created');
    const folded = json<{ outcome: string; job: { payload: unknown; status: string } }>(
      await direct(['jobs', 'add', 'reindex', '{"v":2}', '--key', 'd', '--debounce-ms', '60000', '--json']),
    );
    assert.deepEqual(
      [folded.outcome, folded.job.status, folded.job.payload],
      ['debounced', 'scheduled', { v: 2 }],
    );
    const refused = await direct([
      'jobs',
      'add',
      'crm.sync',
      '--singleton',
      '--throttle-ms',
      '1000',
      '--key',
      'a',
    ]);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /SPOOL_INVALID_ARGUMENT: an add takes one of singleton, unique, debounce and throttle/,
    );
  });

  it('dlq list on an empty queue', async () => {
    assert.deepEqual(json(await direct(['dlq', 'list', 'emails', '--json'])), { items: [], next: null });
    const run = await direct(['dlq', 'list', 'emails']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /no dead letters in emails/);
  });

  it('publish, then tail reads it back as a group member', async () => {
    const published = await direct(['publish', 'orders', '{"id":42}', '--key', 'c-7']);
    assert.equal(published.code, 0, published.stderr);
    assert.match(published.stdout, /partition \d+ offset 0/);
    const tailed = await direct([
      'tail',
      'orders',
      '--from',
      'earliest',
      '--max-events',
      '1',
      '--wait-ms',
      '200',
      '--json',
    ]);
    assert.equal(tailed.code, 0, tailed.stderr);
    const event = JSON.parse(tailed.stdout) as { body: unknown; key: string; offset: number };
    assert.deepEqual([event.body, event.key, event.offset], [{ id: 42 }, 'c-7', 0]);
  });

  it('stats --json', async () => {
    // The document of GET /v1/stats, built in process; counters are a server's, so zero here.
    const stats = json<{
      queues: Array<{ name: string; ready: number; deadLettered: number; sentTotal: number }>;
      topics: Array<{ name: string; partitions: unknown[] }>;
      jobs: { byType: Array<{ type: string }> };
    }>(await direct(['stats', '--json']));
    const emails = stats.queues.find((queue) => queue.name === 'emails');
    assert.deepEqual([emails?.ready, emails?.deadLettered, emails?.sentTotal], [0, 0, 0]);
    // Spool's own queues (one per job type) are counted under jobs, and listed only with --all.
    assert.ok(!stats.queues.some((queue) => queue.name === 'jobs.resize'));
    const all = json<{ queues: Array<{ name: string }> }>(await direct(['stats', '--json', '--all']));
    assert.ok(all.queues.some((queue) => queue.name === 'jobs.resize'));
    assert.ok(stats.jobs.byType.some((type) => type.type === 'resize'));
    const orders = stats.topics.find((topic) => topic.name === 'orders');
    assert.ok(orders && orders.partitions.length > 0);
  });

  it('--url and --data together are a usage error (exit 2)', async () => {
    const both = await spool(['stats', '--url', 'http://127.0.0.1:1', '--data', dir]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /either --url .* or --data .*not both/);
    const bothEnv = await spool(['stats'], { SPOOL_URL: 'http://127.0.0.1:1', SPOOL_DATA: dir });
    assert.equal(bothEnv.code, 2);
    assert.match(bothEnv.stderr, /SPOOL_URL and SPOOL_DATA are both set/);
  });

  it('a flag wins over the other mode set in the environment', async () => {
    const run = await spool(['stats', '--json', '--data', dir], { SPOOL_URL: 'http://127.0.0.1:1' });
    assert.equal(run.code, 0, run.stderr);
    const viaUrl = await spool(['stats', '--url', 'http://127.0.0.1:1'], { SPOOL_DATA: dir });
    assert.equal(viaUrl.code, 6);
    assert.match(viaUrl.stderr, /127\.0\.0\.1:1/);
  });

  it('documents direct mode in --help', async () => {
    const help = await spool(['send', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--data <dir>/);
    assert.match(help.stdout, /no server is running on that directory/);
  });
});
