/**
 * A job type's limits over real HTTP on loopback: the budget of a globalRateLimit
 * (`GET /v1/jobs/types/{type}/rate-limit`) with the IETF RateLimit header fields, and remote
 * claims held to the server's globalRateLimit and globalConcurrency, an empty claim saying which
 * limit and when to come back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpoolClient, SpoolClientError } from '../../src/client/index.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { ClaimResponse } from '../../src/server/schemas/jobs.js';
import { RateBudget } from '../../src/server/schemas/rate-limits.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

const rateHeaders = (answer: { headers: Headers }) => ({
  policy: answer.headers.get('ratelimit-policy'),
  limit: answer.headers.get('ratelimit'),
  retryAfter: answer.headers.get('retry-after'),
});

describe("a job type's limits over HTTP", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      jobs: async (spool) => {
        const jobs = new Jobs(spool);
        jobs.define('notify', null, { globalRateLimit: { limit: 3, intervalMs: 60_000 } });
        jobs.define('burst', null, { globalRateLimit: { limit: 3, intervalMs: 60_000 } });
        jobs.define('mail', null, { globalRateLimit: { limit: 2, intervalMs: 10_000, perKey: true } });
        jobs.define('render', null, { globalConcurrency: 2 });
        jobs.define('plain', null);
        await jobs.start();
        return jobs;
      },
    });
  });
  after(() => t.dispose());

  const budget = (type: string, query = '') =>
    t.call('GET', `/v1/jobs/types/${type}/rate-limit${query}`, { returns: RateBudget });
  const claim = (type: string, max: number) =>
    t.call('POST', '/v1/jobs/claim', { body: { types: [type], max }, returns: ClaimResponse });

  it('answers the budget with RateLimit-Policy and RateLimit; it falls as jobs start; an empty claim says when to come back', async () => {
    const full = await budget('notify');
    assert.equal(full.status, 200, JSON.stringify(full.body));
    assert.deepEqual(full.body, {
      type: 'notify',
      key: null,
      limit: 3,
      intervalMs: 60_000,
      perKey: false,
      remaining: 3,
      nextTokenMs: 20_000,
      resetMs: 0,
    });
    assert.deepEqual(rateHeaders(full), {
      policy: '"notify/globalRateLimit";q=3;w=60',
      limit: '"notify/globalRateLimit";r=3;t=20',
      retryAfter: null,
    });

    for (let n = 0; n < 5; n++) {
      assert.equal((await t.call('POST', '/v1/jobs', { body: { type: 'notify', payload: n } })).status, 202);
    }
    const first = await claim('notify', 3);
    assert.equal(first.body.jobs.length, 3);
    assert.deepEqual(
      rateHeaders(first),
      { policy: null, limit: null, retryAfter: null },
      'not on a claim with jobs',
    );

    const spent = await budget('notify');
    assert.equal(spent.body.remaining, 0);
    assert.ok(
      spent.body.nextTokenMs > 19_000 && spent.body.nextTokenMs <= 20_000,
      `${spent.body.nextTokenMs}`,
    );
    assert.ok(spent.body.resetMs > 59_000 && spent.body.resetMs <= 60_000, `${spent.body.resetMs}`);
    assert.deepEqual(rateHeaders(spent), {
      policy: '"notify/globalRateLimit";q=3;w=60',
      limit: '"notify/globalRateLimit";r=0;t=20',
      retryAfter: null,
    });

    // It finds the 2 jobs left, and the bucket holds them both back.
    const refused = await claim('notify', 5);
    assert.equal(refused.status, 200, 'a claim held back by a limit is still a 200');
    assert.deepEqual(refused.body.jobs, []);
    assert.deepEqual(rateHeaders(refused), {
      policy: '"notify/globalRateLimit";q=3;w=60',
      limit: '"notify/globalRateLimit";r=0;t=20',
      retryAfter: '20',
    });
    const jobs = (await t.call('GET', '/v1/jobs?type=notify&status=queued')).body as { items: unknown[] };
    assert.equal(jobs.items.length, 2, 'the jobs held back stay queued');
    // Their tickets went back until the next token: a claim meanwhile finds nothing to refuse.
    assert.deepEqual(rateHeaders(await claim('notify', 5)), { policy: null, limit: null, retryAfter: null });
  });

  it('a claim of 5 gets the 3 a full bucket holds; the 2 held back stay queued', async () => {
    for (let n = 0; n < 5; n++) await t.call('POST', '/v1/jobs', { body: { type: 'burst', payload: n } });
    const claimed = await claim('burst', 5);
    assert.equal(claimed.body.jobs.length, 3);
    assert.equal(claimed.headers.get('ratelimit'), null, 'a claim with jobs has no RateLimit fields');
    const queued = (await t.call('GET', '/v1/jobs?type=burst&status=queued')).body as { items: unknown[] };
    assert.equal(queued.items.length, 2);
  });

  it("a perKey limit's budget is the key's, with the key as the partition key (pk)", async () => {
    const acme = await budget('mail', '?key=acme');
    assert.equal(acme.body.key, 'acme');
    assert.equal(acme.body.remaining, 2);
    assert.deepEqual(rateHeaders(acme), {
      policy: '"mail/globalRateLimit";q=2;w=10;pk=:YWNtZQ==:',
      limit: '"mail/globalRateLimit";r=2;t=5;pk=:YWNtZQ==:',
      retryAfter: null,
    });
    for (const key of ['acme', 'acme', 'acme']) {
      await t.call('POST', '/v1/jobs', { body: { type: 'mail', payload: null, key } });
    }
    assert.equal((await claim('mail', 2)).body.jobs.length, 2);
    const refused = await claim('mail', 5);
    assert.deepEqual(refused.body.jobs, []);
    assert.deepEqual(rateHeaders(refused), {
      policy: '"mail/globalRateLimit";q=2;w=10;pk=:YWNtZQ==:',
      limit: '"mail/globalRateLimit";r=0;t=5;pk=:YWNtZQ==:',
      retryAfter: '5',
    });
    assert.equal((await budget('mail', '?key=globex')).body.remaining, 2, 'another key has its own');
    assert.equal((await budget('mail')).body.key, null, 'without a key: the bucket of jobs without one');
  });

  it('remote claims are held to the server globalConcurrency, and an empty claim names it', async () => {
    for (let n = 0; n < 5; n++) await t.call('POST', '/v1/jobs', { body: { type: 'render', payload: n } });
    const first = await claim('render', 5);
    assert.equal(first.body.jobs.length, 2, 'a claim of 5 gets the 2 allowed to run');
    await t.call('POST', '/v1/jobs', { body: { type: 'render', payload: 5 } });
    // It finds the job just added, and the limit holds it back.
    const refused = await claim('render', 5);
    assert.deepEqual(refused.body.jobs, []);
    assert.deepEqual(rateHeaders(refused), {
      policy: '"render/globalConcurrency";q=2;qu="concurrent-requests"',
      limit: '"render/globalConcurrency";r=0;t=1',
      retryAfter: '1',
    });
    const [done] = first.body.jobs;
    await t.call('POST', `/v1/jobs/${done!.job.id}/complete`, { body: { lease: done!.lease, result: null } });
    const next = await t.call('POST', '/v1/jobs/claim', {
      body: { types: ['render'], max: 5, waitMs: 3_000 },
      returns: ClaimResponse,
    });
    assert.equal(next.body.jobs.length, 1, 'one ended: one more starts');
  });

  it('a type without a globalRateLimit is a 404 problem; the client reads the same budget', async () => {
    assertProblem(await budget('plain'), 404, 'SPOOL_RATE_LIMIT_NOT_FOUND');
    assertProblem(await budget('never-defined'), 404, 'SPOOL_RATE_LIMIT_NOT_FOUND');
    const client = new SpoolClient({ url: t.url });
    const read = await client.jobs.rateBudget('mail', { key: 'globex' });
    assert.deepEqual(read, { ...(await budget('mail', '?key=globex')).body, nextTokenMs: read.nextTokenMs });
    await assert.rejects(
      client.jobs.rateBudget('plain'),
      (error) => error instanceof SpoolClientError && error.code === 'SPOOL_RATE_LIMIT_NOT_FOUND',
    );
  });

  it('the OpenAPI document has the route, its budget and its headers', async () => {
    const openapi = (await t.call('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { responses: Record<string, { headers?: object }> }>>;
    };
    const route = openapi.paths['/v1/jobs/types/{type}/rate-limit']?.get;
    assert.ok(route, 'documented');
    assert.deepEqual(Object.keys(route.responses['200']?.headers ?? {}).sort(), [
      'RateLimit',
      'RateLimit-Policy',
    ]);
    const claimed = openapi.paths['/v1/jobs/claim']?.post;
    assert.deepEqual(Object.keys(claimed?.responses['200']?.headers ?? {}).sort(), [
      'RateLimit',
      'RateLimit-Policy',
      'Retry-After',
    ]);
  });
});
