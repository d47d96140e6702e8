/**
 * Jobs over HTTP: add (202 + id at once), get, search, cancel, retry, wait for the outcome, follow
 * live events, and the remote-worker protocol (claim, heartbeat, progress, complete, fail) that
 * the {@link Worker} builds on.
 *
 * Retried after a network error (see `http.ts`): `get`, `list`, `wait`'s polls, `heartbeat`,
 * `progress`, and `add` when it carries an `idempotencyKey` (a repeat answers the first job).
 * Not retried: `add` without a key, `cancel`, `delete`, `retry`, `bulk`, `claim`, `complete`, `fail`.
 */
import { JobWaitTimeoutError } from './errors.js';
import { parseRetryAfter, postIdempotent, segment, sleep, type Transport } from './http.js';
import { readEventStream } from './sse.js';
import { StreamConnection, type StreamConnectionOptions } from './stream-connection.js';
import type {
  AddJobOptions,
  BulkJobsRequest,
  BulkJobsResult,
  ClaimOptions,
  JobTypeState,
  Job,
  JobAccepted,
  JobReceipt,
  AddAnswerOptions,
  JobEventData,
  JobEventMessage,
  JobFailure,
  JobLogInput,
  JobPage,
  JobQuery,
  LeasedJob,
  RateBudget,
} from './types.js';

/** Statuses a job does not leave by itself. */
export const finishedJobStatuses: ReadonlySet<Job['status']> = new Set(['completed', 'dead', 'cancelled']);

/** The events of a job reaching one of {@link finishedJobStatuses}. */
const finishingEvents: ReadonlySet<string> = new Set(
  [...finishedJobStatuses].map((status) => `job.${status}`),
);

/** Options of {@link JobsClient.wait}. */
export interface WaitOptions {
  /** Give up after this long with `SPOOL_WAIT_TIMEOUT` ({@link JobWaitTimeoutError}). @defaultValue 60000 */
  timeoutMs?: number;
  /** Time between polls when the server does not say (`Retry-After`). @defaultValue 500 */
  pollMs?: number;
  /** Stops waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** Options of {@link JobsClient.events}. */
export interface JobEventsOptions {
  /** Only events of jobs of this type. */
  jobType?: string;
  /**
   * Only this job's events: its whole story from its first event (unless `from` or
   * `lastEventId` say otherwise), and the iteration ends once the job is finished.
   */
  jobId?: string;
  /** Resume after this event id (the `id` of the last event you processed). */
  lastEventId?: string;
  /**
   * Start at this event id instead of the default (new events only; with `jobId`, the job's
   * first event). Ignored with `lastEventId`.
   */
  from?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
}

/** One job of {@link JobsClient.addBatch}. */
export interface BatchJobInput {
  readonly type: string;
  readonly payload?: unknown;
  readonly options?: AddJobOptions;
}

/** The `Prefer` header of an add: only when the caller asked for less than the default. */
function preferHeader(answer: AddAnswerOptions): string | undefined {
  return answer.return === 'minimal' ? 'return=minimal' : undefined;
}

/** Job operations; reach them as `client.jobs`. */
export class JobsClient {
  /** @internal */
  constructor(private readonly http: Transport) {}

  /**
   * Adds a job; answers at once (`202`) with `{ id, status, outcome, job }`. With
   * `idempotencyKey` (sent as `Idempotency-Key`), a repeat answers the first job; the same key
   * with another body throws `SPOOL_IDEMPOTENCY_CONFLICT`. With `{ return: 'minimal' }` (sent as
   * `Prefer: return=minimal`) the answer leaves the record out.
   *
   * @example
   * ```ts
   * const { id, outcome } = await client.jobs.add('email.send', { to: 'ada@example.com' }, {}, { return: 'minimal' });
   * ```
   */
  add(
    type: string,
    payload?: unknown,
    options?: AddJobOptions,
    answer?: AddAnswerOptions & { return?: 'representation' },
  ): Promise<JobAccepted>;
  add(
    type: string,
    payload: unknown,
    options: AddJobOptions,
    answer: { return: 'minimal' },
  ): Promise<JobReceipt>;
  async add(
    type: string,
    payload?: unknown,
    options: AddJobOptions = {},
    answer: AddAnswerOptions = {},
  ): Promise<JobAccepted | JobReceipt> {
    const { idempotencyKey, ...rest } = options;
    const response = await this.http.call<JobAccepted | JobReceipt>({
      method: 'POST',
      path: '/v1/jobs',
      headers: { 'idempotency-key': idempotencyKey, prefer: preferHeader(answer) },
      body: { type, ...(payload === undefined ? {} : { payload }), ...rest },
      retryOnNetworkError: idempotencyKey !== undefined,
    });
    return response.body;
  }

