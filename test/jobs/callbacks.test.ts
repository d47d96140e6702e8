import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Jobs } from '../../src/jobs/index.js';
import { Webhooks, verify } from '../../src/webhooks/index.js';
import { startReceiver } from '../webhooks/receiver.js';
import { openTestSpool, until } from '../helpers.js';

describe('jobs: completion webhooks', () => {
  it('a finished job with a callbackUrl gets one signed delivery, retried after a 500', async () => {
    const secret = 'whsec_' + Buffer.from('a-test-secret-of-32-bytes-length').toString('base64');
    const receiver = await startReceiver((_request, index) => ({ status: index === 0 ? 500 : 204 }));
    const t = await openTestSpool({ safetyPollMs: 50 });
    const webhooks = new Webhooks(t.spool, {
      secret,
      allowPrivateNetworks: true,
      backoff: { baseMs: 10, capMs: 20, jitter: 'none' },
    });
    const jobs = new Jobs(t.spool);
    try {
      await webhooks.open();
      await webhooks.start();
      jobs.define('invoice.render', (job) => ({ pdf: `${(job.payload as { id: string }).id}.pdf` }));
      await jobs.start();
      const job = await jobs.add('invoice.render', { id: 'inv-1' }, { callbackUrl: receiver.url });
      await jobs.wait(job.id, { timeoutMs: 5000 });
      await until(() => receiver.requests.length === 2, 5000, 'the retried delivery');
      const [failed, delivered] = receiver.requests;
      assert.equal(
        failed!.headers['webhook-id'],
        delivered!.headers['webhook-id'],
        'same webhook-id on retry',
      );
      const verified = verify(delivered!.body, delivered!.headers, secret);
      assert.equal(verified.webhookId, delivered!.headers['webhook-id']);
      const body = JSON.parse(delivered!.body) as { type: string; data: { id: string; result: unknown } };
      assert.equal(body.type, 'job.completed');
      assert.equal(body.data.id, job.id);
      assert.deepEqual(body.data.result, { pdf: 'inv-1.pdf' });
    } finally {
      await jobs.close();
      await webhooks.close();
      await t.dispose();
      await receiver.close();
    }
  });
});
