/**
 * The jobs conformance suite's harness: how a test gets a fresh database, Spools and `Jobs` on
 * it, bounded waits, and clean-up.
 *
 * Life of one test: a fresh database from the backend's factory; the body opens one or more
 * Spools on it (each on a store of its own, as separate processes would) and `Jobs` on those;
 * then every `Jobs` is closed, then every Spool, then the database is dropped. Every wait in a
 * test is bounded and says what it waited for, so a test that exercises a hang fails with a
 * clear message instead of hanging; the clean-up is bounded too, and a clean-up that does not
 * finish fails the test (a store that cannot close is itself a finding).
 *
 * A test is skipped, visibly and with its reason, when the backend lists its name in
 * `skip`, when it needs a capability the store reports it lacks, or when it needs a database
 * that several stores share and the backend's is private to one store (SQLite `:memory:`).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Clock } from '../../core/clock.js';
import type { ErrorCode } from '../../core/errors.js';
import { createSpool, type Spool } from '../../engine/spool.js';
import type { Job } from '../../jobs/job.js';
import type { LoggedJobEvent } from '../../jobs/job-events.js';
import { Jobs, type JobsOptions } from '../../jobs/jobs.js';
import type { Store, StoreCapabilities } from '../../store/port.js';
import type { OpenExternalTransaction } from '../conformance/external-transactions.js';

/** How a test opens a store on its database. */
export interface JobsStoreOptions {
  /** The store's clock (a `TestClock` in the few tests that step time); the real clock when absent. */
  readonly clock?: Clock;
  /**
   * The most connections the store may hold at once, for backends with a pool (PostgreSQL's
   * `maxConnections`). Tests that run more at once than this use it to prove that nothing needs
   * one connection per concurrent job. Ignored by backends without a pool.
   */
  readonly maxConnections?: number;
}

/** One test's database: every store opened on it sees the same data when `shared` is true. */
export interface JobsTestDatabase {
  /**
   * Whether a second store opened on this database sees the writes of the first, as a second
   * process would (a SQLite file, a PostgreSQL schema). False for a database private to one
   * store (SQLite `:memory:`): tests of several processes then run their one-process form or
   * are skipped.
   */
  readonly shared: boolean;
  /** Opens a store on this database. Called once or more per test; the suite closes each store. */
  open(options: JobsStoreOptions): Promise<Store>;
  /** Removes the database; called once after the test, when its stores are closed. */
  drop(): Promise<void>;
}

/** Creates a fresh, empty database for one test. */
export type JobsDatabaseFactory = () => Promise<JobsTestDatabase>;

export interface JobsConformanceOptions {
  /**
   * Tests to skip, by name, each with its reason. A name that matches no test fails the suite,
   * so a renamed test cannot be skipped silently.
   */
  skip?: Record<string, string>;
  /**
   * Opens a transaction on a connection of the backend's own kind (PostgreSQL: a `pg` client
   * after `BEGIN`), for the outbox tests of `spool.transaction(work, { connection })`. Stores
   * with `capabilities.externalTransactions` skip those tests when it is not given.
   */
  externalTransaction?: OpenExternalTransaction;
  /** The longest one test may take before the runner fails it (its own waits fail sooner). @defaultValue 180000 */
  testTimeoutMs?: number;
}

