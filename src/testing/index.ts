/**
 * `spool/testing`: what a Spool user or a backend author needs in tests. The clock that moves
 * only when told to, and the store conformance suite every backend runs.
 */
export { TestClock } from '../core/clock.js';
export { type ConformanceOptions, runStoreConformance } from './conformance.js';
export type { ExternalTransaction, OpenExternalTransaction } from './conformance/external-transactions.js';
export {
  type JobsConformanceOptions,
  type JobsDatabaseFactory,
  type JobsStoreOptions,
  type JobsTestDatabase,
  runJobsConformance,
} from './jobs-conformance/index.js';
