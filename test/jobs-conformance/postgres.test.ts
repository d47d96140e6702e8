// The jobs conformance suite on the PostgreSQL backend: a fresh schema of the machine's
// PostgreSQL per test (dropped after it); every store opened in a test is a pool of its own
// on that schema, as a process of its own would be. External transactions are opened on a
// connection of a separate pool, as an application's would be.
import { after, describe } from 'node:test';
import { openPostgresStore } from '../../src/stores/postgres/index.js';
import { type ExternalTransaction, runJobsConformance } from '../../src/testing/index.js';
import { SchemaJanitor, freshSchema, postgresUrl } from '../stores/postgres/fixtures.js';

void describe('postgres backend', () => {
  const janitor = new SchemaJanitor();
  after(() => janitor.end());

  runJobsConformance(
    'postgres',
    () => {
      const schema = freshSchema();
      return Promise.resolve({
        shared: true,
        open: ({ clock, maxConnections }) =>
          openPostgresStore({
            connectionString: postgresUrl,
            schema,
            ...(maxConnections === undefined ? {} : { maxConnections }),
            // Under a TestClock each leadership round would start with every step of the clock,
            // and its deadline (a timer on the same clock) would fire before the database
            // answers, giving leadership up: one round at open is all a stepped test needs.
            ...(clock ? { clock, leadershipRetryMs: 3_600_000 } : {}),
          }),
        drop: () => janitor.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).then(() => undefined),
      });
    },
    {
      externalTransaction: async (): Promise<ExternalTransaction> => {
        const client = await janitor.admin.connect();
        await client.query('BEGIN');
        const end = async (statement: string): Promise<void> => {
          try {
            await client.query(statement);
          } finally {
            client.release();
          }
        };
        return { connection: client, commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
      },
    },
  );
});
