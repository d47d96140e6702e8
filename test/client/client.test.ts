import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type JobEventMessage,
  NotFoundHttpError,
  QueueFullHttpError,
  SpoolClient,
  SpoolHttpError,
  SpoolNetworkError,
  StaleReceiptHttpError,
  Worker,
} from '../../src/client/index.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { startTestServer, type TestServer } from '../e2e/helpers.js';

/** A fetch that counts calls per path and can fail chosen calls before they reach the server. */
function countingFetch(options: { failFirst?: (url: string, init?: RequestInit) => boolean } = {}) {
  const calls: Array<{ url: string; method: string; headers: Headers }> = [];
  let failed = false;
  const wrapped: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push({ url, method: init?.method ?? 'GET', headers: new Headers(init?.headers) });
    if (!failed && options.failFirst?.(url, init)) {
      failed = true;
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      });
    }
    return fetch(input, init);
  };
  return { fetch: wrapped, calls };
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('client: queues and topics', () => {
  let t: TestServer;
  let client: SpoolClient;
  before(async () => {
    t = await startTestServer();
    client = new SpoolClient({ url: t.url });
  });
  after(() => t.dispose());

  it('send → receive → ack round trip, with the message helpers', async () => {
    const config = await client.queues.put('emails', { maxAttempts: 3 });
    assert.equal(config.name, 'emails');
    assert.equal(config.maxAttempts, 3);
    const sent = await client.queues.send(
      'emails',
      { to: 'ada@example.com' },
      { key: 'ada', headers: { a: 'b' } },
    );
    assert.equal(sent.duplicate, false);
    const [message] = await client.queues.receive('emails', { max: 5, waitMs: 1000 });
    assert.ok(message);
    assert.equal(message.id, sent.id);
    assert.deepEqual(message.body, { to: 'ada@example.com' });
    assert.equal(message.key, 'ada');
    assert.deepEqual(message.headers, { a: 'b' });
    assert.equal(message.attempt, 1);
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(message)) as object).includes('ack'), false);
    const extended = await message.extend(60_000);
    assert.ok(Date.parse(extended) > Date.now() + 50_000);
    await message.nack({ error: 'try again' });
    const [again] = await client.queues.receive('emails', { waitMs: 1000 });
    assert.equal(again?.attempt, 2);
    assert.equal(again?.errors[0]?.message, 'try again');
    await again?.ack();
    assert.deepEqual(await client.queues.receive('emails'), []);
    const stats = await client.queues.get('emails');
    assert.deepEqual([stats.stats.ready, stats.stats.inFlight], [0, 0]);
    assert.ok((await client.queues.list()).some((queue) => queue.name === 'emails'));
  });

  it('batches: sendBatch all or nothing, ack by receipts with one result each', async () => {
    await client.queues.put('batch');
    const results = await client.queues.sendBatch('batch', [
      { body: 1 },
      { body: 2 },
      { body: 'three', priority: 5 },
    ]);
    assert.equal(results.length, 3);
    const messages = await client.queues.receive('batch', { max: 10 });
    assert.deepEqual(
      messages.map((m) => m.body),
      ['three', 1, 2],
    );
    const settled = await client.queues.ack(
      'batch',
      messages.map((m) => m.receipt),
    );
    assert.deepEqual(
      settled.map((r) => r.ok),
      [true, true, true],
    );
    const again = await client.queues.ack('batch', [messages[0]!.receipt]);
    assert.equal(again[0]?.ok, false);
    assert.equal(again[0]?.code, 'SPOOL_STALE_RECEIPT');
    // A batch with one invalid message stores nothing.
    await assert.rejects(
      client.queues.sendBatch('batch', [{ body: 1 }, { body: 2, delayMs: -1 }]),
      (error: unknown) => error instanceof SpoolHttpError && error.code === 'SPOOL_INVALID_ARGUMENT',
    );
    assert.equal((await client.queues.get('batch')).stats.ready, 0);
  });

  it('problems become typed errors: 404 and 409, branch on code or instanceof', async () => {
    const missing = await client.queues.get('nope').catch((error: unknown) => error);
    assert.ok(missing instanceof NotFoundHttpError);
    assert.ok(missing instanceof SpoolHttpError);
    assert.equal(missing.code, 'SPOOL_QUEUE_NOT_FOUND');
    assert.equal(missing.status, 404);
    assert.equal(missing.retryable, false);
    assert.equal(missing.problem.queue, 'nope');
    assert.match(missing.message, /^SPOOL_QUEUE_NOT_FOUND: queue "nope" does not exist/);
    assert.equal(typeof missing.requestId, 'string');

    await client.queues.put('stale');
    await client.queues.send('stale', 'x');
    const [message] = await client.queues.receive('stale');
    await message!.ack();
    const stale = await message!.ack().catch((error: unknown) => error);
    assert.ok(stale instanceof StaleReceiptHttpError);
    assert.equal(stale.code, 'SPOOL_STALE_RECEIPT');
    assert.equal(stale.status, 409);

    const conflict = await client.topics
      .put('fixed', { partitions: 2 })
      .then(() => client.topics.put('fixed', { partitions: 3 }).catch((error: unknown) => error));
    assert.ok(conflict instanceof SpoolHttpError);
    assert.equal(conflict.code, 'SPOOL_CONFIG_CONFLICT');

    const invalid = await client.queues.receive('stale', { max: 0 }).catch((error: unknown) => error);
    assert.ok(invalid instanceof SpoolHttpError);
    assert.equal(invalid.code, 'SPOOL_INVALID_ARGUMENT');
    assert.ok(invalid.errors.some((e) => e.field === 'max'));
  });

  it('429 is retried honouring Retry-After, then given up with SPOOL_QUEUE_FULL', async () => {
    await client.queues.put('tiny', { maxDepth: 1 });
    await client.queues.send('tiny', 'first');
    const counting = countingFetch();
    const patient = new SpoolClient({ url: t.url, fetch: counting.fetch, retries: { maxAttempts: 2 } });
    const started = Date.now();
    const error = await patient.queues.send('tiny', 'second').catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    assert.ok(error instanceof QueueFullHttpError, String(error));
    assert.equal(error.code, 'SPOOL_QUEUE_FULL');
    assert.equal(error.status, 429);
    assert.equal(error.retryAfterMs, 1000);
    assert.equal(counting.calls.length, 2, 'tried twice');
    assert.ok(elapsed >= 950, `waited Retry-After (1 s) between tries, took ${elapsed} ms`);

    // Room made while the client waits: the retry goes through.
    const retrying = new SpoolClient({ url: t.url, retries: { maxAttempts: 3 } });
    const sending = retrying.queues.send('tiny', 'third');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [first] = await client.queues.receive('tiny');
    await first!.ack();
    const sent = await sending;
    assert.equal(sent.duplicate, false);
  });

  it('network errors: retried for idempotent calls, never for a plain POST send', async () => {
    await client.queues.put('flaky');
    const getFlaky = countingFetch({ failFirst: (_url, init) => (init?.method ?? 'GET') === 'GET' });
    const reader = new SpoolClient({ url: t.url, fetch: getFlaky.fetch, retries: { baseMs: 10 } });
    assert.equal((await reader.queues.get('flaky')).name, 'flaky');
    assert.equal(getFlaky.calls.length, 2);

    const postFlaky = countingFetch({ failFirst: (url) => url.endsWith('/messages') });
    const writer = new SpoolClient({ url: t.url, fetch: postFlaky.fetch, retries: { baseMs: 10 } });
    const error = await writer.queues.send('flaky', 'once?').catch((e: unknown) => e);
    assert.ok(error instanceof SpoolNetworkError);
    assert.equal(error.code, 'SPOOL_NETWORK_ERROR');
    assert.equal(postFlaky.calls.length, 1, 'a send without a dedup id is not repeated');

    const keyed = countingFetch({ failFirst: (url) => url.endsWith('/messages') });
    const keyedWriter = new SpoolClient({ url: t.url, fetch: keyed.fetch, retries: { baseMs: 10 } });
    await keyedWriter.queues.send('flaky', 'exactly once', { dedupId: 'd-1' });
    assert.equal(keyed.calls.length, 2, 'a send with a dedup id is repeated');
    assert.equal((await client.queues.get('flaky')).stats.ready, 1);

    const nowhere = new SpoolClient({ url: 'http://127.0.0.1:9', retries: { maxAttempts: 1 } });
    await assert.rejects(nowhere.queues.list(), (e: unknown) => e instanceof SpoolNetworkError);
  });

  it('topics: publish, replay, and a group of two members polling and committing', async () => {
    await client.topics.put('orders', { partitions: 2 });
    const published = await client.topics.publishBatch(
      'orders',
      Array.from({ length: 10 }, (_, i) => ({ body: { n: i }, key: `customer-${i}` })),
    );
    assert.equal(published.length, 10);
    const single = await client.topics.publish('orders', { n: 10 }, { partition: 0 });
    assert.equal(single.partition, 0);
    const replay = await client.topics.read('orders', 0, { from: 0, limit: 100 });
    assert.equal(replay.events.length, published.filter((p) => p.partition === 0).length + 1);

    const seen = new Map<string, string>();
    const cursors = new Map<string, string | undefined>();
    const members = ['member-a', 'member-b'];
    const owned = new Map<string, number[]>();
    for (let round = 0; round < 20 && (seen.size < 11 || owned.size < 2); round++) {
      for (const member of members) {
        const cursor = cursors.get(member);
        const result = await client.topics.poll('orders', 'billing', {
          member,
          max: 100,
          ...(cursor ? { cursor } : {}),
        });
        cursors.set(member, result.cursor);
        if (result.partitions.length > 0) owned.set(member, result.partitions);
        const offsets: Record<number, number> = {};
        for (const event of result.events) {
          assert.ok(!seen.has(event.id), 'no event delivered twice');
          seen.set(event.id, member);
          offsets[event.partition] = event.offset + 1;
        }
        if (Object.keys(offsets).length > 0)
          await client.topics.commit('orders', 'billing', { member, offsets });
      }
    }
    assert.equal(seen.size, 11);
    assert.equal(owned.size, 2, 'both members own a partition');
    assert.deepEqual([...owned.values()].flat().sort(), [0, 1]);
    const group = await client.topics.group('orders', 'billing');
    assert.equal(group.members.length, 2);
    assert.equal(group.totalLag, 0);
    const topic = await client.topics.get('orders');
    assert.equal(topic.stats.groups.find((g) => g.group === 'billing')?.totalLag, 0);
    const sought = await client.topics.seek('orders', 'billing', 'earliest');
    assert.deepEqual(
      sought.map((o) => o.offset),
      [0, 0],
    );
    await client.topics.leave('orders', 'billing', 'member-a');
    await client.topics.leave('orders', 'billing', 'member-b');
    assert.equal((await client.topics.group('orders', 'billing')).members.length, 0);
  });

  it('dead letters: list, redrive, purge', async () => {
    await client.queues.put('fragile', { maxAttempts: 1 });
    await client.queues.sendBatch('fragile', [{ body: 'a' }, { body: 'b' }]);
    const messages = await client.queues.receive('fragile', { max: 2 });
    await client.queues.deadLetter(
      'fragile',
      messages.map((m) => m.receipt),
      'broken',
    );
    const page = await client.queues.deadLetters('fragile', { limit: 1 });
    assert.equal(page.items.length, 1);
    assert.notEqual(page.next, null);
    assert.equal(page.items[0]?.errors.at(-1)?.message, 'broken');
    assert.equal(await client.queues.redrive('fragile', [page.items[0]?.id ?? '']), 1);
    assert.equal(await client.queues.purgeDeadLetters('fragile'), 1);
    assert.equal(await client.queues.purge('fragile'), 1);
  });
});

