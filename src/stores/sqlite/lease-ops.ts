/**
 * Leases: claim, ack, release, extend and dead-letter.
 *
 * A message row is leased while `lease_token` is set; `visible_at` is then the lease expiry.
 * A receipt names the row and the token (`<seq>.<token>`), and every settle matches both, so a
 * receipt goes stale the moment its message is claimed again (new token) or settled (row gone
 * or token cleared). An expired lease keeps its token until somebody claims the message, which
 * is why a late ack still succeeds when nobody else took the message in the meantime.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import type { QueueConfig } from '../../core/options.js';
import { StaleReceiptError } from '../../core/errors.js';
import {
  type AckAndClaimResult,
  type ClaimedMessage,
  type ReleaseOptions,
  type ReleaseOutcome,
  nackedError,
} from '../../store/port.js';
import { decodeErrors, decodeHeaders, decodePayload, formatReceipt, parseReceipt } from './codec.js';
import type { MessageBookkeeping } from './message-bookkeeping.js';
import { messageExpiredMessage } from '../rules.js';
import { firstRows } from './rows.js';
import type { QueueOps } from './queue-ops.js';
import type { ClaimableRow, FairGroups } from './fair-groups.js';

interface LeaseMatch {
  seq: number;
  queue: string;
  token: string;
}

/** The failure recorded when a message's last allowed lease runs out. */
const leaseExpiredMessage = 'the lease expired before the message was acked, released or dead-lettered';

/** Appends one `AttemptError` (for the row's current attempt) to its `errors` JSON array. */
const appendError = `json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', @now, 'name', @name, 'message', @message))`;

