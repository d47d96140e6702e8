/**
 * Topics as append-only tables: configuration, append, read, offsets by time, retention.
 *
 * Each partition row holds `[start_offset, next_offset)`, the payload bytes in that range and
 * the last timestamp. Offsets are dense and readers never see a gap that later fills, under any
 * number of publishers in any number of processes, because an append takes its offsets by
 * UPDATING the partition row (`next_offset = next_offset + n`) in the same transaction that
 * inserts the events:
 *
 * - the row lock is held until commit, so appends to one partition commit one after another, in
 *   offset order: an offset only becomes visible after every lower offset is visible;
 * - a rolled-back append rolls its offset bump back too, so no offset is ever skipped;
 * - the partition row and its events commit together, so a reader's snapshot (reads are one
 *   statement) sees `next_offset` and exactly the events below it.
 *
 * A sequence would be cheaper but is neither gap-free (rollbacks burn values) nor ordered by
 * commit (a reader could pass offset 7 while 6 is still uncommitted, and never come back for it).
 * The price is that publishers of ONE partition serialise; throughput scales with partitions.
 * Multi-partition appends lock their rows in partition order, so they cannot deadlock.
 *
 * Timestamps never decrease within a partition: an append stamps `max(clock.now(), last
 * timestamp)`. With dense offsets and sorted timestamps, `offsetForTime` is a binary search over
 * offsets (a recursive query of point reads, one round trip) and time-based retention stops at
 * the first young event, so neither needs an index on time that every append would maintain.
 */
import type { Clock } from '../../core/clock.js';
import { ConfigConflictError, OffsetOutOfRangeError, TopicNotFoundError } from '../../core/errors.js';
import type { TopicConfig } from '../../core/options.js';
import type { AppendEvent, AppendResult, PartitionOffsets, ReadResult } from '../../store/port.js';
import { decodeHeaders, decodePayload, encodePayload, fromJson, payloadBytes, toInt } from './codec.js';
import type { SchemaNames } from './connection.js';
import type { Sql } from './sql.js';

type Int = number | string;

interface StagedRow {
  seq: Int;
  topic: string;
  partition: number;
  id: string;
  payload_text: string | null;
  payload_bytes: Buffer | null;
  headers: string;
  key: string | null;
}

/** A topic's id (what its rows reference) and configuration. */
export interface TopicRef {
  readonly id: number;
  readonly config: TopicConfig;
}

interface ReadRow {
  start_offset: Int;
  next_offset: Int;
  event_offset: Int | null;
  id: string;
  appended_at: Int;
  payload_text: string | null;
  payload_bytes: Buffer | null;
  headers: unknown;
  key: string | null;
}

/** Events examined (and at most deleted) per retention transaction. */
const trimChunk = 1_000;

export class LogOps {
  readonly #clock: Clock;
  readonly #sql: Record<
    | 'find'
    | 'create'
    | 'lockTopic'
    | 'updateTopic'
    | 'list'
    | 'delete'
    | 'takeOffsets'
    | 'insertEvents'
    | 'stage'
    | 'relayLock'
    | 'unstage'
    | 'read'
    | 'offsets'
    | 'offsetForTime'
    | 'lockPartition'
    | 'sizesFrom'
    | 'cut',
    string
  >;

  /** Partition counts of the topics this process has staged events for (see `stage`). */
  readonly #stagedPartitions = new Map<string, number>();