describe('client: stats and the live event stream', () => {
  let t: TestServer;
  let client: SpoolClient;
  before(async () => {
    t = await startTestServer();
    client = new SpoolClient({ url: t.url });
  });
  after(() => t.dispose());

  it('stats() reads the queue depths and counters; alerts() the (empty) rule set', async () => {
    await client.queues.put('invoices');
    await client.queues.sendBatch('invoices', [{ body: { n: 1 } }, { body: { n: 2 } }, { body: { n: 3 } }]);
    // Gauges are cached for about a second on the server: poll until the new depth shows.
    const queue = await until(async () => {
      const stats = await client.stats();
      const found = stats.queues.find((q) => q.name === 'invoices');
      return found && found.ready === 3 ? found : undefined;
    });
    assert.equal(queue.sentTotal, 3);
    assert.deepEqual(await client.alerts().then((a) => [a.rules, a.alerts]), [[], []]);
  });

  it('events() yields queue events; jobs.events() skips them', async () => {
    await client.queues.put('refunds', { maxAttempts: 1 });
    const controller = new AbortController();
    const all = client.events({ queue: 'refunds', signal: controller.signal })[Symbol.asyncIterator]();
    const jobsOnly = client.jobs.events({ signal: controller.signal })[Symbol.asyncIterator]();
    const nextAll = all.next();
    const nextJob = jobsOnly.next();
    await new Promise((resolve) => setTimeout(resolve, 200)); // both streams are open
    await client.queues.send('refunds', { order: 7 });
    const [message] = await client.queues.receive('refunds', { max: 1 });
    await message!.deadLetter('card expired');
    const first = await nextAll;
    assert.equal(first.done, false);
    assert.equal(first.value.event, 'queue.dead-lettered');
    assert.equal('queue' in first.value.data && first.value.data.queue, 'refunds');
    // The jobs stream saw the same queue event and did not yield it: nothing arrives in time.
    const raced = await Promise.race([
      nextJob.then(() => 'yielded'),
      new Promise((resolve) => setTimeout(() => resolve('nothing'), 300)),
    ]);
    assert.equal(raced, 'nothing');
    controller.abort();
    await Promise.allSettled([all.return(undefined), jobsOnly.return(undefined), nextJob]);
  });
});

