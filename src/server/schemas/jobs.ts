/** Request and response schemas of the job routes. */
import { Type } from '@sinclair/typebox';
import { jobDefaults } from '../../core/options.js';
import { jobStatuses } from '../../jobs/job-states.js';
import { maxScheduleEveryMs, minScheduleEveryMs } from '../../jobs/schedule-validation.js';
import { maxWaitMs } from '../context.js';
import { Milliseconds, Name, Page, PageQuery, Timestamp } from './common.js';

const JsonValue = Type.Unknown({ description: 'Any JSON value' });
const JobStatus = Type.Union(
  jobStatuses.map((status) => Type.Literal(status)),
  { description: 'See the job state machine in the README' },
);
const JobId = Type.String({ minLength: 1, maxLength: 100 });
const ErrorInfo = Type.Object({
  name: Type.String(),
  message: Type.String(),
  stack: Type.Optional(Type.String({ description: "Where it was thrown: the stack's frames, at most 30" })),
});

export const JobParams = Type.Object({ id: JobId });

export const CancelJobQuery = Type.Object(
  {
    purge: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'Delete the record of a finished job (completed, dead or cancelled) instead: 204, or 409 for a job still in flight (cancel it first)',
      }),
    ),
  },
  { additionalProperties: false },
);

const AddJobFields = {
  type: Type.String({
    minLength: 1,
    maxLength: 190,
    description: 'The job type (a handler or remote worker runs it)',
  }),
  payload: Type.Optional(JsonValue),
  delayMs: Type.Optional(Milliseconds('Run no earlier than this many ms from now')),
  runAt: Type.Optional(
    Type.String({ format: 'date-time', description: 'Run no earlier than this time; wins over delayMs' }),
  ),
  priority: Type.Optional(Type.Integer({ minimum: -(2 ** 31 - 1), maximum: 2 ** 31 - 1 })),
  maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  key: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'Grouping key: search and per-key rate limits',
    }),
  ),
  group: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 256,
      description:
        'Fairness group (a tenant): jobs of a type start round-robin across groups, so one group’s backlog does not starve another’s. Kept in metadata as `spool.group`',
    }),
  ),
  metadata: Type.Optional(
    Type.Record(Type.String(), JsonValue, { description: 'Your own data, returned with the job' }),
  ),
  callbackUrl: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'An http(s) URL that receives a Standard-Webhooks-signed POST when the job finishes',
    }),
  ),
  singleton: Type.Optional(
    Type.Boolean({
      description:
        'At most one job of this type and key queued, scheduled, waiting or running: while there is one, the add answers it (outcome `singleton`). Needs `key`.',
    }),
  ),
  unique: Type.Optional(
    Type.Object(
      {
        windowMs: Type.Integer({ minimum: 1, description: 'How long after an add its repeats are refused' }),
        by: Type.Optional(
          Type.Union([Type.Literal('key'), Type.Literal('payload')], {
            default: 'key',
            description:
              'What makes two adds the same: the job key, or the payload (JSON, object keys sorted)',
          }),
        ),
      },
      {
        additionalProperties: false,
        description: 'A repeat within the window answers the first job (outcome `duplicate`)',
      },
    ),
  ),
  debounce: Type.Optional(
    Type.Object(
      {
        delayMs: Type.Integer({ minimum: 1, description: 'How long the key must be quiet' }),
        maxWaitMs: Type.Optional(
          Type.Integer({ minimum: 1, description: 'The longest a burst can put the job off (or drop adds)' }),
        ),
        mode: Type.Optional(
          Type.Union([Type.Literal('trailing'), Type.Literal('leading')], {
            default: 'trailing',
            description:
              'trailing: the job runs once the key is quiet, with the last payload; leading: the first add runs, the rest of the burst are dropped',
          }),
        ),
      },
      {
        additionalProperties: false,
        description: 'Folds a burst of adds with one key into one job (outcome `debounced`). Needs `key`.',
      },
    ),
  ),
  throttle: Type.Optional(
    Type.Object(
      { intervalMs: Type.Integer({ minimum: 1, description: 'At most one start per key per interval' }) },
      {
        additionalProperties: false,
        description:
          'The first add runs at once; adds within the interval fold into one job that runs when it ends, with the last payload (outcome `throttled`). Needs `key`.',
      },
    ),
  ),
};

