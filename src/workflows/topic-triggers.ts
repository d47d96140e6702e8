/**
 * Workflows driven by topic events — the choreography side of sagas: a consumer group that
 * starts one run per event, and one that turns events into events of the runs they concern (for
 * `ctx.waitForEvent`). Both consume transactionally: the start (or the stored event) commits
 * with the group's offset, so a redelivered event neither starts a second run nor is lost.
 */
import type { JsonValue } from '../core/message.js';
import type { Subscription, SubscribeOptions } from '../engine/subscription.js';
import type { TopicEvent } from '../engine/topic-event.js';
import { WorkflowRunFinishedError, WorkflowRunNotFoundError } from './workflow-errors.js';
import type { Jobs } from '../jobs/jobs.js';
import type { StartWorkflowOptions, WorkflowEvent } from './workflow-types.js';

/** What the triggers need of `Workflows` (which offers them as methods). */
export interface RunStarter {
  readonly jobs: Jobs;
  start(workflow: string, input: JsonValue, options: StartWorkflowOptions): Promise<unknown>;
  sendEvent(runId: string, name: string, payload: JsonValue): Promise<WorkflowEvent>;
}

/** The consumer group options a trigger passes on (`transactional` is always on). */
type GroupOptions = Omit<SubscribeOptions<JsonValue>, 'transactional'>;

export interface StartFromTopicOptions extends GroupOptions {
  /** The consumer group. @defaultValue `workflow.<workflow>` */
  group?: string;
  /** The run's input from the event. @defaultValue the event's body */
  input?: (event: TopicEvent<JsonValue>) => JsonValue;
  /** Events this returns false for start nothing (their offset is committed). */
  filter?: (event: TopicEvent<JsonValue>) => boolean;
  /** Start options per event; its `key` is replaced by the event's key (below). */
  start?: (event: TopicEvent<JsonValue>) => Omit<StartWorkflowOptions, 'key'>;
  /** The run key. @defaultValue `<topic>/<event id>`: one run per event, whatever redelivers it */
  key?: (event: TopicEvent<JsonValue>) => string;
}

export interface EventsFromTopicOptions extends GroupOptions {
  /** The consumer group. */
  group: string;
  /** The run an event is for, or null for an event that concerns no run. */
  runId: (event: TopicEvent<JsonValue>) => string | null;
  /** The name `ctx.waitForEvent` waits for. @defaultValue the event's key, else the topic name */
  name?: (event: TopicEvent<JsonValue>) => string;
  /** The payload sent. @defaultValue the event's body */
  payload?: (event: TopicEvent<JsonValue>) => JsonValue;
}

export async function startFromTopic(
  workflows: RunStarter,
  topicName: string,
  workflow: string,
  options: StartFromTopicOptions = {},
): Promise<Subscription<JsonValue>> {
  const { group, input, filter, start, key, ...subscribe } = options;
  const topic = await workflows.jobs.spool.topic<JsonValue>(topicName);
  return topic.subscribe(
    group ?? `workflow.${workflow}`,
    async (event) => {
      if (filter && !filter(event)) return;
      // The handler's transaction is current: the start joins it (see Jobs.add).
      await workflows.start(workflow, input ? input(event) : event.body, {
        ...start?.(event),
        key: key ? key(event) : `${event.topic}/${event.id}`,
      });
    },
    { ...subscribe, transactional: true },
  );
}

export async function eventsFromTopic(
  workflows: RunStarter,
  topicName: string,
  options: EventsFromTopicOptions,
): Promise<Subscription<JsonValue>> {
  const { group, runId, name, payload, ...subscribe } = options;
  const topic = await workflows.jobs.spool.topic<JsonValue>(topicName);
  return topic.subscribe(
    group,
    async (event) => {
      const run = runId(event);
      if (run === null) return;
      try {
        await workflows.sendEvent(
          run,
          name ? name(event) : (event.key ?? event.topic),
          payload ? payload(event) : event.body,
        );
      } catch (error) {
        // A run that has ended (or is gone) has no wait left to take it: not worth retrying.
        if (error instanceof WorkflowRunFinishedError || error instanceof WorkflowRunNotFoundError) {
          workflows.jobs.spool.logger.warn(
            { run, topic: topicName, offset: event.offset, err: error },
            'topic event for a run that cannot take it: skipped',
          );
          return;
        }
        throw error;
      }
    },
    { ...subscribe, transactional: true },
  );
}