describe('client: jobs', () => {
  let t: TestServer;
  let client: SpoolClient;
  before(async () => {
    t = await startTestServer({
      jobs: async (spool) => {
        const jobs = new Jobs(spool);
        jobs.define('thumbnail', (job) => ({
          url: `https://cdn/${(job.payload as { image: string }).image}`,
        }));
        jobs.define('tick', () => 'tock');
        await jobs.start();
        return jobs;
      },
    });
    client = new SpoolClient({ url: t.url });
  });
  after(() => t.dispose());

  it("{ return: 'minimal' } answers adds without the records; the jobs still run", async () => {
    const one = await client.jobs.add('thumbnail', { image: 'a.png' }, {}, { return: 'minimal' });
    assert.deepEqual(Object.keys(one).sort(), ['id', 'outcome', 'status']);
    assert.equal(one.outcome, 'created');
    const many = await client.jobs.addBatch(
      [
        { type: 'thumbnail', payload: { image: 'b.png' } },
        { type: 'thumbnail', payload: { image: 'c.png' }, options: { idempotencyKey: 'thumb-c' } },
      ],
      { return: 'minimal' },
    );
    assert.deepEqual(
      many.map((accepted) => 'job' in accepted),
      [false, false],
    );
    for (const { id } of [one, ...many]) {
      assert.equal((await client.jobs.wait(id, { timeoutMs: 5000, pollMs: 20 })).status, 'completed');
    }
    // The default answer keeps the records.
    const [full] = await client.jobs.addBatch([
      { type: 'thumbnail', payload: { image: 'c.png' }, options: { idempotencyKey: 'thumb-c' } },
    ]);
    assert.equal(full!.id, many[1]!.id);
    assert.deepEqual(full!.job.payload, { image: 'c.png' });
  });

  it('add → wait → completed; idempotency key; list pages; cancel conflict', async () => {
    const accepted = await client.jobs.add(
      'thumbnail',
      { image: 'cat.png' },
      { idempotencyKey: 'k-1', metadata: { by: 'test' } },
    );
    assert.ok(accepted.id);
    assert.ok(['queued', 'active', 'completed'].includes(accepted.status));
    assert.equal(accepted.job.id, accepted.id);
    const repeat = await client.jobs.add(
      'thumbnail',
      { image: 'cat.png' },
      { idempotencyKey: 'k-1', metadata: { by: 'test' } },
    );
    assert.equal(repeat.id, accepted.id);
    const done = await client.jobs.wait(accepted.id, { timeoutMs: 5000, pollMs: 20 });
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.result, { url: 'https://cdn/cat.png' });
    assert.deepEqual((await client.jobs.get(accepted.id)).metadata, { by: 'test' });

    for (let i = 0; i < 3; i++) await client.jobs.add('later', { i }, { delayMs: 60_000 });
    const ids: string[] = [];
    let pages = 0;
    for await (const page of client.jobs.pages({ type: 'later', limit: 2 })) {
      pages++;
      ids.push(...page.items.map((job) => job.id));
    }
    assert.equal(pages, 2);
    assert.equal(ids.length, 3);
    const all: string[] = [];
    for await (const job of client.jobs.listAll({ type: 'later', status: 'scheduled' })) all.push(job.id);
    assert.deepEqual(all, ids);

    const cancelled = await client.jobs.cancel(ids[0]!);
    assert.equal(cancelled.status, 'cancelled');
    const conflict = await client.jobs.cancel(ids[0]!).catch((e: unknown) => e);
    assert.ok(conflict instanceof SpoolHttpError);
    assert.equal(conflict.code, 'SPOOL_JOB_STATE_CONFLICT');
    assert.equal(conflict.status, 409);
    assert.equal((await client.jobs.retry(ids[0]!)).status, 'queued');
    const missing = await client.jobs.get('no-such-job').catch((e: unknown) => e);
    assert.ok(missing instanceof SpoolHttpError && missing.code === 'SPOOL_JOB_NOT_FOUND');
  });

  it('events: an async iterator over SSE that resumes with lastEventId, and reconnects after a drop', async () => {
    const first = await client.jobs.add('tick');
    const seen: JobEventMessage[] = [];
    for await (const event of client.jobs.events({ jobType: 'tick', from: 0 })) {
      seen.push(event);
      if (event.event === 'job.completed' && event.data.jobId === first.id) break;
    }
    assert.deepEqual(
      seen.map((e) => e.event),
      ['job.queued', 'job.active', 'job.completed'],
    );
    assert.equal(typeof seen[0]?.data.at, 'string');

    // Resume after the first event; the connection drops after the first event it delivers, and
    // the iterator reconnects with Last-Event-ID: no gap, no repeat.
    const second = await client.jobs.add('tick');
    let streams = 0;
    const lastEventIds: Array<string | null> = [];
    const dropping: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!(input instanceof Request ? input.url : input.toString()).includes('/v1/events')) return response;
      lastEventIds.push(new Headers(init?.headers).get('last-event-id'));
      if (streams++ > 0) return response;
      // Pass on the stream up to the end of its first event, then fail as a dropped connection does.
      const reader: ReadableStreamDefaultReader<Uint8Array> = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) return controller.close();
          text += decoder.decode(value, { stream: true });
          const match = /(^|\n)id: [^\n]*\n[\s\S]*?\n\n/.exec(text);
          if (!match) return;
          controller.enqueue(new TextEncoder().encode(text.slice(0, match.index + match[0].length)));
          await reader.cancel();
          controller.error(new TypeError('terminated'));
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const resumer = new SpoolClient({ url: t.url, fetch: dropping, retries: { baseMs: 10 } });
    const after: JobEventMessage[] = [];
    for await (const event of resumer.jobs.events({ jobType: 'tick', lastEventId: seen[0]!.id })) {
      after.push(event);
      if (event.event === 'job.completed' && event.data.jobId === second.id) break;
    }
    assert.ok(streams >= 2, 'reconnected after the drop');
    assert.equal(lastEventIds[0], seen[0]!.id);
    assert.equal(lastEventIds[1], after[0]!.id, 'the reconnect resumes after the last event received');
    assert.deepEqual(
      after.map((e) => Number(e.id)),
      after.map((_, i) => Number(seen[1]!.id) + i),
      'ids continue right after lastEventId, with no gap and no repeat',
    );
    assert.deepEqual(
      after.slice(0, 2).map((e) => e.event),
      ['job.active', 'job.completed'],
    );

    // An aborted signal ends the iteration.
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const none: JobEventMessage[] = [];
    for await (const event of client.jobs.events({ jobType: 'nothing-happens', signal: controller.signal }))
      none.push(event);
    assert.deepEqual(none, []);
  });
});

