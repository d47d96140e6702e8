/**
 * Schema migrations. Each migration is numbered and immutable once released: to change the
 * schema, append a new one; never edit an old one (databases in the field already ran it). The
 * versions a schema has run are rows of its `schema_migrations` table.
 *
 * Start-up: if the schema is already at {@link schemaVersion}, a single read confirms it and no
 * DDL runs (so a role without CREATE privilege can open a migrated schema). Otherwise the
 * migrations run in ONE transaction that first takes `pg_advisory_xact_lock` on a key derived
 * from the schema name: processes starting at once queue on that lock, and each one after the
 * first re-reads the version inside its own transaction and finds nothing left to do. A schema
 * written by a newer Spool (a version this code does not know) is refused with
 * `SchemaVersionError` instead of being used with the wrong assumptions.
 */
import { SchemaVersionError } from '../../core/errors.js';
import {
  type PostgresPool,
  type PostgresQueryable,
  type SchemaNames,
  quoteIdentifier,
} from './connection.js';
import { toInt } from './codec.js';

export interface Migration {
  readonly version: number;
  readonly description: string;
  /** Runs with `search_path` set to the store's schema, so names are unqualified. */
  readonly sql: string;
}

/**
 * Times are ms since the epoch (`bigint`), taken from the store's clock, never `now()`.
 * Queues and topics are referenced by a generated id rather than by name: rows are smaller,
 * and a queue or topic deleted and created again under the same name can never see rows of
 * its predecessor (deletion only drops the name; see upkeep-ops.ts for the batched clean-up).
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    description: 'queues, per-key heads, dead letters, dedup ids, topics, consumer groups, processed markers',
    sql: `
      CREATE TABLE queues (
        id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name   text NOT NULL UNIQUE,
        config json NOT NULL
      );

      -- seq is the enqueue order (per-key FIFO and FIFO within a priority). visible_at is when
      -- the message is next deliverable: its available time while waiting, its lease expiry
      -- while leased (lease_token not null). key_head is true for unkeyed messages and for the
      -- oldest message of each key; only heads are ever claimed (see key-heads.ts).
      CREATE TABLE messages (
        seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        queue_id      bigint NOT NULL,
        id            text NOT NULL,
        payload_text  text,
        payload_bytes bytea,
        headers       json NOT NULL,
        key           text,
        priority      integer NOT NULL,
        enqueued_at   bigint NOT NULL,
        visible_at    bigint NOT NULL,
        attempts      integer NOT NULL DEFAULT 0,
        lease_token   uuid,
        key_head      boolean NOT NULL,
        errors        jsonb NOT NULL DEFAULT '[]',
        CHECK ((payload_text IS NULL) <> (payload_bytes IS NULL))
      );
      -- claim: heads in delivery order. Messages blocked behind an older one of their key are
      -- not in it, so a claim never walks past a key's backlog; visible_at is a key column so
      -- that in-flight and delayed heads are skipped inside the index, without heap visits.
      CREATE INDEX messages_claimable ON messages (queue_id, priority DESC, seq, visible_at) WHERE key_head;
      -- browsing in delivery order (listMessages), depth counts and purge
      CREATE INDEX messages_by_delivery ON messages (queue_id, priority DESC, seq);
      -- the oldest remaining message of a key, when its head leaves
      CREATE INDEX messages_by_key ON messages (queue_id, key, seq) WHERE key IS NOT NULL;
      -- leases by expiry: claim's sweep of expired last attempts, and nextDeliveryAt
      CREATE INDEX messages_leased ON messages (queue_id, visible_at) WHERE lease_token IS NOT NULL;
      -- delayed messages by due time, for nextDeliveryAt. A message sent without a delay has
      -- visible_at = enqueued_at and is left out, so most sends skip this index.
      CREATE INDEX messages_delayed ON messages (queue_id, visible_at)
        WHERE lease_token IS NULL AND visible_at > enqueued_at;

      -- One row per key that has messages in a queue, with their number. Every change of a
      -- key's messages updates this row first: the row lock serialises them (see key-heads.ts).
      CREATE TABLE message_keys (
        queue_id bigint NOT NULL,
        key      text NOT NULL,
        messages integer NOT NULL,
        PRIMARY KEY (queue_id, key)
      );

      -- seq is the dead-lettering order: listings are oldest first
      CREATE TABLE dead_letters (
        seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        queue_id         bigint NOT NULL,
        id               text NOT NULL,
        payload_text     text,
        payload_bytes    bytea,
        headers          json NOT NULL,
        key              text,
        priority         integer NOT NULL,
        enqueued_at      bigint NOT NULL,
        dead_lettered_at bigint NOT NULL,
        attempts         integer NOT NULL,
        errors           jsonb NOT NULL,
        CHECK ((payload_text IS NULL) <> (payload_bytes IS NULL))
      );
      CREATE INDEX dead_letters_by_queue ON dead_letters (queue_id, seq);
      CREATE INDEX dead_letters_by_id ON dead_letters (queue_id, id);

      CREATE TABLE dedup (
        queue_id   bigint NOT NULL,
        dedup_id   text NOT NULL,
        message_id text NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (queue_id, dedup_id)
      );
      CREATE INDEX dedup_by_expiry ON dedup (expires_at);

      CREATE TABLE topics (
        id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name   text NOT NULL UNIQUE,
        config json NOT NULL
      );

      -- [start_offset, next_offset) is readable; bytes is the payload size of those events;
      -- last_timestamp keeps event timestamps non-decreasing per partition. Appends lock this
      -- row to take offsets (see log-ops.ts).
      CREATE TABLE partitions (
        topic_id       bigint NOT NULL,
        partition      integer NOT NULL,
        start_offset   bigint NOT NULL,
        next_offset    bigint NOT NULL,
        bytes          bigint NOT NULL,
        last_timestamp bigint NOT NULL,
        PRIMARY KEY (topic_id, partition)
      );

      CREATE TABLE events (
        topic_id      bigint NOT NULL,
        partition     integer NOT NULL,
        event_offset  bigint NOT NULL,
        id            text NOT NULL,
        appended_at   bigint NOT NULL,
        payload_text  text,
        payload_bytes bytea,
        headers       json NOT NULL,
        key           text,
        size          integer NOT NULL,
        PRIMARY KEY (topic_id, partition, event_offset),
        CHECK ((payload_text IS NULL) <> (payload_bytes IS NULL))
      );

      CREATE TABLE consumer_groups (
        topic_id   bigint NOT NULL,
        name       text NOT NULL,
        generation bigint NOT NULL,
        seek_epoch bigint NOT NULL,
        PRIMARY KEY (topic_id, name)
      );

      CREATE TABLE group_members (
        topic_id           bigint NOT NULL,
        group_name         text NOT NULL,
        member_id          text NOT NULL,
        last_heartbeat_at  bigint NOT NULL,
        session_timeout_ms bigint NOT NULL,
        PRIMARY KEY (topic_id, group_name, member_id)
      );

      -- at most one owner per partition: the primary key is the ownership lock
      CREATE TABLE group_owners (
        topic_id   bigint NOT NULL,
        group_name text NOT NULL,
        partition  integer NOT NULL,
        member_id  text NOT NULL,
        PRIMARY KEY (topic_id, group_name, partition)
      );

      CREATE TABLE group_offsets (
        topic_id         bigint NOT NULL,
        group_name       text NOT NULL,
        partition        integer NOT NULL,
        committed_offset bigint NOT NULL,
        PRIMARY KEY (topic_id, group_name, partition)
      );

      CREATE TABLE processed (
        consumer     text NOT NULL,
        message_id   text NOT NULL,
        processed_at bigint NOT NULL,
        PRIMARY KEY (consumer, message_id)
      );
      CREATE INDEX processed_by_time ON processed (processed_at);

      -- Queues and topics whose rows are still to be removed by maintain() (kind 'queue' or 'topic').
      CREATE TABLE dropped (
        kind       text NOT NULL,
        id         bigint NOT NULL,
        dropped_at bigint NOT NULL,
        PRIMARY KEY (kind, id)
      );
    `,
  },
  {
    version: 2,
    description: 'jobs and schedules',
    sql: `
      -- payload, metadata, progress_data and result are JSON text the jobs layer (src/jobs)
      -- gives and gets back verbatim; it also owns the status transitions. Ids compare
      -- byte-wise (C collation), so listings order the same in every process and backend.
      CREATE TABLE jobs (
        id               text COLLATE "C" PRIMARY KEY,
        type             text NOT NULL,
        status           text NOT NULL,
        payload          text NOT NULL,
        key              text,
        priority         integer NOT NULL,
        metadata         text NOT NULL,
        max_attempts     integer NOT NULL,
        attempts         integer NOT NULL,
        created_at       bigint NOT NULL,
        updated_at       bigint NOT NULL,
        run_at           bigint NOT NULL,
        started_at       bigint,
        finished_at      bigint,
        progress         double precision NOT NULL,
        progress_data    text,
        result           text,
        last_error       json,
        history          json NOT NULL,
        parent_id        text,
        pending_children integer NOT NULL,
        callback_url     text,
        idempotency_key  text,
        request_hash     text,
        version          integer NOT NULL
      );
      CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (type, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
      -- searches, newest first (scanned backwards), each filter with its own ordered index
      CREATE INDEX jobs_by_created ON jobs (created_at, id);
      CREATE INDEX jobs_by_type ON jobs (type, created_at, id);
      CREATE INDEX jobs_by_status ON jobs (status, created_at, id);
      CREATE INDEX jobs_by_key ON jobs (key, created_at, id) WHERE key IS NOT NULL;
      CREATE INDEX jobs_by_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
      -- retention of finished jobs
      CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

      CREATE TABLE schedules (
        name          text PRIMARY KEY,
        cron          text,
        timezone      text,
        every_ms      bigint,
        job_type      text NOT NULL,
        payload       text NOT NULL,
        missed_policy text NOT NULL,
        next_run_at   bigint NOT NULL,
        last_run_at   bigint,
        created_at    bigint NOT NULL
      );
    `,
  },
  {
    version: 3,
    description: 'job logs',
    sql: `
      -- The lines a job's handler logged (job.log); bounded by the jobs layer.
      ALTER TABLE jobs ADD COLUMN logs json NOT NULL DEFAULT '[]';
    `,
  },
  {
    version: 4,
    description: 'workers registry',
    sql: `
      -- Every running consumer, subscription, job worker and polled group member, heartbeated by
      -- its process (engine/workers.ts).
      CREATE TABLE workers (
        id                    text PRIMARY KEY,
        kind                  text NOT NULL,
        host                  text NOT NULL,
        pid                   integer NOT NULL,
        serves                json NOT NULL,
        concurrency           integer NOT NULL,
        in_flight             integer NOT NULL,
        processed             bigint NOT NULL,
        started_at            bigint NOT NULL,
        heartbeat_interval_ms integer NOT NULL,
        last_seen_at          bigint NOT NULL
      );
      -- the sweep of workers unseen for long
      CREATE INDEX workers_by_last_seen ON workers (last_seen_at);
    `,
  },
  {
    version: 5,
    description: 'schedule pause',
    sql: `
      -- When an operator paused the schedule (null: it fires); saving the schedule keeps it.
      ALTER TABLE schedules ADD COLUMN paused_at bigint;
    `,
  },
  {
    version: 6,
    description: 'queue pause',
    sql: `
      -- When an operator paused the queue (null: it delivers); every claim reads it.
      ALTER TABLE queues ADD COLUMN paused_at bigint;
    `,
  },
  {
    version: 7,
    description: 'message expiry',
    sql: `
      -- When the message expires (ms since epoch; null: never). Claims skip expired messages, and
      -- a sweep moves those nobody holds to the dead letters; the partial index keeps the probe
      -- free for queues without expiry.
      ALTER TABLE messages ADD COLUMN expires_at bigint;
      CREATE INDEX messages_expiring ON messages (queue_id, expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 8,
    description: 'consumer group pause',
    sql: `
      -- When an operator paused the group (null: its members read); members look at least once a second.
      ALTER TABLE consumer_groups ADD COLUMN paused_at bigint;
    `,
  },
  {
    version: 9,
    description: 'workflow steps and events',
    sql: `
      -- A workflow run is a job (src/workflows); these are what its code did and what was sent
      -- to it. output and payload are JSON text, error a JSON object. They go with their job.
      CREATE TABLE workflow_steps (
        run_id      text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        step_id     text NOT NULL,
        seq         integer NOT NULL,
        kind        text NOT NULL,
        status      text NOT NULL,
        output      text,
        error       jsonb,
        attempts    integer NOT NULL,
        started_at  bigint NOT NULL,
        finished_at bigint,
        wake_at     bigint,
        PRIMARY KEY (run_id, step_id)
      );
      CREATE TABLE workflow_events (
        seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id   text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        name     text NOT NULL,
        payload  text NOT NULL,
        sent_at  bigint NOT NULL
      );
      CREATE INDEX workflow_events_by_run ON workflow_events (run_id, seq);
    `,
  },
  {
    version: 10,
    description: 'circuit breakers',
    sql: `
      -- One row per breaker; state is JSON text that src/breakers reads and replaces.
      CREATE TABLE breakers (
        name       text COLLATE "C" PRIMARY KEY,
        state      text NOT NULL,
        updated_at bigint NOT NULL
      );
    `,
  },
  {
    version: 11,
    description: 'events staged for the log by transactions, appended after their commit',
    sql: `
      -- A transaction that publishes to a busy partition (the events log every job transition
      -- writes to) stages its events here instead of locking the partition row until it commits;
      -- the relay (log-ops.ts) appends them in seq order right after the commit.
      CREATE TABLE staged_events (
        seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        topic         text COLLATE "C" NOT NULL,
        partition     integer NOT NULL,
        id            text NOT NULL,
        payload_text  text,
        payload_bytes bytea,
        headers       text NOT NULL,
        key           text
      );
    `,
  },
  {
    version: 12,
    description: 'job concurrency slots',
    sql: `
      -- The slots of a job type's limit across processes (key '' for globalConcurrency, the job
      -- key for keyConcurrency). A job starting takes a slot whose holder is no longer active,
      -- skipping slots other starts have locked, so starts of one type do not queue on a lock.
      CREATE TABLE job_slots (
        type   text COLLATE "C" NOT NULL,
        key    text COLLATE "C" NOT NULL,
        slot   integer NOT NULL,
        holder text,
        PRIMARY KEY (type, key, slot)
      );
    `,
  },
  {
    version: 13,
    description: 'rate limit buckets',
    sql: `
      -- Token buckets of rate limits that hold across processes (src/jobs: globalRateLimit).
      CREATE TABLE rate_buckets (
        name        text COLLATE "C" PRIMARY KEY,
        tokens      double precision NOT NULL,
        refilled_at bigint NOT NULL
      );
    `,
  },
  {
    version: 14,
    description: 'job add gates',
    sql: `
      -- The add controls in force per job type (src/jobs/add-gates.ts): singleton, unique,
      -- debounce and throttle, each by a gate name made of the control and its key or payload hash.
      CREATE TABLE job_gates (
        type       text COLLATE "C" NOT NULL,
        gate       text COLLATE "C" NOT NULL,
        job_id     text COLLATE "C" NOT NULL,
        opened_at  bigint NOT NULL,
        touched_at bigint NOT NULL,
        expires_at bigint,
        PRIMARY KEY (type, gate)
      );
      CREATE INDEX job_gates_expiry ON job_gates (expires_at);
    `,
  },
  {
    version: 15,
    description: 'fairness groups',
    sql: `
      -- A message's fairness group (a tenant; null: none), kept through dead-lettering and redrive.
      -- C collation, as queue_groups.grp: the claim compares them, and an index serves only
      -- comparisons in its own collation.
      ALTER TABLE messages ADD COLUMN grp text COLLATE "C";
      ALTER TABLE dead_letters ADD COLUMN grp text COLLATE "C";
      -- Claims of a queue that has groups take round-robin across them (fair-groups.ts), each group
      -- with its own ordered index: messages_claimable keeps the ungrouped heads (a queue that
      -- never sees a group claims exactly as before), messages_grouped the others by group.
      DROP INDEX messages_claimable;
      CREATE INDEX messages_claimable ON messages (queue_id, priority DESC, seq, visible_at)
        WHERE key_head AND grp IS NULL;
      CREATE INDEX messages_grouped ON messages (queue_id, grp, priority DESC, seq, visible_at)
        WHERE key_head AND grp IS NOT NULL;
      -- whether a group still has messages in any state (its row goes when it has none)
      CREATE INDEX messages_by_group ON messages (queue_id, grp) WHERE grp IS NOT NULL;
      -- The groups of a queue that have messages, and the turn each was last served at (from
      -- queue_group_turns; 0: not yet). grp '' stands for the messages without a group; its row
      -- is added with the queue's first group and stays. A queue without rows never saw a group.
      CREATE TABLE queue_groups (
        queue_id bigint NOT NULL,
        grp      text COLLATE "C" NOT NULL,
        served   bigint NOT NULL,
        PRIMARY KEY (queue_id, grp)
      );
      CREATE INDEX queue_groups_by_turn ON queue_groups (queue_id, served, grp);
      CREATE SEQUENCE queue_group_turns;
    `,
  },
];

/** The schema version this code writes and understands. */
export const schemaVersion = migrations.length;

