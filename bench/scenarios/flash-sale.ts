/**
 * The flash sale from the spec: publish `messages` `order.created` events as fast as possible
 * while three consumer groups (payment, inventory, email) each receive all of them. Reports the
 * time to publish, the time until all three groups are done, and lost/duplicated deliveries per
 * group (lost must be 0).
 *
 * Publishing uses the system's batch API in batches of 1,000 awaited one after another, or 100
 * concurrent publishers when it has none.
 */
import type { Counts } from '../counts.js';
import { order, orders } from '../payload.js';
import type { Run } from '../results.js';
import type { BenchSystem } from '../types.js';
import { concurrently, Countdown, DeliveryLedger, secondsSince } from './support.js';

export const flashGroups = ['payment', 'inventory', 'email'] as const;

export async function flashSale(system: BenchSystem, counts: Counts): Promise<Run> {
  const fanout = await system.openFanout(flashGroups);
  try {
    const done = new Countdown(counts.messages * flashGroups.length);
    const ledgers = flashGroups.map(() => new DeliveryLedger(counts.messages));
    const consumers = await Promise.all(
      flashGroups.map((group, g) =>
        fanout.subscribe(group, (body) => {
          if (ledgers[g]!.record(body.seq)) done.tick();
        }),
      ),
    );
    const started = process.hrtime.bigint();
    const publishBatch = fanout.publishBatch;
    if (publishBatch) {
      for (let from = 0; from < counts.messages; from += 1000) {
        await publishBatch(orders(from, Math.min(1000, counts.messages - from)));
      }
    } else {
      await concurrently(counts.messages, 100, (seq) => fanout.publish(order(seq)));
    }
    const publishSeconds = secondsSince(started);
    const complete = await done.wait(counts.drainTimeoutSeconds);
    const allDoneSeconds = secondsSince(started);
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    const lost = ledgers.reduce((sum, ledger) => sum + ledger.lost, 0);
    const duplicated = ledgers.reduce((sum, ledger) => sum + ledger.duplicated, 0);
    return {
      value: allDoneSeconds,
      metrics: { publishSeconds, allDoneSeconds, lost, duplicated },
      ...(!complete && {
        note: `not done after ${counts.drainTimeoutSeconds} s: ${lost} deliveries missing`,
      }),
      ...(fanout.emulation !== undefined && complete && { note: fanout.emulation }),
    };
  } finally {
    await fanout.close();
  }
}
