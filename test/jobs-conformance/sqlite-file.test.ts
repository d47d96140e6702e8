// The jobs conformance suite on the SQLite backend with a real database file: a fresh temporary
// directory per test, removed after it. Stores opened on one test's database share its file,
// as processes on one machine would.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { runJobsConformance } from '../../src/testing/index.js';

runJobsConformance('sqlite (file)', () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-jobs-'));
  const file = path.join(directory, 'spool.db');
  return Promise.resolve({
    shared: true,
    // A TestClock steps faster than a disk syncs: fsync inside COMMIT, so a write is finished
    // within the turn of the event loop that the clock's `advance` waits for.
    open: ({ clock }) =>
      openSqliteStore({ path: file, ...(clock ? { clock, fsync: 'inline' as const } : {}) }),
    drop: () => {
      fs.rmSync(directory, { recursive: true, force: true });
      return Promise.resolve();
    },
  });
});
