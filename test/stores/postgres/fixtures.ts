// Shared set-up of the PostgreSQL tests: the machine's PostgreSQL (SPOOL_TEST_POSTGRES_URL, by
// default the `test` database on 127.0.0.1 that scripts/ensure-services.sh starts), a fresh
// schema per store, and an admin pool that drops those schemas again.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import type { Clock } from '../../../src/core/clock.js';
import { type QueueOptions, resolveQueueConfig } from '../../../src/core/options.js';
import type { AppendEvent, EnqueueMessage, Store } from '../../../src/store/port.js';
import {
  type PostgresStore,
  type PostgresStoreOptions,
  openPostgresStore,
} from '../../../src/stores/postgres/index.js';

export const postgresUrl = process.env.SPOOL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name no other test uses. */
export function freshSchema(): string {
  return `spool_test_${randomBytes(6).toString('hex')}`;
}

/**
 * Schemas created by tests, dropped by {@link SchemaJanitor.dropAll} (call it after each test
 * or at the end of a file, once the stores on them are closed).
 */
export class SchemaJanitor {
  readonly admin = new pg.Pool({ connectionString: postgresUrl, max: 2 });
  readonly #schemas: string[] = [];

  /** A fresh schema name, dropped by the next `dropAll`. */
  schema(): string {
    const schema = freshSchema();
    this.#schemas.push(schema);
    return schema;
  }

  async dropAll(): Promise<void> {
    for (const schema of this.#schemas.splice(0)) {
      await this.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  }

  async end(): Promise<void> {
    await this.dropAll();
    await this.admin.end();
  }
}

/** Opens a store with its own pool on `schema`. */
export function openStore(
  schema: string,
  options: Omit<PostgresStoreOptions, 'schema' | 'connectionString' | 'pool'> & { clock?: Clock } = {},
): Promise<PostgresStore> {
  return openPostgresStore({ connectionString: postgresUrl, schema, maxConnections: 4, ...options });
}

/** Saves a queue with defaults for every option not given. */
export async function saveQueue(store: Store, name: string, options: QueueOptions = {}): Promise<string> {
  await store.saveQueue(resolveQueueConfig(name, options));
  return name;
}

/** A message deliverable now, unkeyed, priority 0, with a fresh UUIDv7 id. */
export function message(overrides: Partial<EnqueueMessage> = {}): EnqueueMessage {
  return {
    id: uuidv7(),
    payload: '{}',
    headers: {},
    key: null,
    priority: 0,
    availableAt: 0,
    dedupId: null,
    ...overrides,
  };
}

export function event(partition: number, overrides: Partial<AppendEvent> = {}): AppendEvent {
  return { id: uuidv7(), partition, payload: '{}', headers: {}, key: null, ...overrides };
}
