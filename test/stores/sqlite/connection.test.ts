// Opening the SQLite store: durability pragmas, schema migrations and their version check, and
// data surviving a close and reopen.
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { TestClock } from '../../../src/core/clock.js';
import { InvalidArgumentError, SchemaVersionError } from '../../../src/core/errors.js';
import { resolveQueueConfig } from '../../../src/core/options.js';
import { openSqliteStore, sqliteStore } from '../../../src/stores/sqlite/index.js';
import { openDatabase } from '../../../src/stores/sqlite/connection.js';
import { migrations, readVersion, schemaVersion } from '../../../src/stores/sqlite/migrations.js';
import { message, openFixture, saveQueue, tempDirectory } from './fixtures.js';

const directories: string[] = [];
function newFile(): string {
  const directory = tempDirectory();
  directories.push(directory);
  return path.join(directory, 'spool.db');
}
afterEach(() => {
  for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
});

void describe('sqlite store: durability pragmas', () => {
  it("durability 'full' (the default) runs a WAL journal with synchronous=FULL", () => {
    const db = openDatabase(newFile(), 'full');
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('synchronous', { simple: true }), 2);
    } finally {
      db.close();
    }
  });

  it("durability 'process' runs a WAL journal with synchronous=NORMAL", () => {
    const db = openDatabase(newFile(), 'process');
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('synchronous', { simple: true }), 1);
    } finally {
      db.close();
    }
  });

  it('an in-memory database keeps the memory journal, which is all SQLite offers there', () => {
    const db = openDatabase(':memory:', 'full');
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'memory');
      assert.equal(db.pragma('synchronous', { simple: true }), 2);
    } finally {
      db.close();
    }
  });

  it('the store leaves the file in WAL mode for every later connection', async () => {
    const file = newFile();
    const store = await openSqliteStore({ path: file });
    const reader = new Database(file, { readonly: true });
    try {
      assert.equal(reader.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      reader.close();
      await store.close();
    }
  });

  it('an unknown durability is refused before anything is opened', async () => {
    const file = newFile();
    await assert.rejects(
      openSqliteStore({ path: file, durability: 'fsync' as 'full' }),
      (error) => error instanceof InvalidArgumentError && error.details.field === 'durability',
    );
    assert.equal(fs.existsSync(file), false);
  });

  it('a path in a missing directory is refused as an invalid argument', async () => {
    const file = path.join(path.dirname(newFile()), 'no-such-directory', 'spool.db');
    await assert.rejects(
      openSqliteStore({ path: file }),
      (error) => error instanceof InvalidArgumentError && error.details.field === 'path',
    );
  });

  it('a file that is not a database rejects with SPOOL_STORE_UNAVAILABLE and its SQLite code', async () => {
    const file = newFile();
    fs.writeFileSync(file, 'this is not a database file, only some text that is long enough'.repeat(4));
    await assert.rejects(openSqliteStore({ path: file }), {
      code: 'SPOOL_STORE_UNAVAILABLE',
      details: { sqliteCode: 'SQLITE_NOTADB' },
    });
  });
});

void describe('sqlite store: migrations', () => {
  it('migrations are numbered 1, 2, 3… in order, and a new file ends at the latest', () => {
    assert.deepEqual(
      migrations.map((migration) => migration.version),
      migrations.map((_, index) => index + 1),
    );
    const db = openDatabase(newFile(), 'full');
    try {
      assert.equal(readVersion(db), schemaVersion);
    } finally {
      db.close();
    }
  });

  it('a file written by a newer schema is refused with SchemaVersionError and not migrated', async () => {
    const file = newFile();
    const newer = new Database(file);
    newer.pragma(`user_version = ${schemaVersion + 1}`);
    newer.close();

    await assert.rejects(openSqliteStore({ path: file }), (error) => {
      assert.ok(error instanceof SchemaVersionError);
      assert.equal(error.code, 'SPOOL_SCHEMA_VERSION');
      assert.deepEqual(error.details, { found: schemaVersion + 1, supported: schemaVersion });
      return true;
    });
    const check = new Database(file, { readonly: true });
    try {
      assert.equal(check.pragma('user_version', { simple: true }), schemaVersion + 1);
      const tables = check.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all();
      assert.deepEqual(tables, [], 'no migration ran on the newer file');
    } finally {
      check.close();
    }
  });

  it('a v6 file (depth and key heads kept by triggers) carries on at v7 without them', async () => {
    const file = newFile();
    const v6 = new Database(file);
    v6.pragma('journal_mode = WAL');
    for (const migration of migrations.slice(0, 6)) v6.exec(migration.sql);
    v6.pragma('user_version = 6');
    v6.prepare('INSERT INTO queues (name, config) VALUES (?, ?)').run(
      'orders',
      JSON.stringify(resolveQueueConfig('orders', { maxDepth: 3 })),
    );
    const insert = v6.prepare(
      `INSERT INTO messages (id, queue, payload, headers, key, priority, enqueued_at, visible_at, attempts, errors)
       VALUES (?, 'orders', '{}', '{}', ?, 0, 1, 1, 0, '[]')`,
    );
    insert.run('a1', 'A');
    insert.run('a2', 'A');
    v6.close();

    const store = await openSqliteStore({ path: file });
    try {
      const check = new Database(file, { readonly: true });
      try {
        assert.deepEqual(
          check
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'messages'")
            .all(),
          [],
        );
      } finally {
        check.close();
      }
      // The depth the triggers kept (2) still bounds the queue; the key head a1 comes first.
      await store.enqueue('orders', [message()]);
      await assert.rejects(store.enqueue('orders', [message()]), { code: 'SPOOL_QUEUE_FULL' });
      const [head] = await store
        .claim('orders', { max: 10, visibilityTimeoutMs: 30_000 })
        .then((claimed) => claimed.filter((m) => m.key === 'A'));
      assert.equal(head?.id, 'a1');
      await store.ack('orders', head.receipt);
      const [next] = await store.claim('orders', { max: 10, visibilityTimeoutMs: 30_000 });
      assert.equal(next?.id, 'a2');
    } finally {
      await store.close();
    }
  });

  it('reopening a current file runs no migration and keeps every record', async () => {
    const fixture = await openFixture();
    try {
      const queue = await saveQueue(fixture.store, 'orders');
      const sent = message({ payload: '{"n":1}' });
      await fixture.store.enqueue(queue, [sent]);
      await fixture.store.saveTopic({
        name: 'events',
        partitions: 2,
        retentionMs: null,
        retentionBytes: null,
      });
      await fixture.store.close();

      const reopened = await fixture.reopen();
      assert.deepEqual(
        (await reopened.listQueues()).map((config) => config.name),
        ['orders'],
      );
      assert.equal((await reopened.getTopic('events'))?.partitions, 2);
      const [claimed] = await reopened.claim(queue, { max: 1, visibilityTimeoutMs: 1000 });
      assert.equal(claimed?.id, sent.id);
      assert.equal(claimed?.payload, '{"n":1}');
    } finally {
      await fixture.dispose();
    }
  });

  it('the factory opens the configured file with the clock it is given', async () => {
    const file = newFile();
    const clock = new TestClock(Date.UTC(2031, 0, 1));
    const store = await sqliteStore({ path: file, durability: 'process' })({ clock });
    try {
      assert.equal(store.clock, clock);
      assert.equal(store.backend, 'sqlite');
      assert.equal(fs.existsSync(file), true);
    } finally {
      await store.close();
    }
  });
});
