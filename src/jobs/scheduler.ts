/**
 * Schedules: cron expressions (with a time zone, via croner) or fixed intervals that add a job
 * per slot.
 *
 * Once per slot, across restarts and processes: a schedule's `nextRunAt` is the slot to fire.
 * Firing moves it to the following slot with `advanceSchedule(name, slot, next)`, which succeeds
 * for exactly one caller, and adds the job in the same transaction. Any number of processes may
 * run the scheduler on one store; a slot still fires once. On a store shared by several
 * processes only the leader of the jobs role (see `Jobs.start`; only processes running `Jobs`
 * compete for it) looks for due slots, which saves the others the work; the compare-and-set is
 * what keeps a slot to one job while leadership changes hands.
 *
 * After downtime (`nextRunAt` long past): policy `skip` fires nothing for the missed slots and
 * moves on to the next future slot; `catch-up-once` fires one job for all of them, then moves on.
 *
 * A paused schedule fires nothing. Resuming it moves `nextRunAt` to the first slot after now:
 * slots that passed while it was paused were skipped on purpose, whatever the missed policy.
 */
import { Cron } from 'croner';
import { InvalidArgumentError } from '../core/errors.js';
import type { TimerHandle } from '../core/clock.js';
import type { JsonValue } from '../core/message.js';
import type { Spool } from '../engine/spool.js';
import type { SpoolTransaction } from '../engine/transaction.js';
import type { Leadership, ScheduleRecord } from '../store/port.js';
import { ScheduleNotFoundError } from './job-errors.js';
import { validateScheduleOptions } from './schedule-validation.js';

export interface ScheduleOptions {
  /** Cron expression (5 or 6 fields), read in `timezone`. Give this or `everyMs`. */
  cron?: string;
  /** IANA time zone of `cron`. @defaultValue 'UTC' */
  timezone?: string;
  /** A fixed interval instead of cron. */
  everyMs?: number;
  /** The job type to add at each slot. */
  type: string;
  /** The payload of each job. @defaultValue {} */
  payload?: JsonValue;
  /** What happens to slots missed while nothing ran. @defaultValue 'skip' */
  missed?: 'skip' | 'catch-up-once';
}

/** Adds the job for a fired slot, inside the firing transaction. */
export type FireSlot = (schedule: ScheduleRecord, slot: number, tx: SpoolTransaction) => Promise<void>;

/** The first slot strictly after `after`. */
export function nextSlot(
  schedule: Pick<ScheduleRecord, 'cron' | 'timezone' | 'everyMs'>,
  after: number,
  anchor: number,
): number {
  if (schedule.everyMs !== null) {
    const periods = Math.floor((after - anchor) / schedule.everyMs) + 1;
    return anchor + Math.max(1, periods) * schedule.everyMs;
  }
  const cron = new Cron(schedule.cron!, { timezone: schedule.timezone ?? 'UTC', paused: true });
  const next = cron.nextRun(new Date(after));
  if (!next) throw new InvalidArgumentError(`cron "${schedule.cron}" has no future run`);
  return next.getTime();
}

export function toScheduleRecord(name: string, options: ScheduleOptions, now: number): ScheduleRecord {
  validateScheduleOptions(name, options, now);
  const base = {
    cron: options.cron ?? null,
    timezone: options.cron !== undefined ? (options.timezone ?? 'UTC') : null,
    everyMs: options.everyMs ?? null,
  };
  return {
    name,
    ...base,
    jobType: options.type,
    payload: JSON.stringify(options.payload ?? {}),
    missedPolicy: options.missed ?? 'skip',
    nextRunAt: nextSlot(base, now, now),
    lastRunAt: null,
    createdAt: now,
    pausedAt: null,
  };
}

/** Schedule `name`, or `ScheduleNotFoundError`. */
export async function requireSchedule(spool: Spool, name: string): Promise<ScheduleRecord> {
  const schedule = await spool.store.getSchedule(name);
  if (!schedule) throw new ScheduleNotFoundError(name);
  return schedule;
}

/** Pauses or resumes schedule `name` (see the module comment); unchanged if already so. */
export async function setSchedulePaused(
  spool: Spool,
  name: string,
  paused: boolean,
): Promise<ScheduleRecord> {
  const schedule = await requireSchedule(spool, name);
  if ((schedule.pausedAt !== null) === paused) return schedule;
  const now = spool.clock.now();
  const updated = paused
    ? await spool.store.pauseSchedule(name, now)
    : await spool.store.pauseSchedule(name, null, nextSlot(schedule, now, schedule.nextRunAt));
  if (!updated) throw new ScheduleNotFoundError(name);
  return updated;
}

export class Scheduler {
  #timer: TimerHandle | undefined;
  #stopped = false;
  #unsubscribe: (() => void) | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #leadership: Leadership | undefined;

  constructor(
    private readonly spool: Spool,
    private readonly fire: FireSlot,
    /** Upper bound between looks, so schedules saved by other processes are seen. */
    private readonly pollMs: number,
  ) {}

  /** Fires what is due now (slots missed while nothing ran), then keeps firing on time. */
  start(leadership: Leadership): void {
    this.#leadership = leadership;
    // A process that becomes the leader fires what is due at once, not at its next poll.
    this.#unsubscribe = leadership.onChange((held) => {
      if (held) void this.tick();
    });
    void this.tick();
  }

  /** Fires every due slot now, then re-arms the timer. */
  tick(): Promise<void> {
    this.#ticking = this.#ticking.then(() => this.#tick());
    return this.#ticking;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    if (this.#timer) this.spool.clock.clearTimer(this.#timer);
    await this.#ticking;
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    if (!this.#leadership?.held) {
      // Another process fires the slots; this one only waits to take over.
      this.#schedule(this.pollMs);
      return;
    }
    const now = this.spool.clock.now();
    let nextDue = now + this.pollMs;
    try {
      for (const schedule of await this.spool.store.listSchedules()) {
        if (schedule.pausedAt !== null) continue;
        if (schedule.nextRunAt <= now) await this.#fireDue(schedule, now);
        const stored = await this.spool.store.getSchedule(schedule.name);
        if (stored && stored.pausedAt === null) nextDue = Math.min(nextDue, stored.nextRunAt);
      }
    } catch (error) {
      if (!this.#stopped) this.spool.logger.error({ err: error }, 'scheduler: firing due schedules failed');
    }
    this.#schedule(Math.max(0, nextDue - this.spool.clock.now()));
  }

  async #fireDue(schedule: ScheduleRecord, now: number): Promise<void> {
    const slot = schedule.nextRunAt;
    const next = nextSlot(schedule, now, schedule.everyMs !== null ? slot : now);
    // A slot is "missed" when the next one was already due a poll ago too, i.e. nothing was
    // running; one found late by up to a poll (saved by another process just now) still fires.
    const missed = nextSlot(schedule, slot, slot) <= now - this.pollMs;
    await this.spool.transaction(async (tx) => {
      if (!(await tx.records.advanceSchedule(schedule.name, slot, next))) return;
      if (!missed || schedule.missedPolicy === 'catch-up-once') await this.fire(schedule, slot, tx);
    });
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer) this.spool.clock.clearTimer(this.#timer);
    this.#timer = this.spool.clock.setTimer(() => void this.tick(), delayMs);
  }
}
