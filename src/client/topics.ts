/**
 * Topics over HTTP: configuration, publish, replay a partition, and remote consumer-group
 * membership (poll → process → commit → poll …, leave on shutdown).
 *
 * Retried after a network error (see `http.ts`): `put`, `list`, `get`, `read`, `group`,
 * `pauseGroup`, `resumeGroup` (both idempotent), and the
 * group calls `poll` (a repeat answers the same events again), `commit` (an offset at or below the
 * committed one is ignored), `seek` and `leave`. Not retried: `publish`, `publishBatch` (topics do
 * not deduplicate, so a repeat could append twice), `delete` and `deleteGroup`.
 */
import { segment, type Transport } from './http.js';
import { bodyFields } from './queues.js';
import type {
  CommitOptions,
  GroupInfo,
  OutgoingEvent,
  PollOptions,
  PollResult,
  PublishOptions,
  PublishResult,
  ReadOptions,
  ReadResult,
  SeekResult,
  SeekTarget,
  TopicConfig,
  TopicOptions,
  TopicWithStats,
} from './types.js';

/** Topic and consumer-group operations; reach them as `client.topics`. */
export class TopicsClient {
  /** @internal */
  constructor(private readonly http: Transport) {}

  /** Creates a topic or changes its retention (the partition count is fixed at creation). */
  async put(name: string, options: TopicOptions = {}): Promise<TopicConfig> {
    const answer = await this.http.call<TopicConfig>({
      method: 'PUT',
      path: `/v1/topics/${segment(name)}`,
      body: options,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /** Every topic's configuration. */
  async list(): Promise<TopicConfig[]> {
    const answer = await this.http.call<{ items: TopicConfig[] }>({
      method: 'GET',
      path: '/v1/topics',
      retryOnNetworkError: true,
    });
    return answer.body.items;
  }

  /** A topic's configuration, its partitions' offsets and every group's lag. */
  async get(name: string): Promise<TopicWithStats> {
    const answer = await this.http.call<TopicWithStats>({
      method: 'GET',
      path: `/v1/topics/${segment(name)}`,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /** Deletes a topic with its events and consumer groups. */
  async delete(name: string): Promise<void> {
    await this.http.call({
      method: 'DELETE',
      path: `/v1/topics/${segment(name)}`,
      retryOnNetworkError: false,
    });
  }

  /** Appends one event (`body`: any JSON value, or a `Uint8Array`); answers its partition and offset. */
  async publish(name: string, body: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const answer = await this.http.call<PublishResult>({
      method: 'POST',
      path: `/v1/topics/${segment(name)}/events`,
      body: { ...bodyFields(body), ...options },
      retryOnNetworkError: false,
    });
    return answer.body;
  }

  /** Appends a batch (at most 1000) all or nothing; one result per event, in order. */
  async publishBatch(name: string, events: readonly OutgoingEvent[]): Promise<PublishResult[]> {
    const answer = await this.http.call<{ results: PublishResult[] }>({
      method: 'POST',
      path: `/v1/topics/${segment(name)}/events`,
      body: { events },
      retryOnNetworkError: false,
    });
    return answer.body.results;
  }

  /** Replays a partition from offset `from` (default 0), at most `limit` (default 100) events. */
  async read(name: string, partition: number, options: ReadOptions = {}): Promise<ReadResult> {
    const answer = await this.http.call<ReadResult>({
      method: 'GET',
      path: `/v1/topics/${segment(name)}/partitions/${segment(partition)}/events`,
      query: options,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /**
   * As member `member` of `group`: heartbeat and fetch events of the partitions it owns (joining on
   * first use). Pass the answer's `cursor` to the next poll; commit what you processed before it.
   */
  async poll(name: string, group: string, options: PollOptions): Promise<PollResult> {
    const { signal, ...body } = options;
    const answer = await this.http.call<PollResult>({
      method: 'POST',
      path: `/v1/topics/${segment(name)}/groups/${segment(group)}/poll`,
      body,
      signal,
      waitMs: body.waitMs,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /**
   * Records, per partition, the next offset to read (last processed + 1). Throws a 409
   * (`SPOOL_NOT_PARTITION_OWNER`/`SPOOL_UNKNOWN_MEMBER`) when the member lost a partition: poll
   * again without a cursor.
   */
  async commit(name: string, group: string, options: CommitOptions): Promise<void> {
    await this.http.call({
      method: 'POST',
      path: `/v1/topics/${segment(name)}/groups/${segment(group)}/commit`,
      body: options,
      retryOnNetworkError: true,
    });
  }

  /** Leaves the group, so the member's partitions move to the others at once. */
  async leave(name: string, group: string, member: string): Promise<void> {
    await this.http.call({
      method: 'POST',
      path: `/v1/topics/${segment(name)}/groups/${segment(group)}/leave`,
      body: { member },
      retryOnNetworkError: true,
    });
  }

  /** Moves a group's offsets: `'earliest'`, `'latest'`, `{ timestamp }` or `{ offsets }`. */
  async seek(name: string, group: string, to: SeekTarget): Promise<SeekResult['offsets']> {
    const answer = await this.http.call<SeekResult>({
      method: 'POST',
      path: `/v1/topics/${segment(name)}/groups/${segment(group)}/seek`,
      body: { to },
      retryOnNetworkError: true,
    });
    return answer.body.offsets;
  }

  /**
   * Deletes a consumer group and its committed offsets. Refused with a 409
   * (`SPOOL_GROUP_NOT_EMPTY`) while a member's session is live; 404 for an unknown group.
   */
  async deleteGroup(name: string, group: string): Promise<void> {
    await this.http.call({
      method: 'DELETE',
      path: `/v1/topics/${segment(name)}/groups/${segment(group)}`,
      retryOnNetworkError: false,
    });
  }

  /**
   * Pauses a consumer group: no member of any process reads until it is resumed (polls answer
   * no events with `paused: true`); partitions and committed offsets stay. Idempotent. Resolves
   * with the group; 404 (`SPOOL_GROUP_NOT_FOUND`) for a group the topic does not have.
   */
  async pauseGroup(name: string, group: string): Promise<GroupInfo> {
    return this.#toggleGroup(name, group, 'pause');
  }

  /** Resumes a paused consumer group: its members read again (other processes within a second). */
  async resumeGroup(name: string, group: string): Promise<GroupInfo> {
    return this.#toggleGroup(name, group, 'resume');
  }

  async #toggleGroup(name: string, group: string, action: 'pause' | 'resume'): Promise<GroupInfo> {
    const answer = await this.http.call<GroupInfo>({
      method: 'POST',
      path: `/v1/topics/${segment(name)}/groups/${segment(group)}/${action}`,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /** A group: its members, committed offsets and lag per partition, and whether it is paused. */
  async group(name: string, group: string): Promise<GroupInfo> {
    const answer = await this.http.call<GroupInfo>({
      method: 'GET',
      path: `/v1/topics/${segment(name)}/groups/${segment(group)}`,
      retryOnNetworkError: true,
    });
    return answer.body;
  }
}
