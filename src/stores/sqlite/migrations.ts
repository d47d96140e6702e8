/**
 * Schema migrations. Each migration is numbered and immutable once released: to change the
 * schema, append a new one; never edit an old one (databases in the field already ran it).
 * The version a database is at lives in `PRAGMA user_version` (in the file header, so it is
 * transactional and needs no table).
 *
 * At open, missing migrations run in one `BEGIN IMMEDIATE` transaction, which also serialises two
 * processes opening the same file: the second one re-reads the version after the first
 * committed and finds nothing to do. A file written by a newer Spool (a version we do not know)
 * is refused with `SchemaVersionError` instead of being read with the wrong assumptions.
 */
import type Database from 'better-sqlite3';
import { SchemaVersionError } from '../../core/errors.js';

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/**
 * Tables are STRICT (SQLite checks column types) except that payload columns are `ANY`, which in
 * a STRICT table keeps TEXT and BLOB values exactly as stored. Times are ms since the epoch.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    description: 'queues, dead letters, dedup ids, topics, consumer groups, processed markers',
    sql: `
      CREATE TABLE queues (
        name   TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        -- messages in the queue in any state, kept by the triggers below so that the maxDepth
        -- check is one primary-key read instead of a count
        depth  INTEGER NOT NULL DEFAULT 0
      ) STRICT;

      -- seq is the enqueue order (per-key FIFO and FIFO within a priority); a new row always gets
      -- the highest seq. visible_at is when the message is next deliverable: its available time
      -- while waiting, its lease expiry while leased (lease_token not null). key_blocked is 1
      -- while an older message with the same key is in the queue (see the triggers below).
      CREATE TABLE messages (
        seq         INTEGER PRIMARY KEY,
        id          TEXT NOT NULL,
        queue       TEXT NOT NULL,
        payload     ANY NOT NULL,
        headers     TEXT NOT NULL,
        key         TEXT,
        priority    INTEGER NOT NULL,
        enqueued_at INTEGER NOT NULL,
        visible_at  INTEGER NOT NULL,
        attempts    INTEGER NOT NULL,
        lease_token TEXT,
        key_blocked INTEGER NOT NULL DEFAULT 0,
        errors      TEXT NOT NULL
      ) STRICT;
      -- browsing in delivery order: priority, then enqueue order
      CREATE INDEX messages_by_delivery ON messages (queue, priority DESC, seq);
      -- claim: the unleased heads of their keys in delivery order. Leased and key-blocked
      -- messages are not in it, so a claim never walks past them; visible_at is in the index so
      -- that delayed messages are skipped without reading their rows. (A waiting message's
      -- visible_at only changes together with lease_token, so covering it costs no extra writes.)
      CREATE INDEX messages_claimable ON messages (queue, priority DESC, seq, visible_at)
        WHERE lease_token IS NULL AND key_blocked = 0;
      -- per-key FIFO: the oldest message of a key (for the key triggers below)
      CREATE INDEX messages_by_key ON messages (queue, key, seq) WHERE key IS NOT NULL;
      -- expired leases (claim's dead-letter sweep and redelivery) and the next lease expiry
      CREATE INDEX messages_leased ON messages (queue, visible_at) WHERE lease_token IS NOT NULL;
      -- the next delayed message to become due. A message sent without a delay has visible_at =
      -- enqueued_at and is due at once, so it is left out: most sends then skip this index.
      CREATE INDEX messages_waiting ON messages (queue, visible_at)
        WHERE lease_token IS NULL AND visible_at > enqueued_at;

      CREATE TRIGGER messages_depth_insert AFTER INSERT ON messages BEGIN
        UPDATE queues SET depth = depth + 1 WHERE name = NEW.queue;
      END;
      CREATE TRIGGER messages_depth_delete AFTER DELETE ON messages BEGIN
        UPDATE queues SET depth = depth - 1 WHERE name = OLD.queue;
      END;
      -- Invariant: of the messages of one (queue, key), exactly the oldest has key_blocked = 0.
      -- Only a head is ever claimed, so only a head is ever leased. Every path that adds or
      -- removes messages (enqueue, redrive, ack, dead-lettering, purge) goes through these.
      CREATE TRIGGER messages_key_block AFTER INSERT ON messages WHEN NEW.key IS NOT NULL BEGIN
        UPDATE messages SET key_blocked = 1
        WHERE seq = NEW.seq
          AND EXISTS (SELECT 1 FROM messages AS older
                      WHERE older.queue = NEW.queue AND older.key = NEW.key AND older.seq < NEW.seq);
      END;
      CREATE TRIGGER messages_key_unblock AFTER DELETE ON messages
      WHEN OLD.key IS NOT NULL AND OLD.key_blocked = 0 BEGIN
        UPDATE messages SET key_blocked = 0
        WHERE seq = (SELECT min(seq) FROM messages WHERE queue = OLD.queue AND key = OLD.key);
      END;

      -- seq is the dead-lettering order: listings are oldest first
      CREATE TABLE dead_letters (
        seq              INTEGER PRIMARY KEY,
        id               TEXT NOT NULL,
        queue            TEXT NOT NULL,
        payload          ANY NOT NULL,
        headers          TEXT NOT NULL,
        key              TEXT,
        priority         INTEGER NOT NULL,
        enqueued_at      INTEGER NOT NULL,
        dead_lettered_at INTEGER NOT NULL,
        attempts         INTEGER NOT NULL,
        errors           TEXT NOT NULL
      ) STRICT;
      CREATE INDEX dead_letters_by_queue ON dead_letters (queue, seq);
      CREATE INDEX dead_letters_by_id ON dead_letters (queue, id);

      CREATE TABLE dedup (
        queue      TEXT NOT NULL,
        dedup_id   TEXT NOT NULL,
        message_id TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (queue, dedup_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX dedup_by_expiry ON dedup (expires_at);

      CREATE TABLE topics (
        name   TEXT PRIMARY KEY,
        config TEXT NOT NULL
      ) STRICT;

      -- [start_offset, next_offset) is readable; bytes is the payload size of those events;
      -- last_timestamp keeps event timestamps non-decreasing per partition (see log-ops.ts)
      CREATE TABLE partitions (
        topic          TEXT NOT NULL,
        partition      INTEGER NOT NULL,
        start_offset   INTEGER NOT NULL,
        next_offset    INTEGER NOT NULL,
        bytes          INTEGER NOT NULL,
        last_timestamp INTEGER NOT NULL,
        PRIMARY KEY (topic, partition)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE events (
        topic     TEXT NOT NULL,
        partition INTEGER NOT NULL,
        offset    INTEGER NOT NULL,
        id        TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        payload   ANY NOT NULL,
        headers   TEXT NOT NULL,
        key       TEXT,
        PRIMARY KEY (topic, partition, offset)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE consumer_groups (
        topic      TEXT NOT NULL,
        name       TEXT NOT NULL,
        generation INTEGER NOT NULL,
        seek_epoch INTEGER NOT NULL,
        PRIMARY KEY (topic, name)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE group_members (
        topic              TEXT NOT NULL,
        group_name         TEXT NOT NULL,
        member_id          TEXT NOT NULL,
        last_heartbeat_at  INTEGER NOT NULL,
        session_timeout_ms INTEGER NOT NULL,
        PRIMARY KEY (topic, group_name, member_id)
      ) STRICT, WITHOUT ROWID;

      -- at most one owner per partition: the primary key is the ownership lock
      CREATE TABLE group_owners (
        topic      TEXT NOT NULL,
        group_name TEXT NOT NULL,
        partition  INTEGER NOT NULL,
        member_id  TEXT NOT NULL,
        PRIMARY KEY (topic, group_name, partition)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE group_offsets (
        topic      TEXT NOT NULL,
        group_name TEXT NOT NULL,
        partition  INTEGER NOT NULL,
        offset     INTEGER NOT NULL,
        PRIMARY KEY (topic, group_name, partition)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE processed (
        consumer     TEXT NOT NULL,
        message_id   TEXT NOT NULL,
        processed_at INTEGER NOT NULL,
        PRIMARY KEY (consumer, message_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX processed_by_time ON processed (processed_at);
    `,
  },
  {
    version: 2,
    description: 'jobs and schedules',
    sql: `
      -- JSON-valued fields (payload, metadata, progress_data, result, last_error, history) are
      -- JSON text; the jobs layer (src/jobs) owns their meaning and the status transitions.
      CREATE TABLE jobs (
        id               TEXT PRIMARY KEY,
        type             TEXT NOT NULL,
        status           TEXT NOT NULL,
        payload          TEXT NOT NULL,
        key              TEXT,
        priority         INTEGER NOT NULL,
        metadata         TEXT NOT NULL,
        max_attempts     INTEGER NOT NULL,
        attempts         INTEGER NOT NULL,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        run_at           INTEGER NOT NULL,
        started_at       INTEGER,
        finished_at      INTEGER,
        progress         REAL NOT NULL,
        progress_data    TEXT,
        result           TEXT,
        last_error       TEXT,
        history          TEXT NOT NULL,
        parent_id        TEXT,
        pending_children INTEGER NOT NULL,
        callback_url     TEXT,
        idempotency_key  TEXT,
        request_hash     TEXT,
        version          INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (type, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
      -- searches, newest first, each filter with its own ordered index
      CREATE INDEX jobs_by_created ON jobs (created_at DESC, id DESC);
      CREATE INDEX jobs_by_type ON jobs (type, created_at DESC, id DESC);
      CREATE INDEX jobs_by_status ON jobs (status, created_at DESC, id DESC);
      CREATE INDEX jobs_by_key ON jobs (key, created_at DESC, id DESC) WHERE key IS NOT NULL;
      CREATE INDEX jobs_by_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
      -- retention of finished jobs
      CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

      CREATE TABLE schedules (
        name          TEXT PRIMARY KEY,
        cron          TEXT,
        timezone      TEXT,
        every_ms      INTEGER,
        job_type      TEXT NOT NULL,
        payload       TEXT NOT NULL,
        missed_policy TEXT NOT NULL,
        next_run_at   INTEGER NOT NULL,
        last_run_at   INTEGER,
        created_at    INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 3,
    description: 'job logs',
    sql: `
      -- The lines a job's handler logged (job.log), JSON text; bounded by the jobs layer.
      ALTER TABLE jobs ADD COLUMN logs TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    version: 4,
    description: 'workers registry',
    sql: `
      -- Every running consumer, subscription, job worker and polled group member, heartbeated by
      -- its process (engine/workers.ts); serves is JSON text.
      CREATE TABLE workers (
        id                    TEXT PRIMARY KEY,
        kind                  TEXT NOT NULL,
        host                  TEXT NOT NULL,
        pid                   INTEGER NOT NULL,
        serves                TEXT NOT NULL,
        concurrency           INTEGER NOT NULL,
        in_flight             INTEGER NOT NULL,
        processed             INTEGER NOT NULL,
        started_at            INTEGER NOT NULL,
        heartbeat_interval_ms INTEGER NOT NULL,
        last_seen_at          INTEGER NOT NULL
      ) STRICT;
      -- the sweep of workers unseen for long
      CREATE INDEX workers_by_last_seen ON workers (last_seen_at);
    `,
  },
  {
    version: 5,
    description: 'schedule pause',
    sql: `
      -- When an operator paused the schedule (null: it fires); saving the schedule keeps it.
      ALTER TABLE schedules ADD COLUMN paused_at INTEGER;
    `,
  },
  {
    version: 6,
    description: 'queue pause',
    sql: `
      -- When an operator paused the queue (null: it delivers). Claims read it in the queue row
      -- they read anyway, so every process sees a pause at its next claim.
      ALTER TABLE queues ADD COLUMN paused_at INTEGER;
    `,
  },
  {
    version: 7,
    description: 'depth and key heads kept by the statements, not by row triggers',
    sql: `
      -- The writes that add and remove messages keep queues.depth and messages.key_blocked
      -- themselves (message-bookkeeping.ts): a row trigger cost a sub-program per row, a third
      -- of the CPU of an ack. The invariants the triggers documented above still hold.
      DROP TRIGGER messages_depth_insert;
      DROP TRIGGER messages_depth_delete;
      DROP TRIGGER messages_key_block;
      DROP TRIGGER messages_key_unblock;
    `,
  },
  {
    version: 8,
    description: 'message expiry',
    sql: `
      -- When the message expires (ms since epoch; null: never). A claim moves expired messages
      -- that nobody holds to the dead letters instead of delivering them; the partial index keeps
      -- that sweep free for queues without expiry.
      ALTER TABLE messages ADD COLUMN expires_at INTEGER;
      CREATE INDEX messages_expiring ON messages (queue, expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 9,
    description: 'consumer group pause',
    sql: `
      -- When an operator paused the group (null: its members read). Members look at it at least
      -- once a second; committed offsets and memberships stay while it is paused.
      ALTER TABLE consumer_groups ADD COLUMN paused_at INTEGER;
    `,
  },
  {
    version: 10,
    description: 'workflow steps and events',
    sql: `
      -- A workflow run is a job (src/workflows); these are what its code did and what was sent
      -- to it. output and payload are JSON text, error a JSON object. They go with their job.
      CREATE TABLE workflow_steps (
        run_id      TEXT NOT NULL,
        step_id     TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        status      TEXT NOT NULL,
        output      TEXT,
        error       TEXT,
        attempts    INTEGER NOT NULL,
        started_at  INTEGER NOT NULL,
        finished_at INTEGER,
        wake_at     INTEGER,
        PRIMARY KEY (run_id, step_id)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE workflow_events (
        seq      INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id   TEXT NOT NULL,
        name     TEXT NOT NULL,
        payload  TEXT NOT NULL,
        sent_at  INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX workflow_events_by_run ON workflow_events (run_id, seq);
      CREATE TRIGGER jobs_delete_workflow AFTER DELETE ON jobs BEGIN
        DELETE FROM workflow_steps WHERE run_id = old.id;
        DELETE FROM workflow_events WHERE run_id = old.id;
      END;
    `,
  },
  {
    version: 11,
    description: 'circuit breakers',
    sql: `
      -- One row per breaker; state is JSON text that src/breakers reads and replaces.
      CREATE TABLE breakers (
        name       TEXT PRIMARY KEY,
        state      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 12,
    description: 'rate limit buckets',
    sql: `
      -- Token buckets of rate limits that hold across processes (src/jobs: globalRateLimit).
      CREATE TABLE rate_buckets (
        name        TEXT PRIMARY KEY,
        tokens      REAL NOT NULL,
        refilled_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 13,
    description: 'job add gates',
    sql: `
      -- The add controls in force per job type (src/jobs/add-gates.ts): singleton, unique,
      -- debounce and throttle, each by a gate name made of the control and its key or payload hash.
      CREATE TABLE job_gates (
        type       TEXT NOT NULL,
        gate       TEXT NOT NULL,
        job_id     TEXT NOT NULL,
        opened_at  INTEGER NOT NULL,
        touched_at INTEGER NOT NULL,
        expires_at INTEGER,
        PRIMARY KEY (type, gate)
      ) STRICT;
      CREATE INDEX job_gates_expiry ON job_gates (expires_at);
    `,
  },
  {
    version: 14,
    description: 'fairness groups',
    sql: `
      -- A message's fairness group (a tenant; null: none), kept through dead-lettering and redrive.
      ALTER TABLE messages ADD COLUMN grp TEXT;
      ALTER TABLE dead_letters ADD COLUMN grp TEXT;
      -- Claims of a queue that has groups walk the groups round-robin (lease-ops.ts), each group
      -- with its own ordered index: messages_claimable keeps the ungrouped ones (a queue that never
      -- sees a group claims exactly as before), messages_grouped the others by (queue, grp).
      DROP INDEX messages_claimable;
      CREATE INDEX messages_claimable ON messages (queue, priority DESC, seq, visible_at)
        WHERE lease_token IS NULL AND key_blocked = 0 AND grp IS NULL;
      CREATE INDEX messages_grouped ON messages (queue, grp, priority DESC, seq, visible_at)
        WHERE lease_token IS NULL AND key_blocked = 0 AND grp IS NOT NULL;
      -- whether a group still has messages in any state (its row goes when it has none)
      CREATE INDEX messages_by_group ON messages (queue, grp) WHERE grp IS NOT NULL;
      -- The groups of a queue that have messages, and when each was last served (a turn counter
      -- per queue; 0: not yet). grp '' stands for the messages without a group; its row is added
      -- with the queue's first group and stays. A queue without rows has never seen a group.
      CREATE TABLE queue_groups (
        queue  TEXT NOT NULL,
        grp    TEXT NOT NULL,
        served INTEGER NOT NULL,
        PRIMARY KEY (queue, grp)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX queue_groups_by_turn ON queue_groups (queue, served, grp);
    `,
  },
];

/** The schema version this code writes and understands. */
export const schemaVersion = migrations.length;

/**
 * Brings the database to {@link schemaVersion}. Throws `SchemaVersionError` if it is already
 * past it (written by a newer Spool).
 */
export function migrate(db: Database.Database): void {
  const apply = db.transaction(() => {
    const current = readVersion(db);
    if (current > schemaVersion) {
      throw new SchemaVersionError(
        `the database is at schema version ${current}, but this Spool only knows versions up to ${schemaVersion}; upgrade Spool to open it`,
        { found: current, supported: schemaVersion },
      );
    }
    for (const migration of migrations.slice(current)) {
      db.exec(migration.sql);
      // user_version is an integer literal we control; PRAGMA does not take bound parameters.
      db.pragma(`user_version = ${migration.version}`);
    }
  });
  apply.immediate();
}

/** The schema version recorded in the file (0 for a new database). */
export function readVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}
