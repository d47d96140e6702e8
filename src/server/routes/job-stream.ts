/**
 * The job stream: `GET /v1/jobs/stream?types=a,b` upgrades to a WebSocket on which the server
 * pushes claimed jobs as the remote worker grants credit, and the worker sends completes, fails
 * and heartbeats back in batches — the remote-worker protocol of `POST /v1/jobs/claim` and
 * `/v1/jobs/{id}/…` on one connection. The framing is shared with the queue stream
 * (stream-socket.ts); docs/streaming.md is the protocol.
 *
 * A job's lease outlives the connection: a worker that reconnects (or falls back to HTTP) can
 * still heartbeat and finish the jobs it holds. Jobs it never finishes run again when their
 * leases run out, as with claim.
 */
import { context } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { errorCatalogue, InvalidArgumentError } from '../../core/errors.js';
import type { JsonValue } from '../../core/message.js';
import { jobDefaults } from '../../core/options.js';
import type { WorkerHandle, Workers } from '../../engine/workers.js';
import type { Job } from '../../jobs/job.js';
import type { Jobs } from '../../jobs/jobs.js';
import { incomingContext } from '../../telemetry/tracing-http.js';
import type { RouteModule } from '../context.js';
import { HttpError } from '../problems.js';
import { JobClientFrame, JobStreamQuery } from '../schemas/job-stream.js';
import { eachItem, FrameChecker, FrameSocket, streamCloseCodes } from '../stream-socket.js';
import { wireLeasedJob } from './jobs.js';

const frames = new FrameChecker(JobClientFrame);
/** Longest a claim waits before it looks again (a fresh wait also picks up new credit). */
const claimWaitMs = 20_000;

export const jobStreamRoutes: RouteModule = (app, { spool, jobs, closing }) => {
  const sessions = new Set<JobStreamSession>();
  app.addHook('preClose', async () => {
    await Promise.all([...sessions].map((session) => session.close()));
  });
  app.route({
    method: 'GET',
    url: '/v1/jobs/stream',
    schema: {
      operationId: 'streamJobs',
      tags: ['workers'],
      summary:
        'Run jobs over a WebSocket: claimed jobs pushed under credit, completes and fails batched back',
      description:
        'Upgrade to a WebSocket (consume scope). The server answers `{"type":"ready"}`, then pushes `{"type":"jobs","jobs":[…]}` (each as claim answers it: job, lease, leaseExpiresAt, trace context), never more than the credit granted (`?credit=N`, `{"type":"credit","n":N}`). Send `complete`, `fail` and `heartbeat` frames with `items` of `{ job, lease, … }` (the bodies of the HTTP routes) and an `id`; each is answered by a `settled` frame with one result per job (a cancelled job answers ok: false, SPOOL_JOB_STATE_CONFLICT). The protocol: docs/streaming.md. A plain GET answers 400.',
      querystring: JobStreamQuery,
    },
    config: { access: 'consume' },
    handler: () => {
      throw new HttpError(
        errorCatalogue.BAD_REQUEST,
        'this route is a WebSocket: open it with "Connection: Upgrade" and "Upgrade: websocket" (see docs/streaming.md), or claim with POST /v1/jobs/claim',
      );
    },
    wsHandler: (socket, request) => {
      const session = new JobStreamSession(socket, request, jobs, closing, spool.workers);
      sessions.add(session);
      socket.once('close', () => sessions.delete(session));
      session.open(request.query);
    },
  });
};

