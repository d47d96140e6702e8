/**
 * Processing throughput: `messages` pre-enqueued (untimed), then a consumer with concurrency 50
 * and a no-op handler. Timed from starting the consumer until the last message was handled and
 * the consumer has stopped with every ack delivered to the system.
 */
import type { Counts } from '../counts.js';
import { order, orders } from '../payload.js';
import type { Run } from '../results.js';
import type { BenchQueue, BenchSystem } from '../types.js';
import { concurrently, Countdown, DeliveryLedger, secondsSince } from './support.js';

export const processConcurrency = 50;

/** Fills a queue as fast as the system allows: its batch API, else 100 concurrent senders. */
export async function preload(queue: BenchQueue, count: number): Promise<void> {
  const sendBatch = queue.sendBatch;
  if (sendBatch) {
    await concurrently(Math.ceil(count / 1000), 4, (b) =>
      sendBatch(orders(b * 1000, Math.min(1000, count - b * 1000))),
    );
  } else {
    await concurrently(count, 100, (seq) => queue.send(order(seq)));
  }
}

export async function processQueue(system: BenchSystem, counts: Counts): Promise<Run> {
  const queue = await system.openQueue();
  try {
    await preload(queue, counts.messages);
    const ledger = new DeliveryLedger(counts.messages);
    const done = new Countdown(counts.messages);
    const started = process.hrtime.bigint();
    const consumer = await queue.consume(
      (body) => {
        if (ledger.record(body.seq)) done.tick();
      },
      { concurrency: processConcurrency },
    );
    const complete = await done.wait(counts.drainTimeoutSeconds);
    await consumer.stop();
    const seconds = secondsSince(started);
    const metrics = { seconds, lost: ledger.lost, duplicated: ledger.duplicated };
    if (!complete) {
      return {
        value: (counts.messages - ledger.lost) / seconds,
        metrics,
        note: `timed out after ${counts.drainTimeoutSeconds} s with ${ledger.lost} not delivered`,
      };
    }
    return { value: counts.messages / seconds, metrics };
  } finally {
    await queue.close();
  }
}
