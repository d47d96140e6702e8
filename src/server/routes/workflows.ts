/**
 * Workflow runs over HTTP: start (202 + Location), follow (get, list), send events, cancel.
 * The runs execute in the processes that define their workflow (`workflows.define`) on the same
 * store; the server only starts and steers them. A run's ending reaches its `callbackUrl` and
 * the job events stream like any job's (a run is the job `spool.workflow.<name>`).
 */
import type { JsonValue } from '../../core/message.js';
import type { WorkflowRun } from '../../workflows/workflows.js';
import { Workflows } from '../../workflows/workflows.js';
import type { RouteModule } from '../context.js';
import { defaultPageLimit } from '../schemas/common.js';
import {
  AllRunsQuery,
  EventAccepted,
  RunAccepted,
  RunListQuery,
  RunPage,
  RunParams,
  SendEventBody,
  StartRunBody,
  WorkflowParams,
  WorkflowRun as WorkflowRunSchema,
} from '../schemas/workflows.js';

const tags = ['workflows'];

export const workflowRoutes: RouteModule = (app, { jobs, webhooks }) => {
  // Made at the first request: the server is built before (and without) any workflow use.
  let made: Workflows | undefined;
  const workflows = (): Workflows => (made ??= new Workflows(jobs));

  app.post(
    '/v1/workflows/:name/runs',
    {
      schema: {
        operationId: 'startWorkflowRun',
        tags,
        summary: 'Start a workflow run: answered at once with 202 and the run id',
        description:
          'The run is stored durably before the answer and runs in a process that defines the workflow. Follow it at the `Location`. A `key` starts at most one run per workflow.',
        params: WorkflowParams,
        body: StartRunBody,
        response: { 202: RunAccepted },
      },
      config: { access: 'produce' },
    },
    async (request, reply) => {
      const { input = null, callbackUrl, ...options } = request.body;
      if (callbackUrl !== undefined) webhooks.checkUrl(callbackUrl, 'callbackUrl');
      const run = await workflows().start(
        request.params.name,
        input as never,
        {
          ...options,
          ...(callbackUrl === undefined ? {} : { callbackUrl }),
        } as never,
      );
      return reply
        .code(202)
        .header('location', `/v1/workflow-runs/${encodeURIComponent(run.id)}`)
        .header('retry-after', '1')
        .send({ id: run.id, status: run.status, run: wireRun(run) });
    },
  );

  app.get(
    '/v1/workflows/:name/runs',
    {
      schema: {
        operationId: 'listWorkflowRuns',
        tags,
        summary: 'Runs of a workflow, newest first (without their steps)',
        params: WorkflowParams,
        querystring: RunListQuery,
        response: { 200: RunPage },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request) => {
      const { limit = defaultPageLimit, cursor } = request.query;
      const page = await workflows().list(request.params.name, { limit, after: cursor ?? null });
      return { items: page.items.map(wireRun), next: page.next };
    },
  );

  app.get(
    '/v1/workflow-runs',
    {
      schema: {
        operationId: 'listAllWorkflowRuns',
        tags,
        summary: 'Runs of every workflow (or one), newest first, by run status (without their steps)',
        description:
          'A page may hold fewer than `limit` runs while `next` is not null: `failed` and `compensated` runs are told apart after the read.',
        querystring: AllRunsQuery,
        response: { 200: RunPage },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request) => {
      const { limit = defaultPageLimit, cursor, workflow, status } = request.query;
      const page = await workflows().list(
        {
          ...(workflow === undefined ? {} : { workflow }),
          ...(status === undefined ? {} : { status: status }),
        },
        { limit, after: cursor ?? null },
      );
      return { items: page.items.map(wireRun), next: page.next };
    },
  );

  app.get(
    '/v1/workflow-runs/:id',
    {
      schema: {
        operationId: 'getWorkflowRun',
        tags,
        summary: "A run: its status, current step, output or error, and every step's result, error and times",
        params: RunParams,
        response: { 200: WorkflowRunSchema },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request) => wireRun(await workflows().get(request.params.id)),
  );

  app.post(
    '/v1/workflow-runs/:id/events',
    {
      schema: {
        operationId: 'sendWorkflowEvent',
        tags,
        summary: 'Send an event to a run: the first matching `waitForEvent` takes it',
        description:
          'Stored with the run (kept until a wait takes it); a sleeping or waiting run resumes at once. A run that has ended answers 409 (SPOOL_WORKFLOW_RUN_FINISHED).',
        params: RunParams,
        body: SendEventBody,
        response: { 202: EventAccepted },
      },
      config: { access: 'produce' },
    },
    async (request, reply) => {
      const { name, payload = null } = request.body;
      const event = await workflows().sendEvent(request.params.id, name, payload as JsonValue);
      return reply.code(202).send(event);
    },
  );

  app.post(
    '/v1/workflow-runs/:id/cancel',
    {
      schema: {
        operationId: 'cancelWorkflowRun',
        tags,
        summary: 'Cancel a run: its completed steps are compensated, newest first, then it ends cancelled',
        description: 'A run that has ended answers 409 (SPOOL_WORKFLOW_RUN_FINISHED).',
        params: RunParams,
        response: { 202: WorkflowRunSchema },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => reply.code(202).send(wireRun(await workflows().cancel(request.params.id))),
  );

  app.post(
    '/v1/workflow-runs/:id/retry',
    {
      schema: {
        operationId: 'retryWorkflowRun',
        tags,
        summary: 'Retry a failed run from its failed step: completed steps keep their results',
        description:
          'A failed child run is retried with it. A run that is not `failed`, or whose compensations have run, answers 409 (SPOOL_WORKFLOW_RUN_NOT_RETRYABLE): start a new run.',
        params: RunParams,
        response: { 202: WorkflowRunSchema },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => reply.code(202).send(wireRun(await workflows().retry(request.params.id))),
  );
};

/** A run as JSON: times as ISO 8601 strings. */
export function wireRun(run: WorkflowRun) {
  const iso = (date: Date | null) => (date === null ? null : date.toISOString());
  return {
    ...run,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    finishedAt: iso(run.finishedAt),
    deadline: iso(run.deadline),
    steps: run.steps.map((step) => ({
      ...step,
      startedAt: step.startedAt.toISOString(),
      finishedAt: iso(step.finishedAt),
      wakeAt: iso(step.wakeAt),
    })),
  };
}