/** One worker's connection: claims as credit allows, settles what it sends back. */
class JobStreamSession {
  readonly #frames: FrameSocket<JobClientFrame>;
  readonly #stop = new AbortController();
  #credit = 0;
  #kick: (() => void) | undefined;
  #loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: WebSocket,
    private readonly request: FastifyRequest,
    private readonly jobs: Jobs,
    private readonly closing: AbortSignal,
    private readonly workers: Workers,
  ) {
    this.#frames = new FrameSocket(socket, request, frames);
    socket.on('close', () => {
      this.#stop.abort();
      void this.#worker?.close();
    });
  }

  #worker: WorkerHandle | undefined;
  /** Jobs pushed and not yet completed or failed here, and those finished. */
  #running = 0;
  #finished = 0;

  async close(): Promise<void> {
    this.socket.close(streamCloseCodes.goingAway, 'server shutting down');
    this.#stop.abort();
    await this.#loop;
  }

  open(query: { types: string; credit?: number; leaseMs?: number; host?: string; pid?: number }): void {
    const types = [...new Set(query.types.split(',').map((type) => type.trim()))].filter(Boolean);
    if (types.length === 0 || types.length > 100 || types.some((type) => type.length > 190)) {
      this.#frames.error(
        new InvalidArgumentError(
          'types: give 1 to 100 job types, comma-separated, each up to 190 characters',
          {
            field: 'types',
          },
        ),
      );
      this.socket.close(streamCloseCodes.internal, 'bad types');
      return;
    }
    const leaseMs = query.leaseMs ?? jobDefaults.leaseMs;
    const onClosing = () => void this.close();
    if (this.closing.aborted) return onClosing();
    this.closing.addEventListener('abort', onClosing, { once: true });
    this.socket.once('close', () => this.closing.removeEventListener('abort', onClosing));
    this.#frames.send({ type: 'ready', types, leaseMs });
    this.#worker = this.workers.register({
      kind: 'remote-worker',
      serves: { jobTypes: types },
      concurrency: 0,
      host: query.host ?? this.request.ip,
      pid: query.pid ?? 0,
      stats: () => ({
        inFlight: this.#running,
        processed: this.#finished,
        concurrency: this.#running + this.#credit,
      }),
    });
    this.#credit = query.credit ?? 0;
    this.#frames.ready((frame) => this.#frame(frame));
    this.#loop = this.#run(types, leaseMs).catch((error: unknown) => {
      this.request.log.error({ err: error }, 'job stream failed');
      this.socket.close(streamCloseCodes.internal, 'job stream failed');
    });
  }

  #grant(n: number): void {
    if (this.#credit + n > 1000) {
      throw new InvalidArgumentError(
        `credit: at most 1000 jobs may be granted at once (${this.#credit} left)`,
        {
          field: 'n',
        },
      );
    }
    this.#credit += n;
    this.#kick?.();
  }

  async #run(types: string[], leaseMs: number): Promise<void> {
    while (!this.#stop.signal.aborted) {
      if (this.#credit === 0) {
        await new Promise<void>((resolve) => {
          this.#kick = resolve;
          this.#stop.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        this.#kick = undefined;
        continue;
      }
      let leased;
      try {
        leased = await this.jobs.claim(types, {
          max: Math.min(this.#credit, 100),
          waitMs: claimWaitMs,
          leaseMs,
          signal: this.#stop.signal,
        });
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        throw error;
      }
      if (leased.length === 0) continue;
      this.#credit -= leased.length;
      this.#running += leased.length;
      // Claimed as the connection closed: nobody takes them now; their leases run out and they
      // run again, as a claim whose answer was lost would.
      this.#frames.send({ type: 'jobs', jobs: leased.map(wireLeasedJob) });
    }
  }

  /**
   * Stores a job's outcome in the worker's trace context (a retry's ticket stays in the job's
   * trace, as over HTTP) and counts it for the registry; answers the job's new status.
   */
  async #outcome(item: { traceparent?: string; tracestate?: string }, store: () => Promise<Job>) {
    const job = await inTrace(item, store);
    this.#running = Math.max(0, this.#running - 1);
    this.#finished++;
    return { status: job.status };
  }

  #frame(frame: JobClientFrame): void {
    if (frame.type === 'credit') return this.#grant(frame.n);
    const answer = <I extends { job: string }>(items: readonly I[], settle: (item: I) => Promise<object>) =>
      this.#frames.settled(
        frame.id,
        'job',
        items.map((item) => item.job),
        eachItem(items, settle),
      );
    switch (frame.type) {
      case 'complete':
        answer(frame.items, (item) =>
          this.#outcome(item, () =>
            this.jobs.complete(item.job, item.lease, (item.result ?? null) as JsonValue),
          ),
        );
        break;
      case 'fail':
        answer(frame.items, (item) =>
          this.#outcome(item, () => this.jobs.fail(item.job, item.lease, item.error, item.retryable ?? true)),
        );
        break;
      case 'heartbeat':
        answer(frame.items, async ({ job, lease, leaseMs }) => ({
          leaseExpiresAt: (await this.jobs.heartbeat(job, lease, leaseMs)).toISOString(),
        }));
        return;
    }
    if (frame.credit) this.#grant(frame.credit);
  }
}

/** Runs `work` in the trace context an item carries (its `traceparent`), as a route would. */
function inTrace<T>(item: { traceparent?: string; tracestate?: string }, work: () => Promise<T>): Promise<T> {
  const incoming = incomingContext(item);
  return incoming === undefined ? work() : context.with(incoming, work);
}
