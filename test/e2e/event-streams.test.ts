/**
 * The three event-stream routes (`/v1/events`, `/v1/jobs/{id}/events`, `/v1/stats/stream`) under
 * requests they used to mishandle: HEAD (which never answered), and a `Last-Event-ID` or `from`
 * past the end of the events log (a 200 stream that stayed silent as new events arrived) — now
 * 416 `SPOOL_OFFSET_OUT_OF_RANGE` naming the end, which the client surfaces instead of retrying.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SpoolClient } from '../../src/client/client.js';
import { SpoolHttpError } from '../../src/client/errors.js';
import { openSpool } from '../../src/open-spool.js';
import { JobAccepted } from '../../src/server/schemas/jobs.js';
import { startServer } from '../../src/server/serve.js';
import { tempDir, until } from '../helpers.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

/** The id the next event of the log will get, as a 416 tells it. */
async function endOfLog(t: TestServer): Promise<number> {
  const answer = await t.call('GET', '/v1/events?from=999999999');
  return assertProblem(answer, 416, 'SPOOL_OFFSET_OUT_OF_RANGE').endOffset as number;
}

/** Reads `response` (an event stream) until an event with id `id` has come, or 5 s pass. */
async function readUntilId(response: Response, id: number): Promise<string> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 5000;
  while (!text.includes(`id: ${id}\n`)) {
    if (Date.now() > deadline) throw new Error(`no event ${id} within 5 s; got ${JSON.stringify(text)}`);
    const { done, value } = await reader.read();
    if (done) throw new Error(`the stream ended before event ${id}: ${JSON.stringify(text)}`);
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}

