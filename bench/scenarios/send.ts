/**
 * Send throughput: one at a time awaited, 100 concurrent senders, and the batch API (batches of
 * 1,000 awaited one after another; batches of 100 from 10 concurrent senders). Every send is
 * awaited until the system acknowledges it under its durability setting.
 */
import type { Counts } from '../counts.js';
import { order, orders } from '../payload.js';
import type { Run } from '../results.js';
import { NotSupported, type BenchSystem } from '../types.js';
import { concurrently, deadlineIn, secondsSince } from './support.js';

/** A throughput figure, noting when the time cap stopped the run before `counts.messages`. */
function rateRun(sent: number, counts: Counts, seconds: number): Run {
  return {
    value: sent / seconds,
    metrics: { sent, seconds },
    ...(sent < counts.messages && {
      note: `stopped by the ${counts.sendCapSeconds} s cap`,
    }),
  };
}

export async function sendSingle(system: BenchSystem, counts: Counts): Promise<Run> {
  const queue = await system.openQueue();
  try {
    const capNs = BigInt(Math.round(counts.singleCapSeconds * 1e9));
    const started = process.hrtime.bigint();
    const deadline = started + capNs;
    let sent = 0;
    // Checking the clock every 64 sends keeps the cap's own cost out of the measurement.
    while (sent < counts.singleMax) {
      await queue.send(order(sent++));
      if ((sent & 63) === 0 && process.hrtime.bigint() >= deadline) break;
    }
    const seconds = secondsSince(started);
    const capped = sent < counts.singleMax;
    return {
      value: sent / seconds,
      metrics: { sent, seconds },
      ...(capped && {
        note: `stopped by the ${counts.singleCapSeconds} s cap`,
      }),
    };
  } finally {
    await queue.close();
  }
}

export async function sendConcurrent(system: BenchSystem, counts: Counts): Promise<Run> {
  const queue = await system.openQueue();
  try {
    const started = process.hrtime.bigint();
    const sent = await concurrently(
      counts.messages,
      100,
      (seq) => queue.send(order(seq)),
      deadlineIn(counts.sendCapSeconds),
    );
    return rateRun(sent, counts, secondsSince(started));
  } finally {
    await queue.close();
  }
}

/** Batches of `size`, from `senders` concurrent senders (1: each batch awaited before the next). */
export async function sendBatches(
  system: BenchSystem,
  counts: Counts,
  size: number,
  senders: number,
): Promise<Run> {
  const queue = await system.openQueue();
  try {
    const sendBatch = queue.sendBatch;
    if (!sendBatch) throw new NotSupported(queue.batchUnsupported ?? 'no batch API');
    const batches = Math.ceil(counts.messages / size);
    let sent = 0;
    const started = process.hrtime.bigint();
    await concurrently(
      batches,
      senders,
      async (b) => {
        const from = b * size;
        const batch = orders(from, Math.min(size, counts.messages - from));
        await sendBatch(batch);
        sent += batch.length;
      },
      deadlineIn(counts.sendCapSeconds),
    );
    return rateRun(sent, counts, secondsSince(started));
  } finally {
    await queue.close();
  }
}
