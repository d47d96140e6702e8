/**
 * `spool ack` / `spool nack` with the receipts `spool receive --json` prints, and `spool serve`'s
 * auto-create setting: on by default, off with --no-auto-create or SPOOL_AUTO_CREATE=false.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../e2e/helpers.js';
import { tempDir } from '../helpers.js';
import { type Run, runSpool, startSpool } from './run.js';

const spool = (args: string[], env: Record<string, string> = {}): Promise<Run> => runSpool(args, env);

describe('spool ack and spool nack', () => {
  let t: TestServer;
  let env: Record<string, string>;
  before(async () => {
    t = await startTestServer();
    env = { SPOOL_URL: t.url };
  });
  after(() => t.dispose());

  const receipts = async (queue: string, max = 1): Promise<string[]> => {
    const run = await spool(['receive', queue, '--max', String(max), '--json'], env);
    assert.equal(run.code, 0, run.stderr);
    return (JSON.parse(run.stdout) as { messages: Array<{ receipt: string }> }).messages.map(
      (m) => m.receipt,
    );
  };

  it('acks the receipts of receive --json; a stale receipt exits 1 and names its code', async () => {
    for (const body of ['1', '2']) assert.equal((await spool(['send', 'work', body], env)).code, 0);
    const leased = await receipts('work', 2);
    assert.equal(leased.length, 2);
    const acked = await spool(['ack', 'work', ...leased], env);
    assert.equal(acked.code, 0, acked.stderr);
    assert.match(acked.stdout, /^acknowledged 2 of 2 messages of work$/m);
    const queue = await t.call('GET', '/v1/queues/work');
    assert.equal((queue.body as { stats: { ready: number; inFlight: number } }).stats.inFlight, 0);
    const again = await spool(['ack', 'work', leased[0]!, '--json'], env);
    assert.equal(again.code, 4);
    const answer = JSON.parse(again.stdout) as { results: Array<{ ok: boolean; code?: string }> };
    assert.equal(answer.results[0]?.ok, false);
    assert.equal(answer.results[0]?.code, 'SPOOL_STALE_RECEIPT');
    const human = await spool(['ack', 'work', leased[1]!], env);
    assert.equal(human.code, 4);
    assert.match(human.stderr, /^spool: SPOOL_STALE_RECEIPT: /m);
  });

  it('nack gives the message back, delivered again after --delay-ms with its error recorded', async () => {
    assert.equal((await spool(['send', 'retry', '{"id":7}'], env)).code, 0);
    const [receipt] = await receipts('retry');
    const nacked = await spool(
      ['nack', 'retry', receipt!, '--delay-ms', '200', '--error', 'printer on fire'],
      env,
    );
    assert.equal(nacked.code, 0, nacked.stderr);
    assert.match(nacked.stdout, /^nacked 1 of 1 message of retry$/m);
    const soon = await spool(['receive', 'retry', '--wait-ms', '5000', '--json'], env);
    const [message] = (JSON.parse(soon.stdout) as { messages: Array<{ body: unknown; attempt: number }> })
      .messages;
    assert.deepEqual(message?.body, { id: 7 });
    assert.ok((message?.attempt ?? 0) >= 2, 'delivered again');
  });

  it('unknown queue, missing receipts and bad flags', async () => {
    const missing = await spool(['ack', 'nowhere', 'r1'], env);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /SPOOL_QUEUE_NOT_FOUND/);
    assert.equal((await spool(['ack', 'work'], env)).code, 2);
    assert.equal((await spool(['nack', 'work', 'r', '--delay-ms', 'soon'], env)).code, 2);
  });
});

/** Starts `spool serve` on a free port; resolves its URL once it listens. */
async function serve(args: string[], env: Record<string, string> = {}) {
  const { dir, cleanup } = tempDir('spool-serve-auto-');
  const child = startSpool(['serve', '--port', '0', '--data', dir, ...args], env);
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then(([code]) => reject(new Error(`spool serve exited with ${String(code)}: ${stderr}`)));
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      cleanup();
    },
  };
}

const sendStatus = async (url: string) =>
  (
    await fetch(`${url}/v1/queues/orders/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"body":{"id":1}}',
    })
  ).status;

describe('spool serve and auto-create', () => {
  for (const [name, args, env, expected] of [
    ['by default a send creates the queue', [], {}, 201],
    ['--no-auto-create keeps the 404', ['--no-auto-create'], {}, 404],
    ['SPOOL_AUTO_CREATE=false keeps the 404', [], { SPOOL_AUTO_CREATE: 'false' }, 404],
    ['SPOOL_AUTO_CREATE=true creates', [], { SPOOL_AUTO_CREATE: 'true' }, 201],
    ['the flag wins over SPOOL_AUTO_CREATE=true', ['--no-auto-create'], { SPOOL_AUTO_CREATE: 'true' }, 404],
  ] as const) {
    it(name, async () => {
      const server = await serve([...args], { ...env });
      try {
        assert.equal(await sendStatus(server.url), expected);
      } finally {
        await server.stop();
      }
    });
  }

  it('a SPOOL_AUTO_CREATE it cannot read is a usage error (exit 2)', async () => {
    const { dir, cleanup } = tempDir('spool-serve-auto-');
    try {
      const run = await spool(['serve', '--port', '0', '--data', dir], { SPOOL_AUTO_CREATE: 'maybe' });
      assert.equal(run.code, 2);
      assert.match(run.stderr, /SPOOL_AUTO_CREATE must be true or false/);
    } finally {
      cleanup();
    }
  });
});
