// The jobs conformance suite on the SQLite backend with an in-memory database: private to the
// one store that opened it, so the tests of several processes run their one-process form (or
// are skipped, saying so).
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { runJobsConformance } from '../../src/testing/index.js';

runJobsConformance('sqlite (:memory:)', () =>
  Promise.resolve({
    shared: false,
    open: ({ clock }) => openSqliteStore({ path: ':memory:', ...(clock ? { clock } : {}) }),
    drop: () => Promise.resolve(),
  }),
);
