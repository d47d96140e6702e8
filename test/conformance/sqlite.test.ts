// The store conformance suite against the SQLite backend, twice: on a real database file (a fresh
// temporary directory per store, removed after each test) and on an in-memory database.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe } from 'node:test';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { runStoreConformance } from '../../src/testing/index.js';

void describe('sqlite backend', () => {
  const directories: string[] = [];
  afterEach(() => {
    for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
  });

  runStoreConformance('sqlite (file)', ({ clock }) => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-'));
    directories.push(directory);
    return openSqliteStore({ path: path.join(directory, 'spool.db'), clock });
  });

  runStoreConformance('sqlite (:memory:)', ({ clock }) => openSqliteStore({ path: ':memory:', clock }));
});
