// The store conformance suite against the PostgreSQL backend: every test gets a store with its
// own pool on a fresh schema of the machine's PostgreSQL, dropped after the test. External
// transactions are opened on a connection of a separate pool, as an application's would be.
import { after, afterEach, describe } from 'node:test';
import { type ExternalTransaction, runStoreConformance } from '../../src/testing/index.js';
import { SchemaJanitor, openStore } from '../stores/postgres/fixtures.js';

void describe('postgres backend', () => {
  const janitor = new SchemaJanitor();
  afterEach(() => janitor.dropAll());
  after(() => janitor.end());

  runStoreConformance('postgres', ({ clock }) => openStore(janitor.schema(), { clock }), {
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
  });
});