/** What a test body gets. */
export interface JobsEnv {
  readonly database: JobsTestDatabase;
  /**
   * Opens a Spool on a new store of the test's database (as a new process would), closed after
   * the test. Idle consumers look for other processes' writes every 50 ms.
   */
  spool(options?: JobsStoreOptions): Promise<Spool>;
  /** A `Jobs` on `spool`, closed after the test (before the Spools). */
  jobs(spool: Spool, options?: JobsOptions): Jobs;
  /** `jobs.wait(id)`, bounded: fails with the job's last known state after `timeoutMs`. */
  finished(jobs: Jobs, id: string, timeoutMs?: number): Promise<Job>;
  /** Resolves with `promise`, or fails saying `what` did not happen within `timeoutMs`. */
  within<T>(timeoutMs: number, what: string, promise: Promise<T>): Promise<T>;
  /** Resolves once `predicate` holds (polled every 10 ms), or fails after `timeoutMs`. */
  until(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void>;
  /**
   * Resolves once `total` jobs (of every type) are finished, as `jobs.counts()` shows. Fails as
   * soon as the count has not moved for `stallMs` (a hang fails fast, a slow machine does not
   * fail), or after `capMs` in all.
   */
  allFinished(jobs: Jobs, total: number, options: { stallMs: number; capMs: number }): Promise<void>;
  /** The events of job `id` on `jobs.events`, in log order. */
  eventsOf(jobs: Jobs, id: string): Promise<LoggedJobEvent[]>;
  /** The backend's opener of external transactions, if it gave one. */
  readonly external: OpenExternalTransaction | undefined;
}

export interface JobsTestRequirements {
  /** The test only applies to stores that report this capability. */
  readonly capability?: keyof StoreCapabilities;
  /** Set when the backend did not supply a hook the test needs: the reason to skip. */
  readonly unavailable?: string;
  /** The test needs a database shared by several stores (see {@link JobsTestDatabase.shared}). */
  readonly sharedDatabase?: boolean;
}

/** How long the clean-up of one test (closing Jobs, Spools, dropping the database) may take. */
const cleanupTimeoutMs = 20_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with `promise`, or rejects with "`what` did not happen within `timeoutMs`". */
export function within<T>(timeoutMs: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)),
      Math.max(0, timeoutMs),
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const remaining = deadline - Date.now();
    if (await within(Math.max(remaining, 1), `${what} (a check hung)`, Promise.resolve(predicate()))) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Asserts that `call` rejects with a Spool error of `code`. */
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

/** The event names of a job's events, e.g. `['job.queued', 'job.active', 'job.completed']`. */
export function names(events: readonly LoggedJobEvent[]): string[] {
  return events.map((event) => event.event);
}

/** Registers the tests of one backend; every name is unique so `skip` can name it. */
export class JobsSuite {
  readonly #factory: JobsDatabaseFactory;
  readonly #options: JobsConformanceOptions;
  readonly #names = new Set<string>();

  constructor(factory: JobsDatabaseFactory, options: JobsConformanceOptions) {
    this.#factory = factory;
    this.#options = options;
  }

