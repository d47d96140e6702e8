/**
 * Leases: claim, ack, release, extend and dead-letter.
 *
 * A message row is leased while `lease_token` is set; `visible_at` is then the lease expiry.
 * A receipt names the row and the token (codec.ts), and every settle matches both, so a receipt
 * goes stale the moment its message is claimed again (new token) or settled (row gone or token
 * cleared). An expired lease keeps its token until somebody claims the message, which is why a
 * late ack still succeeds when nobody else took the message in the meantime.
 *
 * Claim is ONE statement: pick deliverable key heads in delivery order with
 * `FOR UPDATE SKIP LOCKED` (concurrent claimers skip each other's rows instead of waiting, and
 * LIMIT counts only rows actually locked) and lease them. Leased messages that have used their
 * last attempt are never picked; the same statement only probes whether any of them has an
 * expired lease. Those are rare, so moving them to the dead-letter queue (and handing their
 * keys' heads on, key-heads.ts) is a separate transaction that runs only when the probe finds
 * some, before the claim resolves. Folding the move into every claim cost a quarter of it.
 *
 * Time is the store's clock, passed as a parameter to every statement rather than `now()`, so
 * that the expiry a consumer is told and the expiry the database enforces are the same number.
 * By default that clock is the database server's own (database-clock.ts), so every process
 * judges leases on the server's timeline whatever its local clock says.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { QueueNotFoundError, StaleReceiptError } from '../../core/errors.js';
import {
  type AckAndClaimResult,
  type ClaimedMessage,
  type ReleaseOptions,
  type ReleaseOutcome,
  nackedError,
} from '../../store/port.js';
import {
  type Receipt,
  decodeErrors,
  decodeHeaders,
  decodePayload,
  formatReceipt,
  parseReceipt,
  toInt,
} from './codec.js';
import { messageExpiredMessage } from '../rules.js';
import type { SchemaNames } from './connection.js';
import { Coalescer, type Outcome, coalescing, unwrap } from './coalescer.js';
import type { CommitMeter } from './commit-meter.js';
import { claimedQueue, type FairGroups } from './fair-groups.js';
import type { KeyHeads } from './key-heads.js';
import type { QueueOps } from './queue-ops.js';
import type { Sql } from './sql.js';

type Int = number | string;

interface ClaimRow {
  queue_id: Int;
  expired: boolean;
  ttl_expired: boolean;
  /** The queue has fairness groups (fair-groups.ts). */
  grouped: boolean;
  /** The queue has a globalConcurrency and the caller did not hold it: nothing was leased. */
  bounded: boolean;
  /** Grouped claims only: claim again for the rest, and the groups found without messages. */
  more?: boolean;
  empty?: string[];
  seq: Int | null;
  id: string;
  payload_text: string | null;
  payload_bytes: Buffer | null;
  headers: unknown;
  key: string | null;
  priority: number;
  enqueued_at: Int;
  attempts: number;
  errors: unknown;
}

/** What one claim statement leased, and what it found to clean up afterwards. */
interface Leased {
  readonly queueId: number;
  readonly claimed: ClaimedMessage[];
  /** Expired last attempts or expired messages wait for a sweep. */
  readonly expired: boolean;
  /** Fairness groups found without messages: their rows go (fair-groups.ts). */
  readonly empty: readonly string[];
}

/** Rounds of a grouped claim that got less than it wanted while more may be deliverable. */
const groupedRounds = 4;

/** One call of a coalesced claim. */
interface ClaimRequest {
  readonly queue: string;
  readonly max: number;
  readonly visibilityTimeoutMs: number;
}

/** One call of a coalesced ack. */
interface AckRequest {
  readonly receipt: string;
  readonly lease: Receipt;
}

/** The failure recorded when a message's last allowed lease runs out. */
const leaseExpiredMessage = 'the lease expired before the message was acked, released or dead-lettered';

