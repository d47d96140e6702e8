/**
 * Spool in process: the engine on the embedded SQLite store (durability `full` or `process`) or
 * on PostgreSQL. Each queue/fan-out gets a fresh store (a new SQLite file, or a new PostgreSQL
 * schema), so repetitions never see each other's data.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSpool, type Spool } from '#spool/engine/spool';
import type { Store } from '#spool/store/port';
import { openPostgresStore } from '#spool/stores/postgres/index';
import { openSqliteStore } from '#spool/stores/sqlite/index';
import type { OrderEvent } from '../payload.js';
import { dropSchema, postgresInfo } from './postgres-info.js';
import { packageVersion } from './versions.js';
import type { BenchFanout, BenchQueue, BenchSystem, SystemContext, SystemInfo } from '../types.js';

/** Spool's version as the checkout knows it: package version and commit (dirty when edited). */
export function spoolVersion(): string {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim() !== '';
    // The bench runs dist/, built from src/ by `npm run bench` when src/ is newer.
    return `spool ${version} (${commit}${dirty ? ', src/ with uncommitted changes' : ''}, compiled dist/)`;
  } catch {
    return `spool ${version}`;
  }
}

/** Partitions of the flash-sale topic: as in the engine demo (examples/flash-sale.ts). */
const flashPartitions = 4;

abstract class SpoolEngineSystem implements BenchSystem {
  constructor(protected readonly context: SystemContext) {}

  abstract setup(): Promise<SystemInfo>;
  /** A fresh store and a function that deletes it after close. */
  protected abstract openStore(): Promise<{ store: Store; dispose: () => Promise<void> }>;

  async openQueue(): Promise<BenchQueue> {
    const { spool, close } = await this.#openSpool();
    const queue = await spool.queue<OrderEvent>('bench');
    return {
      send: async (body) => void (await queue.send(body)),
      sendBatch: async (bodies) => void (await queue.sendBatch(bodies.map((body) => ({ body })))),
      consume: (handler, options) => {
        const consumer = queue.process((message) => handler(message.body), {
          concurrency: options.concurrency,
        });
        return Promise.resolve({ stop: () => consumer.close() });
      },
      close,
    };
  }

  async openFanout(): Promise<BenchFanout> {
    const { spool, close } = await this.#openSpool();
    const topic = await spool.topic<OrderEvent>('orders', { partitions: flashPartitions });
    return {
      publish: async (body) => void (await topic.publish(body, { key: body.customerId })),
      publishBatch: async (bodies) =>
        void (await topic.publishBatch(bodies.map((body) => ({ body, key: body.customerId })))),
      subscribe: (group, handler) => {
        const subscription = topic.subscribe(group, (event) => handler(event.body), { batchSize: 1000 });
        return Promise.resolve({ stop: () => subscription.close() });
      },
      close,
    };
  }

  teardown(): Promise<void> {
    return Promise.resolve();
  }

  async #openSpool(): Promise<{ spool: Spool; close: () => Promise<void> }> {
    const { store, dispose } = await this.openStore();
    const spool = createSpool({ store });
    return {
      spool,
      close: async () => {
        await spool.close();
        await dispose();
      },
    };
  }
}

/** Spool embedded: one SQLite file per measurement, WAL, `synchronous=FULL` or `NORMAL`. */
export class SpoolSqliteSystem extends SpoolEngineSystem {
  constructor(
    context: SystemContext,
    private readonly durability: 'full' | 'process',
  ) {
    super(context);
  }

  setup(): Promise<SystemInfo> {
    const db = new Database(':memory:');
    const sqlite = (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
    db.close();
    const full = this.durability === 'full';
    return Promise.resolve({
      id: `spool-${this.durability}`,
      label: `Spool embedded (${this.durability})`,
      version: `${spoolVersion()}, SQLite ${sqlite}`,
      durability: full
        ? "SQLite WAL, synchronous=FULL: every commit fsynced before a send resolves (durability: 'full', the default)"
        : "SQLite WAL, synchronous=NORMAL: survives a process crash, not power loss (durability: 'process')",
      settings: `in process; process() concurrency 50; topic with ${flashPartitions} partitions, subscribe batchSize 1000`,
      spool: true,
      network: false,
    });
  }

  protected async openStore() {
    const dir = mkdtempSync(join(this.context.workDir, 'sqlite-'));
    const store = await openSqliteStore({ path: join(dir, 'spool.db'), durability: this.durability });
    return { store, dispose: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })) };
  }
}

/** Spool on PostgreSQL: a new schema per measurement, dropped afterwards. */
export class SpoolPostgresSystem extends SpoolEngineSystem {
  async setup(): Promise<SystemInfo> {
    const server = await postgresInfo(this.context.endpoints.postgresUrl);
    return {
      id: 'spool-postgres',
      label: 'Spool on PostgreSQL',
      version: `${spoolVersion()}, PostgreSQL ${server.version}, pg ${packageVersion('pg')}`,
      durability: `PostgreSQL ${server.durability}`,
      settings: `in process; pool of 10 connections; process() concurrency 50; topic with ${flashPartitions} partitions`,
      spool: true,
      network: true,
    };
  }

  protected async openStore() {
    const schema = this.context.uniqueName('bench_spool');
    const connectionString = this.context.endpoints.postgresUrl;
    const store = await openPostgresStore({ connectionString, schema });
    return { store, dispose: () => dropSchema(connectionString, schema) };
  }
}
