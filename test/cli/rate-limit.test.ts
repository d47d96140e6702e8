/**
 * `spool jobs rate-limit <type>`: the budget of a job type's globalRateLimit, from a server (its
 * own limit) or from a data directory (the limit given, as the directory does not store it).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Jobs } from '../../src/jobs/jobs.js';
import { openSpool } from '../../src/open-spool.js';
import { startTestServer, type TestServer } from '../e2e/helpers.js';
import { tempDir } from '../helpers.js';
import { runSpool } from './run.js';

describe('spool jobs rate-limit', () => {
  let t: TestServer;
  let dir: string;
  let cleanup: () => void;
  before(async () => {
    ({ dir, cleanup } = tempDir('spool-cli-rate-'));
    t = await startTestServer({
      jobs: async (spool) => {
        const jobs = new Jobs(spool);
        jobs.define('notify', null, { globalRateLimit: { limit: 3, intervalMs: 60_000, perKey: true } });
        jobs.define('plain', null);
        await jobs.start();
        return jobs;
      },
    });
  });
  after(async () => {
    await t.dispose();
    cleanup();
  });

  it("prints a server's budget, as text or --json; falls as a key's jobs start", async () => {
    await t.call('POST', '/v1/jobs', { body: { type: 'notify', payload: null, key: 'acme' } });
    const claimed = await t.call('POST', '/v1/jobs/claim', { body: { types: ['notify'], max: 1 } });
    assert.equal((claimed.body as { jobs: unknown[] }).jobs.length, 1);

    const text = await runSpool(['jobs', 'rate-limit', 'notify', '--key', 'acme', '--url', t.url]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 4), [
      'type:          notify',
      'key:           acme',
      'limit:         3 per 60000 ms',
      'remaining:     2',
    ]);
    assert.match(lines[4]!, /^next start in: \d+ ms$/);
    assert.match(lines[5]!, /^full in: {7}\d+ ms$/);

    const json = await runSpool([
      'jobs',
      'rate-limit',
      'notify',
      '--key',
      'globex',
      '--json',
      '--url',
      t.url,
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      type: 'notify',
      key: 'globex',
      limit: 3,
      intervalMs: 60_000,
      perKey: true,
      remaining: 3,
      nextTokenMs: 20_000,
      resetMs: 0,
    });
  });

  it('a type without a globalRateLimit fails with its code; --limit is refused with a server', async () => {
    const missing = await runSpool(['jobs', 'rate-limit', 'plain', '--url', t.url]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(
      missing.stderr,
      /^spool: SPOOL_RATE_LIMIT_NOT_FOUND: job type "plain" has no globalRateLimit/,
    );
    const given = await runSpool(['jobs', 'rate-limit', 'notify', '--limit', '3', '--url', t.url]);
    assert.equal(given.code, 2, given.stderr);
    assert.match(given.stderr, /--limit, --interval-ms and --per-key are for --data/);
  });

  it('with --data, reads the bucket against the limit given', async () => {
    const spool = await openSpool({ path: join(dir, 'spool.db') });
    try {
      assert.equal(await spool.store.takeRateToken('job:notify', 3, 60_000), 0);
    } finally {
      await spool.close();
    }
    const run = await runSpool([
      'jobs',
      'rate-limit',
      'notify',
      '--limit',
      '3',
      '--interval-ms',
      '60000',
      '--json',
      '--data',
      dir,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const budget = JSON.parse(run.stdout) as { remaining: number; key: string | null; perKey: boolean };
    assert.deepEqual([budget.remaining, budget.key, budget.perKey], [2, null, false]);
    const bare = await runSpool(['jobs', 'rate-limit', 'notify', '--data', dir]);
    assert.equal(bare.code, 2, bare.stderr);
    assert.match(bare.stderr, /--limit <n> --interval-ms <ms>/);
  });
});
