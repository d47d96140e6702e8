/**
 * OpenTelemetry tracing for Spool, through `@opentelemetry/api` only: Spool creates spans and
 * carries trace context; whatever SDK the application registers records and exports them.
 * Without an SDK nothing is created and no header is added.
 *
 * Conventions (OpenTelemetry messaging semantic conventions):
 * - **Producer**: one PRODUCER span per send/publish call, named `{operation} {destination}`
 *   (`send orders`, `publish events`, `add jobs.email.welcome`). A batch gets one span with
 *   `messaging.batch.message_count`, and that span's context is the creation context of every
 *   message in it: per-message `create` spans would cost one span per message for the same
 *   information (each consumer still links to the send that created its message).
 * - **Carrier**: the creation context travels in the message's headers (`traceparent`,
 *   `tracestate`, plus whatever else the registered propagator writes, e.g. `baggage`). A
 *   `traceparent` the producer set itself is kept as it is.
 * - **Consumer**: one CONSUMER span `process {destination}` per delivery of a message to a
 *   handler. It always links to the creation context, and for single-message processing also
 *   takes it as parent, so that a send and its processing show as one trace (the spec allows
 *   either; one trace is what people look for when they follow a message).
 */
import {
  context,
  isSpanContextValid,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import { RetryAfterError } from '../core/errors.js';

/** String headers as messages carry them. */
type Carrier = Record<string, string>;

/** The instrumentation scope name of Spool's spans. */
export const tracerName = 'spool';

/**
 * The registered provider's tracer, asked for per span (only while an SDK is registered): a
 * tracer kept from module load would stay bound to the first provider even after it is replaced.
 * No version: this module also runs in the HTTP client, which must not read files.
 */
function tracer() {
  return trace.getTracer(tracerName);
}

// The no-op provider the API falls back to; a global proxy delegating to it means no SDK.
const noopTracerProvider = new ProxyTracerProvider().getDelegate();

/** Attribute names of the messaging semantic conventions that Spool sets. */
export const MessagingAttributes = {
  system: 'messaging.system',
  operationName: 'messaging.operation.name',
  operationType: 'messaging.operation.type',
  destination: 'messaging.destination.name',
  partition: 'messaging.destination.partition.id',
  consumerGroup: 'messaging.consumer.group.name',
  messageId: 'messaging.message.id',
  batchCount: 'messaging.batch.message_count',
  errorType: 'error.type',
} as const;

/** Spool-specific attributes (named after the `messaging.{system}.*` pattern). */
export const SpoolAttributes = {
  attempt: 'messaging.spool.message.attempt',
  offset: 'messaging.spool.offset',
  jobId: 'messaging.spool.job.id',
  jobType: 'messaging.spool.job.type',
} as const;

/** The value of `messaging.system`. */
export const messagingSystem = 'spool';

/**
 * True when an OpenTelemetry SDK has registered a tracer provider. Checked on every operation,
 * so that a provider registered (or disabled) later is honoured; the check reads two fields.
 */
export function tracingEnabled(): boolean {
  const provider = trace.getTracerProvider();
  // A provider from another copy of the API is not our proxy class: assume it is live.
  const delegate = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  return delegate !== noopTracerProvider;
}

/** What a producer span describes. */
export interface ProducerTrace {
  /** `send`, `publish` or `add`: the first word of the span name. */
  readonly operation: string;
  readonly destination: string;
  /** How many messages the call sends; above 1 it is a batch. */
  readonly count: number;
  readonly attributes?: Attributes;
}

/**
 * Runs `work` under a PRODUCER span. `work` receives the headers that carry the span's context
 * (undefined when tracing is off or the propagator writes nothing): merge them into each message
 * with {@link withTraceHeaders}. `describe` adds attributes known only from the result (ids,
 * partitions, offsets).
 */
export async function traceProducer<R>(
  producer: ProducerTrace,
  work: (traceHeaders: Carrier | undefined) => Promise<R>,
  describe?: (result: R) => Attributes,
): Promise<R> {
  if (!tracingEnabled()) return work(undefined);
  const active = context.active();
  const span = tracer().startSpan(
    `${producer.operation} ${producer.destination}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        [MessagingAttributes.system]: messagingSystem,
        [MessagingAttributes.operationName]: producer.operation,
        [MessagingAttributes.operationType]: 'send',
        [MessagingAttributes.destination]: producer.destination,
        ...(producer.count > 1 ? { [MessagingAttributes.batchCount]: producer.count } : {}),
        ...producer.attributes,
      },
    },
    active,
  );
  const spanContext = trace.setSpan(active, span);
  const carrier: Carrier = {};
  propagation.inject(spanContext, carrier);
  try {
    const result = await context.with(spanContext, () =>
      work(Object.keys(carrier).length > 0 ? carrier : undefined),
    );
    if (describe) span.setAttributes(describe(result));
    return result;
  } catch (error) {
    markFailed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Producer attributes known once a send is stored: the message id, for a single message. */
export function sentAttributes(results: readonly { readonly id: string }[]): Attributes {
  const [only] = results;
  return results.length === 1 && only ? { [MessagingAttributes.messageId]: only.id } : {};
}

/** Producer attributes known once a publish is stored: id, partition and offset of a single event. */
export function publishedAttributes(
  results: readonly { readonly id: string; readonly partition: number; readonly offset: number }[],
): Attributes {
  const [only] = results;
  if (results.length !== 1 || !only) return {};
  return {
    [MessagingAttributes.messageId]: only.id,
    [MessagingAttributes.partition]: String(only.partition),
    [SpoolAttributes.offset]: only.offset,
  };
}

/**
 * The headers a message is stored with: `headers` plus the trace context in `traceHeaders`,
 * unless the producer set a `traceparent` of its own (theirs wins, whole: a foreign `tracestate`
 * or `baggage` must not be mixed with it). Returns `headers` itself when there is nothing to add.
 */
export function withTraceHeaders(headers: Carrier, traceHeaders: Carrier | undefined): Carrier {
  if (traceHeaders === undefined || headers.traceparent !== undefined) return headers;
  return { ...traceHeaders, ...headers };
}

/**
 * The W3C trace context among message headers, for answers that hand a message's work to a
 * remote worker (a job claim): `traceparent` and `tracestate`, where present.
 */
export function traceContextHeaders(headers: Readonly<Carrier>): {
  traceparent?: string;
  tracestate?: string;
} {
  const { traceparent, tracestate } = headers;
  if (traceparent === undefined) return {};
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

/**
 * The trace context a follow-up message should carry (a job's retry ticket): the W3C context in
 * `headers` when they have one, else the active span's context, else none.
 */
export function traceHeadersToContinue(headers?: Readonly<Carrier>): Carrier | undefined {
  if (headers?.traceparent !== undefined) return traceContextHeaders(headers);
  if (!tracingEnabled()) return undefined;
  const active = context.active();
  if (trace.getSpan(active) === undefined) return undefined;
  const carrier: Carrier = {};
  propagation.inject(active, carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/**
 * `work` bound to the active context, while an SDK is registered: for callbacks that a scheduler
 * (the store's transaction queue) may start from another caller's flow. `work` itself otherwise.
 */
export function bindActiveContext<A extends unknown[], R>(work: (...args: A) => R): (...args: A) => R {
  return tracingEnabled() ? context.bind(context.active(), work) : work;
}

/** What a consumer span describes. */
export interface ConsumerTrace {
  readonly destination: string;
  /** The headers of the message being processed: its creation context. */
  readonly headers: Readonly<Carrier>;
  readonly attributes?: Attributes;
}

/**
 * Runs `work` (a handler) under a CONSUMER `process {destination}` span whose parent and link
 * are the creation context in `headers`; work without one starts under the active context.
 * A thrown error marks the span failed (`error.type`, status ERROR) and is rethrown; a
 * `RetryAfterError` is flow control (rate limits), recorded as an event, not a failure.
 */
export async function traceProcess<R>(consumer: ConsumerTrace, work: () => R | Promise<R>): Promise<R> {
  const creation = extractContext(consumer.headers);
  const creationSpan = trace.getSpanContext(creation);
  const links: Link[] = creationSpan && isSpanContextValid(creationSpan) ? [{ context: creationSpan }] : [];
  const parent = links.length > 0 ? creation : context.active();
  const span = tracer().startSpan(
    `process ${consumer.destination}`,
    {
      kind: SpanKind.CONSUMER,
      links,
      attributes: {
        [MessagingAttributes.system]: messagingSystem,
        [MessagingAttributes.operationName]: 'process',
        [MessagingAttributes.operationType]: 'process',
        [MessagingAttributes.destination]: consumer.destination,
        ...consumer.attributes,
      },
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), work);
  } catch (error) {
    if (error instanceof RetryAfterError) {
      span.addEvent('retry-after', { 'messaging.spool.retry_after_ms': error.retryAfterMs });
    } else {
      markFailed(span, error);
    }
    throw error;
  } finally {
    span.end();
  }
}

/**
 * The context carried in message headers (or HTTP headers), on an empty context. Exported as
 * `messageTraceContext`: for messages received over HTTP, use it as the parent (and link) of
 * your own `process` span, e.g. `trace.getSpanContext(messageTraceContext(message.headers))`.
 */
export function extractContext(headers: Readonly<Record<string, string | string[] | undefined>>): Context {
  return propagation.extract(ROOT_CONTEXT, headers);
}

/**
 * Records a failure on `span` (the active span when omitted), e.g. a job whose handler threw
 * while the surrounding process span itself ends normally.
 */
export function markFailed(span: Span | undefined, error: unknown): void {
  if (!span?.isRecording()) return;
  span.setAttribute(MessagingAttributes.errorType, errorType(error));
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/** The span of the active context, if one is recording. */
export function activeSpan(): Span | undefined {
  const span = trace.getSpan(context.active());
  return span?.isRecording() ? span : undefined;
}

const traceparentPattern = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}/;

/**
 * The trace id of a W3C `traceparent` value, or undefined for a missing or invalid one. Parsed
 * directly (not through the registered propagator) so that logs carry the trace id even when no
 * SDK is installed in this process.
 */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (traceparent === undefined) return undefined;
  const match = traceparentPattern.exec(traceparent.trim());
  const traceId = match?.[1];
  return traceId === undefined || /^0+$/.test(traceId) ? undefined : traceId;
}

/** The active span's context when it is valid. */
export function activeSpanContext(): SpanContext | undefined {
  const spanContext = trace.getSpanContext(context.active());
  return spanContext && isSpanContextValid(spanContext) ? spanContext : undefined;
}

/**
 * `error.type` of the semantic conventions: the error's class (its `name` when it set one), or
 * `_OTHER` for thrown non-errors.
 */
export function errorType(error: unknown): string {
  if (!(error instanceof Error)) return '_OTHER';
  if (error.name && error.name !== 'Error') return error.name;
  return error.constructor.name || 'Error';
}
