// Shared set-up of the SQLite store tests: a fresh database file in its own temporary directory
// per test, a TestClock, and builders for messages and events.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { TestClock } from '../../../src/core/clock.js';
import { type QueueOptions, resolveQueueConfig } from '../../../src/core/options.js';
import type { AppendEvent, EnqueueMessage } from '../../../src/store/port.js';
import {
  type SqliteStore,
  type SqliteStoreOptions,
  openSqliteStore,
} from '../../../src/stores/sqlite/index.js';

export interface StoreFixture {
  readonly store: SqliteStore;
  readonly clock: TestClock;
  /** Opens the same file again (after `store.close()`), on the same clock. */
  reopen(options?: Partial<SqliteStoreOptions>): Promise<SqliteStore>;
  /** Closes every store it opened and removes the directory. */
  dispose(): Promise<void>;
}

export function tempDirectory(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'spool-sqlite-'));
}

export async function openFixture(options: Partial<SqliteStoreOptions> = {}): Promise<StoreFixture> {
  const directory = tempDirectory();
  const file = path.join(directory, 'spool.db');
  const clock = new TestClock();
  const opened: SqliteStore[] = [];
  const open = async (overrides: Partial<SqliteStoreOptions>) => {
    const store = await openSqliteStore({ path: file, clock, ...options, ...overrides });
    opened.push(store);
    return store;
  };
  const store = await open({});
  return {
    store,
    clock,
    reopen: open,
    async dispose() {
      for (const each of opened) await each.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Saves a queue with defaults for every option not given. */
export async function saveQueue(
  store: SqliteStore,
  name: string,
  options: QueueOptions = {},
): Promise<string> {
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
