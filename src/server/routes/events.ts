/**
 * Live events as Server-Sent Events: job state changes, queue events (dead-lettered,
 * redriven, purged) and alert transitions (firing, resolved) from the one events log. Every event carries `id:` = its offset in the job
 * events log, so a client that reconnects with `Last-Event-ID` continues with the next event:
 * no gaps, no repeats (within the log's one-day retention). A comment line every 15 s keeps
 * proxies from closing an idle stream.
 *
 * Without `Last-Event-ID` or `from`, a stream starts with the events that happen after it opens.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isJobEvent, type JobEvents, type LoggedEvent } from '../../jobs/job-events.js';
import { openEventStream, type RouteModule } from '../context.js';
import { EventsQuery } from '../schemas/jobs.js';

const heartbeatMs = 15_000;

interface StreamFilter {
  readonly jobType?: string | undefined;
  readonly jobId?: string | undefined;
  readonly queue?: string | undefined;
}

export const eventRoutes: RouteModule = (app, { jobs, closing }) => {
  app.get(
    '/v1/events',
    {
      schema: {
        operationId: 'streamEvents',
        tags: ['events'],
        summary: 'Live job and queue events (text/event-stream); resume with Last-Event-ID',
        querystring: EventsQuery,
        produces: ['text/event-stream'],
      },
      config: { access: 'read' },
    },
    async (request, reply) => {
      const { from, ...filter } = request.query;
      await stream(request, reply, jobs.events, closing, filter, from);
    },
  );

  app.get(
    '/v1/jobs/:id/events',
    {
      schema: {
        operationId: 'streamJobEvents',
        tags: ['events'],
        summary: "One job's events (text/event-stream) from its creation on; resume with Last-Event-ID",
        produces: ['text/event-stream'],
      },
      config: { access: 'read' },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const job = await jobs.get(id);
      // From the start of the log that still covers the job: its whole history is replayed.
      const start = await jobs.events.offsetForTime(job.createdAt.getTime());
      await stream(request, reply, jobs.events, closing, { jobId: id }, start);
    },
  );
};

async function stream(
  request: FastifyRequest,
  reply: FastifyReply,
  events: JobEvents,
  closing: AbortSignal,
  filter: StreamFilter,
  from: number | undefined,
): Promise<void> {
  const lastEventId = request.headers['last-event-id'];
  const resumeAfter =
    typeof lastEventId === 'string' && /^\d+$/.test(lastEventId) ? Number(lastEventId) + 1 : undefined;
  let offset = resumeAfter ?? from ?? (await events.end());
  const { raw, poll } = openEventStream(request, reply, closing);
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

/** Job filters select job events, the queue filter queue events; no filter passes everything. */
function matches(event: LoggedEvent, filter: StreamFilter): boolean {
  if (isJobEvent(event)) {
    return (
      filter.queue === undefined &&
      (filter.jobId === undefined || event.jobId === filter.jobId) &&
      (filter.jobType === undefined || event.jobType === filter.jobType)
    );
  }
  return (
    filter.jobId === undefined &&
    filter.jobType === undefined &&
    (filter.queue === undefined || event.queue === filter.queue)
  );
}

function format(event: LoggedEvent): string {
  const { offset, ...data } = event;
  return `id: ${offset}\nevent: ${event.event}\ndata: ${JSON.stringify({ ...data, at: new Date(data.at).toISOString() })}\n\n`;
}
