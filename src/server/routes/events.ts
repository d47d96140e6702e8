/**
 * Live events as Server-Sent Events: job state changes, queue events (dead-lettered,
 * redriven, purged) and alert transitions (firing, resolved) from the one events log. Every event carries `id:` = its offset in the job
 * events log, so a client that reconnects with `Last-Event-ID` continues with the next event:
 * no gaps, no repeats (within the log's one-day retention). A comment line every 15 s keeps
 * proxies from closing an idle stream.
 *
 * `GET /v1/events`: without `Last-Event-ID` or `from`, the stream starts with the events that
 * happen after it opens, and stays open.
 *
 * `GET /v1/jobs/{id}/events`: one job's story. Without `Last-Event-ID` or `from` it starts at the
 * job's first event; it ends (the server closes the response) once the job is finished — after
 * its `job.completed`, `job.dead` or `job.cancelled` event, when no later event (a retry) follows.
 * A job already finished gets its whole story and the end at once; a request with nothing left
 * to tell about a finished job (a reconnect after the last event) answers 204 No Content, which
 * tells an `EventSource` to stop reconnecting.
 *
 * On both, a `Last-Event-ID` or `from` past the end of the log answers 416
 * `SPOOL_OFFSET_OUT_OF_RANGE` naming the end (see `assertWithinLog`), and HEAD answers what GET
 * would, headers only, at once.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  isFinishingEvent,
  isJobEvent,
  type JobEvents,
  type LoggedEvent,
  type LoggedJobEvent,
} from '../../jobs/job-events.js';
import { isFinished } from '../../jobs/job-states.js';
import type { Jobs } from '../../jobs/jobs.js';
import { OffsetOutOfRangeError } from '../../core/errors.js';
import { type EventStream, openEventStream, type RouteModule } from '../context.js';
import { eventStreamResponse } from '../schemas/common.js';
import { EventsQuery, JobEventsQuery, JobParams } from '../schemas/jobs.js';

const heartbeatMs = 15_000;
/**
 * The longest a job's stream waits between reads of the log. New events of this process wake it
 * at once; this bounds how late it sees those written by other processes sharing the store.
 */
const jobStreamPollMs = 1_000;

interface StreamFilter {
  readonly jobType?: string | undefined;
  readonly jobId?: string | undefined;
  readonly queue?: string | undefined;
  readonly breaker?: string | undefined;
}

