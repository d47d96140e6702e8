/**
 * Consumer groups over HTTP: remote members poll and commit (`Topic.poll`, `commit`, `leave`; the
 * protocol is in engine/polled-members.ts), operators seek and inspect. Remote members share a
 * group's partitions with each other and with in-process subscribers of the same group.
 */
import { validateName } from '../../core/names.js';
import { type RouteModule, startLongPoll } from '../context.js';
import { errorCatalogue, GroupNotFoundError } from '../../core/errors.js';
import type { Topic } from '../../engine/topic.js';
import { HttpError } from '../problems.js';
import { NoContent } from '../schemas/common.js';
import {
  CommitBody,
  GroupParams,
  GroupResponse,
  LeaveBody,
  PollBody,
  PollResponse,
  SeekBody,
  SeekResponse,
} from '../schemas/topics.js';
import { wireEvent } from '../wire.js';

const tags = ['consumer groups'];

export const topicGroupRoutes: RouteModule = (app, { handles, closing }) => {
  app.post(
    '/v1/topics/:name/groups/:group/poll',
    {
      schema: {
        operationId: 'pollGroup',
        tags,
        summary: 'As a group member: heartbeat and fetch events of the partitions you own',
        description:
          'Joins the member on first use (creating the group at startFrom) and keeps it alive; a member that does not poll for sessionTimeoutMs is dropped. Events come from the partitions assigned to and owned by the member, from the committed offsets — or, with the previous poll’s cursor, after the events already returned. Commit what you processed before polling again: at a poll, partitions moving to another member are handed over, and their uncommitted events go to the new owner. If a commit answers 409, poll again without a cursor.',
        params: GroupParams,
        body: PollBody,
        response: { 200: PollResponse },
      },
      config: { access: 'consume', refuseReserved: { kind: 'topic', action: 'polling a consumer group on' } },
    },
    async (request, reply) => {
      const topic = await handles.topic(request.params.name);
      const { member, max, waitMs, sessionTimeoutMs, startFrom, cursor } = request.body;
      const result = await topic.poll(request.params.group, {
        memberId: member,
        max,
        waitMs,
        sessionTimeoutMs,
        startFrom,
        cursor,
        signal: waitMs !== undefined && waitMs > 0 ? startLongPoll(reply, closing).signal : undefined,
      });
      return {
        member: result.memberId,
        generation: result.generation,
        partitions: [...result.partitions],
        events: result.events.map(wireEvent),
        paused: result.paused,
        cursor: result.cursor,
      };
    },
  );

  app.post(
    '/v1/topics/:name/groups/:group/commit',
    {
      schema: {
        operationId: 'commitOffsets',
        tags,
        summary: 'As a group member: record how far you processed, per partition',
        description:
          'Each offset is the next one to read (last processed + 1). All or nothing: 409 (SPOOL_NOT_PARTITION_OWNER or SPOOL_UNKNOWN_MEMBER) if the member no longer owns one of the partitions. An offset below the committed one is ignored (use seek to rewind).',
        params: GroupParams,
        body: CommitBody,
        response: { 204: NoContent },
      },
      config: { access: 'consume', refuseReserved: { kind: 'topic', action: 'committing group offsets on' } },
    },
    async (request, reply) => {
      const topic = await handles.topic(request.params.name);
      const offsets = Object.entries(request.body.offsets).map(([partition, offset]) => ({
        partition: Number(partition),
        offset,
      }));
      await topic.commit(request.params.group, request.body.member, offsets);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/topics/:name/groups/:group/leave',
    {
      schema: {
        operationId: 'leaveGroup',
        tags,
        summary: 'As a group member: leave, so your partitions move to the others at once',
        params: GroupParams,
        body: LeaveBody,
        response: { 204: NoContent },
      },
      config: { access: 'consume', refuseReserved: { kind: 'topic', action: 'leaving a consumer group of' } },
    },
    async (request, reply) => {
      const topic = await handles.topic(request.params.name);
      await topic.leave(request.params.group, request.body.member);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/topics/:name/groups/:group/seek',
    {
      schema: {
        operationId: 'seekGroup',
        tags,
        summary: "Move a group's committed offsets: to an end, a time, or explicit offsets",
        description:
          'Members drop their uncommitted progress and continue from the new offsets; commits made from before the seek are refused. Creates the group if it does not exist.',
        params: GroupParams,
        body: SeekBody,
        response: { 200: SeekResponse },
      },
      config: { access: 'admin', refuseReserved: { kind: 'topic', action: 'seeking a consumer group of' } },
    },
    async (request) => {
      const topic = await handles.topic(request.params.name);
      const { to } = request.body;
      const position =
        typeof to === 'string' || 'offsets' in to
          ? to
          : { timestamp: typeof to.timestamp === 'number' ? to.timestamp : Date.parse(to.timestamp) };
      const offsets = await topic.seek(request.params.group, position);
      return { offsets };
    },
  );

  app.delete(
    '/v1/topics/:name/groups/:group',
    {
      schema: {
        operationId: 'deleteGroup',
        tags,
        summary: 'Delete a consumer group and its committed offsets (once it has no live member)',
        description:
          'As Kafka does, a group with a live member (one whose session has not expired) is not deleted: 409 SPOOL_GROUP_NOT_EMPTY names the members. A member polling later with this group name starts a new group at its startFrom.',
        params: GroupParams,
        response: { 204: NoContent },
      },
      config: { access: 'admin', refuseReserved: { kind: 'topic', action: 'deleting a consumer group of' } },
    },
    async (request, reply) => {
      const { group } = request.params;
      const topic = await handles.topic(request.params.name);
      if (!(await topic.deleteGroup(group))) {
        throw new HttpError(
          errorCatalogue.GROUP_NOT_FOUND,
          `topic "${topic.name}" has no consumer group "${group}"`,
        );
      }
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/topics/:name/groups/:group',
    {
      schema: {
        operationId: 'getGroup',
        tags,
        summary: 'A group: members, committed offsets and lag per partition',
        params: GroupParams,
        response: { 200: GroupResponse },
      },
      config: { access: 'token' },
    },
    async (request) => {
      const { group } = request.params;
      validateName('group', group);
      return wireGroup(await handles.topic(request.params.name), group);
    },
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/v1/topics/:name/groups/:group/${action}`,
      {
        schema: {
          operationId: `${action}Group`,
          tags,
          summary:
            action === 'pause'
              ? 'Pause a consumer group: publishes still land, no member of any process reads until resumed'
              : 'Resume a paused consumer group: its members read again (other processes within a second)',
          description:
            'Idempotent and persisted. Members keep their partitions and committed offsets; a subscriber finishes the event in hand, a poll answers no events with `paused: true`. Answers the group. 404 SPOOL_GROUP_NOT_FOUND for a group the topic does not have (a group is created by its first member or a seek).',
          params: GroupParams,
          response: { 200: GroupResponse },
        },
        config: {
          access: 'admin',
          refuseReserved: {
            kind: 'topic',
            action: `${action === 'pause' ? 'pausing' : 'resuming'} a consumer group of`,
          },
        },
      },
      async (request) => {
        const { group } = request.params;
        const topic = await handles.topic(request.params.name);
        await (action === 'pause' ? topic.pauseGroup(group) : topic.resumeGroup(group));
        return wireGroup(topic, group);
      },
    );
  }
};

/** The group as `GET /v1/topics/{name}/groups/{group}` answers it. */
export async function wireGroup(topic: Topic, group: string) {
  const info = await topic.group(group);
  if (!info) throw new GroupNotFoundError(topic.name, group);
  return {
    group,
    generation: info.generation,
    paused: info.pausedAt !== null,
    pausedAt: info.pausedAt === null ? null : info.pausedAt.toISOString(),
    members: info.members.map((member) => ({
      ...member,
      owned: [...member.owned],
      lastHeartbeatAt: new Date(member.lastHeartbeatAt).toISOString(),
    })),
    partitions: info.partitions,
    totalLag: info.totalLag,
  };
}
