/**
 * A Kafka-style topic: an append-only log split into partitions. Publishers append (by key to a
 * stable partition, or round-robin without one); any number of consumer groups read it
 * independently, each remembering a committed offset per partition.
 */
import { GroupNotFoundError, InvalidArgumentError } from '../core/errors.js';
import type { MessageBody } from '../core/message.js';
import { validateName } from '../core/names.js';
import { groupMemberDefaults, type TopicConfig } from '../core/options.js';
import type { CommittedOffset, GroupMember, PartitionOffsets, StartPosition } from '../store/port.js';
import { publishedAttributes, traceProducer, tracingEnabled } from '../telemetry/tracing.js';
import type { EngineContext } from './context.js';
import type { OutgoingEvent, PublishOptions } from './outgoing.js';
import { traceEventHandler } from './traced-handlers.js';
import { toTopicEvent, type PublishResult, type TopicEvent } from './topic-event.js';
import { Subscription, type EventHandler, type SubscribeOptions } from './subscription.js';
import type { PollResult } from './polled-members.js';

export type { PollResult } from './polled-members.js';

export { toTopicEvent, type PublishResult, type TopicEvent } from './topic-event.js';

export interface TopicReadResult<T = MessageBody> extends PartitionOffsets {
  readonly events: TopicEvent<T>[];
}

/** Where to move a group: an end of the log, a time, or explicit offsets per partition. */
export type SeekPosition =
  | 'earliest'
  | 'latest'
  | { readonly timestamp: Date | number }
  | { readonly offsets: Readonly<Record<number, number>> };

export interface PartitionLag {
  readonly partition: number;
  /** Next offset the group will read. */
  readonly committed: number;
  readonly endOffset: number;
  /** Events published but not yet committed by the group. */
  readonly lag: number;
}

export interface GroupLag {
  readonly group: string;
  readonly members: number;
  /** Paused by an operator ({@link Topic.pauseGroup}): its members read nothing. */
  readonly paused: boolean;
  readonly partitions: PartitionLag[];
  readonly totalLag: number;
}

/** A consumer group: its members, committed offsets and lag per partition. */
export interface GroupInfo extends Omit<GroupLag, 'members'> {
  /** Rises whenever the membership changes. */
  readonly generation: number;
  /** When the group was paused ({@link Topic.pauseGroup}); null while its members read. */
  readonly pausedAt: Date | null;
  readonly members: readonly GroupMember[];
}

/** One poll of a member that lives in another process (`Topic.poll`). */
export interface PollOptions {
  /** The member's id, stable across its polls (a process, a pod). */
  readonly memberId: string;
  /** At most this many events. @defaultValue 100 */
  readonly max?: number;
  /** Wait up to this long for an event when none is ready (a long poll). @defaultValue 0 */
  readonly waitMs?: number;
  /**
   * The member is dropped, and its partitions reassigned, when it has not polled for this long;
   * set when it joins. @defaultValue 30000
   */
  readonly sessionTimeoutMs?: number;
  /** Where the group starts when this poll creates it. @defaultValue 'earliest' */
  readonly startFrom?: StartPosition;
  /** The cursor of the member's previous poll: continue after the events it returned. */
  readonly cursor?: string | undefined;
  /** Ends a long poll early. */
  readonly signal?: AbortSignal | undefined;
}

export interface TopicStats {
  readonly topic: string;
  readonly partitions: PartitionOffsets[];
  readonly groups: GroupLag[];
}

export class Topic<T = MessageBody> {
  /** @internal Use `spool.topic(name)`. */
  constructor(
    private readonly context: EngineContext,
    readonly config: Readonly<TopicConfig>,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** Appends one event; resolves with its partition and offset once durably stored. */
  async publish(body: T, options: PublishOptions = {}): Promise<PublishResult> {
    const [result] = await this.publishBatch([{ ...options, body }]);
    return result!;
  }

  /** Appends events together, all or nothing; within a partition they keep the given order. */
  async publishBatch(events: readonly OutgoingEvent<T>[]): Promise<PublishResult[]> {
    this.context.assertOpen();
    if (events.length === 0) return [];
    if (!tracingEnabled()) return this.#append(events);
    return traceProducer(
      { operation: 'publish', destination: this.name, count: events.length },
      (traceHeaders) => this.#append(events, traceHeaders),
      publishedAttributes,
    );
  }

  /** Stores a publish; `traceHeaders` carry the producer span's context into every event. */
  async #append(
    events: readonly OutgoingEvent<T>[],
    traceHeaders?: Record<string, string>,
  ): Promise<PublishResult[]> {
    const partitioner = await this.context.partitionerFor(this.name, this.config.partitions);
    const items = events.map((event) => partitioner.toAppendEvent(event.body, event, traceHeaders));
    const results = await this.context.store.append(this.name, items);
    this.context.topicSignals.for(this.name).notify();
    return results.map((result) => ({ ...result, timestamp: new Date(result.timestamp) }));
  }

