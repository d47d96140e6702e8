/**
 * Checks the options of a schedule before anything is stored, so that every mistake is an
 * `InvalidArgumentError` naming the field (a 400 over HTTP) and not an error from croner, from
 * the store or from turning an out-of-range time into a `Date` (a 500).
 *
 * One bound for intervals, {@link maxScheduleEveryMs}, used by the engine and the HTTP schema: a
 * schedule's next run is `now + everyMs`, which must stay a valid `Date` (at most 8.64e15 ms) and
 * a safe integer for the stores. A hundred years keeps it so for any plausible clock.
 */
import { Cron } from 'croner';
import { InvalidArgumentError } from '../core/errors.js';

/** The shortest interval of an `everyMs` schedule. */
export const minScheduleEveryMs = 1000;

/** The longest interval of an `everyMs` schedule: 100 years (36,525 days). */
export const maxScheduleEveryMs = 36_525 * 86_400_000;

/** What a schedule may be missing slots by. */
export const missedPolicies = ['skip', 'catch-up-once'] as const;

const namePattern = /^[A-Za-z0-9._:-]+$/;
/** Schedules and job types live in queue-like namespaces (`schedule.<name>`, `jobs.<type>`) of at most 200 characters. */
const maxScheduleNameLength = 200 - 'schedule.'.length;
const maxJobTypeLength = 200 - 'jobs.'.length;

/** The fields of a schedule as given to `Jobs.schedule` (see `ScheduleOptions`). */
export interface ScheduleFields {
  readonly cron?: unknown;
  readonly timezone?: unknown;
  readonly everyMs?: unknown;
  readonly type?: unknown;
  readonly payload?: unknown;
  readonly missed?: unknown;
}

/** True when `zone` is a time zone the runtime knows (IANA names such as `Europe/Berlin`, or `UTC`). */
export function isTimeZone(zone: string): boolean {
  if (zone.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Throws `InvalidArgumentError` (with `field`) unless `options` make a schedule that can fire:
 * a valid name and job type; exactly one of `cron` and `everyMs`; a cron expression croner reads,
 * in a known time zone, with a run after `now`; an interval from {@link minScheduleEveryMs} to
 * {@link maxScheduleEveryMs}; a JSON payload; a known `missed` policy.
 */
export function validateScheduleOptions(name: unknown, options: ScheduleFields, now: number): void {
  if (typeof name !== 'string' || name.length > maxScheduleNameLength || !namePattern.test(name)) {
    throw new InvalidArgumentError(
      `schedule name ${JSON.stringify(name)} is invalid: use 1-${maxScheduleNameLength} characters of letters, digits, '.', '_', '-' or ':'`,
      { field: 'name' },
    );
  }
  const { type } = options;
  if (typeof type !== 'string' || type.length > maxJobTypeLength || !namePattern.test(type)) {
    throw new InvalidArgumentError(
      `schedule "${name}": type must be a job type of 1-${maxJobTypeLength} characters of letters, digits, '.', '_', '-' or ':'`,
      { field: 'type' },
    );
  }
  if ((options.cron === undefined) === (options.everyMs === undefined)) {
    throw new InvalidArgumentError(`schedule "${name}": give exactly one of cron and everyMs`, {
      field: 'cron',
    });
  }
  if (options.everyMs !== undefined) {
    const everyMs = options.everyMs;
    if (
      typeof everyMs !== 'number' ||
      !Number.isInteger(everyMs) ||
      everyMs < minScheduleEveryMs ||
      everyMs > maxScheduleEveryMs
    ) {
      throw new InvalidArgumentError(
        `schedule "${name}": everyMs must be a whole number of milliseconds from ${minScheduleEveryMs} to ${maxScheduleEveryMs} (100 years)`,
        { field: 'everyMs' },
      );
    }
  }
  if (options.everyMs !== undefined && options.timezone !== undefined) {
    // An interval has no wall-clock slots for a time zone to move; accepting one would let the
    // caller believe it did something.
    throw new InvalidArgumentError(
      `schedule "${name}": timezone applies to cron schedules only; remove it, or use cron for wall-clock times`,
      { field: 'timezone' },
    );
  }
  if (options.cron !== undefined) validateCron(name, options.cron, options.timezone ?? 'UTC', now);
  if (options.missed !== undefined && !(missedPolicies as readonly unknown[]).includes(options.missed)) {
    throw new InvalidArgumentError(
      `schedule "${name}": missed must be one of ${missedPolicies.map((policy) => `"${policy}"`).join(', ')}`,
      { field: 'missed' },
    );
  }
  let payload: string | undefined;
  try {
    payload = JSON.stringify(options.payload ?? {});
  } catch {
    payload = undefined;
  }
  if (payload === undefined) {
    throw new InvalidArgumentError(`schedule "${name}": payload must be a JSON value`, {
      field: 'payload',
    });
  }
}

function validateCron(name: string, cron: unknown, timezone: unknown, now: number): void {
  if (typeof timezone !== 'string' || !isTimeZone(timezone)) {
    throw new InvalidArgumentError(
      `schedule "${name}": timezone must be an IANA time zone such as Europe/Berlin, America/New_York or UTC; got ${JSON.stringify(timezone)}`,
      { field: 'timezone' },
    );
  }
  if (typeof cron !== 'string' || cron.trim() === '') {
    throw new InvalidArgumentError(
      `schedule "${name}": cron must be a cron expression such as "0 9 * * 1-5"`,
      { field: 'cron' },
    );
  }
  let next: Date | null;
  try {
    next = new Cron(cron, { timezone, paused: true }).nextRun(new Date(now));
  } catch (error) {
    // croner's messages say what is wrong with the expression ("Invalid value for hour: 25").
    const reason = (error as Error).message.replace(/^CronPattern:\s*/, '');
    throw new InvalidArgumentError(
      `schedule "${name}": cron must be a cron expression of 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), such as "0 9 * * 1-5": ${reason}`,
      { field: 'cron' },
    );
  }
  if (next === null) {
    throw new InvalidArgumentError(
      `schedule "${name}": cron "${cron}" never fires after ${new Date(now).toISOString()}; give an expression with a future run`,
      { field: 'cron' },
    );
  }
}
