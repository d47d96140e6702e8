/**
 * Job events: every state change of every job, as an event on the engine's events log
 * `spool.events` (one partition, so the offset is a total order; queue events share it). Events
 * are written in the same transaction as the change they describe, so the log never shows a
 * change that did not happen or misses one that did; on PostgreSQL they are staged there and
 * take their offsets right after the commit (`appendAfterCommit`), in the order the changes
 * committed for any one job. Offsets double as event ids: a live stream resumes after
 * `Last-Event-ID` without gaps.
 */
import { type AlertEvent, type BreakerEvent, eventsTopic, type QueueEvent } from '../engine/events-log.js';
import type { Spool } from '../engine/spool.js';
import type { Topic } from '../engine/topic.js';
import type { SpoolTransaction } from '../engine/transaction.js';
import type { JobRecord, JobStatus } from '../store/port.js';
import { isFinished } from './job-states.js';

/** The topic job events go to: the engine's events log. */
export const jobEventsTopic = eventsTopic;

/** One job state change. */
export interface JobEvent {
  /** `job.<status>` for a status change, `job.progress` for progress. */
  readonly event: string;
  readonly jobId: string;
  readonly jobType: string;
  readonly status: JobStatus;
  readonly attempts: number;
  readonly progress: number;
  /** When it happened (ms since epoch). */
  readonly at: number;
  readonly key: string | null;
  readonly error: { readonly name: string; readonly message: string } | null;
}

/** A job event with its position in the log. */
export interface LoggedJobEvent extends JobEvent {
  readonly offset: number;
}

/** Any event of the log: a job, queue, alert or circuit breaker event. */
export type SpoolEvent = JobEvent | QueueEvent | AlertEvent | BreakerEvent;

/** Any event of the log (job, queue, alert or breaker) with its position. */
export type LoggedEvent = SpoolEvent & { readonly offset: number };

/** Tells job events from queue and alert events. */
export function isJobEvent(event: SpoolEvent): event is JobEvent {
  return 'jobId' in event;
}

/**
 * True for the event of a job reaching `completed`, `dead` or `cancelled`: the last of its story
 * unless it is retried (a retry starts over with `job.queued`).
 */
export function isFinishingEvent(event: JobEvent): boolean {
  return event.event === `job.${event.status}` && isFinished(event.status);
}

/**
 * How far before a job's creation its story is looked for. A job's first event is appended in
 * the transaction that creates it and stamped with the store's clock at least at `createdAt`,
 * unless that clock stepped back in between (a wall clock corrected by NTP); starting a little
 * earlier costs a few reads, as a job's stream keeps only that job's events.
 */
const creationSlackMs = 1000;

export class JobEvents {
  #topic: Topic<SpoolEvent> | undefined;

  constructor(private readonly spool: Spool) {}

  /** Creates the events topic (kept for a day) if needed. */
  async open(): Promise<void> {
    this.#topic = await this.spool.topic<SpoolEvent>(jobEventsTopic, {
      partitions: 1,
      retentionMs: 86_400_000,
    });
  }

  /** Publishes the event for `job`'s current state as part of `tx`. */
  async record(tx: SpoolTransaction, job: JobRecord, event = `job.${job.status}`): Promise<void> {
    // After the commit: every job transition publishes here, and on PostgreSQL an in-transaction
    // append would make all of them commit one at a time (the partition row's lock).
    await tx.publishAfterCommit(jobEventsTopic, [{ body: jobEvent(job, event), partition: 0 }]);
  }

  /** Publishes the events for the current states of `jobs`, in order, as one write of `tx`. */
  async recordMany(tx: SpoolTransaction, jobs: readonly JobRecord[]): Promise<void> {
    if (jobs.length === 0) return;
    await tx.publishAfterCommit(
      jobEventsTopic,
      jobs.map((job) => ({ body: jobEvent(job, `job.${job.status}`), partition: 0 })),
    );
  }

  /** Events (job and queue) from `fromOffset` on (at most `max`), and the offset to read next. */
  async read(fromOffset: number, max = 100): Promise<{ events: LoggedEvent[]; next: number }> {
    const result = await this.#require().read(0, fromOffset, max);
    const events = result.events.map((event) => ({ ...event.body, offset: event.offset }));
    return {
      events,
      next: events.length ? events.at(-1)!.offset + 1 : Math.max(fromOffset, result.startOffset),
    };
  }

  /** The offset the next event will get. */
  async end(): Promise<number> {
    const [partition] = await this.#require().offsets();
    return partition?.endOffset ?? 0;
  }

  /** The offset of the first event at or after `time` (ms since epoch). */
  offsetForTime(time: number): Promise<number> {
    return this.#require().offsetForTime(0, time);
  }

  /**
   * An offset at or before the first event of a job created at `createdAt` (ms since epoch): read
   * from there, filtering by the job's id, to get its whole story. When the log's retention
   * (a day) has trimmed the story's start, the first kept offset.
   */
  offsetForJob(createdAt: number): Promise<number> {
    return this.offsetForTime(Math.max(0, createdAt - creationSlackMs));
  }

  /** Waits for new events (published in this process) or `timeoutMs`. */
  waitForNew(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.spool.waitForWrites({ topics: [jobEventsTopic] }, timeoutMs, signal);
  }

  #require(): Topic<SpoolEvent> {
    if (!this.#topic) throw new Error('JobEvents.open() was not awaited');
    return this.#topic;
  }
}

function jobEvent(job: JobRecord, event: string): JobEvent {
  return {
    event,
    jobId: job.id,
    jobType: job.type,
    status: job.status,
    attempts: job.attempts,
    progress: job.progress,
    at: job.updatedAt,
    key: job.key,
    error: job.lastError,
  };
}
