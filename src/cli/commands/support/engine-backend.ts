/**
 * Direct mode: the commands' backend on a data directory's embedded store, opened in this process
 * with `openSpool` — no server. Answers are converted to the HTTP API's JSON shapes with the
 * server's own converters, and names that must exist are checked as the server checks them
 * (send, receive and publish create a missing queue or topic, as the library and a server with
 * its default auto-create do).
 *
 * SQLite has one writer at a time: a server running on the same directory and this process
 * contend for it. Direct mode is meant for when no server runs there, or for reads.
 */
import { join } from 'node:path';
import { errorCatalogue, errorSpecOf } from '../../../core/errors.js';
import type { JsonValue } from '../../../core/message.js';
import type { Spool } from '../../../engine/spool.js';
import {
  Jobs,
  NotPartitionOwnerError,
  openSpool,
  QueueNotFoundError,
  ScheduleNotFoundError,
  SpoolError,
  TopicNotFoundError,
  UnknownMemberError,
  type AddJobOptions,
  type ScheduleOptions,
} from '../../../index.js';
import { toggleJobType, wireJob, wireJobTypeState, wireSchedule } from '../../../server/routes/jobs.js';
import { wireGroup } from '../../../server/routes/topic-groups.js';
import { wireWorker } from '../../../server/routes/workers.js';
import { wireRun } from '../../../server/routes/workflows.js';
import { wireBreaker } from '../../../server/routes/breakers.js';
import { Workflows, type StartWorkflowOptions } from '../../../workflows/index.js';
import {
  fromWireMessage,
  wireDeadLetter,
  wireEvent,
  wireReadResult,
  wirePublishResult,
  wireReceivedMessage,
  wireQueueStats,
} from '../../../server/wire.js';
import type {
  JobBackend,
  QueueBackend,
  ScheduleBackend,
  SpoolBackend,
  TopicBackend,
  WorkflowBackend,
} from './backend-port.js';

/**
 * A failure of the engine in direct mode, printed as a server's problems are (`CODE: detail`)
 * and exiting with its code's exit code from the catalogue, as over HTTP.
 */
export class DirectModeError extends SpoolError {
  constructor(code: string, detail: string, options?: ErrorOptions) {
    super(errorSpecOf(code) ?? errorCatalogue.INTERNAL, `${code}: ${detail}`, {}, options);
  }
}

/** Opens `<dir>/spool.db` (creating it if needed) as a backend. */
export async function openEngineBackend(dir: string): Promise<SpoolBackend> {
  const path = join(dir, 'spool.db');
  const spool = await guard(() => openSpool({ path }));
  let jobs: Jobs | undefined;
  // Only job commands need it: adding the first job creates the jobs' internal queues.
  const jobsApi = () => (jobs ??= new Jobs(spool));
  let closing: Promise<void> | undefined;
  const backend: SpoolBackend = {
    description: `data ${dir}`,
    queues: guardAll(queueBackend(spool)),
    topics: guardAll(topicBackend(spool)),
    jobs: guardAll(jobBackend(jobsApi)),
    schedules: guardAll(scheduleBackend(jobsApi)),
    workers: guardAll({
      list: async () => (await spool.workers.list()).map(wireWorker),
      remove: (id: string) => spool.workers.remove(id),
    }),
    workflows: guardAll(workflowBackend(jobsApi)),
    close: () =>
      (closing ??= (async () => {
        try {
          await jobs?.close();
        } finally {
          await spool.close();
        }
      })()),
  };
  return backend;
}