/** A receipt that cannot match any lease (it did not parse). */
const noLease: Receipt = { seq: -1, token: '00000000-0000-0000-0000-000000000000', keyed: false };

/** Appends one `AttemptError` for the row's current attempt to its `errors` (at: $at, name: $name, message: $message). */
function appendError(at: string, name: string, message: string): string {
  return `errors || jsonb_build_array(jsonb_build_object('attempt', attempts, 'at', ${at}::bigint, 'name', ${name}::text, 'message', ${message}::text))`;
}

export class LeaseOps {
  readonly #clock: Clock;
  readonly #queues: QueueOps;
  readonly #keys: KeyHeads;
  readonly #groups: FairGroups;
  /** Queues seen with fairness groups (for good: a queue's groups only go with the queue). */
  readonly #grouped = new Set<string>();
  /** Queues seen with a globalConcurrency: their claims take the queue's lock first. */
  readonly #bounded = new Set<string>();
  readonly #claims: Coalescer<ClaimRequest, ClaimedMessage[]>;
  readonly #acks: Coalescer<AckRequest, void>;
  readonly #sql: Record<
    'claim' | 'lockBound' | 'leasedNow' | 'sweep' | 'ttlSweep' | 'ack' | 'release' | 'extend' | 'deadLetter',
    string
  >;

