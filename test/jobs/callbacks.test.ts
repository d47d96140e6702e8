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

  it('refuses a callbackUrl no delivery could be made to, and adds nothing', async () => {
    const t = await openTestSpool({ safetyPollMs: 50 });
    const jobs = new Jobs(t.spool);
    try {
      for (const callbackUrl of [
        'http://a b/',
        'http://x:99999/',
        'http://%zz/',
        'ftp://x/',
        'http://',
        'x'.repeat(3000),
      ]) {
        await assert.rejects(jobs.add('report', null, { callbackUrl }), (error: unknown) => {
          const { code, details } = error as { code: string; details: { field?: string } };
          return code === 'SPOOL_INVALID_ARGUMENT' && details.field === 'callbackUrl';
        });
      }
      assert.deepEqual((await jobs.list()).items, []);
    } finally {
      await jobs.close();
      await t.dispose();
    }
  });

  it('a job whose stored callbackUrl cannot be sent still finishes, and its type keeps running', async () => {
    const t = await openTestSpool({ safetyPollMs: 50 });
    const webhooks = new Webhooks(t.spool, { allowPrivateNetworks: true });
    const jobs = new Jobs(t.spool, { cancelCheckMs: 20 });
    try {
      await webhooks.open();
      jobs.define('report', () => 'done', { maxAttempts: 1 });
      await jobs.start();
      // Jobs stored before adds checked the URL (by an older version), written as they were.
      const template = (await t.spool.store.getJob(
        (await jobs.add('report', null, { delayMs: 600_000 })).id,
      ))!;
      const legacy = async (id: string, runAt: number): Promise<string> => {
        await t.spool.transaction(async (tx) => {
          await tx.records.insertJob({
            ...template,
            id,
            status: 'queued',
            runAt,
            callbackUrl: 'http://a b/',
          });
          await tx.send('jobs.report', { jobId: id }, { notBefore: runAt });
        });
        return id;
      };
      const finished = await jobs.wait(await legacy(`${template.id}-1`, Date.now()), { timeoutMs: 5000 });
      assert.equal(finished.status, 'completed');
      assert.equal(finished.result, 'done');
      const cancelled = await jobs.cancel(await legacy(`${template.id}-2`, Date.now() + 600_000));
      assert.equal(cancelled.status, 'cancelled');
      const next = await jobs.wait((await jobs.add('report', null)).id, { timeoutMs: 5000 });
      assert.equal(next.status, 'completed');
    } finally {
      await jobs.close();
      await webhooks.close();
      await t.dispose();
    }
  });
});
