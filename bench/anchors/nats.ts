/**
 * NATS JetStream with the official client (@nats-io/transport-node + @nats-io/jetstream): file
 * storage; queues are work-queue streams read by one durable pull consumer with explicit acks;
 * the flash sale is a limits stream with three durable consumers, one per group.
 */
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decode, encode } from '../payload.js';
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

export class NatsSystem implements BenchSystem {
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;

  constructor(private readonly context: SystemContext) {}

  async setup(): Promise<SystemInfo> {
    this.#nc = await connect({ servers: this.context.endpoints.natsServer });
    this.#jsm = await jetstreamManager(this.#nc);
    this.#js = jetstream(this.#nc);
    return {
      id: 'nats',
      label: 'NATS JetStream',
      version: `nats-server ${this.#nc.info?.version ?? '?'}, @nats-io/jetstream ${packageVersion('@nats-io/jetstream')}`,
      durability:
        'JetStream file storage, 1 replica, server sync default (fsync every 2 min: an acknowledged publish can be lost on power loss)',
      settings:
        'publish awaits the PubAck; "batch" = the whole batch published pipelined, then all PubAcks awaited (JetStream 2.9 has no batch API); ' +
        'work-queue stream, durable pull consumer, consume() max_messages = concurrency (50), explicit ack per message',
      spool: false,
      network: true,
    };
  }

  async openQueue(): Promise<BenchQueue> {
    const js = this.#js!;
    const jsm = this.#jsm!;
    const stream = this.context.uniqueName('BENCH');
    const subject = `${stream}.jobs`;
    await jsm.streams.add({
      name: stream,
      subjects: [subject],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
    await jsm.consumers.add(stream, { durable_name: 'workers', ack_policy: AckPolicy.Explicit });
    return {
      send: async (body) => void (await js.publish(subject, encode(body))),
      sendBatch: async (bodies) =>
        void (await Promise.all(bodies.map((body) => js.publish(subject, encode(body))))),
      consume: (handler, options) => this.#consume(stream, 'workers', handler, options.concurrency),
      close: async () => void (await jsm.streams.delete(stream)),
    };
  }

  async openFanout(groups: readonly string[]): Promise<BenchFanout> {
    const js = this.#js!;
    const jsm = this.#jsm!;
    const stream = this.context.uniqueName('ORDERS');
    const subject = `${stream}.created`;
    await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File });
    for (const group of groups) {
      await jsm.consumers.add(stream, {
        durable_name: group,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
      });
    }
    return {
      publish: async (body) => void (await js.publish(subject, encode(body))),
      publishBatch: async (bodies) =>
        void (await Promise.all(bodies.map((body) => js.publish(subject, encode(body))))),
      subscribe: (group, handler) => this.#consume(stream, group, handler, 1000),
      close: async () => void (await jsm.streams.delete(stream)),
    };
  }

  async #consume(
    stream: string,
    durable: string,
    handler: DeliveryHandler,
    maxMessages: number,
  ): Promise<RunningConsumer> {
    const consumer = await this.#js!.consumers.get(stream, durable);
    const messages = await consumer.consume({
      max_messages: maxMessages,
      callback: (message) => {
        handler(decode(message.data));
        message.ack();
      },
    });
    return {
      stop: async () => {
        await messages.close();
        // Acks are fire-and-forget publishes: flushing makes sure the server has them all.
        await this.#nc!.flush();
      },
    };
  }

  async teardown(): Promise<void> {
    await this.#nc?.drain();
  }
}
