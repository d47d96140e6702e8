/**
 * Queue administration and inspection: configuration, stats, browsing, purging and the
 * dead-letter queue. Sending, receiving and settling are in `queue-messages.ts`.
 */
import { QueueNotFoundError } from '../../core/errors.js';
import { QueueConfigSchema } from '../../core/options.js';
import type { RouteModule } from '../context.js';
import { defaultPageLimit, NoContent, PageQuery } from '../schemas/common.js';
import {
  DeadLetterPage,
  DeadLetterSelection,
  Purged,
  QueuedMessagePage,
  QueueList,
  QueueOptions,
  QueueParams,
  QueueWithStats,
  Redriven,
} from '../schemas/queues.js';
import { wireDeadLetter, wireQueuedMessage, wireQueueStats } from '../wire.js';

const tags = ['queues'];

export const queueRoutes: RouteModule = (app, { spool, handles }) => {
  app.put(
    '/v1/queues/:name',
    {
      schema: {
        operationId: 'putQueue',
        tags,
        summary: 'Create a queue or replace its configuration',
        description:
          'Unspecified fields take their defaults (PUT replaces the whole configuration). Messages already in the queue are kept. 201 when the queue was created.',
        params: QueueParams,
        body: QueueOptions,
        response: { 200: QueueConfigSchema, 201: QueueConfigSchema },
      },
      config: { access: 'admin', refuseReserved: { kind: 'queue', action: 'creating or reconfiguring' } },
    },
    async (request, reply) => {
      const { name } = request.params;
      const { queue: opened, created } = await spool.putQueue(name, request.body);
      const queue = handles.rememberQueue(opened);
      if (created) reply.code(201).header('location', `/v1/queues/${encodeURIComponent(name)}`);
      return queue.config;
    },
  );

  app.get(
    '/v1/queues',
    {
      schema: {
        operationId: 'listQueues',
        tags,
        summary: 'List queues with their configuration and stats',
        response: { 200: QueueList },
      },
      config: { access: 'token' },
    },
    async () => {
      const configs = await spool.listQueues();
      const items = await Promise.all(
        configs.map(async (config) => {
          try {
            // Not `spool.queue(name)`: it would re-create a queue deleted meanwhile.
            return { ...config, stats: wireQueueStats(await spool.queueStats(config.name)) };
          } catch (error) {
            if (error instanceof QueueNotFoundError) return null;
            throw error;
          }
        }),
      );
      return { items: items.filter((item) => item !== null) };
    },
  );

  app.get(
    '/v1/queues/:name',
    {
      schema: {
        operationId: 'getQueue',
        tags,
        summary: 'A queue: its configuration and message counts',
        params: QueueParams,
        response: { 200: QueueWithStats },
      },
      config: { access: 'token' },
    },
    async (request) => {
      const queue = await handles.queue(request.params.name);
      return { ...queue.config, stats: wireQueueStats(await queue.stats()) };
    },
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/v1/queues/:name/${action}`,
      {
        schema: {
          operationId: `${action}Queue`,
          tags,
          summary:
            action === 'pause'
              ? 'Pause a queue: sends still land, no consumer of any process gets a message until resumed'
              : 'Resume a paused queue: its consumers take messages again (other processes within a second)',
          description:
            'Idempotent; persisted (a restart or a PUT of the configuration keeps a pause). Messages in flight finish and settle as usual. Answers the queue with its stats.',
          params: QueueParams,
          response: { 200: QueueWithStats },
        },
        config: {
          access: 'admin',
          refuseReserved: { kind: 'queue', action: action === 'pause' ? 'pausing' : 'resuming' },
        },
      },
      async (request) => {
        const queue = await handles.queue(request.params.name);
        await (action === 'pause' ? queue.pause() : queue.resume());
        return { ...queue.config, stats: wireQueueStats(await queue.stats()) };
      },
    );
  }

  app.delete(
    '/v1/queues/:name',
    {
      schema: {
        operationId: 'deleteQueue',
        tags,
        summary: 'Delete a queue with its messages and dead letters',
        params: QueueParams,
        response: { 204: NoContent },
      },
      config: { access: 'admin', refuseReserved: { kind: 'queue', action: 'deleting' } },
    },
    async (request, reply) => {
      const { name } = request.params;
      handles.forgetQueue(name);
      if (!(await spool.deleteQueue(name))) throw new QueueNotFoundError(name);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/queues/:name/messages',
    {
      schema: {
        operationId: 'browseQueue',
        tags,
        summary: 'Browse messages in delivery order, without leasing them',
        params: QueueParams,
        querystring: PageQuery,
        response: { 200: QueuedMessagePage },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request) => {
      const queue = await handles.queue(request.params.name);
      const { limit = defaultPageLimit, cursor = null } = request.query;
      const page = await queue.listMessages({ limit, after: cursor });
      return { items: page.items.map(wireQueuedMessage), next: page.next };
    },
  );

  app.post(
    '/v1/queues/:name/purge',
    {
      schema: {
        operationId: 'purgeQueue',
        tags,
        summary: 'Delete every message of the queue (not its dead letters)',
        params: QueueParams,
        response: { 200: Purged },
      },
      config: { access: 'admin', refuseReserved: { kind: 'queue', action: 'purging' } },
    },
    async (request) => {
      const queue = await handles.queue(request.params.name);
      return { purged: await queue.purge() };
    },
  );

  app.get(
    '/v1/queues/:name/dlq',
    {
      schema: {
        operationId: 'listDeadLetters',
        tags,
        summary: 'List the dead-letter queue, oldest first, with each message’s errors',
        params: QueueParams,
        querystring: PageQuery,
        response: { 200: DeadLetterPage },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request) => {
      const queue = await handles.queue(request.params.name);
      const { limit = defaultPageLimit, cursor = null } = request.query;
      const page = await queue.listDeadLetters({ limit, after: cursor });
      return { items: page.items.map(wireDeadLetter), next: page.next };
    },
  );

  app.post(
    '/v1/queues/:name/redrive',
    {
      schema: {
        operationId: 'redriveDeadLetters',
        tags,
        summary: 'Move dead letters back to the queue (all, or those with ids)',
        description:
          'They go to the end of the queue with attempts reset, deliverable at once; ids that are not dead letters of this queue are ignored. The body may be omitted.',
        params: QueueParams,
        body: DeadLetterSelection,
        response: { 200: Redriven },
      },
      config: { access: 'admin' },
    },
    async (request) => {
      const queue = await handles.queue(request.params.name);
      return { redriven: await queue.redrive(request.body) };
    },
  );

  app.post(
    '/v1/queues/:name/dlq/purge',
    {
      schema: {
        operationId: 'purgeDeadLetters',
        tags,
        summary: 'Delete dead letters for good (all, or those with ids)',
        description: 'The body may be omitted.',
        params: QueueParams,
        body: DeadLetterSelection,
        response: { 200: Purged },
      },
      config: { access: 'admin' },
    },
    async (request) => {
      const queue = await handles.queue(request.params.name);
      return { purged: await queue.purgeDeadLetters(request.body) };
    },
  );
};