  /** @param pool - what claims and coalesced acks run on: the store's autocommit {@link Sql}. */
  constructor(
    names: SchemaNames,
    clock: Clock,
    queues: QueueOps,
    keys: KeyHeads,
    pool: Sql,
    meter: CommitMeter,
    groups: FairGroups,
  ) {
    this.#clock = clock;
    this.#queues = queues;
    this.#keys = keys;
    this.#groups = groups;
    this.#claims = new Coalescer((_key, requests) => this.#claimBatch(pool, requests), {
      ...coalescing,
      meter,
    });
    this.#acks = new Coalescer((queue, acks) => this.#ackBatch(pool, queue, acks), { ...coalescing, meter });
    const { queues: queueTable, messages, deadLetters } = names;
    const queueId = `(SELECT id FROM ${queueTable} WHERE name = $3)`;
    // Settling matches the row, the lease token and whether the receipt says the message is keyed.
    const current = `seq = $1 AND lease_token = $2 AND queue_id = ${queueId} AND (key IS NOT NULL) = $4`;
    const buryColumns =
      'queue_id, id, payload_text, payload_bytes, headers, key, grp, priority, enqueued_at, dead_lettered_at, attempts, errors';
    const bury = (at: string, name: string, message: string): string =>
      `INSERT INTO ${deadLetters} (${buryColumns})
       SELECT queue_id, id, payload_text, payload_bytes, headers, key, grp, priority, enqueued_at, ${at}::bigint, attempts,
              ${appendError(at, name, message)}`;
    // The queue's id and maxAttempts are scalar subqueries (evaluated once, like parameters), so
    // the planner walks messages_claimable in delivery order and stops after $5 rows. Rows picked
    // by a subquery are written through `seq = ANY(ARRAY(…))`, which can only be a primary-key
    // lookup: with a join, the generic plan of a prepared statement (which cannot see how many
    // rows LIMIT $5 lets through) chose a hash join over a scan of the whole table.
    this.#sql = {
      // q: the queue and its probes (fair-groups.ts); $6: the caller holds its globalConcurrency.
      claim: `
        WITH q AS (${claimedQueue(names, '$6')}),
        leased AS (
          UPDATE ${messages} SET attempts = attempts + 1, lease_token = $3, visible_at = $4
          WHERE seq = ANY(ARRAY(
            SELECT seq FROM ${messages}
            WHERE queue_id = (SELECT id FROM q) AND NOT (SELECT paused OR grouped OR bounded FROM q)
              AND grp IS NULL AND key_head AND visible_at <= $2
              AND NOT (lease_token IS NOT NULL AND attempts >= (SELECT max_attempts FROM q))
              AND (expires_at IS NULL OR expires_at > $2)
            ORDER BY priority DESC, seq
            LIMIT $5
            FOR UPDATE SKIP LOCKED))
          RETURNING seq, id, payload_text, payload_bytes, headers, key, priority, enqueued_at, attempts, errors)
        SELECT q.id AS queue_id, q.expired, q.ttl_expired, q.grouped, q.bounded, l.*
        FROM q LEFT JOIN leased l ON true`,
      // A queue with a globalConcurrency: its row locked for the claim's transaction, so claims
      // of the queue take turns; its live leases counted in a later statement (a fresh snapshot
      // that holds what the previous lock holder committed: see sql.ts).
      lockBound: `SELECT id, (config->>'globalConcurrency')::int AS bound FROM ${queueTable} WHERE name = $1 FOR UPDATE`,
      leasedNow: `SELECT count(*)::int AS leased FROM ${messages} WHERE queue_id = $1 AND lease_token IS NOT NULL AND visible_at > $2`,
      sweep: `
        WITH expired AS (
          DELETE FROM ${messages} WHERE seq = ANY(ARRAY(
            SELECT seq FROM ${messages}
            WHERE queue_id = $1 AND lease_token IS NOT NULL AND visible_at <= $2 AND attempts >= $3
            FOR UPDATE SKIP LOCKED))
          RETURNING *)
        ${bury('$2', "'LeaseExpired'", '$4')} FROM expired ORDER BY seq RETURNING key`,
      // Expired by TTL and held by nobody (waiting, or the lease ran out); any message of a key.
      ttlSweep: `
        WITH expired AS (
          DELETE FROM ${messages} WHERE seq = ANY(ARRAY(
            SELECT seq FROM ${messages}
            WHERE queue_id = $1 AND expires_at <= $2 AND (lease_token IS NULL OR visible_at <= $2)
            FOR UPDATE SKIP LOCKED))
          RETURNING *)
        ${bury('$2', "'MessageExpired'", '$3')} FROM expired ORDER BY seq RETURNING key`,
      // $2 holds distinct seqs; $3 and $4 the token and keyed flag of each one's receipt.
      ack: `
        DELETE FROM ${messages}
        WHERE seq = ANY($2::bigint[]) AND lease_token = ($3::uuid[])[array_position($2::bigint[], seq)]
          AND (key IS NOT NULL) = ($4::bool[])[array_position($2::bigint[], seq)]
          AND queue_id = (SELECT id FROM ${queueTable} WHERE name = $1)
        RETURNING seq, queue_id, key`,
      // A nack ($9 = 0) of the last allowed attempt dead-letters the message; otherwise the lease
      // ends, and a plain release ($9 = 1) takes back the attempt its claim added. The two
      // branches exclude each other on the row as the statement sees it, so exactly one (or,
      // for a stale receipt, neither) applies. $10 and $11: the dead letter's last error.
      release: `
        WITH q AS (SELECT id, (config->>'maxAttempts')::int AS max_attempts FROM ${queueTable} WHERE name = $3),
        released AS (
          UPDATE ${messages} SET lease_token = NULL, visible_at = $5, attempts = attempts - $9::int,
            errors = CASE WHEN $6::text IS NULL THEN errors ELSE ${appendError('$7', '$6', '$8')} END
          WHERE ${current} AND ($9::int = 1 OR attempts < (SELECT max_attempts FROM q))
          RETURNING seq),
        gone AS (
          DELETE FROM ${messages}
          WHERE ${current} AND $9::int = 0 AND attempts >= (SELECT max_attempts FROM q)
          RETURNING *),
        buried AS (${bury('$7', '$10', '$11')} FROM gone RETURNING queue_id, key)
        SELECT (SELECT count(*) FROM released)::int AS released, buried.queue_id, buried.key
        FROM (SELECT 1) AS one LEFT JOIN buried ON true`,
      extend: `UPDATE ${messages} SET visible_at = $5 WHERE ${current} AND visible_at > $6`,
      deadLetter: `
        WITH gone AS (DELETE FROM ${messages} WHERE ${current} RETURNING *)
        ${bury('$5', '$6', '$7')} FROM gone RETURNING queue_id, key`,
    };
  }

  /**
   * Leases up to `max` deliverable messages (and dead-letters expired last attempts). Concurrent
   * claims on the queue with the same lease time share one statement (coalescer.ts): it leases
   * as many messages as they ask for together and deals them out in delivery order.
   */
  claim(queue: string, max: number, visibilityTimeoutMs: number): Promise<ClaimedMessage[]> {
    return this.#claims.submit(`${queue}\n${visibilityTimeoutMs}`, {
      queue,
      max: Math.max(0, max),
      visibilityTimeoutMs,
    });
  }

  async #claimBatch(sql: Sql, requests: readonly ClaimRequest[]): Promise<Outcome<ClaimedMessage[]>[]> {
    const { queue, visibilityTimeoutMs } = requests[0]!;
    const now = this.#clock.now();
    const wanted = requests.reduce((sum, request) => sum + request.max, 0);
    const leased = await this.#lease(sql, queue, wanted, visibilityTimeoutMs, now);
    if (!leased) return requests.map(() => ({ ok: false, error: new QueueNotFoundError(queue) }));
    await this.#afterClaim(sql, queue, leased, now);
    const { claimed } = leased;
    let dealt = 0;
    return requests.map((request) => ({ ok: true, value: claimed.slice(dealt, (dealt += request.max)) }));
  }

  /**
   * Acks, then claims, in one transaction (the store port's `ackAndClaim`). The dead-letter
   * sweep, when the probe asks for one, runs after the commit: a failed statement would abort
   * the whole transaction, and the sweep may fail without harm (see `#claimBatch`).
   */
  async ackAndClaim(
    pool: Sql,
    queue: string,
    receipts: readonly string[],
    max: number,
    visibilityTimeoutMs: number,
  ): Promise<AckAndClaimResult> {
    const now = this.#clock.now();
    const acks = receipts.map((receipt) => ({ receipt, lease: leaseOf(receipt) }));
    const { stale, leased } = await pool.atomic(async (tx) => {
      const outcomes = acks.length > 0 ? await this.#settle(tx, queue, acks) : [];
      const taken = await this.#lease(tx, queue, Math.max(0, max), visibilityTimeoutMs, now);
      if (!taken) throw new QueueNotFoundError(queue);
      return {
        stale: receipts.filter((_receipt, index) => !outcomes[index]!.ok),
        leased: taken,
      };
    });
    await this.#afterClaim(pool, queue, leased, now);
    return { stale, claimed: leased.claimed };
  }

  /**
   * After a claim's commit: the dead-letter sweep when its probe asked for one, and the removal
   * of fairness groups it found empty. The leases are taken: a clean-up that fails must not lose
   * them (the next claim finds the same work and tries again).
   */
  async #afterClaim(sql: Sql, queue: string, leased: Leased, now: number): Promise<void> {
    if (leased.expired) await this.#sweep(sql, queue, now).catch(() => {});
    if (leased.empty.length > 0) await this.#groups.prune(sql, leased.queueId, leased.empty).catch(() => {});
  }

  /**
   * Runs the claim statement for `wanted` messages: what it leased in delivery order, and
   * whether expired last attempts wait for a sweep. Null when the queue does not exist.
   */
  async #lease(
    sql: Sql,
    queue: string,
    wanted: number,
    visibilityTimeoutMs: number,
    now: number,
    /** The caller holds the queue's lock and `wanted` is within its globalConcurrency. */
    bound = false,
  ): Promise<Leased | null> {
    if (!bound && this.#bounded.has(queue))
      return this.#leaseBounded(sql, queue, wanted, visibilityTimeoutMs, now);
    const token = randomUUID();
    const leaseExpiresAt = now + visibilityTimeoutMs;
    if (this.#grouped.has(queue)) {
      return this.#leaseGrouped(sql, queue, wanted, token, leaseExpiresAt, now, bound);
    }
    const rows = await sql.rows<ClaimRow>(this.#sql.claim, [
      queue,
      now,
      token,
      leaseExpiresAt,
      wanted,
      bound,
    ]);
    const [first] = rows;
    if (!first) return null;
    if (first.bounded && wanted > 0) {
      // The statement leased nothing: the queue has a globalConcurrency (set by any process).
      this.#bounded.add(queue);
      return this.#leaseBounded(sql, queue, wanted, visibilityTimeoutMs, now);
    }
    if (first.grouped && wanted > 0) {
      // The statement leased nothing: the queue has groups (since another process sent one).
      this.#grouped.add(queue);
      return this.#leaseGrouped(sql, queue, wanted, token, leaseExpiresAt, now, bound);
    }
    const claimed = rows
      .filter((row) => row.seq !== null)
      .map((row) => ({ ...row, seq: toInt(row.seq!) }))
      .sort((a, b) => b.priority - a.priority || a.seq - b.seq)
      .map((row) => toClaimed(queue, row, token, leaseExpiresAt));
    return {
      queueId: toInt(first.queue_id),
      claimed,
      expired: first.expired || first.ttl_expired,
      empty: [],
    };
  }

  /**
   * A claim of a queue with fairness groups (fair-groups.ts): round-robin across the groups, in
   * a few rounds when one statement's share per group was not enough.
   */
  async #leaseGrouped(
    sql: Sql,
    queue: string,
    wanted: number,
    token: string,
    leaseExpiresAt: number,
    now: number,
    bound: boolean,
  ): Promise<Leased | null> {
    const claimed: ClaimedMessage[] = [];
    const empty = new Set<string>();
    let expired = false;
    let queueId = 0;
    for (let round = 0; round < groupedRounds && claimed.length < wanted; round++) {
      const want = wanted - claimed.length;
      const rows = await sql.rows<ClaimRow>(this.#groups.claim, [
        queue,
        now,
        token,
        leaseExpiresAt,
        want,
        want + 32,
        bound,
      ]);
      const [first] = rows;
      if (!first) return null;
      if (first.bounded && round === 0) {
        this.#bounded.add(queue);
        return this.#leaseBounded(sql, queue, wanted, leaseExpiresAt - now, now);
      }
      if (!first.grouped) {
        // The queue was deleted and made again without groups.
        this.#grouped.delete(queue);
        if (round === 0) return this.#lease(sql, queue, wanted, leaseExpiresAt - now, now, bound);
        break;
      }
      queueId = toInt(first.queue_id);
      expired ||= first.expired || first.ttl_expired;
      for (const group of first.empty ?? []) empty.add(group);
      for (const row of rows) {
        if (row.seq !== null)
          claimed.push(toClaimed(queue, { ...row, seq: toInt(row.seq) }, token, leaseExpiresAt));
      }
      if (!first.more) break;
    }
    return { queueId, claimed, expired, empty: [...empty] };
  }

  /**
   * A claim of a queue with a `globalConcurrency`: in one transaction, takes the queue's lock
   * (claims of the queue in every process take turns), counts its live leases, and leases no
   * more than the bound leaves.
   */
  #leaseBounded(
    sql: Sql,
    queue: string,
    wanted: number,
    visibilityTimeoutMs: number,
    now: number,
  ): Promise<Leased | null> {
    return sql.atomic(async (tx) => {
      const [row] = await tx.rows<{ id: Int; bound: number | null }>(this.#sql.lockBound, [queue]);
      if (!row) return null;
      let room = wanted;
      if (row.bound === null) this.#bounded.delete(queue);
      else {
        const [count] = await tx.rows<{ leased: number }>(this.#sql.leasedNow, [row.id, now]);
        room = Math.min(wanted, Math.max(0, row.bound - count!.leased));
      }
      return this.#lease(tx, queue, room, visibilityTimeoutMs, now, true);
    });
  }

  /**
   * Dead-letters messages whose last allowed lease expired and messages that expired by TTL,
   * handing their keys' heads on.
   */
  async #sweep(sql: Sql, name: string, now: number): Promise<void> {
    await sql.atomic(async (tx) => {
      const queue = await this.#queues.find(tx, name);
      if (!queue) return;
      const buried = [
        ...(await tx.rows<{ key: string | null }>(this.#sql.sweep, [
          queue.id,
          now,
          queue.config.maxAttempts,
          leaseExpiredMessage,
        ])),
        ...(await tx.rows<{ key: string | null }>(this.#sql.ttlSweep, [
          queue.id,
          now,
          messageExpiredMessage,
        ])),
      ];
      const keys = buried.flatMap((row) => (row.key === null ? [] : [row.key]));
      if ((await this.#keys.removed(tx, queue.id, keys)) > 0) await tx.notify('queue', name);
    });
  }

  /**
   * Settles a lease by deleting the message. With `coalesce` (acks of the store itself, not of
   * a transaction), concurrent acks of the queue share their statements.
   */
  async ack(sql: Sql, queue: string, receipt: string, coalesce = false): Promise<void> {
    const request = { receipt, lease: leaseOf(receipt) };
    if (coalesce) return this.#acks.submit(queue, request);
    return unwrap((await this.#ackBatch(sql, queue, [request]))[0]!);
  }

  /**
   * Acks of one queue together: one autocommit statement when none is keyed; with keyed ones, a
   * transaction that also hands their keys' heads on (key-heads.ts).
   */
  #ackBatch(sql: Sql, queue: string, acks: readonly AckRequest[]): Promise<Outcome<void>[]> {
    return acks.some((ack) => ack.lease.keyed)
      ? sql.atomic((tx) => this.#settle(tx, queue, acks))
      : this.#settle(sql, queue, acks);
  }

  /**
   * Deletes the acked messages, one statement per round: a round holds each message once, so
   * two receipts of one message (a stale one and the current one, or the same one twice) go in
   * separate rounds, and a lease is settled at most once.
   */
  async #settle(sql: Sql, queue: string, acks: readonly AckRequest[]): Promise<Outcome<void>[]> {
    const outcomes: Outcome<void>[] = [];
    const handOn: string[] = [];
    let queueId = 0;
    let waiting = [...acks.keys()];
    while (waiting.length > 0) {
      const round: number[] = [];
      const deferred: number[] = [];
      const seqs = new Set<number>();
      for (const index of waiting) {
        const { seq } = acks[index]!.lease;
        (seqs.has(seq) ? deferred : round).push(index);
        seqs.add(seq);
      }
      const leases = round.map((index) => acks[index]!.lease);
      const deleted = await sql.rows<{ seq: Int; queue_id: Int; key: string | null }>(this.#sql.ack, [
        queue,
        leases.map((lease) => lease.seq),
        leases.map((lease) => lease.token),
        leases.map((lease) => lease.keyed),
      ]);
      const gone = new Set<number>();
      for (const row of deleted) {
        gone.add(toInt(row.seq));
        queueId = toInt(row.queue_id);
        if (row.key !== null) handOn.push(row.key);
      }
      for (const index of round) {
        const { receipt, lease } = acks[index]!;
        outcomes[index] = gone.has(lease.seq)
          ? { ok: true, value: undefined }
          : { ok: false, error: new StaleReceiptError(queue, receipt) };
      }
      waiting = deferred;
    }
    if ((await this.#keys.removed(sql, queueId, handOn)) > 0) await sql.notify('queue', queue);
    return outcomes;
  }

  /**
   * Ends a lease; a nack of the last allowed attempt dead-letters the message instead (one
   * statement). A keyed message that leaves the queue hands its key's head on in the same
   * transaction, as `deadLetter` does.
   */
  async release(sql: Sql, queue: string, receipt: string, options: ReleaseOptions): Promise<ReleaseOutcome> {
    const lease = leaseOf(receipt);
    const now = this.#clock.now();
    const counted = options.countAttempt ?? true;
    const buriedError = options.error ?? nackedError;
    const params = [
      lease.seq,
      lease.token,
      queue,
      lease.keyed,
      now + Math.max(0, options.delayMs),
      options.error?.name ?? null,
      now,
      options.error?.message ?? null,
      counted ? 0 : 1,
      buriedError.name,
      buriedError.message,
    ];
    const settle = async (tx: Sql): Promise<ReleaseOutcome> => {
      const [row] = await tx.rows<{ released: number; queue_id: Int | null; key: string | null }>(
        this.#sql.release,
        params,
      );
      if (row?.released) {
        await tx.notify('queue', queue);
        return 'released';
      }
      if (row?.queue_id === null || row?.queue_id === undefined) throw new StaleReceiptError(queue, receipt);
      if (row.key !== null) await this.#handOn(tx, queue, { queue_id: row.queue_id, key: row.key });
      return 'dead-lettered';
    };
    // Only a keyed message that may be dead-lettered needs more than the one statement.
    return counted && lease.keyed ? sql.atomic(settle) : settle(sql);
  }

  /** Resolves with the new expiry; a lease that already ran out cannot be extended. */
  async extend(sql: Sql, queue: string, receipt: string, visibilityTimeoutMs: number): Promise<number> {
    const lease = leaseOf(receipt);
    const now = this.#clock.now();
    const expiresAt = now + visibilityTimeoutMs;
    const extended = await sql.count(this.#sql.extend, [
      lease.seq,
      lease.token,
      queue,
      lease.keyed,
      expiresAt,
      now,
    ]);
    if (extended === 0) throw new StaleReceiptError(queue, receipt);
    return expiresAt;
  }

  async deadLetter(
    sql: Sql,
    queue: string,
    receipt: string,
    error: { name: string; message: string },
  ): Promise<void> {
    const lease = leaseOf(receipt);
    const params = [lease.seq, lease.token, queue, lease.keyed, this.#clock.now(), error.name, error.message];
    if (!lease.keyed) {
      if ((await sql.count(this.#sql.deadLetter, params)) === 0) throw new StaleReceiptError(queue, receipt);
      return;
    }
    await sql.atomic(async (tx) => {
      const [gone] = await tx.rows<{ queue_id: Int; key: string }>(this.#sql.deadLetter, params);
      if (!gone) throw new StaleReceiptError(queue, receipt);
      await this.#handOn(tx, queue, gone);
    });
  }

  /** After a keyed head left the queue: makes the next message of its key the head, and wakes consumers. */
  async #handOn(sql: Sql, queue: string, gone: { queue_id: Int; key: string }): Promise<void> {
    if ((await this.#keys.removed(sql, toInt(gone.queue_id), [gone.key])) > 0) {
      await sql.notify('queue', queue);
    }
  }
}

/** A leased row as the consumer gets it. */
function toClaimed(
  queue: string,
  row: ClaimRow & { seq: number },
  token: string,
  leaseExpiresAt: number,
): ClaimedMessage {
  return {
    id: row.id,
    queue,
    payload: decodePayload(row.payload_text, row.payload_bytes),
    headers: decodeHeaders(row.headers),
    key: row.key,
    priority: row.priority,
    enqueuedAt: toInt(row.enqueued_at),
    attempt: row.attempts,
    receipt: formatReceipt(row.seq, token, row.key !== null),
    leaseExpiresAt,
    errors: decodeErrors(row.errors),
  };
}

/** The lease a receipt claims to hold; a receipt that does not parse matches no row. */
function leaseOf(receipt: string): Receipt {
  return parseReceipt(receipt) ?? noLease;
}
