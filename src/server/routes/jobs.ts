/**
 * Jobs over HTTP: request → acknowledge (202 + job id) → process later → poll, wait for a
 * webhook, or follow live events. Plus the remote-worker protocol (claim, heartbeat, progress,
 * complete, fail) that lets a worker in any language run jobs, and schedules.
 */
import { type Static, Type } from '@sinclair/typebox';
import { jobDefaults } from '../../core/options.js';
import type { JsonValue } from '../../core/message.js';
import type { Job } from '../../jobs/job.js';
import type { AddJobOptions, Jobs } from '../../jobs/jobs.js';
import type { LeasedJob } from '../../jobs/index.js';
import type { ScheduleRecord } from '../../store/port.js';
import { maxWaitMs, type RouteModule, startLongPoll } from '../context.js';
import { PolledWorkers } from '../polled-workers.js';
import { returnsMinimal } from '../prefer.js';
import { budgetHeaders, HeldBackLimits } from '../rate-limit-headers.js';
import { claimLimitHeaders, RateBudget, RateBudgetQuery } from '../schemas/rate-limits.js';
import { ScheduleNotFoundError } from '../../jobs/job-errors.js';
import { defaultPageLimit } from '../schemas/common.js';
import {
  AddJobBody,
  ClaimBody,
  ClaimResponse,
  CompleteBody,
  FailBody,
  HeartbeatBody,
  HeartbeatResponse,
  AddJobHeaders,
  AddJobsHeaders,
  Job as JobSchema,
  JobAccepted,
  JobPage,
  JobParams,
  JobSearchQuery,
  ProgressBody,
  AddJobsBody,
  AddJobsResponse,
  BulkJobsBody,
  BulkJobsResult,
  CancelJobQuery,
  JobTypeParams,
  JobTypeState,
  LogBody,
  Schedule,
  ScheduleBody,
  ScheduleList,
  ScheduleParams,
} from '../schemas/jobs.js';

const tags = ['jobs'];

/** How long a client should wait before its first poll of a new job (seconds). */
const pollAfterSeconds = 1;