export const AddJobBody = Type.Object(
  {
    ...AddJobFields,
    children: Type.Optional(
      Type.Array(
        Type.Object(
          {
            type: AddJobFields.type,
            payload: AddJobFields.payload,
            delayMs: AddJobFields.delayMs,
            priority: AddJobFields.priority,
            group: AddJobFields.group,
            maxAttempts: AddJobFields.maxAttempts,
            key: AddJobFields.key,
            metadata: AddJobFields.metadata,
          },
          { additionalProperties: false },
        ),
        { maxItems: 1000, description: 'Jobs that must complete before this one runs' },
      ),
    ),
  },
  { additionalProperties: false },
);

export const AddJobsBody = Type.Object(
  {
    jobs: Type.Array(
      Type.Object(
        {
          ...AddJobBody.properties,
          idempotencyKey: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 256,
              description:
                "This item's Idempotency-Key: a repeat with the same key and body answers the first job",
            }),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
  },
  { additionalProperties: false },
);

export const IdempotencyKeyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'A repeat with the same key and body answers the first job; a different body answers 422',
    }),
  ),
});

export const JobAttempt = Type.Object({
  attempt: Type.Integer(),
  startedAt: Timestamp,
  finishedAt: Type.Union([Timestamp, Type.Null()]),
  error: Type.Union([ErrorInfo, Type.Null()]),
});

