// Notifications: one event fanned out by a topic to a queue per channel (a consumer group per
// channel), and the SMS provider behind a circuit breaker. The provider is down for the first
// second: the breaker opens after three failures, the SMS queue stops calling it (messages wait
// without using their attempts), a probe finds it back, and every notification is delivered.
// Run: npx tsx examples/notifications.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jobs, openSpool } from '../src/index.js'; // in your app: 'spool'

interface Shipped {
  orderId: string;
  email: string;
  phone: string;
}

const dir = mkdtempSync(join(tmpdir(), 'spool-notifications-'));
const spool = await openSpool({ path: join(dir, 'spool.db') });
const jobs = new Jobs(spool); // jobs.breakers: breakers whose state every process shares

// The outside world: an SMS provider that is down for the first second.
const upAt = Date.now() + 1_000;
const provider = { calls: 0, failed: 0 };
const sendSms = (phone: string, text: string): Promise<string> => {
  provider.calls++;
  if (Date.now() < upAt) {
    provider.failed++;
    return Promise.reject(new Error('SMS provider: 503 Service Unavailable'));
  }
  return Promise.resolve(`${phone}: ${text}`);
};

// 1. The fan-out: every channel's consumer group gets every event and queues it for its channel.
const events = await spool.topic<Shipped>('order-shipped', { partitions: 2 });
const channels = {
  email: await spool.queue<Shipped>('notify.email'),
  sms: await spool.queue<Shipped>('notify.sms', { maxAttempts: 10, backoff: { baseMs: 50, capMs: 200 } }),
};
const routers = Object.entries(channels).map(([channel, queue]) =>
  events.subscribe(channel, async (event) => void (await queue.send(event.body, { dedupId: event.id }))),
);

// 2. The channels' workers; the SMS one calls the provider through the breaker.
const sms = jobs.breakers.define('sms', { failureThreshold: 3, openMs: 250 });
const delivered = { email: 0, sms: 0 };
const emailWorker = channels.email.process(() => void delivered.email++);
const smsWorker = channels.sms.process(
  async (message) => {
    await sms.run(() => sendSms(message.body.phone, `order ${message.body.orderId} has shipped`));
    delivered.sms++;
  },
  { concurrency: 4 },
);

const count = 20;
await events.publishBatch(
  Array.from({ length: count }, (_, i) => ({
    body: { orderId: `o-${i + 1}`, email: `c${i}@example.com`, phone: `+1555010${i % 10}` },
    key: `o-${i + 1}`,
  })),
);
const deadline = Date.now() + 15_000;
while ((delivered.email < count || delivered.sms < count) && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}

const [breaker] = await jobs.breakers.list();
const smsDead = (await channels.sms.stats()).deadLettered;
console.log(`email: ${delivered.email} of ${count} delivered`);
console.log(`sms: ${delivered.sms} of ${count} delivered, ${smsDead} dead-lettered`);
console.log(`provider called ${provider.calls} times, ${provider.failed} of them while it was down`);
console.log(
  `breaker "sms" opened ${breaker?.opened ?? 0} time(s), refused ${sms.counters.rejected} calls; now ${breaker?.state}`,
);

await Promise.all([...routers.map((router) => router.close()), emailWorker.close(), smsWorker.close()]);
await jobs.close();
await spool.close();
rmSync(dir, { recursive: true, force: true });
