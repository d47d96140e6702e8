/**
 * Retry, cancel or delete every job matching a filter — what an operator does after an outage
 * ("retry all dead email jobs", "delete last week's completed imports") — through `Jobs.bulk`,
 * `POST /v1/jobs/bulk`, `spool jobs retry|cancel|delete --type …` and the dashboard's jobs page.
 *
 * A retry or cancel changes each job in its own transaction, exactly as `retry(id)` or
 * `cancel(id)` would change it (children, events, webhooks and all), so a bulk action is a
 * convenience, not a second set of rules. A delete removes finished jobs a page at a time, one
 * store write per page. None is all-or-nothing: a job that moved on since it was listed
 * (finished, retried by someone else, cancelled with its parent) is skipped, and any other
 * failure is reported per job.
 */
import { errorCatalogue, InvalidArgumentError, SpoolError } from '../core/errors.js';
import type { JobQuery, JobStatus } from '../store/port.js';
import { cancellableStatuses, finishedStatuses, retryableStatuses } from './job-states.js';
import type { Job } from './job.js';

/** What a bulk action does to each matching job. */
export type BulkJobAction = 'retry' | 'cancel' | 'delete';

/** Which jobs a bulk action matches: every given field must match; `since`/`until` bound creation. */
export interface BulkJobFilter {
  readonly type?: string;
  /**
   * One status the action applies to; by default all of them (retry: dead and cancelled; cancel:
   * every unfinished one; delete: completed, dead and cancelled).
   */
  readonly status?: JobStatus;
  readonly key?: string;
  readonly since?: number;
  readonly until?: number;
}

export interface BulkJobOptions {
  /** Count the matching jobs without changing them (to ask for a confirmation). */
  readonly dryRun?: boolean;
  /** Act on at most this many jobs (newest first); `more` says when others matched. @defaultValue 10000 */
  readonly limit?: number;
}

export interface BulkJobResult {
  /** Jobs that matched (at most `limit`). */
  readonly matched: number;
  /** Jobs the action changed (0 on a dry run). */
  readonly changed: number;
  /** Jobs that no longer qualified when their turn came (finished, or changed by someone else). */
  readonly skipped: readonly string[];
  readonly failed: readonly { readonly id: string; readonly code: string; readonly message: string }[];
  /** More jobs matched than `limit`: run the action again for the rest. */
  readonly more: boolean;
}

/** The operations of `Jobs` a bulk action uses. */
export interface BulkJobTarget {
  list(
    query: JobQuery,
    page: { limit?: number; after?: string | null },
  ): Promise<{ items: Job[]; next: string | null }>;
  retry(id: string): Promise<Job>;
  cancel(id: string): Promise<Job>;
  /** Deletes those of `ids` that are finished; resolves with the ids deleted. */
  deleteMany(ids: readonly string[]): Promise<string[]>;
}

export const bulkLimits = Object.freeze({
  defaultLimit: 10_000,
  maxLimit: 100_000,
  concurrency: 8,
  deletePage: 500,
});

const statusesOf: Record<BulkJobAction, ReadonlySet<JobStatus>> = {
  retry: retryableStatuses,
  cancel: cancellableStatuses,
  delete: finishedStatuses,
};

/** The statuses `action` applies to. */
export function bulkStatuses(action: BulkJobAction): readonly JobStatus[] {
  return [...statusesOf[action]];
}

export async function runBulkAction(
  jobs: BulkJobTarget,
  action: BulkJobAction,
  filter: BulkJobFilter,
  options: BulkJobOptions = {},
): Promise<BulkJobResult> {
  const statuses = bulkStatuses(action);
  if (filter.status !== undefined && !statuses.includes(filter.status)) {
    throw new InvalidArgumentError(
      `a ${action} applies to jobs that are ${statuses.join(', ')}, not ${filter.status}: pick one of those or leave status out`,
      { errors: [{ field: 'status', message: `must be one of ${statuses.join(', ')}` }] },
    );
  }
  const limit = options.limit ?? bulkLimits.defaultLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > bulkLimits.maxLimit) {
    throw new InvalidArgumentError(`limit must be an integer from 1 to ${bulkLimits.maxLimit}`, {
      errors: [{ field: 'limit', message: `must be from 1 to ${bulkLimits.maxLimit}` }],
    });
  }
  const { ids, more } = await matching(jobs, filter, filter.status ? [filter.status] : statuses, limit);
  if (options.dryRun) return { matched: ids.length, changed: 0, skipped: [], failed: [], more };
  if (action === 'delete') return { ...(await deleteAll(jobs, ids)), matched: ids.length, more };

  const skipped: string[] = [];
  const failed: { id: string; code: string; message: string }[] = [];
  let changed = 0;
  let next = 0;
  const lane = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      try {
        await (action === 'retry' ? jobs.retry(id) : jobs.cancel(id));
        changed++;
      } catch (error) {
        const failure = failureOf(id, error);
        if (movedOn.has(failure.code)) skipped.push(id);
        else failed.push(failure);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(bulkLimits.concurrency, ids.length) }, lane));
  return { matched: ids.length, changed, skipped, failed, more };
}

async function deleteAll(
  jobs: BulkJobTarget,
  ids: readonly string[],
): Promise<Pick<BulkJobResult, 'changed' | 'skipped' | 'failed'>> {
  const skipped: string[] = [];
  const failed: { id: string; code: string; message: string }[] = [];
  let changed = 0;
  for (let from = 0; from < ids.length; from += bulkLimits.deletePage) {
    const page = ids.slice(from, from + bulkLimits.deletePage);
    try {
      const deleted = new Set(await jobs.deleteMany(page));
      changed += deleted.size;
      for (const id of page) if (!deleted.has(id)) skipped.push(id);
    } catch (error) {
      for (const id of page) failed.push(failureOf(id, error));
    }
  }
  return { changed, skipped, failed };
}

/** Codes of a job that moved on since it was listed: skipped, not failed. */
const movedOn: ReadonlySet<string> = new Set([
  errorCatalogue.JOB_STATE_CONFLICT.code,
  errorCatalogue.JOB_NOT_FOUND.code,
]);

/** What a bulk result says of a job whose action threw `error`. */
function failureOf(id: string, error: unknown): { id: string; code: string; message: string } {
  return {
    id,
    code: error instanceof SpoolError ? error.code : errorCatalogue.INTERNAL.code,
    message: error instanceof Error ? error.message : String(error),
  };
}

/** The ids of the jobs matching `filter` in any of `statuses`, at most `limit`. */
async function matching(
  jobs: BulkJobTarget,
  filter: BulkJobFilter,
  statuses: readonly JobStatus[],
  limit: number,
): Promise<{ ids: string[]; more: boolean }> {
  const ids: string[] = [];
  for (const status of statuses) {
    let after: string | null = null;
    do {
      const page: { items: Job[]; next: string | null } = await jobs.list(
        { ...filter, status },
        { limit: Math.min(1_000, limit - ids.length + 1), after },
      );
      for (const job of page.items) {
        if (ids.length === limit) return { ids, more: true };
        ids.push(job.id);
      }
      after = page.next;
    } while (after !== null);
  }
  return { ids, more: false };
}