export const JobLogLine = Type.Object({
  at: Timestamp,
  attempt: Type.Integer({ description: 'The attempt that logged it' }),
  level: Type.Union([Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')]),
  message: Type.String(),
});

export const Job = Type.Object({
  id: Type.String(),
  type: Type.String(),
  status: JobStatus,
  payload: JsonValue,
  key: Type.Union([Type.String(), Type.Null()]),
  priority: Type.Integer(),
  metadata: Type.Record(Type.String(), JsonValue),
  maxAttempts: Type.Integer(),
  attempts: Type.Integer(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  runAt: Timestamp,
  startedAt: Type.Union([Timestamp, Type.Null()]),
  finishedAt: Type.Union([Timestamp, Type.Null()]),
  progress: Type.Number({ minimum: 0, maximum: 100 }),
  progressData: JsonValue,
  result: JsonValue,
  error: Type.Union([ErrorInfo, Type.Null()]),
  history: Type.Array(JobAttempt),
  logs: Type.Array(JobLogLine, { description: 'What the handler logged, oldest first (its last 200 lines)' }),
  parentId: Type.Union([Type.String(), Type.Null()]),
  pendingChildren: Type.Integer(),
  callbackUrl: Type.Union([Type.String(), Type.Null()]),
});

export const AddOutcome = Type.Union(
  [
    Type.Literal('created'),
    Type.Literal('existing'),
    Type.Literal('duplicate'),
    Type.Literal('singleton'),
    Type.Literal('debounced'),
    Type.Literal('throttled'),
  ],
  {
    description:
      "What the add did: `created` a job; answered the job of an earlier add with the same Idempotency-Key (`existing`), key or payload within a `unique` window (`duplicate`), or the live `singleton`; folded into a `debounced` or `throttled` burst's job",
  },
);

export const JobAccepted = Type.Object({
  id: Type.String(),
  status: JobStatus,
  outcome: AddOutcome,
  /** Left out when the request asked for `Prefer: return=minimal`. */
  job: Type.Optional(Job),
});

/**
 * `Prefer` (RFC 7240) on the adds: `return=minimal` answers without the job records, which a
 * producer adding thousands of jobs rarely reads (it echoes every payload back). Preferences
 * the server does not know are ignored, as the RFC asks.
 */
const PreferHeaders = Type.Object({
  prefer: Type.Optional(
    Type.String({
      description:
        '`return=minimal`: answer each job with `id`, `status` and `outcome` only, without `job` (the full record); the answer then carries `Preference-Applied: return=minimal`',
    }),
  ),
});

export const AddJobHeaders = Type.Composite([IdempotencyKeyHeaders, PreferHeaders]);
export const AddJobsHeaders = PreferHeaders;

export const AddJobsResponse = Type.Object({
  jobs: Type.Array(JobAccepted, { description: 'One per item, in order' }),
});

export const JobSearchQuery = Type.Composite([
  PageQuery,
  Type.Object({
    type: Type.Optional(Type.String({ minLength: 1 })),
    status: Type.Optional(JobStatus),
    key: Type.Optional(Type.String({ minLength: 1 })),
    parentId: Type.Optional(Type.String({ minLength: 1 })),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'Created at or after' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Created before' })),
  }),
]);

export const JobPage = Page(Job);

export const BulkJobsBody = Type.Object(
  {
    action: Type.Union([Type.Literal('retry'), Type.Literal('cancel'), Type.Literal('delete')], {
      description:
        'retry: dead and cancelled jobs run again; cancel: unfinished jobs stop; delete: the records of finished jobs (completed, dead, cancelled) are removed',
    }),
    filter: Type.Object(
      {
        type: Type.Optional(Type.String({ minLength: 1 })),
        status: Type.Optional(JobStatus),
        key: Type.Optional(Type.String({ minLength: 1 })),
        since: Type.Optional(Type.String({ format: 'date-time', description: 'Created at or after' })),
        until: Type.Optional(Type.String({ format: 'date-time', description: 'Created before' })),
      },
      { additionalProperties: false, description: 'Every given field must match' },
    ),
    dryRun: Type.Optional(
      Type.Boolean({ default: false, description: 'Count the matching jobs without changing them' }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100_000,
        default: 10_000,
        description: 'Act on at most this many',
      }),
    ),
  },
  { additionalProperties: false },
);

export const BulkJobsResult = Type.Object({
  matched: Type.Integer({ description: 'Jobs that matched (at most limit)' }),
  changed: Type.Integer({ description: 'Jobs the action changed (0 on a dry run)' }),
  skipped: Type.Array(Type.String(), { description: 'Ids of jobs that had moved on when their turn came' }),
  failed: Type.Array(Type.Object({ id: Type.String(), code: Type.String(), message: Type.String() })),
  more: Type.Boolean({ description: 'More jobs matched than limit: run it again for the rest' }),
});

export const ClaimBody = Type.Object(
  {
    types: Type.Array(AddJobFields.type, { minItems: 1, maxItems: 100 }),
    max: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1 })),
    waitMs: Type.Optional(Milliseconds(`Long poll: wait this long for a job (at most ${maxWaitMs})`)),
    leaseMs: Type.Optional(
      Type.Integer({
        minimum: 1000,
        maximum: 2 ** 31 - 1,
        default: jobDefaults.leaseMs,
        description: 'Without a heartbeat within this, the job runs again',
      }),
    ),
  },
  { additionalProperties: false },
);

export const LeasedJob = Type.Object({
  job: Job,
  lease: Type.String({ description: 'Pass it to complete, fail, progress and heartbeat' }),
  leaseExpiresAt: Timestamp,
  traceparent: Type.Optional(
    Type.String({
      description:
        "W3C trace context of the job (from the request that added it): continue the trace with it, e.g. as the parent of the worker's span",
    }),
  ),
  tracestate: Type.Optional(Type.String({ description: 'W3C tracestate that goes with `traceparent`' })),
});

export const ClaimResponse = Type.Object({ jobs: Type.Array(LeasedJob) });

const Lease = Type.String({ minLength: 1, description: 'The lease the claim returned' });