  /**
   * Adds many jobs in one request (up to 1,000), all of them or none; one answer per job, in
   * order. Each may carry its own `idempotencyKey`; when every one does, a network error is
   * retried (a repeat answers the same jobs). With `{ return: 'minimal' }` each answer is
   * `{ id, status, outcome }` without the record: a batch's answer no longer echoes every payload.
   */
  addBatch(
    jobs: readonly BatchJobInput[],
    answer?: AddAnswerOptions & { return?: 'representation' },
  ): Promise<JobAccepted[]>;
  addBatch(jobs: readonly BatchJobInput[], answer: { return: 'minimal' }): Promise<JobReceipt[]>;
  async addBatch(
    jobs: readonly BatchJobInput[],
    answer: AddAnswerOptions = {},
  ): Promise<JobAccepted[] | JobReceipt[]> {
    const response = await this.http.call<{ jobs: JobAccepted[] | JobReceipt[] }>({
      method: 'POST',
      path: '/v1/jobs/batch',
      headers: { prefer: preferHeader(answer) },
      body: {
        jobs: jobs.map(({ type, payload, options = {} }) => ({
          type,
          ...(payload === undefined ? {} : { payload }),
          ...options,
        })),
      },
      retryOnNetworkError: jobs.every((job) => job.options?.idempotencyKey !== undefined),
    });
    return response.body.jobs;
  }

