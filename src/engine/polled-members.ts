/**
 * Consumer-group members that live in other processes and poll — over HTTP, or from the CLI — the
 * same group protocol as `Topic.subscribe()` (see `GroupMembership` in `src/store/port.ts`),
 * driven by poll requests instead of a heartbeat timer. The store decides membership, assignment,
 * fencing and seeks for both kinds of member; this module only sequences the calls. Reach it
 * through `Topic.poll`, `Topic.commit` and `Topic.leave`.
 *
 * One poll:
 * 1. Heartbeat: `joinGroup` creates the group (at `startFrom`) and the member on first use, keeps
 *    the member alive, and acquires the partitions assigned to it that nobody owns.
 * 2. Hand-over: partitions the member still owns but is no longer assigned are released at once.
 *    Progress left uncommitted on them is delivered again to their new owner (at-least-once), so
 *    members should commit what they processed before polling again.
 * 3. Positions: each partition the member owns and is assigned is read from the greater of the
 *    group's committed offset and the position in the member's cursor. The cursor comes back
 *    with every poll; echoing it lets a member read ahead of its commits. A cursor from before a
 *    seek is ignored. Without a cursor — a new process, or a retry after an answer was lost —
 *    reading restarts at the committed offsets: events may repeat, but none are skipped.
 * 4. Read up to `max` events, starting at a different partition each time so none starves.
 * 5. Long poll: with nothing to read, wait until `waitMs` passes for a publish or membership
 *    change made through this Spool, rechecking every `recheckMs` for writes by other processes.
 *    The member is heartbeated again when its group changed and every `sessionTimeoutMs / 3`.
 *
 * Nothing about a member is kept here between polls (the cursor carries it), so any process that
 * shares the store can answer any poll, and a restart loses nothing. Commits are fenced by the
 * store: only the partition's owner may commit, and a commit never moves an offset backwards.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../core/errors.js';
import { validateName } from '../core/names.js';
import type { MessageBody } from '../core/message.js';
import type { CommittedOffset, GroupMembership, StartPosition, Store } from '../store/port.js';
import type { TopicEvent } from './topic-event.js';
import type { WakeSignals } from './wake-signal.js';
import type { WorkerHandle, Workers } from './workers.js';

/** Reads a partition of the topic being polled (`Topic.read`, which decodes the events). */
export type PartitionReader<T> = (
  partition: number,
  fromOffset: number,
  max: number,
) => Promise<{ events: TopicEvent<T>[]; startOffset: number }>;

/** One poll of a polled member (`Topic.poll`). */
export interface PollRequest {
  readonly group: string;
  readonly memberId: string;
  /** At most this many events. */
  readonly max: number;
  /** Wait up to this long for an event when none is ready. */
  readonly waitMs: number;
  /** The member is dropped when it has not polled for this long; only used when it joins. */
  readonly sessionTimeoutMs: number;
  /** Where the group starts when this poll creates it. */
  readonly startFrom: StartPosition;
  /** The cursor of the member's previous poll. */
  readonly cursor?: string | undefined;
  /** Ends a long poll early. */
  readonly signal?: AbortSignal | undefined;
}

/** What one poll answers. */
export interface PollResult<T = MessageBody> {
  readonly memberId: string;
  /** Rises whenever the group's membership changes. */
  readonly generation: number;
  /** The partitions the member reads now (owned and assigned). */
  readonly partitions: readonly number[];
  readonly events: readonly TopicEvent<T>[];
  /** True when the group is paused ({@link Topic.pauseGroup}): no events until it resumes. */
  readonly paused: boolean;
  /** Pass to the next poll to continue after these events, committed or not. */
  readonly cursor: string;
}

/** Where a member reads, as carried in its cursor. */
interface Positions {
  readonly seekEpoch: number;
  readonly offsets: Readonly<Record<number, number>>;
}

/** The member's view after a heartbeat. */
interface MemberView {
  readonly membership: GroupMembership;
  readonly partitions: readonly number[];
  /** Next offset to read per partition; advanced by reads. */
  readonly positions: Map<number, number>;
  /** When the heartbeat was sent (clock ms). */
  readonly at: number;
  /** The group's change counter the view is up to date with. */
  readonly changes: number;
}