function queueBackend(spool: Spool): QueueBackend {
  const stats = async (queue: string) => {
    const handle = await spool.openQueue(queue);
    return { ...handle.config, stats: wireQueueStats(await handle.stats()) };
  };
  return {
    list: async () => {
      const configs = await spool.listQueues();
      return Promise.all(
        configs.map(async (config) => ({
          ...config,
          stats: wireQueueStats(await spool.queueStats(config.name)),
        })),
      );
    },
    get: stats,
    find: async (queue) => {
      try {
        return await stats(queue);
      } catch (error) {
        if (error instanceof QueueNotFoundError) return null;
        throw error;
      }
    },
    pause: async (queue, paused) => {
      const handle = await spool.openQueue(queue);
      await (paused ? handle.pause() : handle.resume());
      return stats(queue);
    },
    put: async (queue, options) => (await spool.queue(queue, options)).config,
    delete: async (queue) => {
      if (!(await spool.deleteQueue(queue))) throw new QueueNotFoundError(queue);
    },
    send: async (queue, body, options) => {
      const [result] = await (await spool.queue(queue)).sendBatch([fromWireMessage({ ...options, body })]);
      return result!;
    },
    sendBatch: async (queue, messages) =>
      (await spool.queue(queue)).sendBatch(
        messages.map((message, index) => fromWireMessage(message, `messages.${index}`)),
      ),
    receive: async (queue, { max, waitMs, visibilityMs }) => {
      const messages = await (
        await spool.queue(queue)
      ).receive({
        max,
        waitMs,
        ...(visibilityMs === undefined ? {} : { visibilityTimeoutMs: visibilityMs }),
      });
      return messages.map((message) => ({ ...wireReceivedMessage(message), queue }));
    },
    ack: async (queue, receipts) => {
      const handle = await spool.openQueue(queue);
      return settleEach(receipts, (receipt) => handle.ack(receipt));
    },
    nack: async (queue, receipts, options) => {
      const handle = await spool.openQueue(queue);
      return settleEach(receipts, (receipt) => handle.nack(receipt, options));
    },
    deadLetters: async (queue, { limit = 100, cursor }) => {
      const page = await (await spool.openQueue(queue)).listDeadLetters({ limit, after: cursor ?? null });
      return { items: page.items.map(wireDeadLetter), next: page.next };
    },
    redrive: async (queue, ids) => (await spool.openQueue(queue)).redrive(ids ? { ids } : {}),
    purgeDeadLetters: async (queue, ids) =>
      (await spool.openQueue(queue)).purgeDeadLetters(ids ? { ids } : {}),
  };
}

function topicBackend(spool: Spool): TopicBackend {
  const get = async (topic: string) => {
    const handle = await spool.openTopic(topic);
    const { partitions, groups } = await handle.stats();
    return { ...handle.config, stats: { partitions, groups } };
  };
  return {
    list: () => spool.listTopics(),
    get,
    find: async (topic) => {
      try {
        return await get(topic);
      } catch (error) {
        if (error instanceof TopicNotFoundError) return null;
        throw error;
      }
    },
    put: async (topic, options) => (await spool.topic(topic, options)).config,
    delete: async (topic) => {
      if (!(await spool.deleteTopic(topic))) throw new TopicNotFoundError(topic);
    },
    read: async (topic, partition, { from, limit }) =>
      wireReadResult(await (await spool.openTopic(topic)).read(partition, from, limit), from),
    publish: async (topic, body, options) => {
      const [result] = await (await spool.topic(topic)).publishBatch([fromWireMessage({ ...options, body })]);
      return wirePublishResult(result!);
    },
    publishBatch: async (topic, events) =>
      (
        await (
          await spool.topic(topic)
        ).publishBatch(events.map((event, index) => fromWireMessage(event, `events.${index}`)))
      ).map(wirePublishResult),
    poll: async (topic, group, options) => {
      // `spool tail` is a polled group member, as a remote member of a server is.
      const result = await (
        await spool.openTopic(topic)
      ).poll(group, {
        memberId: options.member,
        max: options.max,
        waitMs: options.waitMs,
        sessionTimeoutMs: options.sessionTimeoutMs,
        startFrom: options.startFrom,
        cursor: options.cursor,
        signal: options.signal,
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
    commit: async (topic, group, { member, offsets }) => {
      const committed = Object.entries(offsets).map(([partition, offset]) => ({
        partition: Number(partition),
        offset,
      }));
      try {
        await (await spool.openTopic(topic)).commit(group, member, committed);
        return true;
      } catch (error) {
        if (error instanceof NotPartitionOwnerError || error instanceof UnknownMemberError) return false;
        throw error;
      }
    },
    leave: async (topic, group, member) => (await spool.openTopic(topic)).leave(group, member),
    pauseGroup: async (topic, group, paused) => {
      const handle = await spool.openTopic(topic);
      await (paused ? handle.pauseGroup(group) : handle.resumeGroup(group));
      return wireGroup(handle, group);
    },
    deleteGroup: async (topic, group) => {
      if (!(await (await spool.openTopic(topic)).deleteGroup(group)))
        throw new DirectModeError(
          'SPOOL_GROUP_NOT_FOUND',
          `topic "${topic}" has no consumer group "${group}"`,
        );
    },
  };
}

function scheduleBackend(jobs: () => Jobs): ScheduleBackend {
  return {
    list: async () => (await jobs().schedules()).map(wireSchedule),
    put: async (name, { payload, ...options }) =>
      wireSchedule(
        await jobs().schedule(name, {
          ...(stripUndefined(options) as Omit<ScheduleOptions, 'payload'>),
          ...(payload === undefined ? {} : { payload: payload as JsonValue }),
        }),
      ),
    delete: async (name) => {
      if (!(await jobs().unschedule(name))) throw new ScheduleNotFoundError(name);
    },
    runNow: async (name) => {
      const job = await jobs().runScheduleNow(name);
      return { id: job.id, status: job.status, outcome: 'created', job: wireJob(job) };
    },
    pause: async (name) => wireSchedule(await jobs().pauseSchedule(name)),
    resume: async (name) => wireSchedule(await jobs().resumeSchedule(name)),
  };
}

function jobBackend(jobs: () => Jobs): JobBackend {
  return {
    add: async (type, payload, { runAt, idempotencyKey, ...rest }) => {
      const options: AddJobOptions = {
        ...(rest as Omit<AddJobOptions, 'runAt' | 'children' | 'idempotencyKey'>),
        ...(runAt === undefined ? {} : { runAt: Date.parse(runAt) }),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      };
      const { outcome, ...job } = await jobs().add(type, (payload ?? null) as JsonValue, options);
      return { id: job.id, status: job.status, outcome, job: wireJob(job) };
    },
    // Gives up with WaitTimeoutError (SPOOL_WAIT_TIMEOUT), as the server's wait does.
    wait: async (id, { timeoutMs }) => wireJob(await jobs().wait(id, { timeoutMs })),
    get: async (id) => wireJob(await jobs().get(id)),
    list: async ({ limit = 50, cursor, since, until, ...filters }) => {
      const page = await jobs().list(
        {
          ...stripUndefined(filters),
          ...(since === undefined ? {} : { since: Date.parse(since) }),
          ...(until === undefined ? {} : { until: Date.parse(until) }),
        },
        { limit, after: cursor ?? null },
      );
      return { items: page.items.map(wireJob), next: page.next };
    },
    cancel: async (id) => wireJob(await jobs().cancel(id)),
    retry: async (id) => wireJob(await jobs().retry(id)),
    delete: (id) => jobs().delete(id),
    pauseType: async (type, paused) =>
      wireJobTypeState(type, await toggleJobType(jobs(), type, paused ? 'pause' : 'resume')),
    rateBudget: (type, { key, globalRateLimit }) =>
      jobs().rateBudget(type, {
        key: key ?? null,
        ...(globalRateLimit === undefined ? {} : { globalRateLimit }),
      }),
    bulk: async (action, { since, until, ...filter }, options) => {
      const result = await jobs().bulk(
        action,
        {
          ...filter,
          ...(since === undefined ? {} : { since: Date.parse(since) }),
          ...(until === undefined ? {} : { until: Date.parse(until) }),
        },
        options,
      );
      return { ...result, skipped: [...result.skipped], failed: [...result.failed] };
    },
  };
}

/** Settles each receipt on its own, as the server does: engine errors (a stale receipt) are results. */
function settleEach(
  receipts: readonly string[],
  settle: (receipt: string) => Promise<unknown>,
): Promise<Array<{ receipt: string; ok: boolean; code?: string; detail?: string }>> {
  return Promise.all(
    receipts.map(async (receipt) => {
      try {
        await settle(receipt);
        return { receipt, ok: true };
      } catch (error) {
        if (!(error instanceof SpoolError)) throw error;
        return { receipt, ok: false, code: error.code, detail: error.message };
      }
    }),
  );
}

/** Runs `work`, turning the engine's errors into {@link DirectModeError}s. */
async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SpoolError) throw new DirectModeError(error.code, error.message, { cause: error });
    throw error;
  }
}

