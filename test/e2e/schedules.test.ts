import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Jobs } from '../../src/jobs/jobs.js';
import { JobAccepted, Schedule, ScheduleList } from '../../src/server/schemas/jobs.js';
import { assertProblem, serverWithClient, startTestServer, type TestServer } from './helpers.js';

describe('PUT /v1/schedules/{name}: bad schedules are 400 problems naming the field', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      jobs: async (spool) => {
        const jobs = new Jobs(spool);
        await jobs.start();
        return jobs;
      },
    });
  });
  after(() => t.dispose());

  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    [
      'a city for a time zone',
      { cron: '0 9 * * *', timezone: 'Berlin' },
      'timezone',
      /timezone must be an IANA time zone such as Europe\/Berlin/,
    ],
    [
      'an offset for a time zone',
      { cron: '0 9 * * *', timezone: 'UTC+1' },
      'timezone',
      /timezone must be an IANA time zone/,
    ],
    ['everyMs of 9e15', { everyMs: 9e15 }, 'everyMs', /3155760000000/],
    ['everyMs of 1e300', { everyMs: 1e300 }, 'everyMs', /3155760000000/],
    ['an hour of 25', { cron: '0 25 * * *' }, 'cron', /cron must be a cron expression of 5 fields.*hour: 25/],
    ['a cron that never fires', { cron: '0 0 31 2 *' }, 'cron', /never fires/],
    ['a cron croner cannot read', { cron: '@reboot' }, 'cron', /cron must be a cron expression/],
    ['an unknown missed policy', { everyMs: 60_000, missed: 'later' }, 'missed', /skip.*catch-up-once/],
  ];
  for (const [index, [what, fields, field, allowed]] of cases.entries()) {
    it(`${what}: 400 naming ${field} and what is allowed`, async () => {
      const answer = await t.call('PUT', `/v1/schedules/nightly-${index}`, {
        body: { type: 'report', ...fields },
      });
      const problem = assertProblem(answer, 400, 'SPOOL_INVALID_ARGUMENT', `/v1/schedules/nightly-${index}`);
      assert.equal(problem.errors?.length, 1, JSON.stringify(problem));
      assert.equal(problem.errors?.[0]?.field, field);
      assert.match(problem.errors?.[0]?.message ?? '', allowed);
      assert.match(problem.detail, allowed);
      assert.doesNotMatch(JSON.stringify(problem), /SQLite|INTEGER column|REAL value|CronDate|toTZ/);
      const listed = await t.call('GET', '/v1/schedules', { returns: ScheduleList });
      assert.equal(listed.status, 200, 'the list still answers');
      assert.ok(!listed.body.items.some((s) => s.name === `nightly-${index}`), 'nothing stored');
    });
  }

  it('the longest interval and an IANA zone are stored and listed with valid next runs', async () => {
    const longest = await t.call('PUT', '/v1/schedules/centennial', {
      body: { type: 'report', everyMs: 3_155_760_000_000 },
      returns: Schedule,
    });
    assert.equal(longest.status, 200);
    const berlin = await t.call('PUT', '/v1/schedules/berlin-nine', {
      body: { type: 'report', cron: '0 9 * * *', timezone: 'Europe/Berlin' },
      returns: Schedule,
    });
    assert.equal(berlin.status, 200);
    const listed = await t.call('GET', '/v1/schedules', { returns: ScheduleList });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.items.map((s) => s.name).sort(), ['berlin-nine', 'centennial']);
    for (const schedule of listed.body.items) assert.ok(!Number.isNaN(Date.parse(schedule.nextRunAt)));
  });

  it('POST /v1/schedules/{name}/run adds its job now and leaves its slots alone; 404 for an unknown one', async () => {
    const saved = await t.call('PUT', '/v1/schedules/nightly-report', {
      body: { type: 'report.nightly', cron: '0 3 * * *', payload: { scope: 'all' } },
      returns: Schedule,
    });
    const ran = await t.call('POST', '/v1/schedules/nightly-report/run', { returns: JobAccepted });
    assert.equal(ran.status, 202);
    assert.equal(ran.body.job!.type, 'report.nightly');
    assert.deepEqual(ran.body.job!.payload, { scope: 'all' });
    assert.deepEqual(ran.body.job!.metadata, { schedule: 'nightly-report', runNow: true });
    assert.equal(ran.headers.get('location'), `/v1/jobs/${ran.body.id}`);
    const listed = await t.call('GET', '/v1/schedules', { returns: ScheduleList });
    const after = listed.body.items.find((schedule) => schedule.name === 'nightly-report');
    assert.equal(after?.nextRunAt, saved.body.nextRunAt, 'the next slot did not move');
    assert.equal(after?.lastRunAt, null);
    assertProblem(await t.call('POST', '/v1/schedules/no-such/run'), 404, 'SPOOL_SCHEDULE_NOT_FOUND');
  });
});

describe('client.schedules', () => {
  const fixture = serverWithClient();

  it('puts, gets, lists, runs now, pauses, resumes and deletes a schedule; typed errors for an unknown one', async () => {
    const { client } = fixture;
    const saved = await client.schedules.put('nightly-report', {
      type: 'report.build',
      cron: '0 3 * * *',
      timezone: 'Europe/Berlin',
      payload: { kind: 'nightly' },
    });
    assert.equal(saved.name, 'nightly-report');
    assert.equal(saved.timezone, 'Europe/Berlin');
    assert.ok(Date.parse(saved.nextRunAt) > Date.now());
    const listed = await client.schedules.list();
    assert.deepEqual(
      listed.map((schedule) => [schedule.name, schedule.type]),
      [['nightly-report', 'report.build']],
    );

    const accepted = await client.schedules.runNow('nightly-report');
    const job = await client.jobs.get(accepted.id);
    assert.equal(job.type, 'report.build');
    assert.deepEqual(job.payload, { kind: 'nightly' });
    assert.equal((await client.schedules.list())[0]!.nextRunAt, saved.nextRunAt, 'slots not moved');

    assert.deepEqual(await client.schedules.get('nightly-report'), (await client.schedules.list())[0]);
    const paused = await client.schedules.pause('nightly-report');
    assert.deepEqual([paused.paused, typeof paused.pausedAt], [true, 'string']);
    assert.deepEqual(await client.schedules.pause('nightly-report'), paused, 'idempotent');
    const kept = await client.schedules.put('nightly-report', { type: 'report.build', everyMs: 60_000 });
    assert.equal(kept.paused, true, 'a put keeps the pause');
    const resumed = await client.schedules.resume('nightly-report');
    assert.deepEqual([resumed.paused, resumed.pausedAt], [false, null]);
    assert.ok(Date.parse(resumed.nextRunAt) > Date.now() - 1_000);

    await client.schedules.delete('nightly-report');
    assert.deepEqual(await client.schedules.list(), []);
    await assert.rejects(client.schedules.get('nightly-report'), { code: 'SPOOL_SCHEDULE_NOT_FOUND' });
    await assert.rejects(client.schedules.resume('nightly-report'), { code: 'SPOOL_SCHEDULE_NOT_FOUND' });
    await assert.rejects(client.schedules.delete('nightly-report'), { code: 'SPOOL_SCHEDULE_NOT_FOUND' });
    await assert.rejects(client.schedules.runNow('nightly-report'), { code: 'SPOOL_SCHEDULE_NOT_FOUND' });
    await assert.rejects(client.schedules.put('bad', { type: 'x', cron: 'not a cron' }), {
      code: 'SPOOL_INVALID_ARGUMENT',
    });
  });
});