/**
 * Brings the schema to {@link schemaVersion}, creating it if needed. Throws
 * `SchemaVersionError` if it is already past it (written by a newer Spool).
 */
export async function migrate(pool: PostgresPool, names: SchemaNames): Promise<void> {
  if ((await readVersion(pool, names)) === schemaVersion) return;
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `spool migrations ${names.schema}`,
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(names.schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${names.migrations} (
         version     integer PRIMARY KEY,
         description text NOT NULL,
         applied_at  timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const current = await readVersion(client, names);
    for (const migration of migrations.slice(current)) {
      await client.query(`SET LOCAL search_path TO ${quoteIdentifier(names.schema)}`);
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${names.migrations} (version, description) VALUES ($1, $2)`, [
        migration.version,
        migration.description,
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * The highest migration the schema has run (0 when it has none). Throws `SchemaVersionError`
 * for a version newer than this code knows.
 */
export async function readVersion(db: PostgresQueryable, names: SchemaNames): Promise<number> {
  const [table] = (await db.query('SELECT to_regclass($1) IS NOT NULL AS present', [names.migrations]))
    .rows as { present: boolean }[];
  if (!table?.present) return 0;
  const [row] = (await db.query(`SELECT coalesce(max(version), 0) AS version FROM ${names.migrations}`))
    .rows as { version: number | string }[];
  const version = toInt(row?.version ?? 0);
  if (version > schemaVersion) {
    throw new SchemaVersionError(
      `the PostgreSQL schema "${names.schema}" is at version ${version}, but this Spool only knows versions up to ${schemaVersion}; upgrade Spool to use it`,
      { schema: names.schema, found: version, supported: schemaVersion },
    );
  }
  return version;
}