export const CompleteBody = Type.Object(
  { lease: Lease, result: Type.Optional(JsonValue) },
  { additionalProperties: false },
);
export const FailBody = Type.Object(
  {
    lease: Lease,
    error: Type.Object(
      {
        name: Type.Optional(Type.String({ maxLength: 200 })),
        message: Type.String({ maxLength: 10_000 }),
        stack: Type.Optional(
          Type.String({ maxLength: 16_000, description: "The stack's frames (`at …` lines); kept bounded" }),
        ),
      },
      { additionalProperties: false },
    ),
    retryable: Type.Optional(
      Type.Boolean({ description: 'false: dead now, no more attempts', default: true }),
    ),
  },
  { additionalProperties: false },
);
export const ProgressBody = Type.Object(
  {
    progress: Type.Number({ minimum: 0, maximum: 100 }),
    data: Type.Optional(JsonValue),
    lease: Type.Optional(Lease),
  },
  { additionalProperties: false },
);
export const LogBody = Type.Object(
  {
    lines: Type.Array(
      Type.Object(
        {
          message: Type.String({ minLength: 1, maxLength: 10_000 }),
          level: Type.Optional(
            Type.Union([Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')], {
              default: 'info',
            }),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 100 },
    ),
    lease: Type.Optional(Lease),
  },
  { additionalProperties: false },
);
export const HeartbeatBody = Type.Object(
  { lease: Lease, leaseMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 2 ** 31 - 1 })) },
  { additionalProperties: false },
);
export const HeartbeatResponse = Type.Object({ leaseExpiresAt: Timestamp });

export const ScheduleParams = Type.Object({ name: Name });

export const JobTypeParams = Type.Object({ type: AddJobFields.type });
export const JobTypeState = Type.Object({
  type: Type.String(),
  paused: Type.Boolean({ description: 'Paused: its jobs wait and no worker gets one until resumed' }),
  pausedAt: Type.Union([Timestamp, Type.Null()]),
});
export const ScheduleBody = Type.Object(
  {
    cron: Type.Optional(Type.String({ minLength: 1, description: 'Cron expression (5 or 6 fields)' })),
    timezone: Type.Optional(
      Type.String({
        minLength: 1,
        description: "IANA time zone of cron, such as 'Europe/Berlin'; default 'UTC'",
      }),
    ),
    everyMs: Type.Optional(
      Type.Integer({
        minimum: minScheduleEveryMs,
        maximum: maxScheduleEveryMs,
        description: 'A fixed interval instead of cron, in milliseconds (at most 100 years)',
      }),
    ),
    type: AddJobFields.type,
    payload: Type.Optional(JsonValue),
    missed: Type.Optional(Type.Union([Type.Literal('skip'), Type.Literal('catch-up-once')])),
  },
  { additionalProperties: false },
);
export const Schedule = Type.Object({
  name: Type.String(),
  cron: Type.Union([Type.String(), Type.Null()]),
  timezone: Type.Union([Type.String(), Type.Null()]),
  everyMs: Type.Union([Type.Integer(), Type.Null()]),
  type: Type.String(),
  payload: JsonValue,
  missed: Type.String(),
  nextRunAt: Timestamp,
  lastRunAt: Type.Union([Timestamp, Type.Null()]),
  paused: Type.Boolean({ description: 'A paused schedule fires nothing until resumed' }),
  pausedAt: Type.Union([Timestamp, Type.Null()]),
});
export const ScheduleList = Type.Object({ items: Type.Array(Schedule) });

export const EventsQuery = Type.Object({
  jobType: Type.Optional(Type.String({ minLength: 1, description: 'Only events of jobs of this type' })),
  jobId: Type.Optional(Type.String({ minLength: 1, description: 'Only events of this job' })),
  queue: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Only queue events (dead-lettered, redriven, purged) and alert events of this queue',
    }),
  ),
  breaker: Type.Optional(
    Type.String({ minLength: 1, description: 'Only the state changes of this circuit breaker' }),
  ),
  from: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Start at this event id (else: new events only)' }),
  ),
});

export const JobEventsQuery = Type.Object({
  from: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: "Start at this event id (else: at the job's first event)",
    }),
  ),
});
