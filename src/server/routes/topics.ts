/**
 * Topics: configuration and stats, publishing (one event or a batch), and replay of a partition
 * by offset. Consumer groups are in `topic-groups.ts`.
 */
import { InvalidArgumentError, TopicNotFoundError } from '../../core/errors.js';
import { TopicConfigSchema } from '../../core/options.js';
import type { RouteModule } from '../context.js';
import { NoContent } from '../schemas/common.js';
import {
  PublishBody,
  PublishResponse,
  ReplayParams,
  ReplayQuery,
  replayDefaults,
  ReplayResponse,
  TopicList,
  TopicOptions,
  TopicParams,
  TopicWithStats,
} from '../schemas/topics.js';
import { fromWireMessage, wirePublishResult, wireReadResult } from '../wire.js';

const tags = ['topics'];

export const topicRoutes: RouteModule = (app, { spool, handles }) => {
  app.put(
    '/v1/topics/:name',
    {
      schema: {
        operationId: 'putTopic',
        tags,
        summary: 'Create a topic or change its retention',
        description:
          '201 when the topic was created. The partition count cannot change later: another count answers 409 (SPOOL_CONFIG_CONFLICT).',
        params: TopicParams,
        body: TopicOptions,
        response: { 200: TopicConfigSchema, 201: TopicConfigSchema },
      },
      config: { access: 'admin', refuseReserved: { kind: 'topic', action: 'creating or reconfiguring' } },
    },
    async (request, reply) => {
      const { name } = request.params;
      const { topic: opened, created } = await spool.putTopic(name, request.body);
      const topic = handles.rememberTopic(opened);
      if (created) reply.code(201).header('location', `/v1/topics/${encodeURIComponent(name)}`);
      return topic.config;
    },
  );

  app.get(
    '/v1/topics',
    {
      schema: { operationId: 'listTopics', tags, summary: 'List topics', response: { 200: TopicList } },
      config: { access: 'token' },
    },
    async () => ({ items: await spool.listTopics() }),
  );

  app.get(
    '/v1/topics/:name',
    {
      schema: {
        operationId: 'getTopic',
        tags,
        summary: "A topic: its configuration, partitions' offsets and every group's lag",
        params: TopicParams,
        response: { 200: TopicWithStats },
      },
      config: { access: 'token' },
    },
    async (request) => {
      const topic = await handles.topic(request.params.name);
      const { partitions, groups } = await topic.stats();
      return { ...topic.config, stats: { partitions, groups } };
    },
  );

  app.delete(
    '/v1/topics/:name',
    {
      schema: {
        operationId: 'deleteTopic',
        tags,
        summary: 'Delete a topic with its events and consumer groups',
        params: TopicParams,
        response: { 204: NoContent },
      },
      config: { access: 'admin', refuseReserved: { kind: 'topic', action: 'deleting' } },
    },
    async (request, reply) => {
      const { name } = request.params;
      handles.forgetTopic(name);
      if (!(await spool.deleteTopic(name))) throw new TopicNotFoundError(name);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/topics/:name/events',
    {
      schema: {
        operationId: 'publishEvents',
        tags,
        summary: 'Publish one event, or a batch appended all or nothing',
        description:
          'Answers 201 once the events are durably appended, with the partition and offset of each (`{ results }` in order for a batch). Events with a key go to one partition, so they keep their order. Topics do not deduplicate: Idempotency-Key is not supported here. A topic that does not exist is created with the default configuration (unless the server runs with --no-auto-create, then 404; names under `spool.` and `jobs.` are never created this way).',
        params: TopicParams,
        body: PublishBody,
        response: { 201: PublishResponse },
      },
      config: { access: 'produce', refuseReserved: { kind: 'topic', action: 'publishing to' } },
    },
    async (request, reply) => {
      if (request.headers['idempotency-key'] !== undefined) {
        // Silently ignoring it would promise a deduplication that does not happen.
        throw new InvalidArgumentError('topics do not deduplicate events: send without Idempotency-Key', {
          errors: [{ in: 'headers', field: 'idempotency-key', message: 'is not supported on topics' }],
        });
      }
      const topic = await handles.topicOnFirstUse(request.params.name);
      const { body } = request;
      const batch = 'events' in body;
      const events = batch
        ? body.events.map((event, index) => fromWireMessage(event, `events.${index}`))
        : [fromWireMessage(body)];
      const results = (await topic.publishBatch(events)).map(wirePublishResult);
      return reply.code(201).send(batch ? { results } : results[0]!);
    },
  );

  app.get(
    '/v1/topics/:name/partitions/:partition/events',
    {
      schema: {
        operationId: 'readPartition',
        tags,
        summary: 'Replay a partition from an offset, without a consumer group',
        description:
          'Reading below the first kept offset (retention) starts at the first kept offset: compare `startOffset` or the first event’s offset with `from`. Reading at or past the end answers no events.',
        params: ReplayParams,
        querystring: ReplayQuery,
        response: { 200: ReplayResponse },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request) => {
      const topic = await handles.topic(request.params.name);
      const { from = replayDefaults.from, limit = replayDefaults.limit } = request.query;
      return wireReadResult(await topic.read(request.params.partition, from, limit), from);
    },
  );
};
