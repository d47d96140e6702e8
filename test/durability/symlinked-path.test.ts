/**
 * A database opened through a symbolic link: SQLite keeps its WAL next to the link's target, so
 * the store's own fdatasync (durability 'full') must sync that file, not `<link>-wal`, which is
 * missing (every write was refused) or, worse, a stale file (acknowledged writes not durable).
 */
import assert from 'node:assert/strict';
import fs, { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { queueDefaults } from '../../src/core/options.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { tempDir } from '../helpers.js';

describe('durability full through a symlinked database path', () => {
  it('syncs the WAL SQLite writes, next to the real file', async (t) => {
    const { dir, cleanup } = tempDir('spool-symlink-');
    t.after(cleanup);
    mkdirSync(join(dir, 'real'));
    mkdirSync(join(dir, 'link'));
    const real = join(dir, 'real', 'spool.db');
    const link = join(dir, 'link', 'spool.db');
    writeFileSync(real, '');
    symlinkSync(real, link);
    // A leftover file where the link's WAL would be: syncing it would acknowledge unsynced writes.
    writeFileSync(`${link}-wal`, '');

    const opened: string[] = [];
    const openSync = fs.openSync;
    fs.openSync = (...args: Parameters<typeof openSync>) => {
      if (args[1] === 'r+') opened.push(String(args[0]));
      return openSync(...args);
    };
    t.after(() => {
      fs.openSync = openSync;
    });

    const store = await openSqliteStore({ path: link });
    try {
      await store.saveQueue({ ...queueDefaults, name: 'q' });
      assert.ok(store.commitStats().syncs > 0, 'the write was fsynced');
    } finally {
      await store.close();
    }
    assert.deepEqual(opened, [`${fs.realpathSync(real)}-wal`]);
    assert.ok(!existsSync(`${real}-wal`), 'SQLite removed its WAL at close');
  });
});
