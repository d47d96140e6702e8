/**
 * A real OpenTelemetry SDK for tests: the Node tracer provider (AsyncLocalStorage context
 * manager, W3C propagators) recording into an in-memory exporter, as an application would
 * register it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface RecordingSdk {
  readonly exporter: InMemorySpanExporter;
  /** Finished spans named `name` (all when omitted). */
  spans(name?: string): ReadableSpan[];
  /** Waits until `count` spans named `name` have finished; rejects after `timeoutMs`. */
  waitFor(name: string, count?: number, timeoutMs?: number): Promise<ReadableSpan[]>;
}

export function registerRecordingSdk(): RecordingSdk {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  const spans = (name?: string) =>
    exporter.getFinishedSpans().filter((span) => name === undefined || span.name === name);
  return {
    exporter,
    spans,
    async waitFor(name, count = 1, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = spans(name);
        if (found.length >= count) return found;
        if (Date.now() > deadline) {
          const seen = exporter.getFinishedSpans().map((span) => span.name);
          throw new Error(`waited for ${count} "${name}" span(s); finished: ${seen.join(', ') || 'none'}`);
        }
        await sleep(10);
      }
    },
  };
}

/** The span's kind as its name, for readable assertion messages. */
export function kindOf(span: ReadableSpan): string {
  return SpanKind[span.kind];
}
