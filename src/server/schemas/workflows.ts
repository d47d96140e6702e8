/** Request and response schemas of the workflow routes. */
import { Type } from '@sinclair/typebox';
import { workflowRunStatuses } from '../../workflows/workflows.js';
import { Milliseconds, Name, Page, PageQuery, Timestamp } from './common.js';

const JsonValue = Type.Unknown({ description: 'Any JSON value' });
const Failure = Type.Object({
  name: Type.String(),
  message: Type.String(),
  stack: Type.Optional(Type.String({ description: "Where it was thrown: the stack's frames, at most 30" })),
});
const RunStatus = Type.Union(
  workflowRunStatuses.map((status) => Type.Literal(status)),
  { description: 'See the run statuses in docs/workflows.md' },
);

export const WorkflowParams = Type.Object({ name: Name });
export const RunParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

export const StartRunBody = Type.Object(
  {
    input: Type.Optional(JsonValue),
    key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description:
          'Starts at most one run per key and workflow: a repeat of the same request answers the first run; another input or options answer 422',
      }),
    ),
    delayMs: Type.Optional(Milliseconds('Start no earlier than this many ms from now')),
    callbackUrl: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2048,
        description: 'An http(s) URL that receives a Standard-Webhooks-signed POST when the run ends',
      }),
    ),
    metadata: Type.Optional(Type.Record(Type.String(), JsonValue, { description: 'Your own data' })),
    timeoutMs: Type.Optional(
      Milliseconds(
        'The run times out this long after this start: its running step aborts and its compensations run (the workflow may set an earlier `runTimeoutMs`)',
        1,
      ),
    ),
  },
  { additionalProperties: false },
);

export const WorkflowStep = Type.Object({
  id: Type.String(),
  kind: Type.Union(['step', 'sleep', 'event', 'child', 'compensation'].map((kind) => Type.Literal(kind))),
  status: Type.Union(
    ['completed', 'failed', 'retrying', 'sleeping', 'waiting'].map((status) => Type.Literal(status)),
  ),
  attempts: Type.Integer(),
  output: JsonValue,
  error: Type.Union([Failure, Type.Null()]),
  startedAt: Timestamp,
  finishedAt: Type.Union([Timestamp, Type.Null()]),
  wakeAt: Type.Union([Timestamp, Type.Null()]),
});

export const WorkflowRun = Type.Object({
  id: Type.String(),
  workflow: Type.String(),
  status: RunStatus,
  input: JsonValue,
  output: JsonValue,
  error: Type.Union([Failure, Type.Null()]),
  compensationError: Type.Union([Type.Object({ stepId: Type.String(), error: Failure }), Type.Null()]),
  key: Type.Union([Type.String(), Type.Null()]),
  metadata: Type.Record(Type.String(), JsonValue),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  finishedAt: Type.Union([Timestamp, Type.Null()]),
  deadline: Type.Union([Timestamp, Type.Null()], {
    description: "When it times out (from its start's `timeoutMs`)",
  }),
  currentStep: Type.Union([Type.String(), Type.Null()]),
  steps: Type.Array(WorkflowStep, { description: 'Every recorded step; empty in lists' }),
});

export const RunAccepted = Type.Object({ id: Type.String(), status: RunStatus, run: WorkflowRun });

export const RunPage = Page(WorkflowRun);
export const RunListQuery = PageQuery;
export const AllRunsQuery = Type.Composite([
  PageQuery,
  Type.Object({
    workflow: Type.Optional(Name),
    status: Type.Optional(RunStatus),
  }),
]);

export const SendEventBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 200,
      description: "The event name a `ctx.waitForEvent` waits for (not starting with 'spool.')",
    }),
    payload: Type.Optional(JsonValue),
  },
  { additionalProperties: false },
);

export const EventAccepted = Type.Object({
  name: Type.String(),
  payload: JsonValue,
  sentAt: Timestamp,
  seq: Type.Integer(),
});
