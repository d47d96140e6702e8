// spool/client: a nack counts the attempt (and dead-letters on the last one); a release does not.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpoolClient, StaleReceiptHttpError } from '../../src/client/index.js';
import { startTestServer, type TestServer } from '../e2e/helpers.js';

describe('client: nack and release', () => {
  let t: TestServer;
  let client: SpoolClient;
  before(async () => {
    t = await startTestServer();
    client = new SpoolClient({ url: t.url });
  });
  after(() => t.dispose());

  it('message.release() hands a message back with the same attempt; message.nack() on the last attempt dead-letters it', async () => {
    await client.queues.put('payments', { maxAttempts: 1 });
    await client.queues.send('payments', { amount: 5 });
    const [first] = await client.queues.receive('payments');
    assert.ok(first);
    await first.release({ delayMs: 200 });
    assert.deepEqual(await client.queues.receive('payments'), [], 'not before its delay');
    const [second] = await client.queues.receive('payments', { waitMs: 5000 });
    assert.ok(second);
    assert.equal(second.id, first.id);
    assert.equal(second.attempt, 1);
    await assert.rejects(() => first.release(), StaleReceiptHttpError);
    const [result] = await client.queues.release('payments', [second.receipt]);
    assert.equal(result?.ok, true);
    const [third] = await client.queues.receive('payments');
    assert.ok(third);
    assert.equal(third.attempt, 1);
    await third.nack({ error: 'card declined' });
    assert.deepEqual(await client.queues.receive('payments', { waitMs: 300 }), []);
    const dlq = await client.queues.deadLetters('payments');
    assert.deepEqual(
      dlq.items.map((item) => [item.id, item.attempts, item.errors.at(-1)?.message]),
      [[first.id, 1, 'card declined']],
    );
  });
});