  constructor(names: SchemaNames, clock: Clock) {
    this.#clock = clock;
    const { topics, partitions, events, groups, members, owners, offsets, dropped, stagedEvents } = names;
    const ofGone = 'topic_id IN (SELECT id FROM gone)';
    this.#sql = {
      find: `SELECT id, config FROM ${topics} WHERE name = $1`,
      create: `
        WITH created AS (
          INSERT INTO ${topics} (name, config) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id),
        added AS (
          INSERT INTO ${partitions} (topic_id, partition, start_offset, next_offset, bytes, last_timestamp)
          SELECT id, p, 0, 0, 0, 0 FROM created, generate_series(0, $3::int - 1) AS p)
        SELECT id FROM created`,
      lockTopic: `SELECT id, config FROM ${topics} WHERE name = $1 FOR UPDATE`,
      updateTopic: `UPDATE ${topics} SET config = $2 WHERE id = $1`,
      list: `SELECT config FROM ${topics} ORDER BY name COLLATE "C"`,
      // Partitions and groups are small and go now (an append waiting for a partition row then
      // finds it gone); the events follow in batches (upkeep-ops.ts).
      delete: `
        WITH gone AS (DELETE FROM ${topics} WHERE name = $1 RETURNING id),
        p AS (DELETE FROM ${partitions} WHERE ${ofGone}),
        g AS (DELETE FROM ${groups} WHERE ${ofGone}),
        m AS (DELETE FROM ${members} WHERE ${ofGone}),
        o AS (DELETE FROM ${owners} WHERE ${ofGone}),
        f AS (DELETE FROM ${offsets} WHERE ${ofGone})
        INSERT INTO ${dropped} (kind, id, dropped_at) SELECT 'topic', id, $2::bigint FROM gone`,
      // $2 holds distinct partitions, $3 and $4 the events and bytes each gets. The index scan of
      // `partition = ANY(…)` visits (and locks) them in partition order.
      takeOffsets: `
        UPDATE ${partitions}
        SET next_offset = next_offset + ($3::int[])[array_position($2::int[], partition)],
            bytes = bytes + ($4::bigint[])[array_position($2::int[], partition)],
            last_timestamp = greatest(last_timestamp, $5::bigint)
        WHERE topic_id = $1 AND partition = ANY($2::int[])
        RETURNING partition, next_offset - ($3::int[])[array_position($2::int[], partition)] AS first_offset,
                  last_timestamp`,
      stage: `
        INSERT INTO ${stagedEvents} (topic, partition, id, payload_text, payload_bytes, headers, key)
        SELECT $1::text, e.partition, e.id, e.payload_text, e.payload_bytes, e.headers, e.key
        FROM unnest($2::int[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[])
             AS e(partition, id, payload_text, payload_bytes, headers, key)`,
      // One relay at a time in the whole database: the next one's DELETE, a later statement,
      // sees what the previous one took (see sql.ts on lock-then-read).
      relayLock: `SELECT pg_advisory_xact_lock(hashtext($1::text))`,
      unstage: `
        DELETE FROM ${stagedEvents}
        WHERE seq IN (SELECT seq FROM ${stagedEvents} ORDER BY seq LIMIT $1)
        RETURNING seq, topic, partition, id, payload_text, payload_bytes, headers, key`,
      insertEvents: `
        INSERT INTO ${events} (topic_id, partition, event_offset, id, appended_at, payload_text, payload_bytes,
                               headers, key, size)
        SELECT $1::bigint, e.partition, e.event_offset, e.id, e.appended_at, e.payload_text, e.payload_bytes,
               e.headers::json, e.key, e.size
        FROM unnest($2::int[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::bytea[], $8::text[],
                    $9::text[], $10::int[])
             AS e(partition, event_offset, id, appended_at, payload_text, payload_bytes, headers, key, size)`,
      read: `
        SELECT p.start_offset, p.next_offset, e.event_offset, e.id, e.appended_at, e.payload_text, e.payload_bytes,
               e.headers, e.key
        FROM ${topics} t
        JOIN ${partitions} p ON p.topic_id = t.id AND p.partition = $2
        LEFT JOIN LATERAL (
          SELECT * FROM ${events}
          WHERE topic_id = t.id AND partition = $2 AND event_offset >= greatest($3::bigint, p.start_offset)
          ORDER BY event_offset LIMIT $4) e ON true
        WHERE t.name = $1
        ORDER BY e.event_offset`,
      offsets: `
        SELECT p.partition, p.start_offset, p.next_offset
        FROM ${topics} t JOIN ${partitions} p ON p.topic_id = t.id
        WHERE t.name = $1 ORDER BY p.partition`,
      // Binary search for the first offset in [start, next) whose timestamp is >= $3: each step
      // reads the event in the middle of [low, high) and keeps the half that holds the answer.
      offsetForTime: `
        WITH RECURSIVE search (topic_id, low, high) AS (
          SELECT t.id, p.start_offset, p.next_offset
          FROM ${topics} t JOIN ${partitions} p ON p.topic_id = t.id AND p.partition = $2
          WHERE t.name = $1
          UNION ALL
          SELECT s.topic_id,
                 CASE WHEN e.appended_at >= $3 THEN s.low ELSE e.event_offset + 1 END,
                 CASE WHEN e.appended_at >= $3 THEN e.event_offset ELSE s.high END
          FROM search s
          JOIN ${events} e ON e.topic_id = s.topic_id AND e.partition = $2 AND e.event_offset = (s.low + s.high) / 2
          WHERE s.low < s.high)
        SELECT low FROM search WHERE low >= high`,
      lockPartition: `SELECT start_offset, bytes FROM ${partitions} WHERE topic_id = $1 AND partition = $2 FOR UPDATE`,
      sizesFrom: `
        SELECT event_offset, appended_at, size FROM ${events}
        WHERE topic_id = $1 AND partition = $2 AND event_offset >= $3 ORDER BY event_offset LIMIT $4`,
      cut: `
        WITH gone AS (
          DELETE FROM ${events} WHERE topic_id = $1 AND partition = $2 AND event_offset >= $3 AND event_offset < $4)
        UPDATE ${partitions} SET start_offset = $4, bytes = $5 WHERE topic_id = $1 AND partition = $2`,
    };
  }

  async find(sql: Sql, name: string): Promise<TopicRef | null> {
    const [row] = await sql.rows<{ id: Int; config: unknown }>(this.#sql.find, [name]);
    return row ? { id: toInt(row.id), config: fromJson<TopicConfig>(row.config) } : null;
  }

  /** The topic's id and configuration; throws `TopicNotFoundError`. */
  async require(sql: Sql, name: string): Promise<TopicRef> {
    const topic = await this.find(sql, name);
    if (!topic) throw new TopicNotFoundError(name);
    return topic;
  }

  /** Creates the topic, or updates its retention; a different partition count is a conflict. */
  save(sql: Sql, config: TopicConfig): Promise<TopicConfig> {
    const stored = JSON.stringify(config);
    return sql.atomic(async (tx) => {
      // A concurrent delete can make the topic vanish between the two statements: try again.
      for (;;) {
        const created = await tx.rows(this.#sql.create, [config.name, stored, config.partitions]);
        if (created.length > 0) return fromJson<TopicConfig>(stored);
        const [row] = await tx.rows<{ id: Int; config: unknown }>(this.#sql.lockTopic, [config.name]);
        if (!row) continue;
        const existing = fromJson<TopicConfig>(row.config);
        if (existing.partitions !== config.partitions) {
          throw new ConfigConflictError(
            `topic "${config.name}" has ${existing.partitions} partitions and cannot be changed to ${config.partitions}; keep the partition count or use a new topic`,
            { topic: config.name, partitions: existing.partitions, requested: config.partitions },
          );
        }
        await tx.count(this.#sql.updateTopic, [row.id, stored]);
        return fromJson<TopicConfig>(stored);
      }
    });
  }

  async get(sql: Sql, name: string): Promise<TopicConfig | null> {
    return (await this.find(sql, name))?.config ?? null;
  }

  async list(sql: Sql): Promise<TopicConfig[]> {
    const rows = await sql.rows<{ config: unknown }>(this.#sql.list);
    return rows.map((row) => fromJson<TopicConfig>(row.config));
  }

  async delete(sql: Sql, name: string): Promise<boolean> {
    return (await sql.count(this.#sql.delete, [name, this.#clock.now()])) > 0;
  }

  append(sql: Sql, name: string, events: readonly AppendEvent[]): Promise<AppendResult[]> {
    return sql.atomic(async (tx) => {
      const topic = await this.require(tx, name);
      // Checked before anything is written, so a refused append leaves nothing behind.
      for (const event of events) this.#checkPartition(name, topic.config.partitions, event.partition);
      if (events.length === 0) return [];
      const wanted = new Map<number, { added: number; bytes: number }>();
      for (const event of events) {
        const entry = wanted.get(event.partition) ?? { added: 0, bytes: 0 };
        entry.added++;
        entry.bytes += payloadBytes(event.payload);
        wanted.set(event.partition, entry);
      }
      const taken = await tx.rows<{ partition: number; first_offset: Int; last_timestamp: Int }>(
        this.#sql.takeOffsets,
        [
          topic.id,
          [...wanted.keys()],
          [...wanted.values()].map((entry) => entry.added),
          [...wanted.values()].map((entry) => entry.bytes),
          this.#clock.now(),
        ],
      );
      // Fewer rows than partitions: the topic was deleted while this append waited for them.
      if (taken.length < wanted.size) throw new TopicNotFoundError(name);
      const next = new Map(
        taken.map((row) => [
          row.partition,
          { offset: toInt(row.first_offset), timestamp: toInt(row.last_timestamp) },
        ]),
      );
      const results = events.map((event) => {
        const position = next.get(event.partition)!;
        return {
          id: event.id,
          partition: event.partition,
          offset: position.offset++,
          timestamp: position.timestamp,
        };
      });
      const payloads = events.map((event) => encodePayload(event.payload));
      await tx.count(this.#sql.insertEvents, [
        topic.id,
        results.map((result) => result.partition),
        results.map((result) => result.offset),
        events.map((event) => event.id),
        results.map((result) => result.timestamp),
        payloads.map((payload) => payload.text),
        payloads.map((payload) => payload.bytes),
        events.map((event) => JSON.stringify(event.headers)),
        events.map((event) => event.key),
        events.map((event) => payloadBytes(event.payload)),
      ]);
      await tx.notify('topic', name);
      return results;
    });
  }

  /**
   * Stages events for the log inside a transaction, taking no partition lock: {@link relay}
   * appends them once the transaction has committed. The partitions are checked now, so a
   * refused publish fails the transaction's write, not the relay.
   */
  async stage(sql: Sql, name: string, events: readonly AppendEvent[]): Promise<void> {
    // The partition count of a topic never changes, so one read per topic and process does; a
    // topic deleted and made again with fewer partitions since is caught by the relay.
    let partitions = this.#stagedPartitions.get(name);
    if (partitions === undefined) {
      partitions = (await this.require(sql, name)).config.partitions;
      this.#stagedPartitions.set(name, partitions);
    }
    for (const event of events) this.#checkPartition(name, partitions, event.partition);
    if (events.length === 0) return;
    const payloads = events.map((event) => encodePayload(event.payload));
    await sql.count(this.#sql.stage, [
      name,
      events.map((event) => event.partition),
      events.map((event) => event.id),
      payloads.map((payload) => payload.text),
      payloads.map((payload) => payload.bytes),
      events.map((event) => JSON.stringify(event.headers)),
      events.map((event) => event.key),
    ]);
  }

  /**
   * Appends up to `max` staged events, oldest stage first, in one transaction, and resolves
   * with how many were taken. Relays of every process take turns (an advisory lock), so the log
   * gets staged events in stage order: a job's transitions, staged one after another under its
   * row lock, keep their order. Events of a topic deleted since are dropped with it.
   */
  relay(sql: Sql, lockName: string, max: number): Promise<number> {
    return sql.atomic(async (tx) => {
      await tx.rows(this.#sql.relayLock, [lockName]);
      const rows = await tx.rows<StagedRow>(this.#sql.unstage, [max]);
      rows.sort((a, b) => Number(a.seq) - Number(b.seq));
      // Consecutive events of one topic go in one append.
      let start = 0;
      while (start < rows.length) {
        const topic = rows[start]!.topic;
        let end = start + 1;
        while (end < rows.length && rows[end]!.topic === topic) end += 1;
        const events = rows.slice(start, end).map((row) => ({
          id: row.id,
          partition: row.partition,
          payload: decodePayload(row.payload_text, row.payload_bytes),
          headers: decodeHeaders(row.headers),
          key: row.key,
        }));
        await this.#appendStaged(tx, topic, events);
        start = end;
      }
      return rows.length;
    });
  }

  /** Appends relayed events; those of a topic deleted (or made again smaller) since are dropped. */
  async #appendStaged(sql: Sql, name: string, events: AppendEvent[]): Promise<void> {
    const topic = await this.find(sql, name);
    if (!topic) return;
    const fitting = events.filter((event) => event.partition < topic.config.partitions);
    if (fitting.length < events.length) {
      console.error(
        `spool: ${events.length - fitting.length} staged events of topic "${name}" name partitions it no longer has: dropped`,
      );
    }
    if (fitting.length > 0) await this.append(sql, name, fitting);
  }

  async read(
    sql: Sql,
    topic: string,
    partition: number,
    fromOffset: number,
    max: number,
  ): Promise<ReadResult> {
    const rows = await sql.rows<ReadRow>(this.#sql.read, [topic, partition, fromOffset, Math.max(0, max)]);
    const [first] = rows;
    if (!first) return this.#missingPartition(sql, topic, partition);
    return {
      partition,
      startOffset: toInt(first.start_offset),
      endOffset: toInt(first.next_offset),
      events: rows
        .filter((row) => row.event_offset !== null)
        .map((row) => ({
          id: row.id,
          topic,
          partition,
          offset: toInt(row.event_offset!),
          timestamp: toInt(row.appended_at),
          payload: decodePayload(row.payload_text, row.payload_bytes),
          headers: decodeHeaders(row.headers),
          key: row.key,
        })),
    };
  }

  async partitionOffsets(sql: Sql, topic: string): Promise<PartitionOffsets[]> {
    const rows = await sql.rows<{ partition: number; start_offset: Int; next_offset: Int }>(
      this.#sql.offsets,
      [topic],
    );
    // Every topic has at least one partition: no rows means no topic.
    if (rows.length === 0) throw new TopicNotFoundError(topic);
    return rows.map((row) => ({
      partition: row.partition,
      startOffset: toInt(row.start_offset),
      endOffset: toInt(row.next_offset),
    }));
  }

  async offsetForTime(sql: Sql, topic: string, partition: number, timestamp: number): Promise<number> {
    const [row] = await sql.rows<{ low: Int }>(this.#sql.offsetForTime, [topic, partition, timestamp]);
    if (!row) return this.#missingPartition(sql, topic, partition);
    return toInt(row.low);
  }

  /**
   * Deletes each partition's oldest events while they are older than `retentionMs` or the
   * partition holds more than `retentionBytes`, at most {@link trimChunk} per transaction.
   * Resolves with how many were deleted.
   */
  async trim(sql: Sql, name: string): Promise<number> {
    const { id, config } = await this.require(sql, name);
    if (config.retentionMs === null && config.retentionBytes === null) return 0;
    const oldestKept = config.retentionMs === null ? -Infinity : this.#clock.now() - config.retentionMs;
    const maxBytes = config.retentionBytes ?? Infinity;
    let deleted = 0;
    for (let partition = 0; partition < config.partitions; partition++) {
      for (;;) {
        const chunk = await sql.atomic((tx) => this.#trimChunk(tx, id, partition, oldestKept, maxBytes));
        deleted += chunk.deleted;
        if (!chunk.more) break;
      }
    }
    return deleted;
  }

  async #trimChunk(
    sql: Sql,
    topicId: number,
    partition: number,
    oldestKept: number,
    maxBytes: number,
  ): Promise<{ deleted: number; more: boolean }> {
    const [row] = await sql.rows<{ start_offset: Int; bytes: Int }>(this.#sql.lockPartition, [
      topicId,
      partition,
    ]);
    if (!row) return { deleted: 0, more: false };
    const start = toInt(row.start_offset);
    const events = await sql.rows<{ event_offset: Int; appended_at: Int; size: number }>(
      this.#sql.sizesFrom,
      [topicId, partition, start, trimChunk],
    );
    let cut = start;
    let bytes = toInt(row.bytes);
    // Timestamps are sorted and bytes only fall, so the first event that may stay ends the scan.
    for (const event of events) {
      if (toInt(event.appended_at) >= oldestKept && bytes <= maxBytes) break;
      bytes -= event.size;
      cut = toInt(event.event_offset) + 1;
    }
    if (cut === start) return { deleted: 0, more: false };
    await sql.count(this.#sql.cut, [topicId, partition, start, cut, bytes]);
    return { deleted: cut - start, more: cut - start === trimChunk };
  }

  #checkPartition(topic: string, partitions: number, partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
      throw new OffsetOutOfRangeError(`topic "${topic}" has no partition ${partition}`, { topic, partition });
    }
  }

  /** Throws the error for a read of a partition that returned nothing: no topic, or no such partition. */
  async #missingPartition(sql: Sql, topic: string, partition: number): Promise<never> {
    const { config } = await this.require(sql, topic);
    this.#checkPartition(topic, config.partitions, partition);
    throw new OffsetOutOfRangeError(`topic "${topic}" partition ${partition} could not be read`, {
      topic,
      partition,
    });
  }
}
