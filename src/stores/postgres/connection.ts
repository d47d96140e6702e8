/**
 * What the PostgreSQL store needs from a driver, as small structural interfaces, so that no `pg`
 * type appears in Spool's public types: a `pg.Pool`, `pg.PoolClient` or `pg.Client` satisfies
 * them as they are. `pg` itself is an optional peer dependency, loaded only when the store is
 * given a connection string and has to create its own pool.
 *
 * Also here: the schema name rules and the qualified table names every SQL text is built from.
 * Table names are always schema-qualified, never resolved through `search_path`, because a pool
 * the caller passes in is shared with the caller's own queries.
 */
import type pgModule from 'pg';
import { InvalidArgumentError } from '../../core/errors.js';
import { storeUnavailable } from './store-errors.js';

/** The part of a query result Spool reads. */
export interface PostgresQueryResult {
  readonly rows: unknown[];
  readonly rowCount: number | null;
}

/** A statement to run; with `name`, it is prepared once per connection under that name. */
export interface PostgresQueryConfig {
  readonly text: string;
  readonly values?: unknown[];
  readonly name?: string;
}

/** Anything that runs a parameterised statement: a `pg.Pool`, `pg.Client` or `pg.PoolClient`. */
export interface PostgresQueryable {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  query(config: PostgresQueryConfig): Promise<PostgresQueryResult>;
}

/** A notification as `pg` delivers it to a listening client. */
export interface PostgresNotification {
  readonly channel: string;
  readonly payload?: string | undefined;
}

/** A connection checked out of a pool (`pg.PoolClient`). */
export interface PostgresPoolClient extends PostgresQueryable {
  /** Returns the connection to the pool; `true` or an error closes it instead. */
  release(destroy?: boolean | Error): void;
  on(event: 'notification', listener: (message: PostgresNotification) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
}

/** A connection pool (`pg.Pool`). */
export interface PostgresPool extends PostgresQueryable {
  connect(): Promise<PostgresPoolClient>;
  end(): Promise<void>;
}

/**
 * Schema names: lowercase letters, digits and `_`, starting with a letter or `_`, at most 48
 * characters. That keeps every name valid unquoted (so operators can type it in psql) and keeps
 * the notification channel derived from it under PostgreSQL's 63-byte identifier limit.
 */
const schemaPattern = /^[a-z_][a-z0-9_]{0,47}$/;

export function validateSchemaName(schema: unknown): string {
  if (typeof schema !== 'string' || !schemaPattern.test(schema)) {
    throw new InvalidArgumentError(
      `postgres store: schema ${JSON.stringify(schema)} is invalid: use 1-48 lowercase letters, digits or '_', not starting with a digit`,
      { field: 'schema' },
    );
  }
  return schema;
}

/** Quotes an identifier for SQL text (the names used here never need escaping, but quoting is free). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The schema-qualified name of every table, and the schema's notification channel. */
export class SchemaNames {
  readonly schema: string;
  /** The channel the store NOTIFYs on and LISTENs to (see notifier.ts). */
  readonly channel: string;
  readonly queues: string;
  readonly messages: string;
  readonly messageKeys: string;
  readonly queueGroups: string;
  /** The sequence that numbers the turns of fairness groups (fair-groups.ts). */
  readonly groupTurns: string;
  readonly deadLetters: string;
  readonly dedup: string;
  readonly topics: string;
  readonly partitions: string;
  readonly events: string;
  readonly groups: string;
  readonly members: string;
  readonly owners: string;
  readonly offsets: string;
  readonly processed: string;
  readonly dropped: string;
  readonly jobs: string;
  readonly schedules: string;
  readonly workers: string;
  readonly workflowSteps: string;
  readonly workflowEvents: string;
  readonly breakers: string;
  readonly stagedEvents: string;
  readonly jobSlots: string;
  readonly rateBuckets: string;
  readonly jobGates: string;
  readonly migrations: string;

  constructor(schema: string) {
    this.schema = validateSchemaName(schema);
    this.channel = `spool_${schema}`;
    const table = (name: string): string => `${quoteIdentifier(schema)}.${name}`;
    this.queues = table('queues');
    this.messages = table('messages');
    this.messageKeys = table('message_keys');
    this.queueGroups = table('queue_groups');
    this.groupTurns = table('queue_group_turns');
    this.deadLetters = table('dead_letters');
    this.dedup = table('dedup');
    this.topics = table('topics');
    this.partitions = table('partitions');
    this.events = table('events');
    this.groups = table('consumer_groups');
    this.members = table('group_members');
    this.owners = table('group_owners');
    this.offsets = table('group_offsets');
    this.processed = table('processed');
    this.dropped = table('dropped');
    this.jobs = table('jobs');
    this.schedules = table('schedules');
    this.workers = table('workers');
    this.workflowSteps = table('workflow_steps');
    this.workflowEvents = table('workflow_events');
    this.breakers = table('breakers');
    this.stagedEvents = table('staged_events');
    this.jobSlots = table('job_slots');
    this.rateBuckets = table('rate_buckets');
    this.jobGates = table('job_gates');
    this.migrations = table('schema_migrations');
  }
}

/**
 * Creates a `pg.Pool` for `connectionString`. Idle connections that fail (the server restarted)
 * are reported by the pool as an `error` event, which would crash the process if nobody
 * listened; the pool replaces them on the next checkout, so the event is ignored here and the
 * failure surfaces on the next query instead.
 */
export async function createPool(connectionString: string, maxConnections: number): Promise<PostgresPool> {
  let pg: typeof pgModule;
  try {
    pg = (await import('pg')).default;
  } catch (error) {
    throw storeUnavailable(
      'postgres store: the "pg" package is not installed; add it to your dependencies (npm install pg)',
      error,
    );
  }
  const pool = new pg.Pool({ connectionString, max: maxConnections, application_name: 'spool' });
  pool.on('error', () => {});
  return pool;
}
