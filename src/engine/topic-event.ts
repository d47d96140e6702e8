/**
 * What a publish answers and what a reader gets: the shapes topics, subscriptions and
 * transactions share, apart from the classes that use them (so none of those import each other
 * for a type).
 */
import { decodeBody, type Headers, type MessageBody } from '../core/message.js';
import type { LogEvent } from '../store/port.js';

export interface PublishResult {
  readonly id: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: Date;
}

/** An event read from a topic. */
export interface TopicEvent<T = MessageBody> {
  readonly id: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: Date;
  readonly body: T;
  readonly headers: Readonly<Headers>;
  readonly key: string | null;
}

export function toTopicEvent<T>(event: LogEvent): TopicEvent<T> {
  const { payload } = event;
  let body: T | undefined;
  let decoded = false;
  return {
    id: event.id,
    topic: event.topic,
    partition: event.partition,
    offset: event.offset,
    timestamp: new Date(event.timestamp),
    // Parsed on first use, then kept: a fan-out to several groups, or a handler that routes on
    // headers or key, pays for JSON.parse only where the body is read. An own enumerable getter,
    // so spreading or JSON.stringify still sees `body`.
    get body(): T {
      if (!decoded) {
        body = decodeBody<T>(payload);
        decoded = true;
      }
      return body!;
    },
    headers: event.headers,
    key: event.key,
  };
}