/** The polled members of one Spool instance, over all its topics. */
export class PolledMembers {
  readonly #store: Store;
  /** How often a waiting poll looks for events written by other processes. */
  readonly #recheckMs: number;
  /** The Spool's topic signals: woken by its publishes, and here by membership changes. */
  readonly #signals: WakeSignals;
  /** Per group: the generation last seen, and a counter of changes waiting polls react to. */
  readonly #groups = new Map<string, { generation: number; changes: number }>();
  #rotation = 0;
  readonly #workers: Workers;
  /**
   * The registrations of the members polling through this process (workers.ts), by
   * `topic\ngroup\nmember`: each closes itself when its member has not polled for its session
   * timeout, and on leave.
   */
  readonly #registered = new Map<string, { handle: WorkerHandle; processed: number }>();

  constructor(store: Store, signals: WakeSignals, recheckMs: number, workers: Workers) {
    this.#store = store;
    this.#signals = signals;
    this.#recheckMs = recheckMs;
    this.#workers = workers;
  }

  /** Heartbeats the member and returns its next events, waiting for some up to `waitMs`. */
  async poll<T>(topic: string, read: PartitionReader<T>, request: PollRequest): Promise<PollResult<T>> {
    validateName('group', request.group);
    validateName('consumer', request.memberId);
    const carried = decodeCursor(request.cursor, topic, request.group);
    const { clock } = this.#store;
    const deadline = clock.now() + request.waitMs;
    const wake = this.#signals.for(topic);
    let view = await this.#heartbeat(topic, request, carried);
    for (;;) {
      const version = wake.version;
      // A paused group's members get nothing (a resume in this process wakes the wait below).
      const paused = (await this.#store.groupPausedAt(topic, request.group)) !== null;
      const events = paused ? [] : await this.#read(read, view, request.max);
      const now = clock.now();
      if (events.length > 0 || now >= deadline || request.signal?.aborted) {
        this.#seen(topic, request, events.length);
        return {
          memberId: request.memberId,
          generation: view.membership.generation,
          partitions: view.partitions,
          events,
          paused,
          cursor: encodeCursor(topic, request.group, {
            seekEpoch: view.membership.seekEpoch,
            offsets: Object.fromEntries(view.positions),
          }),
        };
      }
      await wake.wait(Math.min(deadline - now, this.#recheckMs), request.signal, version);
      // An abandoned poll must not heartbeat again: after the client's leave, that would put
      // the member back into the group as a ghost until its session expires.
      if (request.signal?.aborted) continue;
      const groupChanged = this.#group(topic, request.group).changes !== view.changes;
      if (groupChanged || clock.now() - view.at >= request.sessionTimeoutMs / 3) {
        view = await this.#heartbeat(topic, request, {
          seekEpoch: view.membership.seekEpoch,
          offsets: Object.fromEntries(view.positions),
        });
      }
    }
  }

  /**
   * Commits offsets (the next offset to read, per partition) for the member, all or none:
   * `NotPartitionOwnerError` / `UnknownMemberError` (409) if it no longer owns one of them.
   */
  async commit(topic: string, group: string, memberId: string, offsets: readonly CommittedOffset[]) {
    await this.#store.transaction(async (writes) => {
      for (const { partition, offset } of offsets) {
        await writes.commitOffset(topic, group, memberId, partition, offset);
      }
    });
  }

  /** Removes the member so its partitions move to the others at once. */
  async leave(topic: string, group: string, memberId: string): Promise<void> {
    await this.#store.leaveGroup(topic, group, memberId);
    const key = `${topic}\n${group}\n${memberId}`;
    const registered = this.#registered.get(key);
    this.#registered.delete(key);
    await registered?.handle.close();
    this.#changed(topic, group);
  }

  /** Makes waiting polls of the group pick up new committed offsets: call after a seek. */
  seeked(topic: string, group: string): void {
    this.#changed(topic, group);
  }

  /** Forgets the groups of a deleted topic (its signal, which ends waiting polls, is the caller's). */
  topicDeleted(topic: string): void {
    for (const key of this.#groups.keys()) {
      if (key.startsWith(`${topic}\n`)) this.#groups.delete(key);
    }
  }

  /**
   * Registers the member in the workers registry on its first poll here, and keeps it there
   * while it polls (one heartbeat write per interval for all of them, not one per poll).
   * Every process answering its polls writes the same record: its id comes from the member's.
   */
  #seen(topic: string, request: PollRequest, events: number): void {
    const key = `${topic}\n${request.group}\n${request.memberId}`;
    let registered = this.#registered.get(key);
    if (!registered?.handle.active) {
      // Forget the members whose registrations closed themselves (they stopped polling).
      for (const [other, entry] of this.#registered) if (!entry.handle.active) this.#registered.delete(other);
      const handle = this.#workers.register({
        id: `member-${createHash('sha256').update(key).digest('hex').slice(0, 24)}`,
        kind: 'group-member',
        serves: { topic, group: request.group, member: request.memberId },
        concurrency: 1,
        // A member is dropped by its group after its session timeout without a poll; a poll may
        // wait up to waitMs before it answers.
        idleTimeoutMs: request.sessionTimeoutMs + request.waitMs,
      });
      registered = { handle, processed: 0 };
      this.#registered.set(key, registered);
    }
    registered.processed += events;
    registered.handle.update({ processed: registered.processed });
  }

  async #heartbeat(topic: string, request: PollRequest, carried: Positions | null): Promise<MemberView> {
    const at = this.#store.clock.now();
    const group = this.#group(topic, request.group);
    let changes = group.changes;
    const membership = await this.#store.joinGroup(topic, request.group, {
      memberId: request.memberId,
      sessionTimeoutMs: request.sessionTimeoutMs,
      startFrom: request.startFrom,
    });
    if (membership.generation !== group.generation) {
      group.generation = membership.generation;
      changes = this.#changed(topic, request.group);
    }
    const assigned = new Set(membership.assigned);
    const leaving = membership.owned.filter((partition) => !assigned.has(partition));
    if (leaving.length > 0) {
      await this.#store.releasePartitions(topic, request.group, request.memberId, leaving);
      // The new owner may be waiting in a poll of its own.
      changes = this.#changed(topic, request.group);
    }
    const partitions = membership.owned.filter((partition) => assigned.has(partition)).sort((a, b) => a - b);
    const state = await this.#store.groupState(topic, request.group);
    const committed = new Map(state?.committed.map((entry) => [entry.partition, entry.offset]));
    const offsets = carried?.seekEpoch === membership.seekEpoch ? carried.offsets : {};
    const positions = new Map(
      partitions.map((partition) => [
        partition,
        Math.max(committed.get(partition) ?? 0, offsets[partition] ?? 0),
      ]),
    );
    return { membership, partitions, positions, at, changes };
  }

  async #read<T>(read: PartitionReader<T>, view: MemberView, max: number): Promise<TopicEvent<T>[]> {
    const events: TopicEvent<T>[] = [];
    const count = view.partitions.length;
    const first = count === 0 ? 0 : this.#rotation++ % count;
    for (let i = 0; i < count && events.length < max; i++) {
      const partition = view.partitions[(first + i) % count]!;
      const from = view.positions.get(partition)!;
      const result = await read(partition, from, max - events.length);
      const last = result.events.at(-1);
      view.positions.set(partition, last ? last.offset + 1 : Math.max(from, result.startOffset));
      events.push(...result.events);
    }
    return events;
  }

  #group(topic: string, group: string) {
    const key = `${topic}\n${group}`;
    let state = this.#groups.get(key);
    if (!state) {
      state = { generation: -1, changes: 0 };
      this.#groups.set(key, state);
    }
    return state;
  }

  /** Records a membership change in the group and wakes waiting polls; returns the new count. */
  #changed(topic: string, group: string): number {
    const state = this.#group(topic, group);
    state.changes++;
    this.#signals.for(topic).notify();
    return state.changes;
  }
}

