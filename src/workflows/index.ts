export {
  Workflows,
  workflowTypePrefix,
  workflowRunStatuses,
  type RunFilter,
  type StartWorkflowOptions,
  type WorkflowOptions,
  type WorkflowRun,
  type WorkflowRunStatus,
  type WorkflowStep,
} from './workflows.js';
export {
  type StepInfo,
  type StepOptions,
  type WaitForEventOptions,
  type WorkflowContext,
  type WorkflowEvent,
  type WorkflowFunction,
} from './workflow-types.js';
export {
  NonDeterminismError,
  StepFailedError,
  WorkflowCancelledError,
  WorkflowRunFinishedError,
  WorkflowRunNotFoundError,
  WorkflowRunNotRetryableError,
  WorkflowTimeoutError,
} from './workflow-errors.js';
export type { EventsFromTopicOptions, StartFromTopicOptions } from './topic-triggers.js';
