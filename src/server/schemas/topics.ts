/** Request and response schemas of the topic and consumer-group routes. */
import { Type } from '@sinclair/typebox';
import { groupMemberDefaults, TopicConfigSchema, topicDefaults } from '../../core/options.js';
import { maxWaitMs } from '../context.js';
import { Headers, incomingBodyFields, maxBatch, Name, outgoingBodyFields, Timestamp } from './common.js';

export const TopicParams = Type.Object({ name: Name });

/** The topic options of the engine (`TopicOptions`), built from its config schema. */
export const TopicOptions = Type.Partial(Type.Omit(TopicConfigSchema, ['name']), {
  additionalProperties: false,
  description:
    `Omitted fields take their defaults (partitions ${topicDefaults.partitions}, retentionMs ` +
    `${topicDefaults.retentionMs}, retentionBytes ${topicDefaults.retentionBytes}). ` +
    'The partition count is fixed at creation: another count later is a 409.',
});

export const PartitionOffsets = Type.Object({
  partition: Type.Integer(),
  startOffset: Type.Integer({ description: 'The first kept offset (rises when retention trims)' }),
  endOffset: Type.Integer({ description: 'The offset the next event gets' }),
});

export const PartitionLag = Type.Object({
  partition: Type.Integer(),
  committed: Type.Integer({ description: 'The next offset the group reads' }),
  endOffset: Type.Integer(),
  lag: Type.Integer({ description: 'Events published but not committed by the group' }),
});

export const GroupLag = Type.Object({
  group: Type.String(),
  members: Type.Integer(),
  paused: Type.Boolean({ description: 'Paused by an operator: no member reads until it is resumed' }),
  partitions: Type.Array(PartitionLag),
  totalLag: Type.Integer(),
});

export const TopicWithStats = Type.Composite([
  TopicConfigSchema,
  Type.Object({
    stats: Type.Object({ partitions: Type.Array(PartitionOffsets), groups: Type.Array(GroupLag) }),
  }),
]);
export const TopicList = Type.Object({ items: Type.Array(TopicConfigSchema) });

// --- publishing and reading ---------------------------------------------------------------------

export const OutgoingEvent = Type.Object(
  {
    ...incomingBodyFields,
    headers: Type.Optional(Headers),
    key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: "Events with one key go to one partition (Kafka's murmur2 partitioner)",
      }),
    ),
    partition: Type.Optional(
      Type.Integer({ minimum: 0, description: 'An explicit partition; wins over key' }),
    ),
  },
  { additionalProperties: false },
);

export const PublishBody = Type.Union(
  [
    OutgoingEvent,
    Type.Object(
      { events: Type.Array(OutgoingEvent, { minItems: 1, maxItems: maxBatch }) },
      { additionalProperties: false },
    ),
  ],
  { description: 'One event, or a batch `{ events: [...] }` appended all or nothing' },
);

export const PublishResult = Type.Object({
  id: Type.String(),
  partition: Type.Integer(),
  offset: Type.Integer(),
  timestamp: Timestamp,
});
export const PublishResults = Type.Object({
  results: Type.Array(PublishResult, { description: 'In the order given' }),
});
export const PublishResponse = Type.Union([PublishResult, PublishResults]);

export const TopicEvent = Type.Object({
  id: Type.String(),
  topic: Type.String(),
  partition: Type.Integer(),
  offset: Type.Integer(),
  timestamp: Timestamp,
  ...outgoingBodyFields,
  headers: Headers,
  key: Type.Union([Type.String(), Type.Null()]),
});

export const ReplayParams = Type.Object({ name: Name, partition: Type.Integer({ minimum: 0 }) });
export const replayDefaults = { from: 0, limit: 100 } as const;
export const ReplayQuery = Type.Object({
  from: Type.Optional(
    Type.Integer({
      minimum: 0,
      default: replayDefaults.from,
      description: 'First offset; below the first kept offset, reading starts there (see startOffset)',
    }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxBatch, default: replayDefaults.limit })),
});
export const ReplayResponse = Type.Composite([
  PartitionOffsets,
  Type.Object({
    events: Type.Array(TopicEvent),
    nextOffset: Type.Integer({ description: 'Pass as `from` to read on' }),
  }),
]);

