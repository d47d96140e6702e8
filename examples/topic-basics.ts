// Topic basics: publish with keys, two consumer groups, read a partition, seek, lag.
// Run: npx tsx examples/topic-basics.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSpool, type TopicEvent } from '../src/index.js'; // in your app: 'spool'

interface Order {
  orderId: string;
  customerId: string;
  total: number;
}

const dir = mkdtempSync(join(tmpdir(), 'spool-topic-basics-'));
const spool = await openSpool({ path: join(dir, 'spool.db') });
const orders = await spool.topic<Order>('orders', { partitions: 3 });

// Events with the same key land in the same partition, so each customer's orders stay in order.
const results = await orders.publishBatch(
  ['ada', 'bob', 'ada', 'cy', 'bob', 'ada'].map((customerId, i) => ({
    body: { orderId: `o-${i + 1}`, customerId, total: 10 * (i + 1) },
    key: customerId,
  })),
);
for (const r of results) console.log(`published to partition ${r.partition} at offset ${r.offset}`);

// Every consumer group gets every event; each group remembers its own position.
const seen = { billing: 0, analytics: 0 };
let bothDone!: () => void;
const done = new Promise<void>((resolve) => (bothDone = resolve));
const handler = (group: keyof typeof seen) => (event: TopicEvent<Order>) => {
  console.log(`${group}: ${event.body.orderId} of ${event.key} (p${event.partition}@${event.offset})`);
  seen[group]++;
  if (seen.billing >= results.length && seen.analytics >= results.length) bothDone();
};
const billing = orders.subscribe('billing', handler('billing'));
const analytics = orders.subscribe('analytics', handler('analytics'));
await done;
// Closing commits each group's offsets and leaves the group.
await Promise.all([billing.close(), analytics.close()]);

// Read a partition directly, no group involved: offsets 0.. of ada's partition.
const partition = results[0]!.partition;
const range = await orders.read(partition, 0, 10);
console.log(`partition ${partition} holds offsets ${range.startOffset}..${range.endOffset - 1}:`);
for (const e of range.events) console.log(`  ${e.offset}: ${e.body.orderId} (${e.key})`);

// Replay: move analytics back to the start. Its lag now counts the events it will read again.
await orders.seek('analytics', 'earliest');
for (const group of ['billing', 'analytics']) {
  const lag = await orders.groupLag(group);
  const perPartition = lag.partitions.map((p) => `p${p.partition}:${p.lag}`).join(' ');
  console.log(`lag of ${group}: ${lag.totalLag} (${perPartition})`);
}

await spool.close();
rmSync(dir, { recursive: true, force: true });
