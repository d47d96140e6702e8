import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { Jobs } from '../../src/jobs/jobs.js';
import { AddJobsResponse, BulkJobsResult, Job, JobAccepted, JobPage } from '../../src/server/schemas/jobs.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

describe('jobs over HTTP', () => {
  let t: TestServer;
  afterEach(() => t.dispose());

  it('POST /v1/jobs answers 202 with Location and Retry-After; polling shows it completed', async () => {
    t = await startTestServer({
      jobs: async (spool) => {
        const jobs = new Jobs(spool);
        jobs.define('thumbnail', (job) => ({
          url: `https://cdn/${(job.payload as { image: string }).image}`,
        }));
        await jobs.start();
        return jobs;
      },
    });
    const accepted = await t.call('POST', '/v1/jobs', {
      body: { type: 'thumbnail', payload: { image: 'cat.png' }, metadata: { by: 'e2e' } },
      returns: JobAccepted,
    });
    assert.equal(accepted.status, 202);
    assert.equal(accepted.headers.get('location'), `/v1/jobs/${accepted.body.id}`);
    assert.equal(accepted.headers.get('retry-after'), '1');
    let job = accepted.body.job!;
    for (let i = 0; i < 100 && job.status !== 'completed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      job = (await t.call('GET', accepted.headers.get('location')!, { returns: Job })).body;
    }
    assert.equal(job.status, 'completed');
    assert.deepEqual(job.result, { url: 'https://cdn/cat.png' });
    assert.deepEqual(job.metadata, { by: 'e2e' });
    const search = await t.call('GET', '/v1/jobs?type=thumbnail&status=completed', { returns: JobPage });
    assert.deepEqual(
      search.body.items.map((item) => item.id),
      [job.id],
    );
  });

  it('Idempotency-Key: a repeat answers the first job, another body answers 422', async () => {
    t = await startTestServer();
    const headers = { 'idempotency-key': 'order-77' };
    const first = await t.call('POST', '/v1/jobs', {
      headers,
      body: { type: 'ship', payload: { order: 77 } },
    });
    const again = await t.call('POST', '/v1/jobs', {
      headers,
      body: { type: 'ship', payload: { order: 77 } },
    });
    assert.equal(again.status, 202);
    assert.equal((again.body as { id: string }).id, (first.body as { id: string }).id);
    const conflict = await t.call('POST', '/v1/jobs', {
      headers,
      body: { type: 'ship', payload: { order: 78 } },
    });
    assertProblem(conflict, 422, 'SPOOL_IDEMPOTENCY_CONFLICT');
  });

  it('add controls answer what they did (outcome); a bad one is a 400 naming the field', async () => {
    t = await startTestServer();
    const add = (body: Record<string, unknown>) =>
      t.call('POST', '/v1/jobs', { body: { type: 'sync', ...body } });
    const first = await add({ key: 'acme', singleton: true, payload: 1 });
    const second = await add({ key: 'acme', singleton: true, payload: 2 });
    assert.equal(first.status, 202);
    assert.equal((first.body as { outcome: string }).outcome, 'created');
    assert.equal(second.status, 202);
    assert.deepEqual(
      [(second.body as { outcome: string }).outcome, (second.body as { id: string }).id],
      ['singleton', (first.body as { id: string }).id],
    );
    const debounced = [
      await add({ key: 'doc', debounce: { delayMs: 60_000 }, payload: { v: 1 } }),
      await add({ key: 'doc', debounce: { delayMs: 60_000 }, payload: { v: 2 } }),
    ].map((answer) => answer.body as { outcome: string; job: { payload: unknown; status: string } });
    assert.deepEqual(
      debounced.map((body) => [body.outcome, body.job.status, body.job.payload]),
      [
        ['created', 'scheduled', { v: 1 }],
        ['debounced', 'scheduled', { v: 2 }],
      ],
    );
    const batch = await t.call('POST', '/v1/jobs/batch', {
      body: {
        jobs: [
          { type: 'report', payload: { m: 1 }, unique: { windowMs: 60_000, by: 'payload' } },
          { type: 'report', payload: { m: 1 }, unique: { windowMs: 60_000, by: 'payload' } },
        ],
      },
      returns: AddJobsResponse,
    });
    assert.deepEqual(
      batch.body.jobs.map((item) => item.outcome),
      ['created', 'duplicate'],
    );
    assert.match(
      assertProblem(await add({ singleton: true }), 400, 'SPOOL_INVALID_ARGUMENT').detail,
      /give the add a key/,
    );
    assert.match(
      assertProblem(
        await add({ key: 'a', throttle: { intervalMs: 1_000 }, delayMs: 5 }),
        400,
        'SPOOL_INVALID_ARGUMENT',
      ).detail,
      /leave out delayMs/,
    );
    assertProblem(await add({ key: 'a', debounce: { delayMs: 0 } }), 400, 'SPOOL_INVALID_ARGUMENT');
  });

  it('cancel, retry and the problems of unknown jobs and bad input', async () => {
    t = await startTestServer();
    const accepted = await t.call('POST', '/v1/jobs', {
      body: { type: 'later', delayMs: 60_000 },
      returns: JobAccepted,
    });
    assert.equal(accepted.body.status, 'scheduled');
    const cancelled = await t.call('DELETE', `/v1/jobs/${accepted.body.id}`, { returns: Job });
    assert.equal(cancelled.body.status, 'cancelled');
    assertProblem(await t.call('DELETE', `/v1/jobs/${accepted.body.id}`), 409, 'SPOOL_JOB_STATE_CONFLICT');
    const retried = await t.call('POST', `/v1/jobs/${accepted.body.id}/retry`, { returns: Job });
    assert.equal(retried.status, 202);
    assert.equal(retried.body.status, 'queued');
    assertProblem(await t.call('GET', '/v1/jobs/no-such-job'), 404, 'SPOOL_JOB_NOT_FOUND');
    const withCallback = await t.call('POST', '/v1/jobs', {
      body: { type: 'later', delayMs: 60_000, callbackUrl: 'https://hooks.example.com/spool' },
      returns: JobAccepted,
    });
    assert.equal(withCallback.body.job!.callbackUrl, 'https://hooks.example.com/spool');
    assertProblem(
      await t.call('POST', '/v1/jobs', { body: { type: 'later', callbackUrl: 'ftp://nope' } }),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
    const invalid = assertProblem(
      await t.call('POST', '/v1/jobs', { body: { payload: 1 } }),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
    assert.ok(JSON.stringify(invalid.errors).includes('type'));
  });

  it('POST /v1/jobs/batch adds many jobs, all or none, each with its own idempotency key', async () => {
    t = await startTestServer();
    const batch = (jobs: unknown[]) => t.call('POST', '/v1/jobs/batch', { body: { jobs } });
    const first = await t.call('POST', '/v1/jobs/batch', {
      body: {
        jobs: [
          { type: 'invoice', payload: { n: 1 }, idempotencyKey: 'inv-1', delayMs: 60_000 },
          { type: 'invoice', payload: { n: 2 }, delayMs: 60_000 },
          { type: 'receipt', payload: { n: 3 }, key: 'c-7', delayMs: 60_000 },
        ],
      },
      returns: AddJobsResponse,
    });
    assert.equal(first.status, 202);
    assert.deepEqual(
      first.body.jobs.map((accepted) => [accepted.job!.type, accepted.status, accepted.job!.key]),
      [
        ['invoice', 'scheduled', null],
        ['invoice', 'scheduled', null],
        ['receipt', 'scheduled', 'c-7'],
      ],
    );
    // A repeat of a keyed item answers the first job; the unkeyed one is added again.
    const again = await t.call('POST', '/v1/jobs/batch', {
      body: { jobs: [{ type: 'invoice', payload: { n: 1 }, idempotencyKey: 'inv-1', delayMs: 60_000 }] },
      returns: AddJobsResponse,
    });
    assert.equal(again.body.jobs[0]?.id, first.body.jobs[0]?.id);

    // All or none: a bad item, or an item reusing a key with another body, adds nothing.
    const count = async () =>
      (await t.call('GET', '/v1/jobs?limit=1000', { returns: JobPage })).body.items.length;
    const before = await count();
    const bad = assertProblem(
      await batch([
        { type: 'invoice', payload: { n: 4 } },
        { type: 'no spaces allowed', payload: { n: 5 } },
      ]),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
    assert.match(JSON.stringify(bad), /jobs\.1/);
    assertProblem(
      await batch([
        { type: 'invoice', payload: { n: 6 } },
        { type: 'invoice', payload: { n: 999 }, idempotencyKey: 'inv-1' },
      ]),
      422,
      'SPOOL_IDEMPOTENCY_CONFLICT',
    );
    assert.equal(await count(), before, 'nothing of a refused batch was added');
    assertProblem(await batch([]), 400, 'SPOOL_INVALID_ARGUMENT');
  });

  it('Prefer: return=minimal answers adds with id, status and outcome, without the records', async () => {
    t = await startTestServer();
    const single = await t.call('POST', '/v1/jobs', {
      body: { type: 'invoice', payload: { n: 1 }, delayMs: 60_000 },
      headers: { prefer: 'respond-async, return=minimal' },
      returns: JobAccepted,
    });
    assert.equal(single.status, 202);
    assert.equal(single.headers.get('preference-applied'), 'return=minimal');
    assert.equal(single.headers.get('location'), `/v1/jobs/${single.body.id}`);
    assert.deepEqual(Object.keys(single.body).sort(), ['id', 'outcome', 'status']);
    assert.deepEqual([single.body.status, single.body.outcome], ['scheduled', 'created']);

    const batch = await t.call('POST', '/v1/jobs/batch', {
      body: {
        jobs: [
          { type: 'invoice', payload: { n: 2 }, idempotencyKey: 'inv-2', delayMs: 60_000 },
          { type: 'receipt', payload: { n: 3 } },
        ],
      },
      headers: { prefer: 'Return="minimal"' },
      returns: AddJobsResponse,
    });
    assert.equal(batch.headers.get('preference-applied'), 'return=minimal');
    assert.deepEqual(
      batch.body.jobs.map((accepted) => Object.keys(accepted).sort()),
      [
        ['id', 'outcome', 'status'],
        ['id', 'outcome', 'status'],
      ],
    );
    // The jobs are the same as without the preference: stored, findable by the answered id.
    const stored = await t.call('GET', `/v1/jobs/${batch.body.jobs[0]!.id}`, { returns: Job });
    assert.deepEqual(stored.body.payload, { n: 2 });

    // Without it, or with preferences the server does not know, the records come back.
    const full = await t.call('POST', '/v1/jobs/batch', {
      body: { jobs: [{ type: 'invoice', payload: { n: 2 }, idempotencyKey: 'inv-2', delayMs: 60_000 }] },
      headers: { prefer: 'return=representation, wait=5' },
      returns: AddJobsResponse,
    });
    assert.equal(full.headers.get('preference-applied'), null);
    assert.equal(full.body.jobs[0]!.id, batch.body.jobs[0]!.id);
    assert.equal(full.body.jobs[0]!.outcome, 'existing');
    assert.deepEqual(full.body.jobs[0]!.job!.payload, { n: 2 });
  });

  it('POST /v1/jobs/bulk counts (dryRun), cancels and retries every matching job, up to a limit', async () => {
    t = await startTestServer();
    for (let n = 0; n < 5; n++) {
      await t.call('POST', '/v1/jobs', {
        body: { type: 'nightly', delayMs: 60_000, key: n < 3 ? 'eu' : 'us' },
      });
    }
    await t.call('POST', '/v1/jobs', { body: { type: 'other', delayMs: 60_000 } });
    const bulk = (body: unknown) => t.call('POST', '/v1/jobs/bulk', { body, returns: BulkJobsResult });
    const counted = await bulk({ action: 'cancel', filter: { type: 'nightly', key: 'eu' }, dryRun: true });
    assert.deepEqual(counted.body, { matched: 3, changed: 0, skipped: [], failed: [], more: false });
    const listed = await t.call('GET', '/v1/jobs?type=nightly&status=scheduled', { returns: JobPage });
    assert.equal(listed.body.items.length, 5, 'a dry run changes nothing');

    const cancelled = await bulk({ action: 'cancel', filter: { type: 'nightly' }, limit: 4 });
    assert.deepEqual([cancelled.body.matched, cancelled.body.changed, cancelled.body.more], [4, 4, true]);
    const rest = await bulk({ action: 'cancel', filter: { type: 'nightly' } });
    assert.deepEqual([rest.body.matched, rest.body.changed, rest.body.more], [1, 1, false]);
    const other = await t.call('GET', '/v1/jobs?type=other', { returns: JobPage });
    assert.equal(other.body.items[0]?.status, 'scheduled', 'another type is left alone');

    const retried = await bulk({ action: 'retry', filter: { type: 'nightly', status: 'cancelled' } });
    assert.deepEqual([retried.body.matched, retried.body.changed], [5, 5]);
    const queued = await t.call('GET', '/v1/jobs?type=nightly&status=queued', { returns: JobPage });
    assert.equal(queued.body.items.length, 5);

    const wrong = assertProblem(
      await bulk({ action: 'retry', filter: { status: 'queued' } }),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
    assert.match(String(wrong.detail), /dead, cancelled/);
    assertProblem(await bulk({ action: 'purge', filter: {} }), 400, 'SPOOL_INVALID_ARGUMENT');
  });

  it('deletes finished jobs by filter (POST /v1/jobs/bulk delete) and one by id (DELETE ?purge=true)', async () => {
    t = await startTestServer();
    const ids: string[] = [];
    for (let n = 0; n < 4; n++) {
      const added = await t.call('POST', '/v1/jobs', {
        body: { type: 'import', delayMs: 60_000 },
        returns: JobAccepted,
      });
      ids.push(added.body.id);
    }
    const live = await t.call('POST', '/v1/jobs', {
      body: { type: 'import', delayMs: 60_000 },
      returns: JobAccepted,
    });
    const bulk = (body: unknown) => t.call('POST', '/v1/jobs/bulk', { body, returns: BulkJobsResult });
    const purge = (id: string) => t.call('DELETE', `/v1/jobs/${id}?purge=true`);
    for (const id of ids) await t.call('DELETE', `/v1/jobs/${id}`);

    // One in flight cannot be deleted: cancel it first.
    const inFlight = assertProblem(await purge(live.body.id), 409, 'SPOOL_JOB_STATE_CONFLICT');
    assert.match(String(inFlight.detail), /scheduled: it cannot be deleted/);
    assertProblem(
      await bulk({ action: 'delete', filter: { status: 'scheduled' } }),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );

    const one = await purge(ids[0]!);
    assert.equal(one.status, 204);
    assertProblem(await t.call('GET', `/v1/jobs/${ids[0]}`), 404, 'SPOOL_JOB_NOT_FOUND');
    assertProblem(await purge(ids[0]!), 404, 'SPOOL_JOB_NOT_FOUND');

    const counted = await bulk({ action: 'delete', filter: { type: 'import' }, dryRun: true });
    assert.deepEqual([counted.body.matched, counted.body.changed], [3, 0]);
    const deleted = await bulk({ action: 'delete', filter: { type: 'import' } });
    assert.deepEqual(deleted.body, { matched: 3, changed: 3, skipped: [], failed: [], more: false });
    const left = await t.call('GET', '/v1/jobs?type=import', { returns: JobPage });
    assert.deepEqual(
      left.body.items.map((job) => [job.id, job.status]),
      [[live.body.id, 'scheduled']],
      'only the job in flight is left',
    );
  });

  it('refuses a callbackUrl no delivery could be made to with a 400 naming the field, and adds nothing', async () => {
    t = await startTestServer();
    for (const callbackUrl of [
      'http://a b/',
      'http://x:99999/',
      'http://%zz/',
      'http://127.0.0.1:9/hook',
      'http://[::1]/hook',
      'http://[64:ff9b::7f00:1]/hook',
      'http://169.254.169.254/latest/meta-data',
    ]) {
      const problem = assertProblem(
        await t.call('POST', '/v1/jobs', { body: { type: 'report', callbackUrl } }),
        400,
        'SPOOL_INVALID_ARGUMENT',
      );
      assert.match(String(problem.detail), /callbackUrl/, callbackUrl);
    }
    const page = await t.call('GET', '/v1/jobs?type=report', { returns: JobPage });
    assert.deepEqual(page.body.items, []);
  });

  it('a remote worker in another process claims, reports progress, completes and fails jobs over HTTP', async () => {
    t = await startTestServer();
    const ok = await t.call('POST', '/v1/jobs', {
      body: { type: 'echo', payload: { value: 'hello' } },
      returns: JobAccepted,
    });
    const bad = await t.call('POST', '/v1/jobs', {
      body: { type: 'echo', payload: { value: 'x', fail: true }, maxAttempts: 3 },
      returns: JobAccepted,
    });
    const worker = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'remote-worker.ts'), t.url, '2'],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    const code = await new Promise<number | null>((resolve) => worker.on('exit', resolve));
    assert.equal(code, 0);
    const done = (await t.call('GET', `/v1/jobs/${ok.body.id}`, { returns: Job })).body;
    assert.equal(done.status, 'completed');
    assert.equal((done.result as { echoed: string }).echoed, 'hello');
    assert.notEqual((done.result as { pid: number }).pid, process.pid);
    const dead = (await t.call('GET', `/v1/jobs/${bad.body.id}`, { returns: Job })).body;
    assert.equal(dead.status, 'dead');
    assert.equal(dead.attempts, 1, 'retryable=false: no more attempts');
    assert.equal(dead.error?.name, 'EchoError');
  });

  it('SSE: job events stream live, and Last-Event-ID resumes without gaps', async () => {
    t = await startTestServer({
      jobs: async (spool) => {
        const jobs = new Jobs(spool);
        jobs.define('tick', () => 'tock');
        await jobs.start();
        return jobs;
      },
    });
    const controller = new AbortController();
    const response = await fetch(`${t.url}/v1/events?jobType=tick&from=0`, { signal: controller.signal });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const first = await t.call('POST', '/v1/jobs', { body: { type: 'tick' }, returns: JobAccepted });
    const events = await readEvents(response, (seen) => seen.some((e) => e.event === 'job.completed'));
    controller.abort();
    assert.deepEqual(
      events.map((e) => e.event),
      ['job.queued', 'job.active', 'job.completed'],
    );
    assert.ok(events.every((e) => jobIdOf(e) === first.body.id));
    // Resume after the first event: the next two come again, then the new job's events follow.
    const second = await t.call('POST', '/v1/jobs', { body: { type: 'tick' }, returns: JobAccepted });
    const resumeController = new AbortController();
    const resumed = await fetch(`${t.url}/v1/events?jobType=tick`, {
      headers: { 'last-event-id': events[0]!.id },
      signal: resumeController.signal,
    });
    const after = await readEvents(resumed, (seen) =>
      seen.some((e) => e.event === 'job.completed' && jobIdOf(e) === second.body.id),
    );
    resumeController.abort();
    assert.deepEqual(
      after.map((e) => Number(e.id)),
      after.map((_, i) => Number(events[1]!.id) + i),
      'ids continue right after Last-Event-ID, with no gap',
    );
    assert.deepEqual(
      after.slice(0, 2).map((e) => e.event),
      ['job.active', 'job.completed'],
    );
  });
});

describe('queue events over SSE', () => {
  it('a dead-lettering and a redrive show up as queue events, filtered by queue', async () => {
    const t = await startTestServer();
    const controller = new AbortController();
    try {
      await t.call('PUT', '/v1/queues/orders', { body: {} });
      await t.call('PUT', '/v1/queues/other', { body: {} });
      const stream = await fetch(`${t.url}/v1/events?queue=orders&from=0`, { signal: controller.signal });
      await t.call('POST', '/v1/queues/other/messages', { body: { body: 1 } });
      await t.call('POST', '/v1/queues/orders/messages', { body: { body: { id: 7 } } });
      const received = await t.call('POST', '/v1/queues/orders/receive', { body: {} });
      const [message] = (received.body as { messages: { receipt: string }[] }).messages;
      const dead = await t.call('POST', '/v1/queues/orders/dead-letter', {
        body: { receipt: message!.receipt, reason: 'bad address' },
      });
      assert.equal(dead.status, 204);
      await t.call('POST', '/v1/queues/orders/redrive', { body: {} });
      const events = await readEvents(stream, (seen) => seen.some((e) => e.event === 'queue.redriven'));
      assert.deepEqual(
        events.map((e) => e.event),
        ['queue.dead-lettered', 'queue.redriven'],
      );
      const first = JSON.parse(events[0]!.data) as { queue: string; error: { message: string } };
      assert.equal(first.queue, 'orders');
      assert.equal(first.error.message, 'bad address');
    } finally {
      controller.abort();
      await t.dispose();
    }
  });
});

interface SseEvent {
  id: string;
  event: string;
  data: string;
}

function jobIdOf(event: SseEvent): string {
  return (JSON.parse(event.data) as { jobId: string }).jobId;
}

/** Reads SSE events from `response` until `done(seen)` holds (or 5 s pass). */
async function readEvents(response: Response, done: (seen: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const seen: SseEvent[] = [];
  let buffer = '';
  const deadline = Date.now() + 5000;
  while (!done(seen)) {
    if (Date.now() > deadline) throw new Error(`no matching events; saw ${JSON.stringify(seen)}`);
    const { value, done: ended } = (await reader.read()) as { value?: Uint8Array; done: boolean };
    if (ended) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((line) => !line.startsWith(':') && line.includes(': '))
          .map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
      ) as Partial<SseEvent>;
      if (fields.id !== undefined) seen.push(fields as SseEvent);
    }
  }
  await reader.cancel().catch(() => undefined);
  return seen;
}