// --- consumer groups ----------------------------------------------------------------------------

export const GroupParams = Type.Object({ name: Name, group: Name });

const Member = Type.String({
  minLength: 1,
  description: 'Your member id, stable for the life of your consumer process (e.g. host-pid-random)',
});

/** What a poll uses for the fields it omits. */
/** The defaults of a poll, as the engine applies them (core/options.ts). */
export const pollDefaults = {
  max: groupMemberDefaults.batchSize,
  waitMs: groupMemberDefaults.pollWaitMs,
  sessionTimeoutMs: groupMemberDefaults.polledSessionTimeoutMs,
  startFrom: groupMemberDefaults.startFrom,
};

export const PollBody = Type.Object(
  {
    member: Member,
    max: Type.Optional(Type.Integer({ minimum: 1, maximum: maxBatch, default: pollDefaults.max })),
    waitMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: maxWaitMs,
        default: pollDefaults.waitMs,
        description: 'Long poll: wait up to this long for an event when none is ready',
      }),
    ),
    sessionTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1000,
        maximum: 600_000,
        default: pollDefaults.sessionTimeoutMs,
        description: 'A member that does not poll for this long is dropped and its partitions reassigned',
      }),
    ),
    startFrom: Type.Optional(
      Type.Union([Type.Literal('earliest'), Type.Literal('latest')], {
        default: pollDefaults.startFrom,
        description: 'Where the group starts if this poll creates it',
      }),
    ),
    cursor: Type.Optional(
      Type.String({ minLength: 1, description: "The previous poll's cursor: continue after its events" }),
    ),
  },
  { additionalProperties: false },
);
export const PollResponse = Type.Object({
  member: Type.String(),
  generation: Type.Integer({ description: 'Rises when the group membership changes' }),
  partitions: Type.Array(Type.Integer(), { description: 'The partitions this member reads now' }),
  events: Type.Array(TopicEvent),
  paused: Type.Boolean({ description: 'The group is paused: no events until it is resumed' }),
  cursor: Type.String({ description: 'Pass to the next poll' }),
});

const Offsets = Type.Record(Type.Integer(), Type.Integer({ minimum: 0 }), {
  additionalProperties: false,
  minProperties: 1,
  description: 'Offset per partition number: the next offset to read (last processed + 1)',
});

export const CommitBody = Type.Object({ member: Member, offsets: Offsets }, { additionalProperties: false });
export const LeaveBody = Type.Object({ member: Member }, { additionalProperties: false });

export const SeekBody = Type.Object(
  {
    to: Type.Union(
      [
        Type.Literal('earliest'),
        Type.Literal('latest'),
        Type.Object(
          {
            timestamp: Type.Union([
              Type.Integer({ minimum: 0, description: 'Ms since the epoch' }),
              Type.String({ format: 'date-time' }),
            ]),
          },
          { additionalProperties: false },
        ),
        Type.Object({ offsets: Offsets }, { additionalProperties: false }),
      ],
      { description: "'earliest', 'latest', { timestamp } (first event at or after it) or { offsets }" },
    ),
  },
  { additionalProperties: false },
);
export const SeekResponse = Type.Object({
  offsets: Type.Array(Type.Object({ partition: Type.Integer(), offset: Type.Integer() })),
});

export const GroupResponse = Type.Object({
  group: Type.String(),
  generation: Type.Integer(),
  paused: Type.Boolean({ description: 'A paused group: no member of any process reads until it is resumed' }),
  pausedAt: Type.Union([Timestamp, Type.Null()]),
  members: Type.Array(
    Type.Object({
      memberId: Type.String(),
      lastHeartbeatAt: Timestamp,
      sessionTimeoutMs: Type.Integer(),
      owned: Type.Array(Type.Integer()),
    }),
  ),
  partitions: Type.Array(PartitionLag),
  totalLag: Type.Integer(),
});