export class LeaseOps {
  readonly #clock: Clock;
  readonly #queues: QueueOps;
  readonly #moveExpiredToDeadLetters: Database.Statement<{
    queue: string;
    now: number;
    maxAttempts: number;
    name: string;
    message: string;
  }>;
  readonly #deleteExpired: Database.Statement<
    { queue: string; now: number; maxAttempts: number },
    string | null
  >;
  readonly #moveTtlExpiredToDeadLetters: Database.Statement<{ queue: string; now: number; message: string }>;
  readonly #deleteTtlExpired: Database.Statement<{ queue: string; now: number }, string | null>;
  readonly #groups: FairGroups;
  readonly #lease: Database.Statement<[string, number, number]>;
  readonly #leasedNow: Database.Statement<{ queue: string; now: number }, { leased: number }>;
  readonly #ack: Database.Statement<[number, string, string], string | null>;
  readonly #ackUnkeyed: Database.Statement<[number, string, string]>;
  readonly #hasKeyed: Database.Statement<[string], number>;
  readonly #leasedAttempts: Database.Statement<LeaseMatch, { attempts: number }>;
  readonly #release: Database.Statement<
    LeaseMatch & {
      visibleAt: number;
      now: number;
      uncounted: number;
      name: string | null;
      message: string | null;
    }
  >;
  readonly #extend: Database.Statement<LeaseMatch & { expiresAt: number; now: number }>;
  readonly #moveToDeadLetters: Database.Statement<
    LeaseMatch & { now: number; name: string; message: string }
  >;
  readonly #deleteBySeq: Database.Statement<[number], string | null>;
  readonly #bookkeeping: MessageBookkeeping;

  constructor(
    db: Database.Database,
    clock: Clock,
    queues: QueueOps,
    bookkeeping: MessageBookkeeping,
    groups: FairGroups,
  ) {
    this.#clock = clock;
    this.#queues = queues;
    this.#bookkeeping = bookkeeping;
    this.#groups = groups;
    const expired = `queue = @queue AND lease_token IS NOT NULL AND visible_at <= @now AND attempts >= @maxAttempts`;
    this.#moveExpiredToDeadLetters = db.prepare(
      `INSERT INTO dead_letters (id, queue, payload, headers, key, grp, priority, enqueued_at, dead_lettered_at, attempts, errors)
       SELECT id, queue, payload, headers, key, grp, priority, enqueued_at, @now, attempts, ${appendError}
       FROM messages WHERE ${expired} ORDER BY seq`,
    );
    // Deletes below return the key: every message they remove is leased, so the head of its key.
    this.#deleteExpired = db
      .prepare<{ queue: string; now: number; maxAttempts: number }, string | null>(
        `DELETE FROM messages WHERE ${expired} RETURNING key`,
      )
      .pluck();
    // Expired (by TTL) and held by nobody: waiting, or leased with the lease run out. A message
    // under a live lease is being worked on and settles as usual.
    const ttlExpired = `queue = @queue AND expires_at <= @now AND (lease_token IS NULL OR visible_at <= @now)`;
    this.#moveTtlExpiredToDeadLetters = db.prepare(
      `INSERT INTO dead_letters (id, queue, payload, headers, key, grp, priority, enqueued_at, dead_lettered_at, attempts, errors)
       SELECT id, queue, payload, headers, key, grp, priority, enqueued_at, @now, attempts,
              json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', @now, 'name', 'MessageExpired', 'message', @message))
       FROM messages INDEXED BY messages_expiring WHERE ${ttlExpired} ORDER BY seq`,
    );
    this.#deleteTtlExpired = db
      .prepare<{ queue: string; now: number }, string | null>(
        `DELETE FROM messages INDEXED BY messages_expiring WHERE ${ttlExpired} RETURNING key`,
      )
      .pluck();
    // The live leases a queue's globalConcurrency counts (messages_leased serves it).
    this.#leasedNow = db.prepare(
      'SELECT count(*) AS leased FROM messages WHERE queue = @queue AND lease_token IS NOT NULL AND visible_at > @now',
    );
    this.#lease = db.prepare(
      'UPDATE messages SET attempts = attempts + 1, lease_token = ?, visible_at = ? WHERE seq = ?',
    );
    const current = 'seq = @seq AND queue = @queue AND lease_token = @token';
    // Positional parameters: the ack runs once per message, and binding by name cost a third of it.
    this.#ack = db
      .prepare<[number, string, string], string | null>(
        'DELETE FROM messages WHERE seq = ? AND queue = ? AND lease_token = ? RETURNING key',
      )
      .pluck();
    // RETURNING costs a third of a delete here; a queue without keyed messages needs no key back.
    this.#ackUnkeyed = db.prepare('DELETE FROM messages WHERE seq = ? AND queue = ? AND lease_token = ?');
    this.#hasKeyed = db
      .prepare<[string], number>('SELECT 1 FROM messages WHERE queue = ? AND key IS NOT NULL LIMIT 1')
      .pluck();
    this.#leasedAttempts = db.prepare(`SELECT attempts FROM messages WHERE ${current}`);
    // `uncounted` (0 or 1) takes back the attempt the claim added: a plain release is no attempt.
    this.#release = db.prepare(
      `UPDATE messages SET lease_token = NULL, visible_at = @visibleAt, attempts = attempts - @uncounted,
         errors = CASE WHEN @name IS NULL THEN errors ELSE ${appendError} END
       WHERE ${current}`,
    );
    this.#extend = db.prepare(
      `UPDATE messages SET visible_at = @expiresAt WHERE ${current} AND visible_at > @now`,
    );
    this.#moveToDeadLetters = db.prepare(
      `INSERT INTO dead_letters (id, queue, payload, headers, key, grp, priority, enqueued_at, dead_lettered_at, attempts, errors)
       SELECT id, queue, payload, headers, key, grp, priority, enqueued_at, @now, attempts, ${appendError}
       FROM messages WHERE ${current}`,
    );
    this.#deleteBySeq = db
      .prepare<[number], string | null>('DELETE FROM messages WHERE seq = ? RETURNING key')
      .pluck();
  }

  /**
   * Dead-letters messages whose last allowed lease expired, then leases up to `max` deliverable
   * ones. The sweep comes first so that a key blocked by such a message is unblocked at once.
   */
  claim(queue: string, max: number, visibilityTimeoutMs: number): ClaimedMessage[] {
    const { config, pausedAt } = this.#queues.require(queue);
    if (pausedAt !== null) return [];
    return this.#claimFrom(queue, config, max, visibilityTimeoutMs);
  }

  /**
   * Acks `receipts` (each on its own: a stale one is reported, not thrown), then claims: the
   * consumer's round trip in one operation, so a group commit carries a whole round.
   */
  ackAndClaim(
    queue: string,
    receipts: readonly string[],
    max: number,
    visibilityTimeoutMs: number,
  ): AckAndClaimResult {
    const { config, pausedAt } = this.#queues.require(queue);
    const stale = this.ackMany(queue, receipts);
    const claims = max > 0 && pausedAt === null;
    return {
      stale,
      claimed: claims ? this.#claimFrom(queue, config, max, visibilityTimeoutMs) : [],
    };
  }

  /** Acks each of `receipts` on its own; returns the stale ones (their messages stay). */
  ackMany(queue: string, receipts: readonly string[]): string[] {
    this.#queues.require(queue);
    const stale: string[] = [];
    // Asked once for the whole batch, before any delete: a message acked here is still there.
    const keyed = receipts.length > 1 ? this.#hasKeyed.get(queue) !== undefined : true;
    for (const receipt of receipts) {
      if (!this.#deleteLeased(queue, receipt, keyed)) stale.push(receipt);
    }
    this.#bookkeeping.depthChanged(queue, stale.length - receipts.length);
    return stale;
  }

  #claimFrom(
    queue: string,
    config: QueueConfig,
    wanted: number,
    visibilityTimeoutMs: number,
  ): ClaimedMessage[] {
    const { maxAttempts, globalConcurrency } = config;
    const now = this.#clock.now();
    if (this.#moveTtlExpiredToDeadLetters.run({ queue, now, message: messageExpiredMessage }).changes > 0) {
      const removed = this.#deleteTtlExpired.all({ queue, now });
      // Any message of a key may expire, not only its head: headRemoved finds the key's oldest.
      for (const key of removed) this.#bookkeeping.headRemoved(queue, key);
      this.#bookkeeping.depthChanged(queue, -removed.length);
    }
    const expired = { queue, now, maxAttempts };
    if (
      this.#moveExpiredToDeadLetters.run({ ...expired, name: 'LeaseExpired', message: leaseExpiredMessage })
        .changes > 0
    ) {
      const removed = this.#deleteExpired.all(expired);
      for (const key of removed) this.#bookkeeping.headRemoved(queue, key);
      this.#bookkeeping.depthChanged(queue, -removed.length);
    }
    // A bound on the queue's leases in every process: this claim holds the only write lock, so
    // the count cannot change before its leases are taken. (Counted after the sweeps above: a
    // lease that expired no longer holds a place.)
    const max =
      globalConcurrency == null
        ? wanted
        : Math.min(wanted, Math.max(0, globalConcurrency - this.#leasedNow.get({ queue, now })!.leased));
    // Nothing to take: no statement is stepped (an iterator left unstepped keeps the connection busy).
    if (max <= 0) return [];
    const leaseExpiresAt = now + visibilityTimeoutMs;
    // One fresh token per claim: a receipt is still `<seq>.<token>`, so every message's receipt
    // is distinct and goes stale at its next claim, without drawing a UUID per message.
    const token = randomUUID();
    // A queue that has seen fairness groups takes round-robin across them (fair-groups.ts);
    // any other walks its deliverable messages in delivery order and leases the first `max`.
    const groups = max > 0 ? this.#groups.firstPage(queue) : [];
    let rows: ClaimableRow[];
    if (groups.length > 0) {
      rows = this.#groups.take(queue, now, max, groups, (row) =>
        this.#lease.run(token, leaseExpiresAt, row.seq),
      );
    } else {
      rows = firstRows(this.#groups.ungrouped.iterate({ queue, now }), max);
      for (const row of rows) this.#lease.run(token, leaseExpiresAt, row.seq);
    }
    return rows.map((row) => {
      return {
        id: row.id,
        queue,
        payload: decodePayload(row.payload),
        headers: decodeHeaders(row.headers),
        key: row.key,
        priority: row.priority,
        enqueuedAt: row.enqueued_at,
        attempt: row.attempts + 1,
        receipt: formatReceipt(row.seq, token),
        leaseExpiresAt,
        errors: decodeErrors(row.errors),
      };
    });
  }

  ack(queue: string, receipt: string): void {
    if (!this.#deleteLeased(queue, receipt)) throw new StaleReceiptError(queue, receipt);
    this.#bookkeeping.depthChanged(queue, -1);
  }

  /**
   * Deletes the message if `receipt` is its current lease; false when it matched nothing. The
   * caller updates the depth (once for a batch). `keyed` false: the queue holds no message with a
   * key, so no key's next message needs unblocking and the key need not be read back.
   */
  #deleteLeased(queue: string, receipt: string, keyed = true): boolean {
    const lease = parseReceipt(receipt);
    if (lease !== null && !keyed) return this.#ackUnkeyed.run(lease.seq, queue, lease.token).changes === 1;
    const key = lease === null ? undefined : this.#ack.get(lease.seq, queue, lease.token);
    if (key === undefined) return false;
    this.#bookkeeping.headRemoved(queue, key);
    return true;
  }

  /** Deletes a message known to be leased (its dead-lettered copy was just written). */
  #deleteHead(queue: string, seq: number): void {
    const key = this.#deleteBySeq.get(seq);
    if (key === undefined) return;
    this.#bookkeeping.headRemoved(queue, key);
    this.#bookkeeping.depthChanged(queue, -1);
  }

  /**
   * Ends a lease. A counted release (a nack) of the last allowed attempt dead-letters the
   * message instead, like a lease that runs out on it. Throws before any change when the
   * receipt is stale.
   */
  release(queue: string, receipt: string, options: ReleaseOptions): ReleaseOutcome {
    const match = this.#match(queue, receipt);
    const leased = this.#leasedAttempts.get(match);
    if (!leased) throw new StaleReceiptError(queue, receipt);
    const counted = options.countAttempt ?? true;
    const now = this.#clock.now();
    if (counted && leased.attempts >= this.#queues.require(queue).config.maxAttempts) {
      const error = options.error ?? nackedError;
      this.#moveToDeadLetters.run({ ...match, now, name: error.name, message: error.message });
      this.#deleteHead(queue, match.seq);
      return 'dead-lettered';
    }
    this.#release.run({
      ...match,
      visibleAt: now + Math.max(0, options.delayMs),
      now,
      uncounted: counted ? 0 : 1,
      name: options.error?.name ?? null,
      message: options.error?.message ?? null,
    });
    return 'released';
  }

  /** Resolves with the new expiry; a lease that already ran out cannot be extended. */
  extend(queue: string, receipt: string, visibilityTimeoutMs: number): number {
    const now = this.#clock.now();
    const expiresAt = now + visibilityTimeoutMs;
    if (this.#extend.run({ ...this.#match(queue, receipt), expiresAt, now }).changes === 0) {
      throw new StaleReceiptError(queue, receipt);
    }
    return expiresAt;
  }

  deadLetter(queue: string, receipt: string, error: { name: string; message: string }): void {
    const match = this.#match(queue, receipt);
    const now = this.#clock.now();
    if (
      this.#moveToDeadLetters.run({ ...match, now, name: error.name, message: error.message }).changes === 0
    ) {
      throw new StaleReceiptError(queue, receipt);
    }
    this.#deleteHead(queue, match.seq);
  }

  /** The lease a receipt claims to hold; a receipt that does not parse matches no row. */
  #match(queue: string, receipt: string): LeaseMatch {
    const parsed = parseReceipt(receipt);
    return parsed ? { queue, ...parsed } : { queue, seq: -1, token: '' };
  }
}
