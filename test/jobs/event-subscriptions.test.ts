import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NonRetryableError } from '../../src/core/errors.js';
import { EventSubscriptions } from '../../src/jobs/event-subscriptions.js';
import { Jobs } from '../../src/jobs/index.js';
import { Webhooks } from '../../src/webhooks/index.js';
import { startReceiver } from '../webhooks/receiver.js';
import { openTestSpool, until } from '../helpers.js';

describe('jobs: webhook subscriptions to event types', () => {
  it('delivers each matching job event once, and nothing else', async () => {
    const receiver = await startReceiver();
    const t = await openTestSpool({ safetyPollMs: 50 });
    const secret = 'whsec_' + Buffer.from('a-test-secret-of-32-bytes-length').toString('base64');
    const webhooks = new Webhooks(t.spool, { allowPrivateNetworks: true, secret });
    const jobs = new Jobs(t.spool);
    const subscriptions = new EventSubscriptions(t.spool, [
      { url: receiver.url, events: ['job.dead'], jobTypes: ['billing.charge'] },
    ]);
    try {
      await webhooks.open();
      await webhooks.start();
      jobs.define('billing.charge', (job) => {
        if ((job.payload as { ok: boolean }).ok) return 'charged';
        throw new NonRetryableError('card declined');
      });
      jobs.define('other', () => {
        throw new NonRetryableError('not subscribed');
      });
      await jobs.start();
      await subscriptions.start();
      const dead = await jobs.add('billing.charge', { ok: false });
      const fine = await jobs.add('billing.charge', { ok: true });
      const other = await jobs.add('other', null);
      for (const job of [dead, fine, other]) await jobs.wait(job.id, { timeoutMs: 5000 });
      await until(() => receiver.requests.length >= 1, 5000, 'the delivery');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(receiver.requests.length, 1, 'only the dead billing job matched');
      const body = JSON.parse(receiver.requests[0]!.body) as { type: string; data: { jobId: string } };
      assert.equal(body.type, 'job.dead');
      assert.equal(body.data.jobId, dead.id);
    } finally {
      await subscriptions.close();
      await jobs.close();
      await webhooks.close();
      await t.dispose();
      await receiver.close();
    }
  });

  it('refuses a subscription without events', async () => {
    const t = await openTestSpool();
    try {
      assert.throws(() => new EventSubscriptions(t.spool, [{ url: 'https://example.com', events: [] }]), {
        code: 'SPOOL_INVALID_ARGUMENT',
      });
    } finally {
      await t.dispose();
    }
  });
});
