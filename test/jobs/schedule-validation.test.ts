import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { Jobs } from '../../src/jobs/jobs.js';
import { maxScheduleEveryMs } from '../../src/jobs/schedule-validation.js';
import type { ScheduleOptions } from '../../src/jobs/scheduler.js';
import { openTestSpool, type TestSpool } from '../helpers.js';

/** Each bad schedule, the field the error must name, and what its message must say is allowed. */
const invalid: Array<[string, Record<string, unknown>, string, RegExp]> = [
  [
    'a city for a time zone',
    { cron: '0 9 * * *', timezone: 'Berlin' },
    'timezone',
    /IANA time zone such as Europe\/Berlin/,
  ],
  ['an offset for a time zone', { cron: '0 9 * * *', timezone: 'UTC+1' }, 'timezone', /IANA time zone/],
  ['an empty time zone', { cron: '0 9 * * *', timezone: '' }, 'timezone', /IANA time zone/],
  [
    'a time zone with an interval',
    { everyMs: 60_000, timezone: 'Europe/Berlin' },
    'timezone',
    /applies to cron schedules only/,
  ],
  [
    'an interval past any valid date',
    { everyMs: 9e15 },
    'everyMs',
    /whole number of milliseconds from 1000 to 3155760000000/,
  ],
  ['an interval of 2^53', { everyMs: 2 ** 53 }, 'everyMs', /from 1000 to 3155760000000/],
  ['an interval of 1e300', { everyMs: 1e300 }, 'everyMs', /from 1000 to 3155760000000/],
  ['an interval below a second', { everyMs: 999 }, 'everyMs', /from 1000 to/],
  ['a fractional interval', { everyMs: 1500.5 }, 'everyMs', /whole number/],
  ['an infinite interval', { everyMs: Infinity }, 'everyMs', /whole number/],
  [
    'an hour of 25',
    { cron: '0 25 * * *' },
    'cron',
    /cron expression of 5 fields.*Invalid value for hour: 25/,
  ],
  ['too few fields', { cron: '* * * *' }, 'cron', /cron expression of 5 fields/],
  ['@reboot', { cron: '@reboot' }, 'cron', /cron expression/],
  ['a step of 0', { cron: '*/0 * * * *' }, 'cron', /cron expression/],
  ['a date that never comes', { cron: '0 0 31 2 *' }, 'cron', /never fires after .*future run/],
  ['a year that has passed', { cron: '0 0 0 1 1 * 2020' }, 'cron', /never fires/],
  ['an empty expression', { cron: '' }, 'cron', /cron expression/],
  [
    'both cron and everyMs',
    { cron: '* * * * *', everyMs: 60_000 },
    'cron',
    /exactly one of cron and everyMs/,
  ],
  ['an unknown missed policy', { everyMs: 60_000, missed: 'later' }, 'missed', /"skip", "catch-up-once"/],
  ['a payload that is not JSON', { everyMs: 60_000, payload: 10n }, 'payload', /JSON value/],
  ['a job type with a space', { everyMs: 60_000, type: 'send mail' }, 'type', /job type of 1-195 characters/],
];

describe('jobs.schedule: invalid options are InvalidArgumentError naming the field', () => {
  let t: TestSpool;
  let jobs: Jobs;
  before(async () => {
    t = await openTestSpool();
    jobs = new Jobs(t.spool);
    await jobs.start();
  });
  after(async () => {
    await jobs.close();
    await t.dispose();
  });

  for (const [index, [what, fields, field, allowed]] of invalid.entries()) {
    it(`refuses ${what} (${field})`, async () => {
      const name = `nightly-${index}`;
      const options = { type: 'report', ...fields } as unknown as ScheduleOptions;
      await assert.rejects(jobs.schedule(name, options), (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError, `an InvalidArgumentError, not ${String(error)}`);
        assert.equal(error.details.field, field);
        assert.match(error.message, allowed);
        assert.doesNotMatch(error.message, /SQLite|INTEGER column|CronDate|toTZ/);
        return true;
      });
      const stored = (await jobs.schedules()).map((schedule) => schedule.name);
      assert.ok(!stored.includes(name), 'nothing stored');
    });
  }

  it('refuses a schedule name outside the name rule', async () => {
    await assert.rejects(jobs.schedule('x'.repeat(192), { everyMs: 60_000, type: 'report' }), {
      code: 'SPOOL_INVALID_ARGUMENT',
      details: { field: 'name' },
    });
  });

  it('accepts the longest interval and an IANA zone, with next runs that are valid times', async () => {
    const longest = await jobs.schedule('centennial', { everyMs: maxScheduleEveryMs, type: 'report' });
    assert.equal(longest.everyMs, 36_525 * 86_400_000);
    assert.ok(Number.isSafeInteger(longest.nextRunAt));
    assert.ok(!Number.isNaN(new Date(longest.nextRunAt).getTime()));
    const berlin = await jobs.schedule('berlin-nine', {
      cron: '0 9 * * *',
      timezone: 'Europe/Berlin',
      type: 'report',
    });
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Berlin',
      hour: '2-digit',
      minute: '2-digit',
    }).format(berlin.nextRunAt);
    assert.equal(local, '09:00');
    const stored = (await jobs.schedules()).map((schedule) => schedule.name);
    assert.ok(stored.includes('berlin-nine') && stored.includes('centennial'));
  });
});