describe('client: remote Worker', () => {
  let t: TestServer;
  let client: SpoolClient;
  before(async () => {
    t = await startTestServer();
    client = new SpoolClient({ url: t.url });
  });
  after(() => t.dispose());

  it('claims, heartbeats, completes, fails non-retryably, and aborts a cancelled job', async () => {
    let cancelledStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (cancelledStarted = resolve));
    let sawAbort = false;
    const errors: unknown[] = [];
    const worker = new Worker(client, {
      types: ['remote'],
      concurrency: 3,
      // Heartbeats go every second; a shorter lease lost jobs to CI's scheduling stalls.
      leaseMs: 3000,
      waitMs: 500,
      onError: (error) => errors.push(error),
      handler: async (job, { signal, progress, log }) => {
        const payload = job.payload as { mode: string; value?: number };
        if (payload.mode === 'ok') {
          await progress(50, { halfway: true });
          await log('halfway there');
          // Longer than the lease: only the heartbeats keep it.
          await new Promise((resolve) => setTimeout(resolve, 3500));
          return { doubled: payload.value! * 2 };
        }
        if (payload.mode === 'fail') {
          const error = new Error('the input can never work');
          error.name = 'NonRetryableError';
          throw error;
        }
        cancelledStarted();
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
        sawAbort = signal.aborted;
        return 'ignored';
      },
    }).start();
    try {
      const ok = await client.jobs.add('remote', { mode: 'ok', value: 21 });
      const bad = await client.jobs.add('remote', { mode: 'fail' }, { maxAttempts: 5 });
      const long = await client.jobs.add('remote', { mode: 'wait' });
      await started;
      assert.equal((await client.jobs.get(long.id)).status, 'active');
      await client.jobs.cancel(long.id);
      await until(() => (sawAbort ? true : undefined), 3000);

      const done = await client.jobs.wait(ok.id, { timeoutMs: 10_000, pollMs: 50 });
      assert.equal(done.status, 'completed');
      assert.deepEqual(done.result, { doubled: 42 });
      assert.equal(done.attempts, 1, 'the lease never ran out');
      assert.deepEqual(done.progressData, { halfway: true });
      assert.deepEqual(
        done.logs.map((line) => [line.attempt, line.level, line.message]),
        [[1, 'info', 'halfway there']],
      );

      const dead = await client.jobs.wait(bad.id, { timeoutMs: 5000, pollMs: 50 });
      assert.equal(dead.status, 'dead');
      assert.equal(dead.attempts, 1, 'NonRetryableError: no more attempts');
      assert.match(dead.error?.stack ?? '', /client\.test\.ts/, "the worker's stack came along");
      assert.equal(dead.error?.name, 'NonRetryableError');

      const cancelled = await client.jobs.get(long.id);
      assert.equal(cancelled.status, 'cancelled');
      assert.equal(cancelled.result, null);
      await until(() => (worker.active === 0 ? true : undefined), 3000);
    } finally {
      await worker.close({ timeoutMs: 2000 });
    }
    assert.deepEqual(errors, []);
  });

  it('close() waits for running handlers, bounded', async () => {
    // Wait for the handler itself to start, not for the server's 'active': a claim answer still
    // in flight when close() aborts the claim would leave the job to its lease instead.
    let release: () => void = () => {};
    let slowStarted = false;
    const worker = new Worker(client, {
      types: ['slow'],
      leaseMs: 5000,
      waitMs: 200,
      handler: () =>
        new Promise<string>((resolve) => {
          release = () => resolve('finished');
          slowStarted = true;
        }),
    }).start();
    const job = await client.jobs.add('slow');
    await until(() => (slowStarted ? true : undefined));
    setTimeout(() => release(), 200);
    await worker.close({ timeoutMs: 3000 });
    assert.equal((await client.jobs.get(job.id)).status, 'completed');

    let stuckStarted = false;
    const stuck = new Worker(client, {
      types: ['stuck'],
      leaseMs: 5000,
      waitMs: 200,
      handler: (_job, { signal }) =>
        new Promise((_resolve, reject) => {
          stuckStarted = true;
          signal.addEventListener('abort', () => reject(new Error('aborted')));
        }),
    }).start();
    const stuckJob = await client.jobs.add('stuck', null, { maxAttempts: 3 });
    await until(() => (stuckStarted ? true : undefined));
    const closing = Date.now();
    await stuck.close({ timeoutMs: 200 });
    assert.ok(Date.now() - closing < 2000, 'bounded');
    const after = await client.jobs.get(stuckJob.id);
    assert.equal(after.status, 'retrying');
    assert.equal(after.history[0]?.error?.name, 'WorkerClosed');
  });
});