  /** Names listed in `skip` that match no registered test. */
  get unknownSkips(): string[] {
    return Object.keys(this.#options.skip ?? {}).filter((name) => !this.#names.has(name));
  }

  get externalTransaction(): OpenExternalTransaction | undefined {
    return this.#options.externalTransaction;
  }

  test(name: string, body: (env: JobsEnv) => Promise<void>, requirements: JobsTestRequirements = {}): void {
    if (this.#names.has(name)) throw new Error(`jobs conformance test name used twice: ${name}`);
    this.#names.add(name);
    const skip = this.#options.skip ?? {};
    if (Object.hasOwn(skip, name)) {
      void it(name, { skip: skip[name] || 'skipped by the backend' }, () => {});
      return;
    }
    const timeout = this.#options.testTimeoutMs ?? 180_000;
    void it(name, { timeout }, async (t) => {
      const database = await this.#factory();
      const spools: Spool[] = [];
      const jobsList: Jobs[] = [];
      const env: JobsEnv = {
        database,
        external: this.#options.externalTransaction,
        spool: async (options = {}) => {
          const store = await database.open(options);
          const spool = createSpool({ store, safetyPollMs: 50 });
          spools.push(spool);
          return spool;
        },
        jobs: (spool, options = {}) => {
          const jobs = new Jobs(spool, { cancelCheckMs: 100, ...options });
          jobsList.push(jobs);
          return jobs;
        },
        finished: (jobs, id, timeoutMs = 10_000) => finished(jobs, id, timeoutMs),
        allFinished,
        within,
        until,
        eventsOf,
      };
      let failure: { error: unknown } | undefined;
      try {
        const reason = await skipReason(env, requirements);
        if (reason !== null) t.skip(reason);
        else await body(env);
      } catch (error) {
        failure = { error };
      }
      // The first failure wins: a failing clean-up must not hide the failure of the body.
      try {
        await within(
          cleanupTimeoutMs,
          'closing the Jobs and Spools of the test',
          (async () => {
            await Promise.all(jobsList.map((jobs) => jobs.close({ timeoutMs: 2_000 })));
            await Promise.all(spools.map((spool) => spool.close({ timeoutMs: 2_000 })));
          })(),
        );
        await within(cleanupTimeoutMs, 'dropping the test database', database.drop());
      } catch (error) {
        failure ??= { error };
      }
      if (failure) throw failure.error;
    });
  }
}

/** Why the test cannot run on this backend, or null when it can. */
async function skipReason(env: JobsEnv, requirements: JobsTestRequirements): Promise<string | null> {
  if (requirements.sharedDatabase && !env.database.shared) {
    return 'the database is private to one store (one process), and the test needs two processes';
  }
  const { capability } = requirements;
  if (capability) {
    const probe = await env.spool();
    if (!probe.store.capabilities[capability]) return `store.capabilities.${capability} is false`;
  }
  if (requirements.unavailable !== undefined) return requirements.unavailable;
  return null;
}

async function finished(jobs: Jobs, id: string, timeoutMs: number): Promise<Job> {
  try {
    // The outer bound also catches a wait that hangs inside the store (no connection to be had).
    return await within(timeoutMs + 2_000, `job ${id} to finish`, jobs.wait(id, { timeoutMs }));
  } catch (error) {
    const last = await within(2_000, `reading job ${id}`, jobs.get(id)).catch(() => null);
    const state = last
      ? `status ${last.status}, attempts ${last.attempts}, error ${JSON.stringify(last.error)}, history ${JSON.stringify(last.history)}`
      : 'unreadable: the store did not answer within 2 s';
    throw new Error(`job ${id} did not finish within ${timeoutMs} ms (${state})`, { cause: error });
  }
}

async function allFinished(
  jobs: Jobs,
  total: number,
  { stallMs, capMs }: { stallMs: number; capMs: number },
): Promise<void> {
  const started = Date.now();
  let last = -1;
  let movedAt = started;
  for (;;) {
    const counts = await within(
      stallMs,
      `jobs.counts() to answer (${Math.max(last, 0)} of ${total} jobs were finished; is the store's pool exhausted?)`,
      jobs.counts(),
    );
    const finished = counts
      .filter((c) => c.status === 'completed' || c.status === 'dead' || c.status === 'cancelled')
      .reduce((sum, c) => sum + c.count, 0);
    if (finished >= total) return;
    const now = Date.now();
    if (finished !== last) {
      last = finished;
      movedAt = now;
    }
    const detail = counts.map((c) => `${c.type} ${c.status}: ${c.count}`).join(', ');
    if (now - movedAt >= stallMs) {
      throw new Error(`no job finished for ${stallMs} ms: ${finished} of ${total} finished (${detail})`);
    }
    if (now - started >= capMs) {
      throw new Error(`only ${finished} of ${total} jobs finished within ${capMs} ms (${detail})`);
    }
    await sleep(250);
  }
}

/**
 * The events of job `id`. A finished job's last event may trail the job by moments: on
 * PostgreSQL the events of a transition are relayed to the log just after its commit
 * (docs/postgres.md), so a reader polling the job can see it finished first. Waits up to 2 s
 * for the event of a finished job's status.
 */
async function eventsOf(jobs: Jobs, id: string): Promise<LoggedJobEvent[]> {
  for (let attempt = 1; ; attempt++) {
    const found = await readEventsOf(jobs, id);
    const job = await jobs.get(id).catch(() => null);
    const finished =
      job && ['completed', 'dead', 'cancelled'].includes(job.status) ? `job.${job.status}` : null;
    if (finished === null || found.some((event) => event.event === finished) || attempt === 100) return found;
    await sleep(20);
  }
}

async function readEventsOf(jobs: Jobs, id: string): Promise<LoggedJobEvent[]> {
  const found: LoggedJobEvent[] = [];
  let offset = 0;
  for (;;) {
    const { events, next } = await jobs.events.read(offset, 1_000);
    for (const event of events) {
      if ('jobId' in event && event.jobId === id) found.push(event);
    }
    if (events.length === 0 || next === offset) return found;
    offset = next;
  }
}