/** `api` with every operation {@link guard}ed. */
function guardAll<T extends object>(api: T): T {
  return Object.fromEntries(
    Object.entries(api).map(([name, operation]) => [
      name,
      (...args: unknown[]) => guard(() => (operation as (...a: unknown[]) => Promise<unknown>)(...args)),
    ]),
  ) as T;
}

/** Drops keys whose value is undefined (the engine's options use absence, not undefined). */
function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

function workflowBackend(jobs: () => Jobs): WorkflowBackend {
  const workflows = () => new Workflows(jobs());
  return {
    start: async (name, input, options) => {
      const run = await workflows().start(
        name,
        (input ?? null) as JsonValue,
        stripUndefined(options) as StartWorkflowOptions,
      );
      return { id: run.id, status: run.status, run: wireRun(run) };
    },
    list: async (filter, page) => {
      const listed = await workflows().list(filter, {
        ...(page.limit ? { limit: page.limit } : {}),
        after: page.cursor ?? null,
      });
      return { items: listed.items.map(wireRun), next: listed.next };
    },
    get: async (id) => wireRun(await workflows().get(id)),
    sendEvent: (id, name, payload) => workflows().sendEvent(id, name, (payload ?? null) as JsonValue),
    cancel: async (id) => wireRun(await workflows().cancel(id)),
    retry: async (id) => wireRun(await workflows().retry(id)),
    breakers: async () => (await jobs().breakers.list()).map(wireBreaker),
    resetBreaker: async (name) => wireBreaker(await jobs().breakers.reset(name)),
  };
}
