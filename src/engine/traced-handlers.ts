/**
 * Consumer spans around the handlers the engine runs: queue messages (`queue.process`) and
 * topic events (`topic.subscribe`). The wrappers decide per call, so an SDK registered after
 * a consumer started is honoured, and with none the handler is called directly.
 */
import type { MessageHandler } from './queue-consumer.js';
import type { EventHandler } from './subscription.js';
import { MessagingAttributes, SpoolAttributes, traceProcess, tracingEnabled } from '../telemetry/tracing.js';

/** `handler` under a `process {queue}` CONSUMER span per delivery. */
export function traceMessageHandler<T>(handler: MessageHandler<T>): MessageHandler<T> {
  return (message, handlerContext) => {
    if (!tracingEnabled()) return handler(message, handlerContext);
    return traceProcess(
      {
        destination: message.queue,
        headers: message.headers,
        attributes: {
          [MessagingAttributes.messageId]: message.id,
          [SpoolAttributes.attempt]: message.attempt,
        },
      },
      () => handler(message, handlerContext),
    );
  };
}

/** `handler` under a `process {topic}` CONSUMER span per attempt, with the group and partition. */
export function traceEventHandler<T>(group: string, handler: EventHandler<T>): EventHandler<T> {
  return (event, eventContext) => {
    if (!tracingEnabled()) return handler(event, eventContext);
    return traceProcess(
      {
        destination: event.topic,
        headers: event.headers,
        attributes: {
          [MessagingAttributes.messageId]: event.id,
          [MessagingAttributes.consumerGroup]: group,
          [MessagingAttributes.partition]: String(event.partition),
          [SpoolAttributes.offset]: event.offset,
          [SpoolAttributes.attempt]: eventContext.attempt,
        },
      },
      () => handler(event, eventContext),
    );
  };
}