export const jobRoutes: RouteModule = (app, { spool, jobs, closing, webhooks }) => {
  // Polling remote workers in the workers registry (streaming ones register themselves).
  const polled = new PolledWorkers(spool.workers);
  app.post(
    '/v1/jobs',
    {
      schema: {
        operationId: 'addJob',
        tags,
        summary: 'Add a job: answered at once with 202 and the job id',
        description:
          'The job is stored durably before the answer. Follow it at the `Location` (poll after `Retry-After` seconds), with `GET /v1/jobs/{id}/events` (live), or with a `callbackUrl` webhook. `Idempotency-Key`: a repeat with the same key and body answers the first job again; a different body answers 422.',
        headers: AddJobHeaders,
        body: AddJobBody,
        response: { 202: JobAccepted },
      },
      config: { access: 'produce' },
    },
    async (request, reply) => {
      const { type, payload, options } = addRequest(request.body, request.headers['idempotency-key'], (url) =>
        webhooks.checkUrl(url, 'callbackUrl'),
      );
      const job = await jobs.add(type, payload, options);
      const minimal = returnsMinimal(request.headers.prefer, reply);
      return reply
        .code(202)
        .header('location', `/v1/jobs/${encodeURIComponent(job.id)}`)
        .header('retry-after', String(pollAfterSeconds))
        .send({
          id: job.id,
          status: job.status,
          outcome: job.outcome,
          ...(minimal ? {} : { job: wireJob(job) }),
        });
    },
  );

  app.post(
    '/v1/jobs/batch',
    {
      schema: {
        operationId: 'addJobs',
        tags,
        summary: 'Add many jobs in one request: all of them or none',
        description:
          'One transaction: a bad item (its index in the problem: `jobs.3.type`) or an idempotency conflict adds nothing. Each item may carry its own `idempotencyKey`; a repeat of an item with the same key and body answers the first job again.',
        headers: AddJobsHeaders,
        body: AddJobsBody,
        response: { 202: AddJobsResponse },
      },
      config: { access: 'produce' },
    },
    async (request, reply) => {
      const items = request.body.jobs.map(({ idempotencyKey, ...item }, index) =>
        addRequest(item, idempotencyKey, (url) => webhooks.checkUrl(url, `jobs.${index}.callbackUrl`)),
      );
      const added = await jobs.addBatch(items);
      const minimal = returnsMinimal(request.headers.prefer, reply);
      return reply
        .code(202)
        .header('retry-after', String(pollAfterSeconds))
        .send({
          jobs: added.map((job) => ({
            id: job.id,
            status: job.status,
            outcome: job.outcome,
            ...(minimal ? {} : { job: wireJob(job) }),
          })),
        });
    },
  );

  app.get(
    '/v1/jobs',
    {
      schema: {
        operationId: 'searchJobs',
        tags,
        summary: 'Search jobs by type, status, key, parent and creation time; newest first',
        querystring: JobSearchQuery,
        response: { 200: JobPage },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request) => {
      const { limit = defaultPageLimit, cursor, since, until, ...filters } = request.query;
      const page = await jobs.list(
        {
          ...stripUndefined(filters),
          ...(since === undefined ? {} : { since: Date.parse(since) }),
          ...(until === undefined ? {} : { until: Date.parse(until) }),
        },
        { limit, after: cursor ?? null },
      );
      return { items: page.items.map(wireJob), next: page.next };
    },
  );

  app.get(
    '/v1/jobs/:id',
    {
      schema: {
        operationId: 'getJob',
        tags,
        summary: 'A job: its status, attempts and errors, progress, and result when done',
        params: JobParams,
        response: { 200: JobSchema },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request) => wireJob(await jobs.get(request.params.id)),
  );

  app.delete(
    '/v1/jobs/:id',
    {
      schema: {
        operationId: 'cancelJob',
        tags,
        summary: 'Cancel a job: a waiting one never runs, a running one is told to stop',
        description:
          'A finished job answers 409 (SPOOL_JOB_STATE_CONFLICT). With purge=true, deletes a finished job instead (204); a job still in flight answers 409.',
        params: JobParams,
        querystring: CancelJobQuery,
        response: { 200: JobSchema, 204: Type.Null({ description: 'purge=true: the job is deleted' }) },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      if (request.query.purge !== true) return wireJob(await jobs.cancel(request.params.id));
      await jobs.delete(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/jobs/:id/retry',
    {
      schema: {
        operationId: 'retryJob',
        tags,
        summary: 'Run a dead or cancelled job again from its first attempt',
        params: JobParams,
        response: { 202: JobSchema },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => reply.code(202).send(wireJob(await jobs.retry(request.params.id))),
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/v1/jobs/types/:type/${action}`,
      {
        schema: {
          operationId: `${action}JobType`,
          tags,
          summary:
            action === 'pause'
              ? 'Pause a job type: adds still land, no worker of any process gets one of its jobs until resumed'
              : 'Resume a paused job type: its workers take jobs again (other processes within a second)',
          description:
            'Idempotent and persisted. Running jobs finish. A type never used before can be paused ahead of time.',
          params: JobTypeParams,
          response: { 200: JobTypeState },
        },
        config: { access: 'admin' },
      },
      async (request) =>
        wireJobTypeState(request.params.type, await toggleJobType(jobs, request.params.type, action)),
    );
  }

  app.get(
    '/v1/jobs/types/:type/rate-limit',
    {
      schema: {
        operationId: 'getJobTypeRateLimit',
        tags,
        summary: "The budget of a job type's globalRateLimit: how many may start now, and when more may",
        description:
          "Read from the store without taking from it: what every process together may start. With `key`, that job key's budget of a perKey limit. Answered also as the IETF RateLimit header fields (`RateLimit-Policy`, `RateLimit`). 404 SPOOL_RATE_LIMIT_NOT_FOUND when the server does not define the type with a globalRateLimit.",
        params: JobTypeParams,
        querystring: RateBudgetQuery,
        response: { 200: RateBudget },
      },
      config: { access: 'token' },
    },
    async (request, reply) => {
      const budget = await jobs.rateBudget(request.params.type, { key: request.query.key ?? null });
      return reply.headers(budgetHeaders(budget)).send(budget);
    },
  );

  app.post(
    '/v1/jobs/bulk',
    {
      schema: {
        operationId: 'bulkJobs',
        tags,
        summary: 'Retry, cancel or delete every job matching a filter (dryRun: count them)',
        description:
          'Each job changes as POST /v1/jobs/{id}/retry, DELETE /v1/jobs/{id} or DELETE /v1/jobs/{id}?purge=true would change it (a retry or cancel in its own transaction, a delete a page of 500 per write); jobs that moved on meanwhile are skipped, other failures are listed. Not all-or-nothing. A status outside what the action applies to is a 400.',
        body: BulkJobsBody,
        response: { 200: BulkJobsResult },
      },
      config: { access: 'admin' },
    },
    async (request) => {
      const { action, filter, dryRun, limit } = request.body;
      const { since, until, ...rest } = filter;
      const result = await jobs.bulk(
        action,
        {
          ...rest,
          ...(since === undefined ? {} : { since: Date.parse(since) }),
          ...(until === undefined ? {} : { until: Date.parse(until) }),
        },
        { ...(dryRun === undefined ? {} : { dryRun }), ...(limit === undefined ? {} : { limit }) },
      );
      return { ...result, skipped: [...result.skipped], failed: [...result.failed] };
    },
  );

  // --- remote workers -----------------------------------------------------------------------

  app.post(
    '/v1/jobs/claim',
    {
      schema: {
        operationId: 'claimJobs',
        tags: ['workers'],
        summary: 'Lease up to max runnable jobs of the given types (long poll)',
        description:
          "Each job is active under a lease: heartbeat before `leaseExpiresAt` to keep it, then complete or fail it. A job whose lease runs out runs again (its attempt is recorded as LeaseExpired). The server's limits of the types it defines (globalConcurrency, keyConcurrency, globalRateLimit) apply: a job they hold back stays queued and is not in the answer. An answer without jobs because of them is still a 200, with `Retry-After` and the IETF RateLimit header fields of the limit that lets one start soonest.",
        body: ClaimBody,
        response: { 200: { ...ClaimResponse, headers: claimLimitHeaders } },
      },
      config: { access: 'consume' },
    },
    async (request, reply) => {
      const { types, max = 1, waitMs = 0, leaseMs = jobDefaults.leaseMs } = request.body;
      const poll = waitMs > 0 ? startLongPoll(reply, closing) : undefined;
      const limits = new HeldBackLimits(spool.clock);
      const leased = await jobs.claim(types, {
        max,
        waitMs: Math.min(waitMs, maxWaitMs),
        leaseMs,
        ...(poll ? { signal: poll.signal } : {}),
        onHeldBack: (error) => limits.heard(error),
      });
      // Present while it calls: a claim, or a heartbeat every third of a lease while it works.
      polled.claimed(request.ip, types, max, leased.length, leaseMs + Math.min(waitMs, maxWaitMs) + 5_000);
      // Nothing claimed because a limit held back what was there: say which, and when to come back.
      if (leased.length === 0) reply.headers(limits.headers());
      return { jobs: leased.map(wireLeasedJob) };
    },
  );

  app.post(
    '/v1/jobs/:id/heartbeat',
    {
      schema: {
        operationId: 'heartbeatJob',
        tags: ['workers'],
        summary: 'Keep the lease of a running job; 409 if the job was cancelled (stop working on it)',
        params: JobParams,
        body: HeartbeatBody,
        response: { 200: HeartbeatResponse },
      },
      config: { access: 'consume' },
    },
    async (request) => {
      const expiresAt = await jobs.heartbeat(request.params.id, request.body.lease, request.body.leaseMs);
      polled.touched(request.ip);
      return { leaseExpiresAt: expiresAt.toISOString() };
    },
  );

  app.post(
    '/v1/jobs/:id/progress',
    {
      schema: {
        operationId: 'reportJobProgress',
        tags: ['workers'],
        summary: 'Report progress (0–100) and optional details',
        params: JobParams,
        body: ProgressBody,
        response: { 200: JobSchema },
      },
      config: { access: 'consume' },
    },
    async (request) => {
      const { progress, data } = request.body;
      return wireJob(await jobs.progress(request.params.id, progress, data as JsonValue | undefined));
    },
  );

  app.post(
    '/v1/jobs/:id/log',
    {
      schema: {
        operationId: 'logJobLines',
        tags: ['workers'],
        summary: "Append lines to a running job's log (kept with the job: its last 200 lines)",
        description:
          'Lines for a job that is not running are ignored, as progress is; each is stamped with the time and the current attempt, and cut at 2,000 characters.',
        params: JobParams,
        body: LogBody,
        response: { 200: JobSchema },
      },
      config: { access: 'consume' },
    },
    async (request) => wireJob(await jobs.log(request.params.id, request.body.lines)),
  );

  app.post(
    '/v1/jobs/:id/complete',
    {
      schema: {
        operationId: 'completeJob',
        tags: ['workers'],
        summary: 'Finish a leased job with its result',
        params: JobParams,
        body: CompleteBody,
        response: { 200: JobSchema },
      },
      config: { access: 'consume' },
    },
    async (request) => {
      const completed = await jobs.complete(
        request.params.id,
        request.body.lease,
        (request.body.result ?? null) as JsonValue,
      );
      polled.finished(request.ip);
      return wireJob(completed);
    },
  );

  app.post(
    '/v1/jobs/:id/fail',
    {
      schema: {
        operationId: 'failJob',
        tags: ['workers'],
        summary:
          'Fail a leased job: retried with backoff, or dead after its last attempt or with retryable=false',
        params: JobParams,
        body: FailBody,
        response: { 200: JobSchema },
      },
      config: { access: 'consume' },
    },
    async (request) => {
      const { lease, error, retryable = true } = request.body;
      const failed = await jobs.fail(request.params.id, lease, error, retryable);
      polled.finished(request.ip);
      return wireJob(failed);
    },
  );

  // --- schedules ----------------------------------------------------------------------------

  app.get(
    '/v1/schedules',
    {
      schema: {
        operationId: 'listSchedules',
        tags: ['schedules'],
        summary: 'List schedules with their next run',
        response: { 200: ScheduleList },
      },
      config: { access: ['read', 'admin'] },
    },
    async () => ({ items: (await jobs.schedules()).map(wireSchedule) }),
  );

  app.get(
    '/v1/schedules/:name',
    {
      schema: {
        operationId: 'getSchedule',
        tags: ['schedules'],
        summary: 'One schedule with its next run; 404 SPOOL_SCHEDULE_NOT_FOUND when there is none',
        params: ScheduleParams,
        response: { 200: Schedule },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request) => wireSchedule(await jobs.getSchedule(request.params.name)),
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/v1/schedules/:name/${action}`,
      {
        schema: {
          operationId: `${action}Schedule`,
          tags: ['schedules'],
          summary:
            action === 'pause'
              ? 'Pause a schedule: it fires nothing until resumed (saving it again keeps it paused)'
              : 'Resume a schedule from its first slot after now (slots passed while paused are skipped)',
          description: 'Idempotent. 404 SPOOL_SCHEDULE_NOT_FOUND for an unknown schedule.',
          params: ScheduleParams,
          response: { 200: Schedule },
        },
        config: { access: 'admin' },
      },
      async (request) =>
        wireSchedule(
          await (action === 'pause'
            ? jobs.pauseSchedule(request.params.name)
            : jobs.resumeSchedule(request.params.name)),
        ),
    );
  }

  app.put(
    '/v1/schedules/:name',
    {
      schema: {
        operationId: 'putSchedule',
        tags: ['schedules'],
        summary: 'Create or replace a schedule (cron with time zone, or everyMs)',
        params: ScheduleParams,
        body: ScheduleBody,
        response: { 200: Schedule },
      },
      config: { access: 'admin' },
    },
    async (request) => {
      const { payload, ...rest } = request.body;
      const saved = await jobs.schedule(request.params.name, {
        ...stripUndefined(rest),
        type: rest.type,
        ...(payload === undefined ? {} : { payload: payload as JsonValue }),
      });
      return wireSchedule(saved);
    },
  );

  app.post(
    '/v1/schedules/:name/run',
    {
      schema: {
        operationId: 'runScheduleNow',
        tags: ['schedules'],
        summary: "Add the schedule's job now, without moving its slots",
        description:
          "The job is the schedule's type and payload, with metadata { schedule, runNow: true }; the schedule keeps firing at its slots. 404 SPOOL_SCHEDULE_NOT_FOUND for an unknown schedule.",
        params: ScheduleParams,
        response: { 202: JobAccepted },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      const job = await jobs.runScheduleNow(request.params.name);
      return reply
        .code(202)
        .header('location', `/v1/jobs/${encodeURIComponent(job.id)}`)
        .send({ id: job.id, status: job.status, outcome: 'created', job: wireJob(job) });
    },
  );

  app.delete(
    '/v1/schedules/:name',
    {
      schema: {
        operationId: 'deleteSchedule',
        tags: ['schedules'],
        summary: 'Delete a schedule; 404 SPOOL_SCHEDULE_NOT_FOUND when there is none',
        params: ScheduleParams,
        response: { 204: { type: 'null' } },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      // As for queues, topics and workers: deleting what is not there is a 404, not a silent 204.
      if (!(await jobs.unschedule(request.params.name))) throw new ScheduleNotFoundError(request.params.name);
      return reply.code(204).send(null);
    },
  );
};

/** A job as JSON: times as ISO 8601 strings. */
/** A claimed job as claim answers it and the job stream pushes it. */
export function wireLeasedJob(entry: LeasedJob) {
  return {
    job: wireJob(entry.job),
    lease: entry.lease,
    leaseExpiresAt: entry.leaseExpiresAt.toISOString(),
    ...(entry.traceparent === undefined ? {} : { traceparent: entry.traceparent }),
    ...(entry.tracestate === undefined ? {} : { tracestate: entry.tracestate }),
  };
}

export function wireJob(job: Job) {
  const iso = (date: Date | null) => (date === null ? null : date.toISOString());
  return {
    ...job,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    runAt: job.runAt.toISOString(),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    history: job.history.map((attempt) => ({
      ...attempt,
      startedAt: new Date(attempt.startedAt).toISOString(),
      finishedAt: attempt.finishedAt === null ? null : new Date(attempt.finishedAt).toISOString(),
    })),
    logs: job.logs.map((line) => ({ ...line, at: new Date(line.at).toISOString() })),
  };
}

/** Pauses or resumes job type `type`; resolves with when it is paused now (null: it runs). */
export async function toggleJobType(
  jobs: Jobs,
  type: string,
  action: 'pause' | 'resume',
): Promise<Date | null> {
  if (action === 'pause') return jobs.pauseType(type);
  await jobs.resumeType(type);
  return null;
}

/** Whether a job type is paused, as JSON. */
export function wireJobTypeState(type: string, pausedAt: Date | null) {
  return { type, paused: pausedAt !== null, pausedAt: pausedAt?.toISOString() ?? null };
}

/** A schedule as JSON: times as ISO 8601 strings, its payload parsed. */
export function wireSchedule(schedule: ScheduleRecord) {
  return {
    name: schedule.name,
    cron: schedule.cron,
    timezone: schedule.timezone,
    everyMs: schedule.everyMs,
    type: schedule.jobType,
    payload: JSON.parse(schedule.payload) as JsonValue,
    missed: schedule.missedPolicy,
    nextRunAt: new Date(schedule.nextRunAt).toISOString(),
    lastRunAt: schedule.lastRunAt === null ? null : new Date(schedule.lastRunAt).toISOString(),
    paused: schedule.pausedAt !== null,
    pausedAt: schedule.pausedAt === null ? null : new Date(schedule.pausedAt).toISOString(),
  };
}

/** Drops keys whose value is undefined (the engine's options use absence, not undefined). */
function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

/**
 * The engine's arguments for one add, from its body (`POST /v1/jobs`, or an item of
 * `POST /v1/jobs/batch`). `checkUrl` is the server's SSRF guard: a refused `callbackUrl` is a
 * 400 to the caller now rather than a dead delivery after the work is done.
 */
function addRequest(
  body: Static<typeof AddJobBody>,
  idempotencyKey: string | undefined,
  checkUrl: (url: string) => void,
): { type: string; payload: JsonValue; options: AddJobOptions } {
  const { type, payload, runAt, children, ...rest } = body;
  if (rest.callbackUrl !== undefined) checkUrl(rest.callbackUrl);
  return {
    type,
    payload: (payload ?? null) as JsonValue,
    options: {
      ...(stripUndefined(rest) as Omit<AddJobOptions, 'runAt' | 'children' | 'idempotencyKey'>),
      ...(runAt === undefined ? {} : { runAt: Date.parse(runAt) }),
      ...(children === undefined
        ? {}
        : {
            children: children.map(({ type: childType, payload: childPayload, ...childOptions }) => ({
              type: childType,
              payload: (childPayload ?? null) as JsonValue,
              options: stripUndefined(childOptions) as Omit<AddJobOptions, 'children'>,
            })),
          }),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    },
  };
}