describe('event streams: HEAD', () => {
  let t: TestServer;
  let jobId: string;
  before(async () => {
    t = await startTestServer();
    // No worker runs this type: the job stays queued and its stream stays open.
    jobId = (await t.call('POST', '/v1/jobs', { body: { type: 'idle.type' }, returns: JobAccepted })).body.id;
  });
  after(() => t.dispose());

  it('answers at once with the status and headers GET would send, and no body', async () => {
    for (const path of ['/v1/events', `/v1/jobs/${jobId}/events`, '/v1/stats/stream']) {
      const started = Date.now();
      const response = await fetch(t.url + path, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
      const elapsed = Date.now() - started;
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/, path);
      assert.equal(response.headers.get('cache-control'), 'no-cache, no-transform', path);
      assert.ok(response.headers.get('x-request-id'), path);
      assert.equal(await response.text(), '', path);
      assert.ok(elapsed < 1000, `HEAD ${path} took ${elapsed} ms`);
    }
    // The connections HEAD used are still good for the next requests.
    assert.equal((await t.call('GET', '/healthz')).status, 200);
  });

  it('fails as GET fails: 404 for an unknown job, 416 past the end of the log', async () => {
    const unknown = await fetch(`${t.url}/v1/jobs/no-such-job/events`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(unknown.status, 404);
    assert.match(unknown.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const end = await endOfLog(t);
    const past = await fetch(`${t.url}/v1/events`, {
      method: 'HEAD',
      headers: { 'last-event-id': String(end + 5) },
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(past.status, 416);
  });
});

describe('event streams: resuming past the end of the log', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    for (let i = 0; i < 3; i++) await t.call('POST', '/v1/jobs', { body: { type: 'idle.type' } });
  });
  after(() => t.dispose());

  it('a Last-Event-ID or from past the end is 416 problem+json naming the end of the log', async () => {
    const end = await endOfLog(t);
    assert.ok(end >= 3, `three jobs queued: ${end} events`);
    const job = (await t.call('POST', '/v1/jobs', { body: { type: 'idle.type' }, returns: JobAccepted })).body
      .id;
    const now = end + 1;
    const cases: Array<[string, Record<string, string>]> = [
      ['/v1/events', { 'last-event-id': String(now) }],
      ['/v1/events', { 'last-event-id': String(now + 1000) }],
      [`/v1/events?from=${now + 1}`, {}],
      [`/v1/events?jobType=idle.type&from=${now + 1}`, {}],
      [`/v1/jobs/${job}/events`, { 'last-event-id': String(now) }],
      [`/v1/jobs/${job}/events?from=${now + 1}`, {}],
    ];
    for (const [path, headers] of cases) {
      const problem = assertProblem(
        await t.call('GET', path, { headers, signal: AbortSignal.timeout(5000) }),
        416,
        'SPOOL_OFFSET_OUT_OF_RANGE',
      );
      assert.equal(problem.endOffset, now, path);
      assert.equal(problem.lastEventId, now - 1, path);
      assert.match(problem.detail, /past the end of the events log/, path);
    }
  });

  it('resuming at the end itself still works: the next event comes', async () => {
    const end = await endOfLog(t);
    const atEnd = await fetch(`${t.url}/v1/events?from=${end}`, { signal: AbortSignal.timeout(10_000) });
    const afterLast = await fetch(`${t.url}/v1/events`, {
      headers: { 'last-event-id': String(end - 1) },
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(atEnd.status, 200);
    assert.equal(afterLast.status, 200);
    await t.call('POST', '/v1/jobs', { body: { type: 'idle.type' } });
    assert.match(await readUntilId(atEnd, end), /event: job\.queued/);
    assert.match(await readUntilId(afterLast, end), /event: job\.queued/);
  });

  it('the client throws the 416 at once instead of reconnecting for ever', async () => {
    const end = await endOfLog(t);
    const client = new SpoolClient({ url: t.url });
    try {
      const started = Date.now();
      await assert.rejects(
        (async () => {
          for await (const event of client.events({ lastEventId: String(end + 10) })) {
            assert.fail(`no event expected, got ${event.id}`);
          }
        })(),
        (error: unknown) =>
          error instanceof SpoolHttpError &&
          error.status === 416 &&
          error.code === 'SPOOL_OFFSET_OUT_OF_RANGE' &&
          error.problem.endOffset === end,
      );
      assert.ok(Date.now() - started < 2000);
    } finally {
      await client.close();
    }
  });
});

describe('event streams: a client reconnecting to a server whose log was reset', () => {
  it('ends its iteration with the 416 (the events it saw belong to another history)', async () => {
    const { dir, cleanup } = tempDir('spool-e2e-reset-');
    const first = await openSpool({ path: join(dir, 'first.db'), safetyPollMs: 100 });
    const server = await startServer({ spool: first, port: 0 });
    const port = Number(new URL(server.url).port);
    const client = new SpoolClient({ url: server.url, retries: { baseMs: 20, capMs: 200 } });
    let replacement: Awaited<ReturnType<typeof startServer>> | undefined;
    const second = await openSpool({ path: join(dir, 'second.db'), safetyPollMs: 100 });
    try {
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        await client.jobs.add('idle.type', {});
      }
      const iteration = (async () => {
        for await (const event of client.events({ from: 0 })) seen.push(event.id);
      })();
      void iteration.catch(() => undefined);
      await until(() => seen.length >= 3, 5000, 'the first server’s events');

      // The server goes away; another one, on a new store, takes its address.
      await server.close();
      await first.close();
      replacement = await startServer({ spool: second, port });
      await assert.rejects(
        iteration,
        (error: unknown) =>
          error instanceof SpoolHttpError &&
          error.code === 'SPOOL_OFFSET_OUT_OF_RANGE' &&
          error.problem.endOffset === 0 &&
          /Last-Event-ID 2 is past the end/.test(error.message),
      );
      assert.deepEqual(seen, ['0', '1', '2']);
    } finally {
      await client.close();
      await replacement?.close();
      await server.close();
      await second.close();
      await first.close();
      cleanup();
    }
  });
});
