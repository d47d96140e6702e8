/**
 * `GET /v1/jobs/{id}/events` over raw HTTP: a job's whole story from its first event, and a
 * response that ends once the job is finished.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NonRetryableError } from '../../src/core/errors.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { Job, JobAccepted } from '../../src/server/schemas/jobs.js';
import { assertProblem, startTestServer, type TestServer } from './helpers.js';

interface SseEvent {
  id: string;
  event: string;
  data: { jobId: string; status: string; error: { message: string } | null };
}

/** Reads an SSE response to its end (failing if it has not ended within `ms`), and parses it. */
async function readToEnd(response: Response, signal: AbortSignal): Promise<SseEvent[]> {
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await response.text().catch((error: unknown) => {
    throw new Error(`the stream did not end: ${signal.aborted ? 'timed out' : String(error)}`);
  });
  return text
    .split('\n\n')
    .map((block) => block.split('\n').filter((line) => line !== '' && !line.startsWith(':')))
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const fields = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
      );
      return { id: fields.id!, event: fields.event!, data: JSON.parse(fields.data!) as SseEvent['data'] };
    });
}

async function follow(t: TestServer, id: string, headers: Record<string, string> = {}, query = '') {
  const signal = AbortSignal.timeout(10_000);
  const response = await fetch(`${t.url}/v1/jobs/${id}/events${query}`, { headers, signal });
  return { response, signal };
}

describe('GET /v1/jobs/{id}/events', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      jobs: async (spool) => {
        const jobs = new Jobs(spool);
        jobs.define('tick', async (_job, context) => {
          await context.progress(40);
          return 'tock';
        });
        jobs.define('doomed', () => {
          throw new NonRetryableError('cannot be done');
        });
        await jobs.start();
        return jobs;
      },
    });
  });
  after(() => t.dispose());

  async function finished(type: string) {
    const accepted = await t.call('POST', '/v1/jobs', { body: { type }, returns: JobAccepted });
    const id = accepted.body.id;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const job = await t.call('GET', `/v1/jobs/${id}`, { returns: Job });
      if (['completed', 'dead', 'cancelled'].includes(job.body.status)) return id;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`job ${id} did not finish`);
  }

  it('a completed job: its whole story from job.queued to job.completed, then the response ends', async () => {
    const id = await finished('tick');
    const { response, signal } = await follow(t, id);
    const events = await readToEnd(response, signal);
    assert.deepEqual(
      events.map((event) => event.event),
      ['job.queued', 'job.active', 'job.progress', 'job.completed'],
    );
    assert.ok(events.every((event) => event.data.jobId === id));

    // Reconnecting after the last event (as EventSource does): 204, nothing more to send.
    const again = await fetch(`${t.url}/v1/jobs/${id}/events`, {
      headers: { 'last-event-id': events.at(-1)!.id },
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(again.status, 204);
    assert.equal(await again.text(), '');

    // Resuming in the middle: the rest of the story, then the end.
    const resumed = await follow(t, id, { 'last-event-id': events[1]!.id });
    assert.deepEqual(
      (await readToEnd(resumed.response, resumed.signal)).map((event) => event.event),
      ['job.progress', 'job.completed'],
    );
    const from = await follow(t, id, {}, `?from=${events[2]!.id}`);
    assert.deepEqual(
      (await readToEnd(from.response, from.signal)).map((event) => event.event),
      ['job.progress', 'job.completed'],
    );
  });

  it('a dead job: the response ends with its job.dead event', async () => {
    const id = await finished('doomed');
    const { response, signal } = await follow(t, id);
    const events = await readToEnd(response, signal);
    assert.deepEqual(
      events.map((event) => event.event),
      ['job.queued', 'job.active', 'job.dead'],
    );
    assert.equal(events.at(-1)!.data.error?.message, 'cannot be done');
  });

  it('a job followed while waiting: the response ends once it is cancelled', async () => {
    const accepted = await t.call('POST', '/v1/jobs', {
      body: { type: 'tick', delayMs: 60_000 },
      returns: JobAccepted,
    });
    const { response, signal } = await follow(t, accepted.body.id);
    const reading = readToEnd(response, signal);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await t.call('DELETE', `/v1/jobs/${accepted.body.id}`)).status, 200);
    assert.deepEqual(
      (await reading).map((event) => event.event),
      ['job.scheduled', 'job.cancelled'],
    );
  });

  it('an unknown job is a 404 problem', async () => {
    const answer = await t.call('GET', '/v1/jobs/no-such-job/events');
    assertProblem(answer, 404, 'SPOOL_JOB_NOT_FOUND', '/v1/jobs/no-such-job/events');
  });
});
