/**
 * The jobs conformance suite: every job semantic, through the public engine API (`createSpool`,
 * `new Jobs(spool)`, `define`/`start`/`add`/`wait`/`cancel`/`retry`/`claim`/…,
 * `spool.transaction`), with the same expectations on every store backend. Where the store
 * conformance suite checks the port call by call, this one checks what a user of the jobs layer
 * observes: statuses, results, attempts, histories, timings within tolerance, counts and the
 * events on `jobs.events`. Written with `node:test` and `node:assert` only.
 *
 * Tests run on the real clock with short delays (a few on a `TestClock`, where the behaviour
 * is minutes apart); each opens its Spools on a fresh database from the backend's factory,
 * several of them on one database where the test is about several processes.
 *
 * @example
 * ```ts
 * import { runJobsConformance } from 'spool/testing';
 * runJobsConformance('postgres', async () => {
 *   const schema = freshSchemaName();
 *   return {
 *     shared: true,
 *     open: ({ clock, maxConnections }) => openPostgresStore({ connectionString, schema, clock, maxConnections }),
 *     drop: () => dropSchema(schema),
 *   };
 * });
 * ```
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cancelAndRetryTests } from './cancel-and-retry.js';
import { childrenTests } from './children.js';
import { concurrencyTests } from './concurrency.js';
import { type JobsConformanceOptions, type JobsDatabaseFactory, JobsSuite } from './harness.js';
import { idempotencyTests } from './idempotency.js';
import { lifecycleTests } from './lifecycle.js';
import { outboxTests } from './outbox.js';
import { pauseTests } from './pause.js';
import { remoteWorkerTests } from './remote-workers.js';
import { retentionTests } from './retention.js';
import { scheduleTests } from './schedules.js';
import { workflowTests } from './workflows.js';
import { breakerTests } from './breakers.js';
import { addControlTests } from './add-controls.js';
import { workflowOperationTests } from './workflow-operations.js';
import { startLimitTests } from './start-limits.js';
import { fairnessTests } from './fairness.js';

export type {
  JobsConformanceOptions,
  JobsDatabaseFactory,
  JobsStoreOptions,
  JobsTestDatabase,
} from './harness.js';

/**
 * Registers the jobs conformance suite for one backend under
 * `describe('jobs conformance: <name>')`. Call it at the top level of a test file;
 * `createDatabase` is called once per test.
 */
export function runJobsConformance(
  backendName: string,
  createDatabase: JobsDatabaseFactory,
  options: JobsConformanceOptions = {},
): void {
  const suite = new JobsSuite(createDatabase, options);
  void describe(`jobs conformance: ${backendName}`, () => {
    lifecycleTests(suite);
    cancelAndRetryTests(suite);
    remoteWorkerTests(suite);
    childrenTests(suite);
    scheduleTests(suite);
    pauseTests(suite);
    retentionTests(suite);
    idempotencyTests(suite);
    addControlTests(suite);
    outboxTests(suite);
    concurrencyTests(suite);
    startLimitTests(suite);
    fairnessTests(suite);
    workflowTests(suite);
    workflowOperationTests(suite);
    breakerTests(suite);
    void it('skip list names only tests of this suite', () => {
      assert.deepEqual(suite.unknownSkips, []);
    });
  });
}
