/**
 * The conformance suite's harness: how a test gets a fresh store, how it is skipped, and the small
 * builders and assertions the test files share.
 *
 * Life of one test: a new {@link TestClock}, a new store from the backend's factory, the test body,
 * then `close()` (unless the test closed the store itself). A test is skipped in one of two ways,
 * both visible in the runner's output with their reason: the backend lists the test's name in
 * `ConformanceOptions.skip`, or the test needs a capability the store reports it lacks (or a
 * `ConformanceOptions` hook the backend did not give).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { TestClock } from '../../core/clock.js';
import type { ErrorCode } from '../../core/errors.js';
import type { AttemptError, Payload } from '../../core/message.js';
import {
  type QueueOptions,
  type TopicOptions,
  resolveQueueConfig,
  resolveTopicConfig,
} from '../../core/options.js';
import type {
  AppendEvent,
  ClaimedMessage,
  EnqueueMessage,
  Page,
  PageRequest,
  Store,
  StoreCapabilities,
  StoreFactory,
} from '../../store/port.js';

/** What a test body gets: its own store and the clock that store runs on. */
export interface TestEnv {
  readonly store: Store;
  readonly clock: TestClock;
  /** Closes the store inside the test; the harness then does not close it again. */
  readonly closeStore: () => Promise<void>;
  /** A message with a fresh UUIDv7 id, deliverable now, unkeyed, priority 0; override any field. */
  readonly msg: (overrides?: Partial<EnqueueMessage>) => EnqueueMessage;
  /** An event for `partition` with a fresh id; override any field. */
  readonly event: (partition: number, overrides?: Partial<AppendEvent>) => AppendEvent;
  /** Saves a queue with the given options (defaults otherwise) and resolves with its name. */
  readonly queue: (name?: string, options?: QueueOptions) => Promise<string>;
  /** Saves a topic with the given options (defaults otherwise) and resolves with its name. */
  readonly topic: (name?: string, options?: TopicOptions) => Promise<string>;
  /** Claims up to `max` messages with a lease of `visibilityTimeoutMs` (default 30 s). */
  readonly claim: (queue: string, max?: number, visibilityTimeoutMs?: number) => Promise<ClaimedMessage[]>;
  /** Claims and asserts that exactly one message came back. */
  readonly claimOne: (queue: string, visibilityTimeoutMs?: number) => Promise<ClaimedMessage>;
}

export interface TestRequirements {
  /** The test only applies to stores that report this capability. */
  readonly capability?: keyof StoreCapabilities;
  /**
   * Set when the backend did not supply something the test needs (a `ConformanceOptions` hook):
   * a store that has the capability skips the test with this reason.
   */
  readonly unavailable?: string;
}

/** Registers tests of one backend; every test name is unique so `skip` can name it. */
export class Suite {
  readonly #factory: StoreFactory;
  readonly #skip: Readonly<Record<string, string>>;
  readonly #names = new Set<string>();

  constructor(factory: StoreFactory, skip: Readonly<Record<string, string>>) {
    this.#factory = factory;
    this.#skip = skip;
  }

