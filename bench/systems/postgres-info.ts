/** What the report records about the PostgreSQL server the Postgres-backed systems use. */
import pg from 'pg';

export interface PostgresInfo {
  readonly version: string;
  /** e.g. `synchronous_commit=on, fsync=on` */
  readonly durability: string;
}

export async function postgresInfo(connectionString: string): Promise<PostgresInfo> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const setting = async (name: string) =>
      (await client.query<{ setting: string }>('select setting from pg_settings where name = $1', [name]))
        .rows[0]?.setting ?? '?';
    return {
      version: await setting('server_version'),
      durability: `synchronous_commit=${await setting('synchronous_commit')}, fsync=${await setting('fsync')}`,
    };
  } finally {
    await client.end();
  }
}

/** Drops a schema a measurement created. */
export async function dropSchema(connectionString: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}