  /** A job record (`SPOOL_JOB_NOT_FOUND` if there is none). */
  async get(id: string): Promise<Job> {
    return (await this.#get(id)).body;
  }

  /** One page of a job search (newest first). Pass `next` as `cursor` for the next page. */
  async list(query: JobQuery = {}): Promise<JobPage> {
    const answer = await this.http.call<JobPage>({
      method: 'GET',
      path: '/v1/jobs',
      query,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /** Every page of a job search, fetched as you iterate. */
  async *pages(query: JobQuery = {}): AsyncGenerator<JobPage> {
    let cursor = query.cursor;
    do {
      const page = await this.list({ ...query, ...(cursor === undefined ? {} : { cursor }) });
      yield page;
      cursor = page.next ?? undefined;
    } while (cursor !== undefined);
  }

  /**
   * Every job matching `query`, across all pages.
   *
   * @example
   * ```ts
   * for await (const job of client.jobs.listAll({ status: 'dead' })) console.log(job.id);
   * ```
   */
  async *listAll(query: JobQuery = {}): AsyncGenerator<Job> {
    for await (const page of this.pages(query)) yield* page.items;
  }

  /** Cancels a job: a waiting one never runs, a running one is told to stop. A finished one throws `SPOOL_JOB_STATE_CONFLICT`. */
  async cancel(id: string): Promise<Job> {
    const answer = await this.http.call<Job>({
      method: 'DELETE',
      path: `/v1/jobs/${segment(id)}`,
      retryOnNetworkError: false,
    });
    return answer.body;
  }

  /**
   * Deletes a finished job's record (completed, dead or cancelled): `DELETE /v1/jobs/{id}?purge=true`.
   * A job still in flight is a `SPOOL_JOB_STATE_CONFLICT` (cancel it first).
   */
  async delete(id: string): Promise<void> {
    await this.http.call<null>({
      method: 'DELETE',
      path: `/v1/jobs/${segment(id)}?purge=true`,
      retryOnNetworkError: false,
    });
  }

  /**
   * Pauses job type `type` (`POST /v1/jobs/types/{type}/pause`; needs `admin`): adds still land,
   * but no worker of any process gets one of its jobs until {@link JobsClient.resumeType}.
   * Running jobs finish. Idempotent; persisted.
   */
  async pauseType(type: string): Promise<JobTypeState> {
    return postIdempotent(this.http, `/v1/jobs/types/${segment(type)}/pause`);
  }

  /** Resumes a paused job type (`POST /v1/jobs/types/{type}/resume`; needs `admin`). */
  async resumeType(type: string): Promise<JobTypeState> {
    return postIdempotent(this.http, `/v1/jobs/types/${segment(type)}/resume`);
  }

  /**
   * The budget of job type `type`'s `globalRateLimit` (`GET /v1/jobs/types/{type}/rate-limit`):
   * how many of its jobs may start now in every process together — those of job key `key`, for
   * a per-key limit — and when more may. Throws `SPOOL_RATE_LIMIT_NOT_FOUND` when the server does
   * not define the type with one.
   */
  async rateBudget(type: string, options: { key?: string } = {}): Promise<RateBudget> {
    const answer = await this.http.call<RateBudget>({
      method: 'GET',
      path: `/v1/jobs/types/${segment(type)}/rate-limit`,
      query: { key: options.key },
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /** Runs a dead or cancelled job again from its first attempt. */
  async retry(id: string): Promise<Job> {
    const answer = await this.http.call<Job>({
      method: 'POST',
      path: `/v1/jobs/${segment(id)}/retry`,
      body: {},
      retryOnNetworkError: false,
    });
    return answer.body;
  }

  /**
   * Polls a job until it is `completed`, `dead` or `cancelled`, and resolves with that record (it
   * does not throw for `dead`: check `status`, `error`). Waits `Retry-After` between polls when the
   * server sends it, else `pollMs`. Throws {@link JobWaitTimeoutError} after `timeoutMs`.
   */
  async wait(id: string, options: WaitOptions = {}): Promise<Job> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const pollMs = options.pollMs ?? 500;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await this.#get(id, options.signal);
      const job = answer.body;
      if (finishedJobStatuses.has(job.status)) return job;
      const left = deadline - Date.now();
      if (left <= 0) throw new JobWaitTimeoutError(id, job, timeoutMs);
      const delay = parseRetryAfter(answer.headers.get('retry-after')) ?? pollMs;
      await sleep(Math.min(delay, left), options.signal);
    }
  }

  /**
   * Follows job events (Server-Sent Events), as an async iterator.
   *
   * - Without `jobId` (`GET /v1/events`, optionally filtered by `jobType`): live events of every
   *   job, from the moment the connection opens unless `lastEventId` or `from` say otherwise. The
   *   iteration never ends by itself: break out of the loop, or abort `signal`.
   * - With `jobId` (`GET /v1/jobs/{id}/events`): that job's whole story, from its first event
   *   (usually `job.queued`), and the iteration **ends** after the event that finished it —
   *   `job.completed`, `job.dead` or `job.cancelled` (unless a retry follows, whose events then
   *   come too). For a job already finished, for instance after {@link JobsClient.wait}, it yields
   *   the whole story at once and ends. An unknown job throws `SPOOL_JOB_NOT_FOUND` (404).
   *
   * A dropped connection is reopened with `Last-Event-ID`, so no event is missed or repeated.
   *
   * @example
   * ```ts
   * const { id } = await client.jobs.add('thumbnail', { image: 'cat.png' });
   * for await (const event of client.jobs.events({ jobId: id })) {
   *   console.log(event.id, event.event, event.data.status); // job.queued … job.completed, then the loop ends
   * }
   * for await (const event of client.jobs.events({ jobType: 'thumbnail' })) {
   *   console.log(event.id, event.event, event.data.jobId); // live, until you break
   * }
   * ```
   */
  async *events(options: JobEventsOptions = {}): AsyncGenerator<JobEventMessage> {
    const from = options.lastEventId === undefined ? options.from : undefined;
    const { jobId } = options;
    const stream = readEventStream(this.http, {
      ...(jobId === undefined
        ? { path: '/v1/events', query: { jobType: options.jobType, from } }
        : {
            path: `/v1/jobs/${segment(jobId)}/events`,
            query: { from },
            // The server closes a job's stream after its finishing event: the story is told.
            endsAfter: (event) => finishingEvents.has(event.event),
          }),
      lastEventId: options.lastEventId,
      signal: options.signal,
    });
    for await (const event of stream) {
      // Without a job filter the stream carries queue and alert events too; they are not jobs'.
      if (!event.event.startsWith('job.')) continue;
      const data = JSON.parse(event.data) as JobEventData;
      if (options.jobType !== undefined && data.jobType !== options.jobType) continue;
      yield { id: event.id, event: event.event, data };
    }
  }

  // --- the remote-worker protocol ---------------------------------------------------------------

  /**
   * @internal The job stream (`GET /v1/jobs/stream`) a remote {@link Worker} runs on: claimed
   * jobs pushed under credit, completes, fails and heartbeats answered on the same connection.
   * Not connected until its `start()`.
   */
  openStream(options: Omit<StreamConnectionOptions, 'path'>): StreamConnection {
    return new StreamConnection(this.http, { ...options, path: '/v1/jobs/stream' });
  }

  /** Leases up to `max` (default 1) runnable jobs of `types`, waiting up to `waitMs` for one. */
  async claim(options: ClaimOptions): Promise<LeasedJob[]> {
    const { signal, ...body } = options;
    const answer = await this.http.call<{ jobs: LeasedJob[] }>({
      method: 'POST',
      path: '/v1/jobs/claim',
      body,
      signal,
      waitMs: body.waitMs,
      retryOnNetworkError: false,
    });
    return answer.body.jobs;
  }

  /** Keeps a lease for `leaseMs` more; throws `SPOOL_JOB_STATE_CONFLICT` (409) when the job was cancelled. */
  async heartbeat(id: string, lease: string, leaseMs?: number): Promise<string> {
    const answer = await this.http.call<{ leaseExpiresAt: string }>({
      method: 'POST',
      path: `/v1/jobs/${segment(id)}/heartbeat`,
      body: { lease, ...(leaseMs === undefined ? {} : { leaseMs }) },
      retryOnNetworkError: true,
    });
    return answer.body.leaseExpiresAt;
  }

  /** Reports progress (0–100) and optional details. */
  async progress(id: string, progress: number, data?: unknown, lease?: string): Promise<Job> {
    const answer = await this.http.call<Job>({
      method: 'POST',
      path: `/v1/jobs/${segment(id)}/progress`,
      body: { progress, ...(data === undefined ? {} : { data }), ...(lease === undefined ? {} : { lease }) },
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /**
   * Retries or cancels every job matching `filter` (`dryRun`: only counts them, e.g. to ask for
   * a confirmation). Each job changes as `retry(id)` / `cancel(id)` would; jobs that moved on
   * meanwhile are `skipped`, other failures listed in `failed`. Not retried after a network error
   * (a repeat could act on jobs that matched only afterwards).
   */
  async bulk(
    action: BulkJobsRequest['action'],
    filter: BulkJobsRequest['filter'] = {},
    options: { dryRun?: boolean; limit?: number } = {},
  ): Promise<BulkJobsResult> {
    const answer = await this.http.call<BulkJobsResult>({
      method: 'POST',
      path: '/v1/jobs/bulk',
      body: { action, filter, ...options },
      retryOnNetworkError: options.dryRun === true,
    });
    return answer.body;
  }

  /**
   * Appends lines to a running job's log, kept with the job (its last 200 lines) and shown on
   * its page in the dashboard. Lines for a job that is not running are ignored.
   */
  async log(id: string, lines: readonly JobLogInput[], lease?: string): Promise<Job> {
    const answer = await this.http.call<Job>({
      method: 'POST',
      path: `/v1/jobs/${segment(id)}/log`,
      body: { lines, ...(lease === undefined ? {} : { lease }) },
      retryOnNetworkError: false,
    });
    return answer.body;
  }

  /** Finishes a leased job with its result. */
  async complete(id: string, lease: string, result?: unknown): Promise<Job> {
    const answer = await this.http.call<Job>({
      method: 'POST',
      path: `/v1/jobs/${segment(id)}/complete`,
      body: { lease, ...(result === undefined ? {} : { result }) },
      retryOnNetworkError: false,
    });
    return answer.body;
  }

  /** Fails a leased job: retried with backoff, or dead after its last attempt or with `retryable: false`. */
  async fail(id: string, lease: string, error: JobFailure, retryable = true): Promise<Job> {
    const answer = await this.http.call<Job>({
      method: 'POST',
      path: `/v1/jobs/${segment(id)}/fail`,
      body: { lease, error, retryable },
      retryOnNetworkError: false,
    });
    return answer.body;
  }

  #get(id: string, signal?: AbortSignal) {
    return this.http.call<Job>({
      method: 'GET',
      path: `/v1/jobs/${segment(id)}`,
      signal,
      retryOnNetworkError: true,
    });
  }
}