  /**
   * Reads a partition directly (no group). Reading below the first kept offset starts at the
   * first kept offset: compare `events[0].offset` or `startOffset` with what you asked for.
   */
  async read(partition: number, fromOffset: number, max = 100): Promise<TopicReadResult<T>> {
    if (!Number.isInteger(fromOffset) || fromOffset < 0) {
      throw new InvalidArgumentError('read: fromOffset must be an integer >= 0', { field: 'fromOffset' });
    }
    if (!Number.isInteger(max) || max < 1 || max > 10_000) {
      throw new InvalidArgumentError('read: max must be an integer from 1 to 10000', { field: 'max' });
    }
    const result = await this.context.store.read(this.name, partition, fromOffset, max);
    return { ...result, events: result.events.map((event) => toTopicEvent<T>(event)) };
  }

  /** Start and end offsets of every partition. */
  offsets(): Promise<PartitionOffsets[]> {
    return this.context.store.partitionOffsets(this.name);
  }

  /** The first offset of `partition` at or after `time`. */
  offsetForTime(partition: number, time: Date | number): Promise<number> {
    return this.context.store.offsetForTime(this.name, partition, toMs(time));
  }

  /**
   * Joins consumer group `group` and processes its share of the partitions: in offset order
   * within a partition, committing after the handler resolves (at-least-once). Stop with
   * `close()`, which finishes in-flight events, commits and leaves the group.
   */
  subscribe(group: string, handler: EventHandler<T>, options: SubscribeOptions<T> = {}): Subscription<T> {
    this.context.assertOpen();
    validateName('group', group);
    const subscription = new Subscription<T>(
      this.context,
      this,
      group,
      traceEventHandler(group, handler),
      options,
    );
    this.context.register(subscription);
    subscription.start(() => this.context.unregister(subscription));
    return subscription;
  }

  /**
   * Polls as a member of `group` that lives in another process (what `POST
   * /v1/topics/{name}/groups/{group}/poll` and `spool tail` run): joins on first use, heartbeats,
   * hands over partitions no longer assigned to it, and returns the next events of the partitions
   * it owns — from the committed offsets, or after the events of `options.cursor`. Commit what
   * was processed (`commit`) before polling again; a member that stops polling is dropped after
   * its session. In-process consumers use `subscribe` instead, which heartbeats on its own.
   */
  poll(group: string, options: PollOptions): Promise<PollResult<T>> {
    this.context.assertOpen();
    // A long poll keeps the process alive, as a running consumer does.
    return this.context.hold(
      this.context.polledMembers.poll(this.name, (p, from, max) => this.read(p, from, max), {
        group,
        memberId: options.memberId,
        max: options.max ?? groupMemberDefaults.batchSize,
        waitMs: options.waitMs ?? groupMemberDefaults.pollWaitMs,
        sessionTimeoutMs: options.sessionTimeoutMs ?? groupMemberDefaults.polledSessionTimeoutMs,
        startFrom: options.startFrom ?? groupMemberDefaults.startFrom,
        cursor: options.cursor,
        signal: options.signal,
      }),
    );
  }

  /**
   * Commits a polled member's offsets (the next offset to read, per partition), all or none:
   * `NotPartitionOwnerError` / `UnknownMemberError` if it no longer owns one of the partitions
   * (they moved to another member: poll again without a cursor). An offset below the committed
   * one is ignored; use `seek` to rewind.
   */
  async commit(group: string, memberId: string, offsets: readonly CommittedOffset[]): Promise<void> {
    this.context.assertOpen();
    validateName('group', group);
    await this.context.polledMembers.commit(this.name, group, memberId, offsets);
  }

  /** Removes a polled member from `group`, so its partitions move to the others at once. */
  async leave(group: string, memberId: string): Promise<void> {
    this.context.assertOpen();
    validateName('group', group);
    await this.context.polledMembers.leave(this.name, group, memberId);
  }

  /** A group's members, generation, committed offsets and lag; null when the topic has no such group. */
  async group(group: string): Promise<GroupInfo | null> {
    validateName('group', group);
    const [state, lag] = await Promise.all([
      this.context.store.groupState(this.name, group),
      this.groupLag(group),
    ]);
    return state
      ? {
          ...lag,
          generation: state.generation,
          pausedAt: state.pausedAt === null ? null : new Date(state.pausedAt),
          members: state.members,
        }
      : null;
  }