/** Cursors are opaque to clients: base64url JSON naming the topic and group they belong to. */
function encodeCursor(topic: string, group: string, positions: Positions): string {
  const payload = { t: topic, g: group, e: positions.seekEpoch, o: positions.offsets };
  return Buffer.from(JSON.stringify(payload)).toString('base64url');
}

function decodeCursor(cursor: string | undefined, topic: string, group: string): Positions | null {
  if (cursor === undefined) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    payload = null;
  }
  const candidate = payload as { t?: unknown; g?: unknown; e?: unknown; o?: unknown } | null;
  const offsets = candidate?.o;
  const valid =
    candidate !== null &&
    typeof candidate === 'object' &&
    candidate.t === topic &&
    candidate.g === group &&
    Number.isInteger(candidate.e) &&
    offsets !== null &&
    typeof offsets === 'object' &&
    Object.entries(offsets).every(
      ([partition, offset]) => /^\d+$/.test(partition) && Number.isInteger(offset) && (offset as number) >= 0,
    );
  if (!valid) {
    throw new InvalidArgumentError(
      'cursor is not one this group answered: pass the cursor of the previous poll of this topic and group, or none',
      { errors: [{ in: 'body', field: 'cursor', message: 'is not a cursor of this topic and group' }] },
    );
  }
  return { seekEpoch: candidate.e as number, offsets: offsets as Record<number, number> };
}
