/**
 * What metrics and tracing cost: send and process throughput on the embedded store (a real
 * SQLite file, fsync on commit) with observability off, with metrics (SpoolMetrics attached and
 * scraped every second, as an eager Prometheus would), and with metrics plus tracing (an
 * OpenTelemetry SDK registered, spans batched to an exporter that drops them).
 *
 *   npx tsx bench/observability-overhead.ts [--messages 20000] [--rounds 5]
 *
 * Each round runs every mode once, in a rotating order so that drift on a shared machine does
 * not always hit the same mode; the report gives the median per mode and the overhead against
 * `off`. Send: 100 concurrent producers awaiting one `send` at a time. Process: one consumer with
 * concurrency 50 draining what was sent, with a handler that does nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { context, propagation, trace } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { createSpool } from '#spool/engine/spool';
import { SpoolMetrics } from '#spool/observability/metrics';
import { openSqliteStore } from '#spool/stores/sqlite/index';

type Mode = 'off' | 'metrics' | 'metrics+tracing';
const modes: readonly Mode[] = ['off', 'metrics', 'metrics+tracing'];

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    producers: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '50' },
  },
});
const messages = Number(values.messages);
const rounds = Number(values.rounds);
const producers = Number(values.producers);
const concurrency = Number(values.concurrency);

/** Receives finished spans and drops them: the cost measured is Spool's and the SDK's, not an exporter's I/O. */
class DroppingExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.exported += spans.length;
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface RunResult {
  /** Messages per second. */
  readonly send: number;
  readonly process: number;
  /** CPU time of this process per message (µs, user + system): what contention for the machine distorts least. */
  readonly sendCpu: number;
  readonly processCpu: number;
  readonly spans: number;
}

async function runOnce(mode: Mode): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-obs-bench-'));
  let provider: NodeTracerProvider | undefined;
  const exporter = new DroppingExporter();
  if (mode === 'metrics+tracing') {
    provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
    provider.register();
  }
  const store = await openSqliteStore({ path: join(dir, 'spool.db') });
  const spool = createSpool({ store });
  const metrics = mode === 'off' ? undefined : new SpoolMetrics(spool);
  const scraper = metrics
    ? setInterval(() => {
        void metrics.metrics();
      }, 1000)
    : undefined;
  try {
    const queue = await spool.queue<{ n: number }>('bench');
    let next = 0;
    const sendStart = performance.now();
    const sendCpuStart = process.cpuUsage();
    await Promise.all(
      Array.from({ length: producers }, async () => {
        while (next < messages) await queue.send({ n: next++ });
      }),
    );
    const sendSeconds = (performance.now() - sendStart) / 1000;
    const sendCpu = cpuMicros(process.cpuUsage(sendCpuStart)) / messages;

    let processed = 0;
    let resolveDrained!: () => void;
    const drained = new Promise<void>((resolve) => (resolveDrained = resolve));
    const processStart = performance.now();
    const processCpuStart = process.cpuUsage();
    const consumer = queue.process(
      () => {
        if (++processed === messages) resolveDrained();
      },
      { concurrency },
    );
    await drained;
    const processSeconds = (performance.now() - processStart) / 1000;
    const processCpu = cpuMicros(process.cpuUsage(processCpuStart)) / messages;
    await consumer.close();
    await provider?.forceFlush();
    return {
      send: messages / sendSeconds,
      process: messages / processSeconds,
      sendCpu,
      processCpu,
      spans: exporter.exported,
    };
  } finally {
    if (scraper) clearInterval(scraper);
    metrics?.close();
    await spool.close();
    if (provider) {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function cpuMicros(usage: NodeJS.CpuUsage): number {
  return usage.user + usage.system;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** In the order of the report's columns. */
const metricsOf = ['send', 'sendCpu', 'process', 'processCpu'] as const;
const results = new Map<Mode, RunResult[]>(modes.map((mode) => [mode, []]));
console.log(
  `observability overhead: ${messages} messages, ${producers} concurrent producers, consumer concurrency ${concurrency}, ${rounds} rounds`,
);
await runOnce('off'); // warm-up: JIT, page cache, SQLite
for (let round = 0; round < rounds; round++) {
  const order = modes.map((_, index) => modes[(index + round) % modes.length]!);
  for (const mode of order) {
    const result = await runOnce(mode);
    results.get(mode)!.push(result);
    console.log(
      `  round ${round + 1} ${mode.padEnd(16)} send ${Math.round(result.send).toString().padStart(6)}/s ${result.sendCpu.toFixed(0).padStart(4)} µs cpu/msg   process ${Math.round(result.process).toString().padStart(6)}/s ${result.processCpu.toFixed(0).padStart(4)} µs cpu/msg`,
    );
  }
}
// Paired by round: on a shared machine the load of a round hits its three runs alike, so the
// median of per-round ratios is steadier than the ratio of medians.
const base = results.get('off')!;
const format = (value: number, digits = 0) => value.toFixed(digits).padStart(8);
console.log(
  '\nmedians over rounds        send/s  cpu µs/msg   process/s  cpu µs/msg   | vs off, median of per-round ratios: send/s  cpu  process/s  cpu',
);
for (const mode of modes) {
  const runs = results.get(mode)!;
  const medians = metricsOf.map((key) => median(runs.map((run) => run[key])));
  const ratios = metricsOf.map((key) =>
    median(runs.map((run, round) => (run[key] / base[round]![key] - 1) * 100)),
  );
  console.log(
    `  ${mode.padEnd(16)} ${format(medians[0]!)} ${format(medians[1]!, 1)}    ${format(medians[2]!)} ${format(medians[3]!, 1)}   | ${
      mode === 'off' ? '' : ratios.map((r) => `${r >= 0 ? '+' : ''}${r.toFixed(1)}%`.padStart(8)).join(' ')
    }${runs[0]!.spans ? `   (${runs[0]!.spans} spans/run)` : ''}`,
  );
}