  /** Names listed in `skip` that match no registered test (likely a typo or a renamed test). */
  get unknownSkips(): string[] {
    return Object.keys(this.#skip).filter((name) => !this.#names.has(name));
  }

  test(name: string, body: (env: TestEnv) => Promise<void>, requirements: TestRequirements = {}): void {
    if (this.#names.has(name)) throw new Error(`conformance test name used twice: ${name}`);
    this.#names.add(name);
    const reason = Object.hasOwn(this.#skip, name) ? this.#skip[name] : undefined;
    if (reason !== undefined) {
      void it(name, { skip: reason || 'skipped by the backend' }, () => {});
      return;
    }
    void it(name, async (t) => {
      const clock = new TestClock();
      const store = await this.#factory({ clock });
      let closed = false;
      const env = createEnv(store, clock, async () => {
        closed = true;
        await store.close();
      });
      const capability = requirements.capability;
      if (capability && !store.capabilities[capability]) {
        t.skip(`store.capabilities.${capability} is false`);
        await store.close();
        return;
      }
      if (requirements.unavailable !== undefined) {
        t.skip(requirements.unavailable);
        await store.close();
        return;
      }
      // The first failure wins: a failing close must not hide the failure of the test body.
      let failure: { error: unknown } | undefined;
      try {
        await body(env);
      } catch (error) {
        failure = { error };
      }
      if (!closed) {
        try {
          await store.close();
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure) throw failure.error;
    });
  }
}

function createEnv(store: Store, clock: TestClock, closeStore: () => Promise<void>): TestEnv {
  let counter = 0;
  const env: TestEnv = {
    store,
    clock,
    closeStore,
    msg: (overrides = {}) => ({
      id: uuidv7(),
      payload: JSON.stringify({ n: ++counter }),
      headers: {},
      key: null,
      priority: 0,
      availableAt: clock.now(),
      dedupId: null,
      ...overrides,
    }),
    event: (partition, overrides = {}) => ({
      id: uuidv7(),
      partition,
      payload: JSON.stringify({ n: ++counter }),
      headers: {},
      key: null,
      ...overrides,
    }),
    queue: async (name = 'jobs', options = {}) => {
      await store.saveQueue(resolveQueueConfig(name, options));
      return name;
    },
    topic: async (name = 'events', options = {}) => {
      await store.saveTopic(resolveTopicConfig(name, options));
      return name;
    },
    claim: (queue, max = 10, visibilityTimeoutMs = 30_000) =>
      store.claim(queue, { max, visibilityTimeoutMs }),
    claimOne: async (queue, visibilityTimeoutMs = 30_000) => {
      const claimed = await store.claim(queue, { max: 1, visibilityTimeoutMs });
      assert.equal(claimed.length, 1, 'expected exactly one message to be claimable');
      return claimed[0]!;
    },
  };
  return env;
}

// ---------------------------------------------------------------------------------------------
// Assertions

/** Asserts that `call` rejects (not throws synchronously) with a Spool error of `code`. */
export async function rejectsWithCode(
  call: () => Promise<unknown>,
  code: ErrorCode,
  what?: string,
): Promise<void> {
  await assert.rejects(
    call,
    (error: unknown) => {
      assert.equal((error as { code?: unknown }).code, code, what);
      return true;
    },
    what,
  );
}

/** Asserts that a stored payload is the given bytes (any Uint8Array, Buffer included). */
export function assertBytes(actual: Payload, expected: Uint8Array): void {
  assert.ok(actual instanceof Uint8Array, `expected a byte payload, got ${typeof actual}`);
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), 'byte payload changed');
}

/** An error history reduced to the fields the port defines, for deep comparison. */
export function history(errors: readonly AttemptError[]): AttemptError[] {
  return errors.map(({ attempt, at, name, message }) => ({ attempt, at, name, message }));
}

export function ids(items: readonly { id: string }[]): string[] {
  return items.map((item) => item.id);
}

export function sortedNumbers(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/**
 * Follows `next` cursors from the first page to the last, checking each page's size, and returns
 * every item in order. Fails rather than loop if the cursors never end.
 */
export async function collectPages<T>(
  fetch: (page: PageRequest) => Promise<Page<T>>,
  limit: number,
  expectedCount: number,
): Promise<T[]> {
  const items: T[] = [];
  let after: string | null = null;
  const maxPages = Math.ceil(expectedCount / limit) + 1;
  for (let pages = 1; ; pages++) {
    assert.ok(pages <= maxPages, `paging did not end after ${maxPages} pages`);
    const page: Page<T> = await fetch({ limit, after });
    assert.ok(page.items.length <= limit, `page of ${page.items.length} items exceeds limit ${limit}`);
    if (page.items.length < limit) assert.equal(page.next, null, 'a short page must be the last');
    items.push(...page.items);
    if (page.next === null) return items;
    after = page.next;
  }
}
