/**
 * graphile-worker 0.17 on PostgreSQL (0.18 requires Node 22). A fresh graphile-worker schema
 * per measurement. Workers are woken by LISTEN/NOTIFY when a job is added, and fetch through the
 * local queue (batches of jobs locked at once), the setting its docs give for high throughput.
 * There is no fan-out: the flash sale adds one job per group task for every event.
 */
import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from 'graphile-worker';
import type { OrderEvent } from '../payload.js';
import type {
  BenchFanout,
  BenchQueue,
  BenchSystem,
  DeliveryHandler,
  RunningConsumer,
  SystemContext,
  SystemInfo,
} from '../types.js';
import { dropSchema, postgresInfo } from '../systems/postgres-info.js';
import { packageVersion } from '../systems/versions.js';

const localQueueSize = 500;
/** graphile-worker logs every job at info level; the benchmark must not measure console output. */
const quietLogger = new Logger(() => () => undefined);

export class GraphileWorkerSystem implements BenchSystem {
  constructor(private readonly context: SystemContext) {}

  async setup(): Promise<SystemInfo> {
    const server = await postgresInfo(this.context.endpoints.postgresUrl);
    return {
      id: 'graphile-worker',
      label: 'graphile-worker',
      version: `graphile-worker ${packageVersion('graphile-worker')} (0.18 needs Node 22), PostgreSQL ${server.version}`,
      durability: `PostgreSQL ${server.durability}`,
      settings:
        `addJob() per message; batch = addJobs(); run() concurrency 50, localQueue size ${localQueueSize}, completeJobBatchDelay 0; ` +
        'LISTEN/NOTIFY wake-ups; fan-out emulated with one job per group',
      spool: false,
      network: true,
    };
  }

  async #open(): Promise<{ utils: WorkerUtils; schema: string; close: () => Promise<void> }> {
    const schema = this.context.uniqueName('bench_graphile');
    const connectionString = this.context.endpoints.postgresUrl;
    const utils = await makeWorkerUtils({ connectionString, schema, logger: quietLogger });
    await utils.migrate();
    return {
      utils,
      schema,
      close: async () => {
        await utils.release();
        await dropSchema(connectionString, schema);
      },
    };
  }

  #run(
    schema: string,
    task: string,
    handler: DeliveryHandler,
    concurrency: number,
  ): Promise<RunningConsumer> {
    return run({
      connectionString: this.context.endpoints.postgresUrl,
      schema,
      concurrency,
      noHandleSignals: true,
      logger: quietLogger,
      taskList: { [task]: (payload) => void handler(payload as OrderEvent) },
      preset: { worker: { localQueue: { size: localQueueSize }, completeJobBatchDelay: 0 } },
    }).then((runner: Runner) => ({ stop: () => runner.stop() }));
  }

  async openQueue(): Promise<BenchQueue> {
    const { utils, schema, close } = await this.#open();
    const task = 'bench';
    return {
      send: async (body) => void (await utils.addJob(task, body)),
      sendBatch: async (bodies) =>
        void (await utils.addJobs(bodies.map((payload) => ({ identifier: task, payload })))),
      consume: (handler, options) => this.#run(schema, task, handler, options.concurrency),
      close,
    };
  }

  async openFanout(groups: readonly string[]): Promise<BenchFanout> {
    const { utils, schema, close } = await this.#open();
    return {
      publish: async (body) =>
        void (await utils.addJobs(groups.map((identifier) => ({ identifier, payload: body })))),
      publishBatch: async (bodies) =>
        void (await utils.addJobs(
          bodies.flatMap((payload) => groups.map((identifier) => ({ identifier, payload }))),
        )),
      emulation: 'no fan-out: addJobs() with one job per group task for each event',
      subscribe: (group, handler) => this.#run(schema, group, handler, 50),
      close,
    };
  }

  teardown(): Promise<void> {
    return Promise.resolve();
  }
}