export const eventRoutes: RouteModule = (app, { jobs, closing }) => {
  app.get(
    '/v1/events',
    {
      schema: {
        operationId: 'streamEvents',
        tags: ['events'],
        summary:
          'Live job, queue, alert and circuit breaker events (text/event-stream); resume with Last-Event-ID',
        querystring: EventsQuery,
        produces: ['text/event-stream'],
        response: {
          200: eventStreamResponse(
            'Events (`job.*`, `queue.*`, `alert.*`, `breaker.*`) from `from`, or after `Last-Event-ID`, or from now on; it does not end',
          ),
        },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request, reply) => {
      const { from, ...filter } = request.query;
      const resume = resumeOffset(request);
      const start = resume ?? from;
      await stream(request, reply, jobs.events, closing, filter, start ?? (await jobs.events.end()));
    },
  );

  app.get(
    '/v1/jobs/:id/events',
    {
      schema: {
        operationId: 'streamJobEvents',
        tags: ['events'],
        summary:
          "One job's events (text/event-stream) from its first on, ending once the job is finished; resume with Last-Event-ID",
        description:
          "Starts at the job's first event (or after `Last-Event-ID`, or at `from`) and closes the response after the event that finished the job (`job.completed`, `job.dead` or `job.cancelled`) when no retry follows it. A job already finished gets its whole story, then the end. 204 when there is nothing left to send about a finished job (e.g. a reconnect after its last event). 404 for an unknown job.",
        params: JobParams,
        querystring: JobEventsQuery,
        produces: ['text/event-stream'],
        response: {
          200: eventStreamResponse("The job's events, ending after the one that finished it"),
          204: Type.Null({ description: 'Nothing left to send about a finished job: stop reconnecting' }),
        },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request, reply) => {
      const { id } = request.params;
      // 404 (problem+json) for an unknown job, before anything is streamed.
      const job = await jobs.get(id);
      const start =
        resumeOffset(request) ??
        request.query.from ??
        (await jobs.events.offsetForJob(job.createdAt.getTime()));
      const streamed = await streamJob(request, reply, jobs, closing, id, start);
      if (!streamed) return reply.code(204).send(null);
    },
  );
};

/** The offset after the `Last-Event-ID` the client sent, if it sent a valid one. */
function resumeOffset(request: FastifyRequest): number | undefined {
  const lastEventId = request.headers['last-event-id'];
  return typeof lastEventId === 'string' && /^\d+$/.test(lastEventId) ? Number(lastEventId) + 1 : undefined;
}

/**
 * Refuses a start past the end of the log: 416 `SPOOL_OFFSET_OUT_OF_RANGE` with `endOffset` (the
 * id the next event will get) and `lastEventId` (the last id the log has). Offsets only grow, so
 * a `Last-Event-ID` or `from` beyond the end was never given out by this log — the store was
 * replaced or reset, or the id comes from another deployment — and a stream from there would stay
 * silent until the log caught up, then resume in the middle of a different history.
 */
async function assertWithinLog(request: FastifyRequest, events: JobEvents, start: number): Promise<void> {
  const end = await events.end();
  if (start <= end) return;
  const lastEventId = request.headers['last-event-id'];
  const asked =
    typeof lastEventId === 'string' && resumeOffset(request) === start
      ? `Last-Event-ID ${lastEventId}`
      : `from=${start}`;
  throw new OffsetOutOfRangeError(
    `${asked} is past the end of the events log, whose last event id is ${end - 1} (${end === 0 ? 'it is empty' : `the next event gets ${end}`}): the log was reset or replaced since that id was given out. Reconnect without Last-Event-ID to follow from now on, or with from=<offset> (at most ${end}) to replay`,
    { endOffset: end, lastEventId: end - 1 },
  );
}

/**
 * One job's events from `offset` on, until the job is finished. The response is opened lazily:
 * false when there was nothing to send about a job that is already finished (answer 204).
 *
 * The end is decided without races: the job is read BEFORE the log. A job that was finished
 * then has its finishing event (written in the same transaction as the change) in what the read
 * of the log returns; if the last event of the job there is that finishing one, nothing came
 * after it (no retry) and the story is told.
 */
async function streamJob(
  request: FastifyRequest,
  reply: FastifyReply,
  jobs: Jobs,
  closing: AbortSignal,
  id: string,
  from: number,
): Promise<boolean> {
  const events = jobs.events;
  await assertWithinLog(request, events, from);
  let offset = from;
  let stream: EventStream | undefined;
  // The last event of the job sent on this connection.
  let last: LoggedJobEvent | undefined;
  let lastWrite = Date.now();
  try {
    while (!stream?.poll.signal.aborted) {
      // Only when the job may be finished (nothing sent yet, or a finishing event last) is it read.
      const mayEnd = last === undefined || isFinishingEvent(last);
      const finished = mayEnd && isFinished((await jobs.get(id)).status);
      const page = await events.read(offset, 100);
      for (const event of page.events) {
        if (!isJobEvent(event) || event.jobId !== id) continue;
        stream ??= openEventStream(request, reply, closing);
        if (stream.headOnly) return true;
        stream.raw.write(format(event));
        last = event;
        lastWrite = Date.now();
      }
      offset = page.next;
      if (page.events.length === 100) continue;
      if (finished && (last === undefined || isFinishingEvent(last))) break;
      // Just finished (the job was read before this page): read it again now, without waiting.
      if (last !== undefined && isFinishingEvent(last) && !finished) continue;
      stream ??= openEventStream(request, reply, closing);
      if (stream.headOnly) return true;
      const woke = await events.waitForNew(jobStreamPollMs, stream.poll.signal);
      if (!woke && !stream.poll.signal.aborted && Date.now() - lastWrite >= heartbeatMs) {
        stream.raw.write(': heartbeat\n\n');
        lastWrite = Date.now();
      }
    }
  } catch (error) {
    // Before the stream opened, the error is the answer (a problem); after, the stream just ends.
    if (!stream) throw error;
    request.log.warn({ err: error }, 'job event stream ended by an error');
  } finally {
    stream?.raw.end();
  }
  return stream !== undefined;
}

async function stream(
  request: FastifyRequest,
  reply: FastifyReply,
  events: JobEvents,
  closing: AbortSignal,
  filter: StreamFilter,
  from: number,
): Promise<void> {
  await assertWithinLog(request, events, from);
  let offset = from;
  const { raw, poll, headOnly } = openEventStream(request, reply, closing);
  if (headOnly) return;
  let lastWrite = Date.now();
  try {
    while (!poll.signal.aborted) {
      const page = await events.read(offset, 100);
      for (const event of page.events) {
        if (matches(event, filter)) raw.write(format(event));
      }
      if (page.events.length > 0) lastWrite = Date.now();
      offset = page.next;
      if (page.events.length === 100) continue;
      const woke = await events.waitForNew(heartbeatMs, poll.signal);
      if (!woke && !poll.signal.aborted && Date.now() - lastWrite >= heartbeatMs - 50) {
        raw.write(': heartbeat\n\n');
        lastWrite = Date.now();
      }
    }
  } catch (error) {
    request.log.warn({ err: error }, 'event stream ended by an error');
  } finally {
    raw.end();
  }
}

/**
 * Job filters select job events, the queue filter queue (and alert) events, the breaker filter
 * breaker events; no filter passes everything.
 */
function matches(event: LoggedEvent, filter: StreamFilter): boolean {
  if (isJobEvent(event)) {
    return (
      filter.queue === undefined &&
      filter.breaker === undefined &&
      (filter.jobId === undefined || event.jobId === filter.jobId) &&
      (filter.jobType === undefined || event.jobType === filter.jobType)
    );
  }
  if (filter.jobId !== undefined || filter.jobType !== undefined) return false;
  if ('breaker' in event) {
    return filter.queue === undefined && (filter.breaker === undefined || event.breaker === filter.breaker);
  }
  return filter.breaker === undefined && (filter.queue === undefined || event.queue === filter.queue);
}

function format(event: LoggedEvent): string {
  const { offset, ...data } = event;
  return `id: ${offset}\nevent: ${event.event}\ndata: ${JSON.stringify({ ...data, at: new Date(data.at).toISOString() })}\n\n`;
}