  /**
   * Moves a group's committed offsets (all partitions, or those named in `offsets`). Running
   * members stop, drop their uncommitted progress and continue from the new offsets.
   */
  async seek(group: string, position: SeekPosition): Promise<CommittedOffset[]> {
    validateName('group', group);
    const offsets = await this.offsets();
    let targets: CommittedOffset[];
    if (position === 'earliest' || position === 'latest') {
      targets = offsets.map((p) => ({
        partition: p.partition,
        offset: position === 'earliest' ? p.startOffset : p.endOffset,
      }));
    } else if ('timestamp' in position) {
      const at = toMs(position.timestamp);
      targets = await Promise.all(
        offsets.map(async (p) => ({
          partition: p.partition,
          offset: await this.offsetForTime(p.partition, at),
        })),
      );
    } else {
      targets = Object.entries(position.offsets).map(([partition, offset]) => {
        const p = Number(partition);
        if (!offsets.some((known) => known.partition === p) || !Number.isInteger(offset) || offset < 0) {
          throw new InvalidArgumentError(
            `seek: partition ${partition} must exist and its offset be an integer >= 0`,
            { field: `offsets.${partition}` },
          );
        }
        return { partition: p, offset };
      });
    }
    await this.context.store.seekGroup(this.name, group, targets);
    // Waiting polls of the group pick up the new offsets at once.
    this.context.polledMembers.seeked(this.name, group);
    return targets;
  }

  /**
   * Pauses a consumer group: its members, in every process on the store, read nothing until it
   * resumes — subscribers finish the event in hand and look again at least once a second; polls
   * answer no events. Memberships and committed offsets stay. Persisted and idempotent (a second
   * pause keeps the first time). `GroupNotFoundError` when the topic has no such group.
   */
  async pauseGroup(group: string): Promise<void> {
    this.context.assertOpen();
    validateName('group', group);
    if (!(await this.context.store.pauseGroup(this.name, group, this.context.clock.now())))
      throw new GroupNotFoundError(this.name, group);
    this.context.groupPauses.for(`${this.name}\n${group}`).notify();
  }

  /** Resumes a paused group: members in this process read at once, others within a second. */
  async resumeGroup(group: string): Promise<void> {
    this.context.assertOpen();
    validateName('group', group);
    if (!(await this.context.store.pauseGroup(this.name, group, null)))
      throw new GroupNotFoundError(this.name, group);
    this.context.groupPauses.for(`${this.name}\n${group}`).notify();
    this.context.topicSignals.for(this.name).notify();
  }

  /**
   * Deletes a consumer group with its committed offsets, as Kafka's `--delete` does: refused
   * (`GroupNotEmptyError`) while any member's session is live — stop its subscribers first.
   * Resolves false when the topic has no such group. A later member of that name starts a new
   * group (at its `startFrom`).
   */
  deleteGroup(group: string): Promise<boolean> {
    this.context.assertOpen();
    validateName('group', group);
    return this.context.store.deleteGroup(this.name, group);
  }

  /** A group's committed offset and lag per partition. */
  async groupLag(group: string): Promise<GroupLag> {
    const [offsets, state] = await Promise.all([
      this.offsets(),
      this.context.store.groupState(this.name, group),
    ]);
    const committed = new Map(state?.committed.map((c) => [c.partition, c.offset]));
    const partitions = offsets.map((p) => {
      const at = Math.max(committed.get(p.partition) ?? p.startOffset, p.startOffset);
      return { partition: p.partition, committed: at, endOffset: p.endOffset, lag: p.endOffset - at };
    });
    return {
      group,
      members: state?.members.length ?? 0,
      paused: (state?.pausedAt ?? null) !== null,
      partitions,
      totalLag: partitions.reduce((sum, p) => sum + p.lag, 0),
    };
  }

  /** End offsets per partition, and committed offset and lag per group. */
  async stats(): Promise<TopicStats> {
    const [partitions, groups] = await Promise.all([
      this.offsets(),
      this.context.store.listGroups(this.name),
    ]);
    return {
      topic: this.name,
      partitions,
      groups: await Promise.all(groups.map((group) => this.groupLag(group))),
    };
  }
}

function toMs(time: Date | number): number {
  const ms = time instanceof Date ? time.getTime() : time;
  if (!Number.isFinite(ms)) throw new InvalidArgumentError('time must be a valid Date or ms since epoch');
  return ms;
}
