/**
 * Schedules over HTTP: cron expressions (with a time zone) or fixed intervals that add a job of
 * a type each time they fire. `list`, `get`, `put` (a whole replacement), `pause` and `resume`
 * (idempotent) are retried after a network error; `delete` and `runNow` (which adds a job each
 * time) are not.
 */
import { postIdempotent, segment, type Transport } from './http.js';
import type { JobAccepted, Schedule, ScheduleOptions } from './types.js';

export class SchedulesClient {
  /** @internal */
  constructor(private readonly http: Transport) {}

  /** Every schedule with its next run (`GET /v1/schedules`; needs `read` or `admin`). */
  async list(): Promise<Schedule[]> {
    const answer = await this.http.call<{ items: Schedule[] }>({
      method: 'GET',
      path: '/v1/schedules',
      retryOnNetworkError: true,
    });
    return answer.body.items;
  }

  /** The schedule `name` (`GET /v1/schedules/{name}`); `SPOOL_SCHEDULE_NOT_FOUND` when there is none. */
  async get(name: string): Promise<Schedule> {
    const answer = await this.http.call<Schedule>({
      method: 'GET',
      path: `/v1/schedules/${segment(name)}`,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /**
   * Pauses the schedule `name`: it fires nothing until resumed, and saving it again (`put`) keeps
   * it paused (`POST /v1/schedules/{name}/pause`; needs `admin`).
   */
  async pause(name: string): Promise<Schedule> {
    return postIdempotent(this.http, `/v1/schedules/${segment(name)}/pause`);
  }

  /**
   * Resumes the schedule `name` from its first slot after now; slots that passed while it was
   * paused are skipped (`POST /v1/schedules/{name}/resume`; needs `admin`).
   */
  async resume(name: string): Promise<Schedule> {
    return postIdempotent(this.http, `/v1/schedules/${segment(name)}/resume`);
  }

  /**
   * Creates or replaces the schedule `name` (`PUT /v1/schedules/{name}`; needs `admin`): give
   * `cron` (5 or 6 fields, read in `timezone`, default UTC) or `everyMs`, and the job `type`.
   */
  async put(name: string, options: ScheduleOptions): Promise<Schedule> {
    const answer = await this.http.call<Schedule>({
      method: 'PUT',
      path: `/v1/schedules/${segment(name)}`,
      body: options,
      retryOnNetworkError: true,
    });
    return answer.body;
  }

  /** Deletes the schedule `name` (needs `admin`); `SPOOL_SCHEDULE_NOT_FOUND` when there is none. */
  async delete(name: string): Promise<void> {
    await this.http.call({
      method: 'DELETE',
      path: `/v1/schedules/${segment(name)}`,
      retryOnNetworkError: false,
    });
  }

  /**
   * Adds the schedule's job now, without moving its slots (`POST /v1/schedules/{name}/run`;
   * needs `admin`); answers the added job's id and status.
   */
  async runNow(name: string): Promise<JobAccepted> {
    const answer = await this.http.call<JobAccepted>({
      method: 'POST',
      path: `/v1/schedules/${segment(name)}/run`,
      retryOnNetworkError: false,
    });
    return answer.body;
  }
}
