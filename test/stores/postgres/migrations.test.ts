// Opening the PostgreSQL store: processes starting at once on one schema migrate it exactly
// once (the advisory lock), a schema from a newer Spool is refused with SchemaVersionError,
// options are checked before anything connects, and the options that change how the store
// talks to the server (prepared statements, vacuuming) do what they say.
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { migrations, schemaVersion } from '../../../src/stores/postgres/migrations.js';
import { openPostgresStore } from '../../../src/stores/postgres/index.js';
import { SchemaJanitor, message, openStore, postgresUrl, saveQueue } from './fixtures.js';

const janitor = new SchemaJanitor();
afterEach(() => janitor.dropAll());
after(() => janitor.end());

async function appliedVersions(schema: string): Promise<number[]> {
  const { rows } = await janitor.admin.query<{ version: number }>(
    `SELECT version FROM ${schema}.schema_migrations ORDER BY version`,
  );
  return rows.map((row) => row.version);
}

void describe('postgres store: opening and migrations', () => {
  it('stores opened at once on a new schema migrate it exactly once and all work', async () => {
    const schema = janitor.schema();
    const stores = await Promise.all(Array.from({ length: 6 }, () => openStore(schema)));
    try {
      assert.deepEqual(
        await appliedVersions(schema),
        migrations.map((migration) => migration.version),
      );
      const queue = await saveQueue(stores[0]!, 'jobs');
      await Promise.all(stores.map((store) => store.enqueue(queue, [message()])));
      assert.equal((await stores[5]!.queueStats(queue)).ready, 6);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('reopening a migrated schema keeps its data and applies nothing again', async () => {
    const schema = janitor.schema();
    const first = await openStore(schema);
    await first.enqueue(await saveQueue(first, 'jobs'), [message()]);
    await first.close();
    const again = await openStore(schema);
    try {
      assert.equal((await again.queueStats('jobs')).ready, 1);
      assert.equal((await appliedVersions(schema)).length, schemaVersion);
    } finally {
      await again.close();
    }
  });

  it('a schema written by a newer Spool is refused with SchemaVersionError', async () => {
    const schema = janitor.schema();
    await (await openStore(schema)).close();
    await janitor.admin.query(
      `INSERT INTO ${schema}.schema_migrations (version, description) VALUES ($1, 'from the future')`,
      [schemaVersion + 1],
    );
    await assert.rejects(openStore(schema), (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'SPOOL_SCHEMA_VERSION');
      assert.deepEqual((error as { details?: unknown }).details, {
        schema,
        found: schemaVersion + 1,
        supported: schemaVersion,
      });
      return true;
    });
    // A pool the caller passed in stays usable after a refused open.
    await assert.rejects(openPostgresStore({ pool: janitor.admin, schema }), {
      code: 'SPOOL_SCHEMA_VERSION',
    });
    assert.equal((await janitor.admin.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
  });

  it('invalid options are refused before connecting', async () => {
    await assert.rejects(openPostgresStore({ schema: 'spool' }), { code: 'SPOOL_INVALID_ARGUMENT' });
    await assert.rejects(openPostgresStore({ connectionString: postgresUrl, pool: janitor.admin }), {
      code: 'SPOOL_INVALID_ARGUMENT',
    });
    for (const schema of ['Spool', '1spool', 'spool-x', 'a'.repeat(49), 'x"; DROP SCHEMA public; --']) {
      await assert.rejects(openPostgresStore({ pool: janitor.admin, schema }), {
        code: 'SPOOL_INVALID_ARGUMENT',
      });
    }
  });

  it('an unreachable server is a retryable SPOOL_STORE_UNAVAILABLE', async () => {
    await assert.rejects(
      openPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema: 'spool' }),
      (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'SPOOL_STORE_UNAVAILABLE');
        assert.equal((error as { retryable?: boolean }).retryable, true);
        return true;
      },
    );
  });

  it('without prepared statements the store works the same', async () => {
    const store = await openStore(janitor.schema(), { preparedStatements: false });
    try {
      const queue = await saveQueue(store, 'jobs');
      await store.enqueue(queue, [message({ key: 'k' }), message()]);
      const claimed = await store.claim(queue, { max: 10, visibilityTimeoutMs: 1_000 });
      for (const m of claimed) await store.ack(queue, m.receipt);
      assert.equal(claimed.length, 2);
      assert.equal((await store.queueStats(queue)).inFlight, 0);
    } finally {
      await store.close();
    }
  });

  it('vacuums the messages table after vacuumEvery claimed messages', async () => {
    const schema = janitor.schema();
    const store = await openStore(schema, { vacuumEvery: 5 });
    try {
      const queue = await saveQueue(store, 'jobs');
      await store.enqueue(
        queue,
        Array.from({ length: 6 }, () => message()),
      );
      await store.claim(queue, { max: 6, visibilityTimeoutMs: 1_000 });
    } finally {
      await store.close();
    }
    const { rows } = await janitor.admin.query<{ vacuums: string }>(
      `SELECT vacuum_count AS vacuums FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'messages'`,
      [schema],
    );
    assert.equal(rows[0]?.vacuums, '1');
  });
});
