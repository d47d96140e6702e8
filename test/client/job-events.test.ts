/**
 * `client.jobs.events({ jobId })`: a job's whole story, from its first event, ending once the job
 * is finished — the README's "Your first job, with the TypeScript client" sequence.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type JobEventMessage, SpoolClient, SpoolHttpError, Worker } from '../../src/client/index.js';
import { startTestServer, type TestServer } from '../e2e/helpers.js';

/** Iterates `events` to its end; fails (instead of hanging) if it has not ended after `ms`. */
async function drain(
  events: (signal: AbortSignal) => AsyncIterable<JobEventMessage>,
  ms = 10_000,
): Promise<JobEventMessage[]> {
  const signal = AbortSignal.timeout(ms);
  const seen: JobEventMessage[] = [];
  for await (const event of events(signal)) seen.push(event);
  assert.ok(
    !signal.aborted,
    `the iteration did not end by itself within ${ms} ms; saw ${JSON.stringify(seen)}`,
  );
  return seen;
}

describe('client.jobs.events({ jobId }): the whole story, then the end', () => {
  let t: TestServer;
  let client: SpoolClient;
  let worker: Worker;
  before(async () => {
    t = await startTestServer();
    client = new SpoolClient({ url: t.url });
    worker = new Worker(client, {
      types: ['email.welcome', 'email.bounce'],
      concurrency: 4,
      waitMs: 200,
      handler: async (job, { progress }) => {
        if (job.type === 'email.bounce') throw new Error('mailbox does not exist');
        await progress(50);
        return { messageId: 'm-1' };
      },
    });
    worker.start();
  });
  after(async () => {
    await worker.close();
    await t.dispose();
  });

  it("the README's sequence: add → wait → for await events({ jobId }) yields job.queued … job.completed and ends", async () => {
    const { id } = await client.jobs.add(
      'email.welcome',
      { to: 'ada@example.com' },
      { idempotencyKey: 'welcome-ada' },
    );
    const job = await client.jobs.wait(id, { timeoutMs: 60_000 });
    assert.equal(job.status, 'completed');
    const seen = await drain((signal) => client.jobs.events({ jobId: id, signal }));
    assert.deepEqual(
      seen.map((event) => event.event),
      ['job.queued', 'job.active', 'job.progress', 'job.completed'],
    );
    assert.ok(seen.every((event) => event.data.jobId === id));
    const ids = seen.map((event) => Number(event.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'in log order',
    );
    assert.equal(seen.at(-1)!.data.status, 'completed');
  });

  it('a dead job: its story ends with job.dead', async () => {
    const { id } = await client.jobs.add('email.bounce', { to: 'nobody@example.com' }, { maxAttempts: 1 });
    assert.equal((await client.jobs.wait(id, { timeoutMs: 10_000, pollMs: 20 })).status, 'dead');
    const seen = await drain((signal) => client.jobs.events({ jobId: id, signal }));
    assert.deepEqual(
      seen.map((event) => event.event),
      ['job.queued', 'job.active', 'job.dead'],
    );
    assert.equal(seen.at(-1)!.data.error?.message, 'mailbox does not exist');
  });

  it('followed while it runs: the iteration ends right after the job finishes', async () => {
    // A type no worker takes, run by hand, so the stream is open before anything happens.
    const { id } = await client.jobs.add('report.build', { month: '2026-10' });
    const following = drain((signal) => client.jobs.events({ jobId: id, signal }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [claimed] = await client.jobs.claim({ types: ['report.build'], waitMs: 1000 });
    assert.equal(claimed?.job.id, id);
    await client.jobs.complete(id, claimed.lease, { rows: 3 });
    const seen = await following;
    assert.deepEqual(
      seen.map((event) => event.event),
      ['job.queued', 'job.active', 'job.completed'],
    );
  });

  it('a cancelled job ends with job.cancelled; a retried one tells both runs and ends with the last', async () => {
    const { id } = await client.jobs.add('report.build', { month: '2026-11' }, { delayMs: 60_000 });
    await client.jobs.cancel(id);
    const cancelled = await drain((signal) => client.jobs.events({ jobId: id, signal }));
    assert.deepEqual(
      cancelled.map((event) => event.event),
      ['job.scheduled', 'job.cancelled'],
    );
    await client.jobs.retry(id);
    const [claimed] = await client.jobs.claim({ types: ['report.build'], waitMs: 1000 });
    await client.jobs.complete(id, claimed!.lease, null);
    const story = await drain((signal) => client.jobs.events({ jobId: id, signal }));
    assert.deepEqual(
      story.map((event) => event.event),
      ['job.scheduled', 'job.cancelled', 'job.queued', 'job.active', 'job.completed'],
    );
    // Resuming after the last event: nothing more, and the iteration ends at once.
    const rest = await drain((signal) =>
      client.jobs.events({ jobId: id, lastEventId: story.at(-1)!.id, signal }),
    );
    assert.deepEqual(rest, []);
    // `from` starts where asked.
    const fromActive = await drain((signal) =>
      client.jobs.events({ jobId: id, from: Number(story[3]!.id), signal }),
    );
    assert.deepEqual(
      fromActive.map((event) => event.event),
      ['job.active', 'job.completed'],
    );
  });

  it('an unknown job throws SPOOL_JOB_NOT_FOUND', async () => {
    const error = await drain((signal) => client.jobs.events({ jobId: 'no-such-job', signal })).catch(
      (e: unknown) => e,
    );
    assert.ok(error instanceof SpoolHttpError, String(error));
    assert.equal(error.status, 404);
    assert.equal(error.code, 'SPOOL_JOB_NOT_FOUND');
  });

  it('without jobId the stream stays live: it does not end after a job finishes', async () => {
    const controller = new AbortController();
    const seen: JobEventMessage[] = [];
    const live = (async () => {
      for await (const event of client.jobs.events({ jobType: 'email.welcome', signal: controller.signal })) {
        seen.push(event);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { id } = await client.jobs.add('email.welcome', { to: 'bob@example.com' });
    await client.jobs.wait(id, { timeoutMs: 10_000, pollMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(seen.at(-1)?.event, 'job.completed');
    const ended = await Promise.race([
      live.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 300)),
    ]);
    assert.equal(ended, false, 'still following');
    controller.abort();
    await live;
  });
});
