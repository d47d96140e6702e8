/**
 * Topics as logs: configuration, append, read, offsets by time, retention.
 *
 * Each partition row holds `[start_offset, next_offset)`, the payload bytes in that range and
 * the last timestamp. Offsets are dense: appends take `next_offset` in order and trimming only
 * removes from the front, so every offset in the range has exactly one event.
 *
 * Timestamps never decrease within a partition: an append stamps `max(clock.now(), last
 * timestamp)`, which only differs from the clock if the clock stepped backwards. With dense
 * offsets and sorted timestamps, `offsetForTime` is a binary search over offsets (point reads of
 * the primary key) and time-based retention stops at the first young event, so neither needs an
 * index on time that every append would have to maintain.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import { ConfigConflictError, OffsetOutOfRangeError, TopicNotFoundError } from '../../core/errors.js';
import type { TopicConfig } from '../../core/options.js';
import type { AppendEvent, AppendResult, PartitionOffsets, ReadResult } from '../../store/port.js';
import { type PayloadColumn, decodeHeaders, decodePayload, encodeHeaders, payloadBytes } from './codec.js';
import type { EventTailCache } from './event-tail-cache.js';
import { firstRows } from './rows.js';

interface PartitionRow {
  partition: number;
  start_offset: number;
  next_offset: number;
  bytes: number;
  last_timestamp: number;
}

interface EventRow {
  offset: number;
  id: string;
  timestamp: number;
  payload: PayloadColumn;
  headers: string;
  key: string | null;
}

export class LogOps {
  readonly #clock: Clock;
  readonly #selectTopic: Database.Statement<[string], { config: string }>;
  readonly #selectTopics: Database.Statement<[], { config: string }>;
  readonly #insertTopic: Database.Statement<[string, string]>;
  readonly #updateTopic: Database.Statement<[string, string]>;
  readonly #insertPartition: Database.Statement<[string, number]>;
  readonly #selectPartition: Database.Statement<[string, number], PartitionRow>;
  readonly #selectPartitions: Database.Statement<[string], PartitionRow>;
  readonly #updatePartition: Database.Statement<[number, number, number, number, string, number]>;
  readonly #insertEvent: Database.Statement<
    [string, number, number, string, number, AppendEvent['payload'], string, string | null]
  >;
  readonly #selectEvents: Database.Statement<[string, number, number], EventRow>;
  readonly #timestampAt: Database.Statement<[string, number, number], { timestamp: number }>;
  readonly #sizesFrom: Database.Statement<
    [string, number, number],
    { offset: number; timestamp: number; size: number }
  >;
  readonly #deleteEventsBefore: Database.Statement<[string, number, number]>;
  readonly #deleteTopic: readonly Database.Statement<[string]>[];
  readonly #idAt: Database.Statement<[string, number, number], string>;
  readonly #tail: EventTailCache;

  constructor(db: Database.Database, clock: Clock, tail: EventTailCache) {
    this.#clock = clock;
    this.#tail = tail;
    this.#selectTopic = db.prepare('SELECT config FROM topics WHERE name = ?');
    this.#selectTopics = db.prepare('SELECT config FROM topics ORDER BY name');
    this.#insertTopic = db.prepare('INSERT INTO topics (name, config) VALUES (?, ?)');
    this.#updateTopic = db.prepare('UPDATE topics SET config = ? WHERE name = ?');
    this.#insertPartition = db.prepare(
      'INSERT INTO partitions (topic, partition, start_offset, next_offset, bytes, last_timestamp) VALUES (?, ?, 0, 0, 0, 0)',
    );
    const partitionColumns = 'partition, start_offset, next_offset, bytes, last_timestamp';
    this.#selectPartition = db.prepare(
      `SELECT ${partitionColumns} FROM partitions WHERE topic = ? AND partition = ?`,
    );
    this.#selectPartitions = db.prepare(
      `SELECT ${partitionColumns} FROM partitions WHERE topic = ? ORDER BY partition`,
    );
    this.#updatePartition = db.prepare(
      `UPDATE partitions SET start_offset = ?, next_offset = ?, bytes = ?, last_timestamp = ?
       WHERE topic = ? AND partition = ?`,
    );
    this.#insertEvent = db.prepare(
      `INSERT INTO events (topic, partition, offset, id, timestamp, payload, headers, key)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#selectEvents = db.prepare(
      `SELECT offset, id, timestamp, payload, headers, key FROM events
       WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset`,
    );
    this.#idAt = db
      .prepare<[string, number, number], string>(
        'SELECT id FROM events WHERE topic = ? AND partition = ? AND offset = ?',
      )
      .pluck();
    this.#timestampAt = db.prepare(
      'SELECT timestamp FROM events WHERE topic = ? AND partition = ? AND offset = ?',
    );
    this.#sizesFrom = db.prepare(
      `SELECT offset, timestamp, octet_length(payload) AS size FROM events
       WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset`,
    );
    this.#deleteEventsBefore = db.prepare(
      'DELETE FROM events WHERE topic = ? AND partition = ? AND offset < ?',
    );
    this.#deleteTopic = [
      'DELETE FROM topics WHERE name = ?',
      'DELETE FROM partitions WHERE topic = ?',
      'DELETE FROM events WHERE topic = ?',
      'DELETE FROM consumer_groups WHERE topic = ?',
      'DELETE FROM group_members WHERE topic = ?',
      'DELETE FROM group_owners WHERE topic = ?',
      'DELETE FROM group_offsets WHERE topic = ?',
    ].map((sql) => db.prepare<[string]>(sql));
  }

  /** Creates the topic, or updates its retention; a different partition count is a conflict. */
  save(config: TopicConfig): TopicConfig {
    const stored = JSON.stringify(config);
    const existing = this.get(config.name);
    if (!existing) {
      this.#insertTopic.run(config.name, stored);
      for (let partition = 0; partition < config.partitions; partition++) {
        this.#insertPartition.run(config.name, partition);
      }
    } else if (existing.partitions !== config.partitions) {
      throw new ConfigConflictError(
        `topic "${config.name}" has ${existing.partitions} partitions and cannot be changed to ${config.partitions}; keep the partition count or use a new topic`,
        { topic: config.name, partitions: existing.partitions, requested: config.partitions },
      );
    } else {
      this.#updateTopic.run(stored, config.name);
    }
    return JSON.parse(stored) as TopicConfig;
  }

  get(topic: string): TopicConfig | null {
    const row = this.#selectTopic.get(topic);
    return row ? (JSON.parse(row.config) as TopicConfig) : null;
  }

  list(): TopicConfig[] {
    return this.#selectTopics.all().map((row) => JSON.parse(row.config) as TopicConfig);
  }

  delete(topic: string): boolean {
    const [deleteTopic, ...deleteRest] = this.#deleteTopic;
    this.#tail.forget(topic);
    if (deleteTopic!.run(topic).changes === 0) return false;
    for (const statement of deleteRest) statement.run(topic);
    return true;
  }

  /** The topic's configuration; throws `TopicNotFoundError`. */
  require(topic: string): TopicConfig {
    const config = this.get(topic);
    if (!config) throw new TopicNotFoundError(topic);
    return config;
  }

  append(topic: string, events: readonly AppendEvent[]): AppendResult[] {
    this.require(topic);
    const now = this.#clock.now();
    const touched = new Map<number, PartitionRow>();
    const results = events.map((event) => {
      let partition = touched.get(event.partition);
      if (!partition) {
        partition = this.#partition(topic, event.partition);
        touched.set(event.partition, partition);
      }
      const offset = partition.next_offset++;
      const timestamp = Math.max(now, partition.last_timestamp);
      partition.last_timestamp = timestamp;
      partition.bytes += payloadBytes(event.payload);
      this.#insertEvent.run(
        topic,
        event.partition,
        offset,
        event.id,
        timestamp,
        event.payload,
        encodeHeaders(event.headers),
        event.key,
      );
      return { id: event.id, partition: event.partition, offset, timestamp };
    });
    for (const partition of touched.values()) this.#savePartition(topic, partition);
    return results;
  }

  read(topic: string, partitionNumber: number, fromOffset: number, max: number): ReadResult {
    this.require(topic);
    const partition = this.#partition(topic, partitionNumber);
    const from = Math.max(fromOffset, partition.start_offset);
    const cached = this.#tail.read(topic, partitionNumber, from, max, partition.next_offset, (offset) =>
      this.#idAt.get(topic, partitionNumber, offset),
    );
    if (cached) {
      return {
        partition: partitionNumber,
        startOffset: partition.start_offset,
        endOffset: partition.next_offset,
        events: cached,
      };
    }
    const rows = firstRows(this.#selectEvents.iterate(topic, partitionNumber, from), max);
    return {
      partition: partitionNumber,
      startOffset: partition.start_offset,
      endOffset: partition.next_offset,
      events: rows.map((row) => ({
        id: row.id,
        topic,
        partition: partitionNumber,
        offset: row.offset,
        timestamp: row.timestamp,
        payload: decodePayload(row.payload),
        headers: decodeHeaders(row.headers),
        key: row.key,
      })),
    };
  }

  partitionOffsets(topic: string): PartitionOffsets[] {
    this.require(topic);
    return this.#selectPartitions.all(topic).map((row) => ({
      partition: row.partition,
      startOffset: row.start_offset,
      endOffset: row.next_offset,
    }));
  }

  /** Binary search for the first kept offset whose timestamp is `>= timestamp`. */
  offsetForTime(topic: string, partitionNumber: number, timestamp: number): number {
    this.require(topic);
    const partition = this.#partition(topic, partitionNumber);
    let low = partition.start_offset;
    let high = partition.next_offset;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if (this.#timestampAt.get(topic, partitionNumber, middle)!.timestamp >= timestamp) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /**
   * Deletes each partition's oldest events while they are older than `retentionMs` or the
   * partition holds more than `retentionBytes`. Resolves with how many were deleted.
   */
  trim(topic: string): number {
    const config = this.require(topic);
    if (config.retentionMs === null && config.retentionBytes === null) return 0;
    const oldestKept = config.retentionMs === null ? -Infinity : this.#clock.now() - config.retentionMs;
    const maxBytes = config.retentionBytes ?? Infinity;
    let deleted = 0;
    for (const partition of this.#selectPartitions.all(topic)) {
      let cut = partition.start_offset;
      let bytes = partition.bytes;
      // Timestamps are sorted and bytes only fall, so the first event that may stay ends the scan.
      for (const event of this.#sizesFrom.iterate(topic, partition.partition, cut)) {
        if (event.timestamp >= oldestKept && bytes <= maxBytes) break;
        bytes -= event.size;
        cut = event.offset + 1;
      }
      if (cut === partition.start_offset) continue;
      this.#deleteEventsBefore.run(topic, partition.partition, cut);
      deleted += cut - partition.start_offset;
      this.#savePartition(topic, { ...partition, start_offset: cut, bytes });
    }
    return deleted;
  }

  /** A partition's row; throws `OffsetOutOfRangeError` for a partition the topic does not have. */
  #partition(topic: string, partition: number): PartitionRow {
    const row = this.#selectPartition.get(topic, partition);
    if (!row) {
      throw new OffsetOutOfRangeError(`topic "${topic}" has no partition ${partition}`, { topic, partition });
    }
    return row;
  }

  #savePartition(topic: string, row: PartitionRow): void {
    this.#updatePartition.run(
      row.start_offset,
      row.next_offset,
      row.bytes,
      row.last_timestamp,
      topic,
      row.partition,
    );
  }
}
