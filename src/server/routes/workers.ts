/**
 * The workers registry: who consumes what, in every process sharing the store (see
 * engine/workers.ts). Listing needs `read`; removing a record (a stale one, typically) `admin`.
 */
import type { Static } from '@sinclair/typebox';
import type { WorkerInfo } from '../../engine/workers.js';
import type { RouteModule } from '../context.js';
import { NoContent } from '../schemas/common.js';
import { type Worker, WorkerList, WorkerParams } from '../schemas/workers.js';

const tags = ['workers'];

/** A registry record as the HTTP API answers it. */
export function wireWorker(worker: WorkerInfo): Static<typeof Worker> {
  return {
    id: worker.id,
    kind: worker.kind,
    host: worker.host,
    pid: worker.pid,
    serves: (({ jobTypes, ...rest }) => (jobTypes ? { ...rest, jobTypes: [...jobTypes] } : rest))(
      worker.serves,
    ),
    concurrency: worker.concurrency,
    inFlight: worker.inFlight,
    processed: worker.processed,
    startedAt: new Date(worker.startedAt).toISOString(),
    lastSeenAt: new Date(worker.lastSeenAt).toISOString(),
    heartbeatIntervalMs: worker.heartbeatIntervalMs,
    stale: worker.stale,
  };
}

export const workerRoutes: RouteModule = (app, { spool }) => {
  app.get(
    '/v1/workers',
    {
      schema: {
        operationId: 'listWorkers',
        tags,
        summary: 'Every registered worker: consumers, subscriptions, job workers, group members',
        description:
          'Every process sharing the store heartbeats its workers every few seconds; a worker unseen for three of its intervals is listed with `stale: true` (kept for an hour, then swept).',
        response: { 200: WorkerList },
      },
      config: { access: ['read', 'admin'] },
    },
    async () => ({ items: (await spool.workers.list()).map(wireWorker) }),
  );

  app.delete(
    '/v1/workers/:id',
    {
      schema: {
        operationId: 'removeWorker',
        tags,
        summary:
          'Remove a worker from the registry (a stale one; a live one reappears at its next heartbeat)',
        params: WorkerParams,
        response: { 204: NoContent },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      await spool.workers.remove(request.params.id);
      return reply.code(204).send(null);
    },
  );
};
