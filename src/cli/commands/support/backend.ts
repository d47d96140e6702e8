/**
 * What the client commands run against: a Spool server over HTTP (`--url`), or the embedded store
 * of a data directory opened in this process (`--data`, direct mode). Both answer in the HTTP
 * API's JSON shapes, so each command formats its output once, whichever backend it got.
 *
 * Only the operations the commands use are here. Failures of either backend are errors whose
 * message is `CODE: detail`, and the code's exit code in the error catalogue is the command's
 * (see `exit-codes.ts`); usage errors stay usage errors (exit 2).
 */
import { GroupMembershipHttpError, SpoolClientError, type SpoolClient } from '../../../client/index.js';
import type { JobBackend, QueueBackend, SpoolBackend, TopicBackend } from './backend-port.js';
import { type ClientFlags, clientFor, usageError } from './client-options.js';

export type { JobBackend, QueueBackend, SpoolBackend, TopicBackend };

/**
 * Opens the backend the flags choose, runs `work` with it and closes it, however `work` ends —
 * in direct mode the store is closed (and every write flushed) before the command exits.
 */
export async function withBackend<T>(
  flags: ClientFlags,
  work: (backend: SpoolBackend) => Promise<T>,
): Promise<T> {
  const backend = await openBackend(flags);
  try {
    return await work(backend);
  } finally {
    await backend.close();
  }
}

/** The backend the flags choose: direct mode when `--data` is set (see `client-options.ts`). */
export async function openBackend(flags: ClientFlags): Promise<SpoolBackend> {
  if (flags.data === undefined) return httpBackend(clientFor(flags));
  if (flags.data.trim() === '') throw usageError('--data: give a directory');
  // Loaded only in direct mode: the server path does not need the engine or SQLite.
  const { openEngineBackend } = await import('./engine-backend.js');
  return openEngineBackend(flags.data);
}

/** The HTTP client as a backend. */
export function httpBackend(client: SpoolClient): SpoolBackend {
  const { queues, topics, jobs, schedules, workers, workflows, breakers } = client;
  return {
    description: `server ${client.url}`,
    queues: {
      list: () => queues.list(),
      get: (queue) => queues.get(queue),
      find: (queue) => orNull(queues.get(queue), 'SPOOL_QUEUE_NOT_FOUND'),
      put: (queue, options) => queues.put(queue, options),
      delete: (queue) => queues.delete(queue),
      pause: (queue, paused) => (paused ? queues.pause(queue) : queues.resume(queue)),
      send: (queue, body, options) => queues.send(queue, body, options),
      sendBatch: (queue, messages) => queues.sendBatch(queue, messages),
      receive: (queue, options) => queues.receive(queue, options),
      ack: (queue, receipts) => queues.ack(queue, receipts),
      nack: (queue, receipts, options) => queues.nack(queue, receipts, options),
      deadLetters: (queue, page) => queues.deadLetters(queue, page),
      redrive: (queue, ids) => queues.redrive(queue, ids),
      purgeDeadLetters: (queue, ids) => queues.purgeDeadLetters(queue, ids),
    },
    topics: {
      list: () => topics.list(),
      get: (topic) => topics.get(topic),
      find: (topic) => orNull(topics.get(topic), 'SPOOL_TOPIC_NOT_FOUND'),
      put: (topic, options) => topics.put(topic, options),
      delete: (topic) => topics.delete(topic),
      read: (topic, partition, options) => topics.read(topic, partition, options),
      publish: (topic, body, options) => topics.publish(topic, body, options),
      publishBatch: (topic, events) => topics.publishBatch(topic, events),
      poll: (topic, group, options) => topics.poll(topic, group, options),
      commit: async (topic, group, options) => {
        try {
          await topics.commit(topic, group, options);
          return true;
        } catch (error) {
          if (error instanceof GroupMembershipHttpError) return false;
          throw error;
        }
      },
      leave: (topic, group, member) => topics.leave(topic, group, member),
      deleteGroup: (topic, group) => topics.deleteGroup(topic, group),
      pauseGroup: (topic, group, paused) =>
        paused ? topics.pauseGroup(topic, group) : topics.resumeGroup(topic, group),
    },
    jobs: {
      add: (type, payload, options) => jobs.add(type, payload, options),
      wait: (id, options) => jobs.wait(id, options),
      get: (id) => jobs.get(id),
      list: (query) => jobs.list(query),
      cancel: (id) => jobs.cancel(id),
      retry: (id) => jobs.retry(id),
      delete: (id) => jobs.delete(id),
      pauseType: (type, paused) => (paused ? jobs.pauseType(type) : jobs.resumeType(type)),
      // The server answers with its own limit of the type.
      rateBudget: (type, { key }) => jobs.rateBudget(type, key === undefined ? {} : { key }),
      bulk: (action, filter, options) => jobs.bulk(action, filter, options),
    },
    schedules: {
      list: () => schedules.list(),
      put: (name, options) => schedules.put(name, options),
      delete: (name) => schedules.delete(name),
      runNow: (name) => schedules.runNow(name),
      pause: (name) => schedules.pause(name),
      resume: (name) => schedules.resume(name),
    },
    workers: {
      list: () => workers.list(),
      remove: (id) => workers.remove(id),
    },
    workflows: {
      start: (name, input, options) => workflows.start(name, input, options),
      list: (filter, page) => workflows.list(filter, page),
      retry: (id) => workflows.retry(id),
      get: (id) => workflows.get(id),
      sendEvent: (id, name, payload) => workflows.sendEvent(id, name, payload),
      cancel: (id) => workflows.cancel(id),
      breakers: () => breakers.list(),
      resetBreaker: (name) => breakers.reset(name),
    },
    close: async () => {},
  };
}

/** What `answer` resolves with, or null when it fails with the error `code` (a name not found). */
async function orNull<T>(answer: Promise<T>, code: string): Promise<T | null> {
  try {
    return await answer;
  } catch (error) {
    if (error instanceof SpoolClientError && error.code === code) return null;
    throw error;
  }
}
