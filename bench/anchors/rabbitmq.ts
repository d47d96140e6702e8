/**
 * RabbitMQ through amqplib, set up for no loss: durable queues (classic or quorum), persistent
 * messages, publisher confirms awaited per message, manual acks with a prefetch window. The
 * flash sale is a durable fanout exchange with one queue per group.
 */
import { connect, type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { decode, encode, type OrderEvent } from '../payload.js';
import type {
  BenchFanout,
  BenchQueue,
  BenchSystem,
  DeliveryHandler,
  RunningConsumer,
  SystemContext,
  SystemInfo,
} from '../types.js';
import { packageVersion } from '../systems/versions.js';

export type RabbitQueueType = 'classic' | 'quorum';

const publishOptions = { persistent: true, contentType: 'application/json' } as const;

export class RabbitMqSystem implements BenchSystem {
  #model: ChannelModel | undefined;
  #publisher: ConfirmChannel | undefined;

  constructor(
    private readonly context: SystemContext,
    private readonly queueType: RabbitQueueType,
  ) {}

  async setup(): Promise<SystemInfo> {
    this.#model = await connect(this.context.endpoints.amqpUrl);
    this.#publisher = await this.#model.createConfirmChannel();
    const server = this.#model.connection.serverProperties as { version?: string };
    return {
      id: `rabbitmq-${this.queueType}`,
      label: `RabbitMQ ${this.queueType} queue`,
      version: `RabbitMQ ${server.version ?? '?'}, amqplib ${packageVersion('amqplib')}`,
      durability:
        this.queueType === 'quorum'
          ? 'quorum queue (Raft log fsynced before the confirm), persistent messages, publisher confirms'
          : 'classic durable queue, persistent messages, publisher confirms (sent once the message is written to disk)',
      settings:
        'one confirm channel for publishing, each send awaits its own confirm; batch = publish all, then await all their confirms; ' +
        'consumer channel with prefetch = concurrency (50; 1000 for flash-sale groups), manual ack per message',
      spool: false,
      network: true,
    };
  }

  #queueArguments(): Record<string, unknown> {
    return this.queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {};
  }

  /** Publishes and resolves when the broker confirms. */
  #publish(exchange: string, routingKey: string, body: OrderEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#publisher!.publish(exchange, routingKey, encode(body), publishOptions, (error) =>
        error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
      );
    });
  }

  async openQueue(): Promise<BenchQueue> {
    const name = this.context.uniqueName('bench');
    await this.#publisher!.assertQueue(name, { durable: true, arguments: this.#queueArguments() });
    return {
      send: (body) => this.#publish('', name, body),
      sendBatch: async (bodies) =>
        void (await Promise.all(bodies.map((body) => this.#publish('', name, body)))),
      consume: (handler, options) => this.#consume(name, handler, options.concurrency),
      close: async () => void (await this.#publisher!.deleteQueue(name)),
    };
  }

  async openFanout(groups: readonly string[]): Promise<BenchFanout> {
    const exchange = this.context.uniqueName('orders');
    await this.#publisher!.assertExchange(exchange, 'fanout', { durable: true });
    const queues = new Map<string, string>();
    for (const group of groups) {
      const queue = `${exchange}.${group}`;
      await this.#publisher!.assertQueue(queue, { durable: true, arguments: this.#queueArguments() });
      await this.#publisher!.bindQueue(queue, exchange, '');
      queues.set(group, queue);
    }
    return {
      publish: (body) => this.#publish(exchange, '', body),
      publishBatch: async (bodies) =>
        void (await Promise.all(bodies.map((body) => this.#publish(exchange, '', body)))),
      subscribe: (group, handler) => this.#consume(queues.get(group)!, handler, 1000),
      close: async () => {
        for (const queue of queues.values()) await this.#publisher!.deleteQueue(queue);
        await this.#publisher!.deleteExchange(exchange);
      },
    };
  }

  async #consume(queue: string, handler: DeliveryHandler, prefetch: number): Promise<RunningConsumer> {
    const channel: Channel = await this.#model!.createChannel();
    await channel.prefetch(prefetch);
    const { consumerTag } = await channel.consume(
      queue,
      (message) => {
        if (message === null) return;
        handler(decode(message.content));
        channel.ack(message);
      },
      { noAck: false },
    );
    return {
      stop: async () => {
        await channel.cancel(consumerTag);
        // Closing waits for the broker's close-ok, which comes after the acks sent before it.
        await channel.close();
      },
    };
  }

  async teardown(): Promise<void> {
    await this.#model?.close();
  }
}
