/**
 * Latency under a steady load: a timer-driven producer sends `latencyRate` messages per second
 * (each send started on schedule, not after the previous one resolved, so a slow acknowledgement
 * does not lower the offered load), with a consumer of concurrency 50 running throughout.
 *
 * - send-ack: from the send call until the system acknowledged it (producer side);
 * - send→start: from the `sentAt` stamp in the payload until the handler started (consumer side).
 *
 * The first `latencyWarmupSeconds` of messages are sent but left out of the figures.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Counts } from '../counts.js';
import { now, order } from '../payload.js';
import type { Run } from '../results.js';
import { percentile, sortedSamples } from '../report/stats.js';
import type { BenchSystem } from '../types.js';
import { Countdown, DeliveryLedger } from './support.js';

export async function latency(system: BenchSystem, counts: Counts): Promise<Run> {
  const warmup = Math.round(counts.latencyRate * counts.latencyWarmupSeconds);
  const total = warmup + Math.round(counts.latencyRate * counts.latencySeconds);
  const queue = await system.openQueue();
  try {
    const ledger = new DeliveryLedger(total);
    const done = new Countdown(total);
    const startLatency = new Float64Array(total).fill(Number.NaN);
    const ackLatency = new Float64Array(total).fill(Number.NaN);
    const consumer = await queue.consume(
      (body) => {
        const at = now();
        if (ledger.record(body.seq)) {
          startLatency[body.seq] = at - body.sentAt;
          done.tick();
        }
      },
      { concurrency: 50 },
    );

    const failures: unknown[] = [];
    const pending: Promise<void>[] = [];
    const begin = now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((now() - begin) * counts.latencyRate) / 1000) + 1);
      while (sent < due) {
        const body = order(sent++);
        pending.push(
          queue.send(body).then(
            () => void (ackLatency[body.seq] = now() - body.sentAt),
            (error: unknown) => void failures.push(error),
          ),
        );
      }
      // ~1 ms steps: each step sends what the schedule says is due, one message per step at 1,000/s.
      await sleep(1);
    }
    const offeredSeconds = (now() - begin) / 1000;
    await Promise.all(pending);
    const complete = await done.wait(counts.drainTimeoutSeconds);
    await consumer.stop();
    if (failures.length > 0) throw failures[0];

    const measured = (samples: Float64Array) =>
      sortedSamples(Array.from(samples.subarray(warmup)).filter((v) => !Number.isNaN(v)));
    const start = measured(startLatency);
    const ack = measured(ackLatency);
    const metrics = {
      startP50Ms: percentile(start, 50),
      startP99Ms: percentile(start, 99),
      startMaxMs: start[start.length - 1] ?? Number.NaN,
      ackP50Ms: percentile(ack, 50),
      ackP99Ms: percentile(ack, 99),
      ackMaxMs: ack[ack.length - 1] ?? Number.NaN,
      offeredRate: total / offeredSeconds,
      lost: ledger.lost,
      duplicated: ledger.duplicated,
    };
    return {
      value: metrics.startP99Ms,
      metrics,
      ...(!complete && {
        note: `${ledger.lost} messages not delivered within ${counts.drainTimeoutSeconds} s`,
      }),
    };
  } finally {
    await queue.close();
  }
}
