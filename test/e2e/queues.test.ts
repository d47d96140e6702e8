import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { QueueConfigSchema } from '../../src/core/options.js';
import {
  DeadLetterPage,
  ExtendResult,
  Purged,
  QueuedMessagePage,
  QueueList,
  QueueWithStats,
  ReceiveResponse,
  Redriven,
  SendResult,
  SendResults,
  SettleResults,
} from '../../src/server/schemas/queues.js';
import { assertProblem, emptyQueueStats, startTestServer, type TestServer } from './helpers.js';

describe('queues over HTTP', () => {
  let t: TestServer;
  const createQueue = async (name: string, config: object = {}) => {
    const answer = await t.call('PUT', `/v1/queues/${name}`, { body: config });
    assert.equal(answer.status, 201);
  };
  const stats = async (name: string) =>
    (await t.call('GET', `/v1/queues/${name}`, { returns: QueueWithStats })).body.stats;
  const receive = (name: string, body: object = {}) =>
    t.call('POST', `/v1/queues/${name}/receive`, { body, returns: ReceiveResponse });

  before(async () => {
    t = await startTestServer();
  });
  after(() => t.dispose());

  it("answers 400 for a queue named '.' or '..' (percent-encoded; fetch would rewrite them as dot segments)", async () => {
    for (const encoded of ['%2E', '%2E%2E']) {
      // node:http with a path sends it as written; a WHATWG URL (fetch, or a URL string) makes it /v1/.
      const answer = await new Promise<{ status: number; body: { code: string; detail: string } }>(
        (resolve, reject) => {
          const { hostname, port } = new URL(t.url);
          const request = httpRequest(
            {
              hostname,
              port,
              path: `/v1/queues/${encoded}`,
              method: 'PUT',
              headers: { 'content-type': 'application/json' },
            },
            (response) => {
              let text = '';
              response.on('data', (chunk: Buffer) => (text += chunk.toString()));
              response.on('end', () =>
                resolve({
                  status: response.statusCode!,
                  body: JSON.parse(text) as { code: string; detail: string },
                }),
              );
            },
          );
          request.on('error', reject);
          request.end('{}');
        },
      );
      assert.equal(answer.status, 400);
      assert.equal(answer.body.code, 'SPOOL_INVALID_ARGUMENT');
    }
  });

  it('creates a queue with PUT (201, then 200), shows, lists and deletes it', async () => {
    const created = await t.call('PUT', '/v1/queues/config-q', {
      body: { maxAttempts: 3 },
      returns: QueueConfigSchema,
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), '/v1/queues/config-q');
    assert.equal(created.body.maxAttempts, 3);
    const replaced = await t.call('PUT', '/v1/queues/config-q', {
      body: { visibilityTimeoutMs: 5000 },
      returns: QueueConfigSchema,
    });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body.maxAttempts, 5, 'PUT replaces: omitted fields take their defaults');
    const shown = await t.call('GET', '/v1/queues/config-q', { returns: QueueWithStats });
    assert.equal(shown.body.visibilityTimeoutMs, 5000);
    assert.deepEqual(shown.body.stats, emptyQueueStats);
    const listed = await t.call('GET', '/v1/queues', { returns: QueueList });
    assert.ok(listed.body.items.some((item) => item.name === 'config-q'));
    assert.equal((await t.call('DELETE', '/v1/queues/config-q')).status, 204);
    assert.equal((await t.call('GET', '/v1/queues/config-q')).status, 404);
  });

  it('send → receive → ack: the message is delivered once with a receipt, then gone', async () => {
    await createQueue('basic');
    const sent = await t.call('POST', '/v1/queues/basic/messages', {
      body: { body: { orderId: 7 }, headers: { traceparent: '00-abc-def-01' }, key: 'customer-1' },
      returns: SendResult,
    });
    assert.equal(sent.status, 201);
    assert.equal(sent.body.duplicate, false);

    const received = await receive('basic', { max: 10 });
    assert.equal(received.body.messages.length, 1);
    const [message] = received.body.messages;
    assert.equal(message?.id, sent.body.id);
    assert.deepEqual(message.body, { orderId: 7 });
    assert.deepEqual(message.headers, { traceparent: '00-abc-def-01' });
    assert.equal(message.key, 'customer-1');
    assert.equal(message.attempt, 1);
    assert.ok(Date.parse(message.leaseExpiresAt) > Date.now());

    const acked = await t.call('POST', '/v1/queues/basic/ack', { body: { receipt: message.receipt } });
    assert.equal(acked.status, 204);
    assert.equal(acked.body, undefined);
    assert.deepEqual(await stats('basic'), emptyQueueStats);
  });

  it('carries bytes bodies as base64 both ways', async () => {
    await createQueue('bytes');
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    await t.call('POST', '/v1/queues/bytes/messages', { body: { bodyBase64: bytes.toString('base64') } });
    const [message] = (await receive('bytes')).body.messages;
    assert.ok(message);
    assert.equal(message.body, undefined);
    assert.deepEqual(Buffer.from(message.bodyBase64 ?? '', 'base64'), bytes);
  });

  it('Idempotency-Key dedups a single send: the repeat answers 200 with the original id', async () => {
    await createQueue('idem');
    const headers = { 'idempotency-key': 'order-42' };
    const first = await t.call('POST', '/v1/queues/idem/messages', {
      body: { body: 1 },
      headers,
      returns: SendResult,
    });
    const again = await t.call('POST', '/v1/queues/idem/messages', {
      body: { body: 1 },
      headers,
      returns: SendResult,
    });
    assert.equal(first.status, 201);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { id: first.body.id, duplicate: true });
    assert.equal((await stats('idem')).ready, 1);
  });

  it('a long-poll receive is woken by a send', async () => {
    await createQueue('long-poll');
    const started = Date.now();
    const receiving = receive('long-poll', { waitMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await t.call('POST', '/v1/queues/long-poll/messages', { body: { body: 'wake up' } });
    const received = await receiving;
    assert.equal(received.body.messages[0]?.body, 'wake up');
    assert.ok(Date.now() - started < 5000, 'answered at the send, not at waitMs');
  });

  it('a long poll that finds nothing answers an empty list after waitMs', async () => {
    await createQueue('empty');
    const started = Date.now();
    assert.deepEqual((await receive('empty', { waitMs: 300 })).body, { messages: [] });
    assert.ok(Date.now() - started >= 250);
  });

  it('a client that leaves a long poll does not hold back messages from the others', async () => {
    await createQueue('abandoned', { visibilityTimeoutMs: 60_000 });
    const controller = new AbortController();
    const receiving = t.call('POST', '/v1/queues/abandoned/receive', {
      body: { waitMs: 15_000 },
      signal: controller.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    controller.abort();
    await assert.rejects(receiving);
    await t.call('POST', '/v1/queues/abandoned/messages', { body: { body: 'for someone else' } });
    // Whether or not the abandoned poll claimed it, the message is deliverable now, not in 60 s.
    const received = await receive('abandoned', { waitMs: 5000 });
    assert.equal(received.body.messages[0]?.body, 'for someone else');
  });

  it('a batch send is all or nothing', async () => {
    await createQueue('batch', { maxDepth: 3 });
    const invalid = await t.call('POST', '/v1/queues/batch/messages', {
      body: { messages: [{ body: 1 }, { body: 2, delayMs: -1 }] },
    });
    assert.equal(invalid.status, 400);
    const tooMany = await t.call('POST', '/v1/queues/batch/messages', {
      body: { messages: [{ body: 1 }, { body: 2 }, { body: 3 }, { body: 4 }] },
    });
    assert.equal(tooMany.status, 429);
    assert.equal((await stats('batch')).ready, 0, 'nothing of either batch stored');

    const ok = await t.call('POST', '/v1/queues/batch/messages', {
      body: { messages: [{ body: 'a' }, { body: 'b', priority: 5 }, { body: 'c' }] },
      returns: SendResults,
    });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.results.length, 3);
    const received = await receive('batch', { max: 3 });
    assert.deepEqual(
      received.body.messages.map((message) => message.body),
      ['b', 'a', 'c'],
      'priority first, then send order',
    );
  });

  it('a full queue answers 429 with Retry-After in seconds', async () => {
    await createQueue('full', { maxDepth: 1 });
    assert.equal((await t.call('POST', '/v1/queues/full/messages', { body: { body: 1 } })).status, 201);
    const refused = await t.call('POST', '/v1/queues/full/messages', { body: { body: 2 } });
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.body, {
      ...(refused.body as object),
      code: 'SPOOL_QUEUE_FULL',
      maxDepth: 1,
      retryable: true,
    });
    assert.match(refused.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  });

  it('settles a batch of receipts and says per receipt what happened', async () => {
    await createQueue('settle');
    await t.call('POST', '/v1/queues/settle/messages', {
      body: { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] },
    });
    const receipts = (await receive('settle', { max: 3 })).body.messages.map((message) => message.receipt);

    const extended = await t.call('POST', '/v1/queues/settle/extend', {
      body: { receipts: [receipts[0]], visibilityMs: 120_000 },
      returns: SettleResults,
    });
    assert.equal(extended.body.results[0]?.ok, true);
    assert.ok(Date.parse(extended.body.results[0].leaseExpiresAt ?? '') > Date.now() + 100_000);
    const one = await t.call('POST', '/v1/queues/settle/extend', {
      body: { receipt: receipts[0] },
      returns: ExtendResult,
    });
    assert.ok(Date.parse(one.body.leaseExpiresAt) > Date.now());

    await t.call('POST', '/v1/queues/settle/ack', { body: { receipt: receipts[1] } });
    const acked = await t.call('POST', '/v1/queues/settle/ack', {
      body: { receipts },
      returns: SettleResults,
    });
    assert.equal(acked.status, 200);
    assert.deepEqual(
      acked.body.results.map((result) => [result.ok, result.code]),
      [
        [true, undefined],
        [false, 'SPOOL_STALE_RECEIPT'],
        [true, undefined],
      ],
    );
  });

  it('nack delivers again with the error recorded', async () => {
    await createQueue('nack');
    await t.call('POST', '/v1/queues/nack/messages', { body: { body: 'x' } });
    const [first] = (await receive('nack')).body.messages;
    const nacked = await t.call('POST', '/v1/queues/nack/nack', {
      body: { receipt: first?.receipt, error: 'timeout upstream' },
    });
    assert.equal(nacked.status, 204);
    const [second] = (await receive('nack')).body.messages;
    assert.ok(second);
    assert.equal(second.id, first?.id);
    assert.equal(second.attempt, 2);
    assert.equal(second.errors[0]?.message, 'timeout upstream');
  });

  it('a nack on the last allowed attempt dead-letters the message with the nack error', async () => {
    await createQueue('nack-last', { maxAttempts: 1 });
    const sent = await t.call('POST', '/v1/queues/nack-last/messages', {
      body: { messages: [{ body: 'one' }, { body: 'two' }] },
      returns: SendResults,
    });
    const [first, second] = (await receive('nack-last', { max: 2 })).body.messages;
    assert.equal(first?.attempt, 1);
    const nacked = await t.call('POST', '/v1/queues/nack-last/nack', {
      body: { receipt: first.receipt, delayMs: 1000, error: 'upstream down' },
    });
    assert.equal(nacked.status, 204);
    const batch = await t.call('POST', '/v1/queues/nack-last/nack', {
      body: { receipts: [second!.receipt] },
      returns: SettleResults,
    });
    assert.deepEqual(batch.body.results, [{ receipt: second!.receipt, ok: true }]);
    assert.deepEqual(await stats('nack-last'), { ...emptyQueueStats, deadLettered: 2 });
    assert.deepEqual((await receive('nack-last', { waitMs: 1500 })).body.messages, [], 'not redelivered');
    const dlq = await t.call('GET', '/v1/queues/nack-last/dlq', { returns: DeadLetterPage });
    assert.deepEqual(
      dlq.body.items.map((item) => [item.id, item.body, item.attempts]),
      [
        [sent.body.results[0]!.id, 'one', 1],
        [sent.body.results[1]!.id, 'two', 1],
      ],
    );
    assert.deepEqual(
      dlq.body.items.map((item) => item.errors.map((error) => [error.attempt, error.name, error.message])),
      [[[1, 'Error', 'upstream down']], [[1, 'Nacked', 'nacked on its last allowed attempt']]],
    );
  });

  it('expires messages by ttlMs or the queue messageTtlMs: never delivered, dead-lettered as MessageExpired', async () => {
    await createQueue('expiring', { messageTtlMs: 60_000 });
    const shown = await t.call('GET', '/v1/queues/expiring', { returns: QueueWithStats });
    assert.equal(shown.body.messageTtlMs, 60_000);
    const sent = await t.call('POST', '/v1/queues/expiring/messages', {
      body: { messages: [{ body: 'flash', ttlMs: 1 }, { body: 'daily' }] },
      returns: SendResults,
    });
    const browsed = await t.call('GET', '/v1/queues/expiring/messages', { returns: QueuedMessagePage });
    const expiries = browsed.body.items.map(
      (item) => Date.parse(item.expiresAt ?? '') - Date.parse(item.enqueuedAt),
    );
    assert.deepEqual(expiries, [1, 60_000], 'browsing shows when each message expires');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const { messages } = (await receive('expiring', { max: 10 })).body;
    assert.deepEqual(
      messages.map((message) => message.body),
      ['daily'],
    );
    const dlq = await t.call('GET', '/v1/queues/expiring/dlq', { returns: DeadLetterPage });
    assert.deepEqual(
      dlq.body.items.map((item) => [item.id, item.attempts, item.errors.at(-1)?.name]),
      [[sent.body.results[0]!.id, 0, 'MessageExpired']],
    );
    const refused = await t.call('POST', '/v1/queues/expiring/messages', { body: { body: 'x', ttlMs: 0 } });
    const problem = assertProblem(refused, 400, 'SPOOL_INVALID_ARGUMENT');
    assert.match(problem.detail, /ttlMs/);
  });

  it('release hands a message back untried: the same attempt, after delayMs, never dead-lettered', async () => {
    await createQueue('release', { maxAttempts: 1 });
    await t.call('POST', '/v1/queues/release/messages', { body: { body: 'x' } });
    const [first] = (await receive('release')).body.messages;
    const released = await t.call('POST', '/v1/queues/release/release', {
      body: { receipt: first?.receipt, delayMs: 300 },
    });
    assert.equal(released.status, 204);
    assert.equal((await stats('release')).delayed, 1);
    assert.deepEqual((await receive('release')).body.messages, [], 'not before delayMs');
    const [second] = (await receive('release', { waitMs: 5000 })).body.messages;
    assert.ok(second);
    assert.equal(second.id, first?.id);
    assert.equal(second.attempt, 1, 'the released delivery did not count');
    assert.deepEqual(second.errors, []);
    const batch = await t.call('POST', '/v1/queues/release/release', {
      body: { receipts: [second.receipt, first!.receipt] },
      returns: SettleResults,
    });
    assert.deepEqual(
      batch.body.results.map((result) => [result.ok, result.code]),
      [
        [true, undefined],
        [false, 'SPOOL_STALE_RECEIPT'],
      ],
    );
    const [third] = (await receive('release')).body.messages;
    assert.equal(third?.attempt, 1);
    assertProblem(
      await t.call('POST', '/v1/queues/release/release', { body: { receipt: second.receipt } }),
      409,
      'SPOOL_STALE_RECEIPT',
    );
    assertProblem(
      await t.call('POST', '/v1/queues/release/release', { body: { receipt: third.receipt, error: 'x' } }),
      400,
      'SPOOL_INVALID_ARGUMENT',
    );
    assert.equal((await stats('release')).deadLettered, 0);
  });

  it('browses messages with a cursor, without leasing them', async () => {
    await createQueue('browse');
    await t.call('POST', '/v1/queues/browse/messages', {
      body: { messages: [1, 2, 3, 4, 5].map((n) => ({ body: n })) },
    });
    const seen: unknown[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${encodeURIComponent(cursor)}`;
      const page = await t.call('GET', `/v1/queues/browse/messages${query}`, { returns: QueuedMessagePage });
      seen.push(...page.body.items.map((item) => item.body));
      cursor = page.body.next;
    } while (cursor !== null);
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    assert.equal((await stats('browse')).ready, 5);
  });

  it('lists the dead-letter queue with cursor pagination, redrives and purges it', async () => {
    await createQueue('dlq', { maxAttempts: 1 });
    await t.call('POST', '/v1/queues/dlq/messages', {
      body: { messages: [{ body: 'a' }, { body: 'b' }, { body: 'c' }] },
    });
    const { messages } = (await receive('dlq', { max: 3 })).body;
    const dead = await t.call('POST', '/v1/queues/dlq/dead-letter', {
      body: { receipts: messages.map((message) => message.receipt), reason: 'poison' },
      returns: SettleResults,
    });
    assert.ok(dead.body.results.every((result) => result.ok));

    const firstPage = await t.call('GET', '/v1/queues/dlq/dlq?limit=2', { returns: DeadLetterPage });
    assert.equal(firstPage.body.items.length, 2);
    assert.equal(firstPage.body.items[0]?.errors.at(-1)?.message, 'poison');
    assert.ok(firstPage.body.next !== null);
    const secondPage = await t.call(
      'GET',
      `/v1/queues/dlq/dlq?limit=2&cursor=${encodeURIComponent(firstPage.body.next)}`,
      {
        returns: DeadLetterPage,
      },
    );
    assert.equal(secondPage.body.items.length, 1);
    assert.equal(secondPage.body.next, null);

    const first = firstPage.body.items[0];
    const redriven = await t.call('POST', '/v1/queues/dlq/redrive', {
      body: { ids: [first.id] },
      returns: Redriven,
    });
    assert.deepEqual(redriven.body, { redriven: 1 });
    const [again] = (await receive('dlq')).body.messages;
    assert.equal(again?.id, first.id);
    assert.equal(again.attempt, 1, 'redrive resets attempts');

    const purged = await t.call('POST', '/v1/queues/dlq/dlq/purge', { returns: Purged });
    assert.deepEqual(purged.body, { purged: 2 });
    assert.equal((await stats('dlq')).deadLettered, 0);
  });

  it('purges a queue', async () => {
    await createQueue('purge');
    await t.call('POST', '/v1/queues/purge/messages', { body: { messages: [{ body: 1 }, { body: 2 }] } });
    assert.deepEqual((await t.call('POST', '/v1/queues/purge/purge', { returns: Purged })).body, {
      purged: 2,
    });
  });
});
