/**
 * The wire shape of the stats document (TypeBox): `GET /v1/stats`, each `stats` event of
 * `GET /v1/stats/stream`, and what `spool stats --json` prints. One schema documents all of them
 * in `/openapi.json`; {@link StatsSnapshot} in stats.ts is the same shape as a TypeScript type.
 */
import { type Static, Type } from '@sinclair/typebox';
import { AlertSchema } from './alerts-schema.js';
import { jobStatuses } from '../jobs/job-states.js';

const Count = Type.Integer({ minimum: 0 });
const SecondsOrNull = Type.Union([Type.Number({ minimum: 0 }), Type.Null()]);

const JobCounts = Type.Object(
  Object.fromEntries(jobStatuses.map((status) => [status, Count])) as Record<
    (typeof jobStatuses)[number],
    typeof Count
  >,
  { description: 'Jobs per status; every status is present, zeros included' },
);

export const QueueStatsSchema = Type.Object({
  name: Type.String(),
  ready: Count,
  delayed: Count,
  inFlight: Count,
  deadLettered: Type.Integer({ minimum: 0, description: 'In the dead-letter queue now' }),
  oldestMessageAgeSeconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], {
    description: 'Age of the oldest message in the queue (any state); null when empty',
  }),
  paused: Type.Boolean({ description: 'Paused: it takes sends and delivers nothing until resumed' }),
  sentTotal: Type.Integer({
    minimum: 0,
    description: 'Stored by sends through this server process since startedAt',
  }),
  ackedTotal: Count,
  retriedTotal: Count,
  deadLetteredTotal: Count,
  processingSeconds: Type.Object(
    { p50: SecondsOrNull, p99: SecondsOrNull },
    {
      description:
        'Handler run plus settlement of consumers in this process over the last 60 s (±5 %); null without any',
    },
  ),
});

export const TopicStatsSchema = Type.Object({
  name: Type.String(),
  partitions: Type.Array(Type.Object({ partition: Count, endOffset: Count })),
  groups: Type.Array(
    Type.Object({
      name: Type.String(),
      lag: Type.Integer({ minimum: 0, description: 'Events not yet committed, all partitions' }),
      partitions: Type.Array(Type.Object({ partition: Count, committedOffset: Count, lag: Count })),
    }),
  ),
});

export const StatsSchema = Type.Object(
  {
    time: Type.String({ format: 'date-time', description: 'When the store state was read' }),
    startedAt: Type.String({
      format: 'date-time',
      description: 'When this server process started counting the *Total counters',
    }),
    queues: Type.Array(QueueStatsSchema),
    topics: Type.Array(TopicStatsSchema),
    jobs: Type.Object({
      byState: JobCounts,
      byType: Type.Array(
        Type.Object({
          type: Type.String(),
          byState: JobCounts,
          paused: Type.Boolean({ description: 'Paused: its jobs wait, no worker gets one until resumed' }),
        }),
      ),
    }),
    alerts: Type.Array(AlertSchema, { description: 'Firing alerts; empty when none or not configured' }),
  },
  { description: 'Depths, lag, job counts, counters and firing alerts of this server' },
);
export type StatsWire = Static<typeof StatsSchema>;

export const StatsStreamQuery = Type.Object({
  intervalMs: Type.Optional(
    Type.Integer({
      minimum: 250,
      maximum: 60_000,
      default: 1000,
      description: 'Time between two `stats` events',
    }),
  ),
});

export const StatsHistoryQuery = Type.Object({
  windowMs: Type.Optional(
    Type.Integer({
      minimum: 1000,
      maximum: 3_600_000,
      default: 3_600_000,
      description: 'How far back: the samples of the last windowMs (the server keeps one hour)',
    }),
  ),
});

export const StatsHistorySchema = Type.Object({
  intervalMs: Type.Integer({ description: 'Time between two samples' }),
  samples: Type.Array(
    Type.Object({
      at: Type.String({ format: 'date-time', description: 'When the sample was taken' }),
      stats: StatsSchema,
    }),
    { description: 'Oldest first; empty right after a start (counters begin at startedAt)' },
  ),
});
