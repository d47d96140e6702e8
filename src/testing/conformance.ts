/**
 * The store conformance suite: one set of tests that every `Store` backend runs, each test
 * named after the behaviour (state transition) of the port it checks. Written with `node:test`
 * and `node:assert` only, so a backend package needs no test framework to run it.
 *
 * Every test gets a fresh store from the factory, on its own `TestClock`, and closes it at
 * the end; time moves only through `clock.advance`, never by sleeping. A backend that cannot meet
 * an invariant lists the test's name in `skip` with the reason, which the runner prints.
 *
 * @example
 * ```ts
 * import { runStoreConformance } from 'spool/testing';
 * runStoreConformance('postgres', ({ clock }) => openPostgresStore({ url, clock }), {
 *   skip: { 'maintain applies the retention of every topic': 'retention runs in a cron job' },
 * });
 * ```
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoreFactory } from '../store/port.js';
import { ackAndClaimTests } from './conformance/ack-and-claim.js';
import { deadLetterTests } from './conformance/dead-letters.js';
import {
  type OpenExternalTransaction,
  externalTransactionTests,
} from './conformance/external-transactions.js';
import { groupTests } from './conformance/groups.js';
import { fairnessTests } from './conformance/fairness.js';
import { jobTests } from './conformance/jobs.js';
import { jobGateTests } from './conformance/job-gates.js';
import { queueConcurrencyTests } from './conformance/queue-concurrency.js';
import { messageExpiryTests } from './conformance/message-expiry.js';
import { Suite } from './conformance/harness.js';
import { queueAdminTests } from './conformance/queue-admin.js';
import { queueLeaseTests } from './conformance/queue-leases.js';
import { queueOrderingTests } from './conformance/queue-ordering.js';
import { topicTests } from './conformance/topics.js';
import { transactionTests } from './conformance/transactions.js';
import { upkeepTests } from './conformance/upkeep.js';
import { workerTests } from './conformance/workers.js';
import { workflowTests } from './conformance/workflows.js';

export interface ConformanceOptions {
  /**
   * Tests to skip, by test name, each with its reason, e.g.
   * `{ 'a throw inside a transaction rolls back every write': 'backend has no transactions' }`.
   * A name that matches no test fails the suite, so a renamed test cannot be skipped silently.
   */
  skip?: Record<string, string>;
  /**
   * Opens a transaction on a connection of the backend's own kind (for PostgreSQL: a `pg` client
   * after `BEGIN`), for the tests of `transaction(work, { connection })`. Stores with
   * `capabilities.externalTransactions` skip those tests when it is not given.
   */
  externalTransaction?: OpenExternalTransaction;
}

/**
 * Registers the conformance suite for one backend under `describe('store conformance: <name>')`.
 * Call it at the top level of a test file; `factory` is called once per test.
 */
export function runStoreConformance(
  backendName: string,
  factory: StoreFactory,
  options: ConformanceOptions = {},
): void {
  const suite = new Suite(factory, { ...options.skip });
  void describe(`store conformance: ${backendName}`, () => {
    queueLeaseTests(suite);
    ackAndClaimTests(suite);
    queueOrderingTests(suite);
    fairnessTests(suite);
    queueAdminTests(suite);
    deadLetterTests(suite);
    messageExpiryTests(suite);
    topicTests(suite);
    groupTests(suite);
    transactionTests(suite);
    externalTransactionTests(suite, options.externalTransaction);
    jobTests(suite);
    jobGateTests(suite);
    queueConcurrencyTests(suite);
    upkeepTests(suite);
    workerTests(suite);
    workflowTests(suite);
    void it('skip list names only tests of this suite', () => {
      assert.deepEqual(suite.unknownSkips, []);
    });
  });
}
