/**
 * pg-boss 10 on PostgreSQL (11 and later require Node 22). A fresh pg-boss schema per
 * measurement. pg-boss workers poll: work() fetches a batch, runs the handler, completes the
 * batch without waiting, and sleeps until the next polling interval (0.5 s at least) unless the
 * fetch took longer — so throughput comes from large batches, as pg-boss's docs suggest.
 */
import PgBoss from 'pg-boss';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OrderEvent } from '../payload.js';
import type {
  BenchFanout,
  BenchSystem,
  DeliveryHandler,
  RunningConsumer,
  SystemContext,
  SystemInfo,
  BenchQueue,
} from '../types.js';
import { dropSchema, postgresInfo } from '../systems/postgres-info.js';
import { packageVersion } from '../systems/versions.js';

/** Jobs fetched per poll; the pg-boss anchor figure used batches of 5,000. */
const batchSize = 5000;
const pollingIntervalSeconds = 0.5;

export class PgBossSystem implements BenchSystem {
  constructor(private readonly context: SystemContext) {}

  async setup(): Promise<SystemInfo> {
    const server = await postgresInfo(this.context.endpoints.postgresUrl);
    return {
      id: 'pg-boss',
      label: 'pg-boss',
      version: `pg-boss ${packageVersion('pg-boss')} (newest that runs on Node 20; 11+ need Node 22), PostgreSQL ${server.version}`,
      durability: `PostgreSQL ${server.durability}`,
      settings:
        `send() per message; batch = insert(); work() batchSize ${batchSize}, pollingIntervalSeconds ${pollingIntervalSeconds} (the minimum); ` +
        'pool max 10; completion measured until no job is left active',
      spool: false,
      network: true,
    };
  }

  async #start(): Promise<{ boss: PgBoss; close: () => Promise<void> }> {
    const schema = this.context.uniqueName('bench_pgboss');
    const connectionString = this.context.endpoints.postgresUrl;
    const boss = new PgBoss({ connectionString, schema, max: 10 });
    boss.on('error', (error: Error) => this.context.log(`pg-boss error: ${error.message}`));
    await boss.start();
    return {
      boss,
      close: async () => {
        await boss.stop({ graceful: false, wait: true, timeout: 5000 });
        await dropSchema(connectionString, schema);
      },
    };
  }

  async openQueue(): Promise<BenchQueue> {
    const { boss, close } = await this.#start();
    const name = 'bench';
    await boss.createQueue(name);
    return {
      send: async (body) => void (await boss.send(name, body)),
      sendBatch: (bodies) => boss.insert(bodies.map((data) => ({ name, data }))),
      consume: (handler) => work(boss, name, handler),
      close,
    };
  }

  async openFanout(groups: readonly string[]): Promise<BenchFanout> {
    const { boss, close } = await this.#start();
    const event = 'order.created';
    for (const group of groups) {
      await boss.createQueue(group);
      await boss.subscribe(event, group);
    }
    return {
      publish: (body) => boss.publish(event, body),
      // publish() has no batch form: a bulk producer inserts the batch into each subscribed queue.
      publishBatch: async (bodies) => {
        for (const group of groups) await boss.insert(bodies.map((data) => ({ name: group, data })));
      },
      emulation: 'batches: insert() into each group queue (publish() has no batch form)',
      subscribe: (group, handler) => work(boss, group, handler),
      close,
    };
  }

  teardown(): Promise<void> {
    return Promise.resolve();
  }
}

async function work(boss: PgBoss, queue: string, handler: DeliveryHandler): Promise<RunningConsumer> {
  await boss.work<OrderEvent>(queue, { batchSize, pollingIntervalSeconds }, (jobs) => {
    for (const job of jobs) handler(job.data);
    return Promise.resolve();
  });
  return {
    stop: async () => {
      await boss.offWork(queue);
      // pg-boss completes a batch without awaiting it: the last acks are in when nothing is active.
      while ((await boss.getQueueSize(queue, { before: 'completed' })) > 0) await sleep(10);
    },
  };
}
