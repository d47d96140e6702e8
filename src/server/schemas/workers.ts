/** The workers registry on the wire (`GET /v1/workers`). */
import { Type } from '@sinclair/typebox';
import { Timestamp } from './common.js';

export const WorkerKind = Type.Union(
  [
    Type.Literal('queue-consumer'),
    Type.Literal('subscription'),
    Type.Literal('job-worker'),
    Type.Literal('remote-worker'),
    Type.Literal('stream-consumer'),
    Type.Literal('group-member'),
  ],
  { description: 'What kind of worker it is' },
);

export const Worker = Type.Object(
  {
    id: Type.String({ description: 'Its registry id (for DELETE /v1/workers/{id})' }),
    kind: WorkerKind,
    host: Type.String({
      description: 'The host it runs on (for a polled member, the server answering its polls)',
    }),
    pid: Type.Integer({ description: 'Its process id (0 when unknown)' }),
    serves: Type.Object(
      {
        queue: Type.Optional(Type.String()),
        topic: Type.Optional(Type.String()),
        group: Type.Optional(Type.String()),
        member: Type.Optional(Type.String()),
        jobTypes: Type.Optional(Type.Array(Type.String())),
      },
      { description: 'The queue, the topic and group (and member id), or the job types it serves' },
    ),
    concurrency: Type.Integer({ description: 'Work it may hold at once' }),
    inFlight: Type.Integer({ description: 'Work it held at its last heartbeat' }),
    processed: Type.Integer({ description: 'Work it finished since it started, at its last heartbeat' }),
    startedAt: Timestamp,
    lastSeenAt: Timestamp,
    heartbeatIntervalMs: Type.Integer({ description: 'How often it heartbeats' }),
    stale: Type.Boolean({
      description: 'Unseen for more than three heartbeat intervals: its process died or lost the store',
    }),
  },
  { description: 'A worker in the registry' },
);

export const WorkerList = Type.Object({ items: Type.Array(Worker) });

export const WorkerParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200, description: 'The worker id' }),
});
