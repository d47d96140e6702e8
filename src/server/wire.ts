/**
 * How engine values travel over HTTP. Bodies are JSON: a JSON message body is carried as is in
 * `body`, and a bytes body (`Uint8Array`) as base64 in `bodyBase64` — in both directions, so a
 * producer that sends bytes gets bytes back. Times are ISO 8601 strings.
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { AttemptError, JsonValue, MessageBody } from '../core/message.js';
import type { DeadLetterView, QueuedMessageView } from '../engine/queue.js';
import { encodedBody, type Message } from '../engine/received-message.js';
import type { QueueStats } from '../store/port.js';
import type { PublishResult, TopicEvent, TopicReadResult } from '../engine/topic.js';

/** A body as a request carries it: exactly one of the two fields. */
export interface WireBodyInput {
  readonly body?: unknown;
  readonly bodyBase64?: string;
}

/** A body as a response carries it. */
export type WireBody = { body: JsonValue } | { bodyBase64: string };

/** The engine body of an incoming message; `field` names it in the error (e.g. `messages.2`). */
export function fromWireBody(input: WireBodyInput, field = ''): MessageBody {
  const hasJson = 'body' in input;
  if (hasJson === (input.bodyBase64 !== undefined)) {
    const prefix = field === '' ? '' : `${field}.`;
    throw new InvalidArgumentError(
      'give the message body as exactly one of body (any JSON value) or bodyBase64 (bytes, base64-encoded)',
      {
        errors: [
          { in: 'body', field: `${prefix}body`, message: 'exactly one of body or bodyBase64 is required' },
        ],
      },
    );
  }
  return hasJson ? (input.body as JsonValue) : new Uint8Array(Buffer.from(input.bodyBase64!, 'base64'));
}

/**
 * An incoming message or event with its body decoded, ready for the engine: the other fields are
 * the engine's send or publish options and pass through.
 */
export function fromWireMessage<T extends WireBodyInput>(
  input: T,
  field = '',
): Omit<T, 'body' | 'bodyBase64'> & { body: MessageBody } {
  const { body: _body, bodyBase64: _bodyBase64, ...options } = input;
  return { ...options, body: fromWireBody(input, field) };
}

export function toWireBody(body: MessageBody): WireBody {
  return body instanceof Uint8Array ? { bodyBase64: Buffer.from(body).toString('base64') } : { body };
}

function wireErrors(errors: readonly AttemptError[]) {
  return errors.map((error) => ({ ...error, at: new Date(error.at).toISOString() }));
}

export function wireReceivedMessage(message: Message) {
  return { id: message.id, receipt: message.receipt, ...toWireBody(message.body), ...leaseFields(message) };
}

/** What a delivered message carries besides its id, receipt and body. */
function leaseFields(message: Message) {
  return {
    headers: message.headers,
    key: message.key,
    priority: message.priority,
    attempt: message.attempt,
    enqueuedAt: message.enqueuedAt.toISOString(),
    leaseExpiresAt: message.leaseExpiresAt.toISOString(),
    errors: wireErrors(message.errors),
  };
}

/**
 * The consume stream's `messages` frame as JSON text: the same JSON as serialising
 * `{ type: 'messages', messages: messages.map(wireReceivedMessage) }`, but a JSON body goes out
 * as the text the store kept, spliced in, instead of being parsed and serialised again.
 */
export function wireMessagesFrame(messages: readonly Message[]): string {
  const items = messages.map((message) => {
    const payload = encodedBody(message);
    if (typeof payload !== 'string') return JSON.stringify(wireReceivedMessage(message));
    const fields = JSON.stringify({ id: message.id, receipt: message.receipt, ...leaseFields(message) });
    // The stored text is what JSON.stringify made of the body at send: valid JSON as it is.
    return `{"body":${payload},${fields.slice(1)}`;
  });
  return `{"type":"messages","messages":[${items.join(',')}]}`;
}

/** A queue's stats as JSON: the pause as a flag and an ISO 8601 time. */
export function wireQueueStats(stats: QueueStats) {
  return {
    ready: stats.ready,
    delayed: stats.delayed,
    inFlight: stats.inFlight,
    deadLettered: stats.deadLettered,
    oldestAgeMs: stats.oldestAgeMs,
    paused: stats.pausedAt !== null,
    pausedAt: stats.pausedAt === null ? null : new Date(stats.pausedAt).toISOString(),
  };
}

export function wireQueuedMessage(message: QueuedMessageView) {
  return {
    id: message.id,
    ...toWireBody(message.body),
    headers: message.headers,
    key: message.key,
    priority: message.priority,
    state: message.state,
    attempts: message.attempts,
    enqueuedAt: message.enqueuedAt.toISOString(),
    availableAt: message.availableAt.toISOString(),
    expiresAt: message.expiresAt === null ? null : message.expiresAt.toISOString(),
    errors: wireErrors(message.errors),
  };
}

export function wireDeadLetter(letter: DeadLetterView) {
  return {
    id: letter.id,
    ...toWireBody(letter.body),
    headers: letter.headers,
    key: letter.key,
    priority: letter.priority,
    attempts: letter.attempts,
    enqueuedAt: letter.enqueuedAt.toISOString(),
    deadLetteredAt: letter.deadLetteredAt.toISOString(),
    errors: wireErrors(letter.errors),
  };
}

export function wireEvent(event: TopicEvent) {
  return {
    id: event.id,
    topic: event.topic,
    partition: event.partition,
    offset: event.offset,
    timestamp: event.timestamp.toISOString(),
    ...toWireBody(event.body),
    headers: event.headers,
    key: event.key,
  };
}

/**
 * A partition read from offset `from`: its events, and `nextOffset`, where the next read goes —
 * after the last event, or at the first kept offset when the read started below it.
 */
export function wireReadResult(result: TopicReadResult, from: number) {
  const last = result.events.at(-1);
  return {
    partition: result.partition,
    startOffset: result.startOffset,
    endOffset: result.endOffset,
    nextOffset: last ? last.offset + 1 : Math.max(from, result.startOffset),
    events: result.events.map(wireEvent),
  };
}

export function wirePublishResult(result: PublishResult) {
  return { ...result, timestamp: result.timestamp.toISOString() };
}
