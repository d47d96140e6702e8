/**
 * Job search: by type, state, key and creation time, newest first, a page at a time (cursor).
 * The filters live in the URL (`/jobs?type=email.send&status=dead`), so a search can be
 * bookmarked or shared, and Back returns to the previous one.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, type ApiError, withQuery } from '../api/http.js';
import type { BulkJobsResult, JobPage, JobStatus } from '../api/types.js';
import { ErrorBox, Loading, StatusBadge, Time } from '../components/bits.js';
import { useConfirm } from '../components/dialog.js';
import { Link } from '../components/link.js';
import { PagerNav, usePager } from '../components/pager.js';
import { formatCount, fromLocalInput, toLocalInput } from '../format.js';
import { notify } from '../state/notices.js';
import { useNow, useResource } from '../state/resource.js';
import { navigate, paths } from '../state/router.js';
import { useLiveStats } from '../state/stats.js';
import { PageTitle } from './page-title.js';
import { useCan } from '../state/scopes.js';

const statuses: readonly JobStatus[] = [
  'waiting',
  'scheduled',
  'queued',
  'active',
  'retrying',
  'completed',
  'dead',
  'cancelled',
];
const filterNames = ['type', 'status', 'key', 'since', 'until'] as const;
/** The states each bulk action applies to (as the server's jobs layer decides). */
type BulkAction = 'retry' | 'cancel' | 'delete';
const bulkStatuses: Record<BulkAction, readonly JobStatus[]> = {
  retry: ['dead', 'cancelled'],
  cancel: ['waiting', 'scheduled', 'queued', 'active', 'retrying'],
  delete: ['completed', 'dead', 'cancelled'],
};
/** How each bulk action is named in its question, its button and its report. */
const bulkWords: Record<BulkAction, { verb: string; done: string; explain: string }> = {
  retry: {
    verb: 'Retry',
    done: 'Retried',
    explain: 'Every dead or cancelled job matching these filters runs again from its first attempt.',
  },
  cancel: {
    verb: 'Cancel',
    done: 'Cancelled',
    explain:
      'Every unfinished job matching these filters is cancelled: waiting ones never run, running ones are told to stop. They can be retried later.',
  },
  delete: {
    verb: 'Delete',
    done: 'Deleted',
    explain:
      'The records of every finished job (completed, dead or cancelled) matching these filters are deleted, with their payloads, results, errors and logs. This cannot be undone.',
  },
};
type Filters = Record<(typeof filterNames)[number], string>;

const pageSize = 50;

function filtersOf(query: URLSearchParams): Filters {
  return Object.fromEntries(filterNames.map((name) => [name, query.get(name) ?? ''])) as Filters;
}

export function JobsPage({ query }: { query: URLSearchParams }) {
  const filters = filtersOf(query);
  const key = JSON.stringify(filters);
  const pager = usePager(key);
  const jobs = useResource(
    (signal) =>
      api<JobPage>('GET', withQuery('/v1/jobs', { ...filters, limit: pageSize, cursor: pager.cursor }), {
        signal,
      }),
    [key, pager.cursor],
  );
  const live = useLiveStats();
  const types = live.latest?.jobs.byType.map((entry) => entry.type) ?? [];
  const byState = live.latest?.jobs.byState;
  // The first page follows the jobs as they change state; later pages stay put while read.
  const counts = byState ? JSON.stringify(byState) : null;
  useEffect(() => {
    if (counts !== null && pager.page === 1) void jobs.reload();
  }, [counts]);
  useNow(5000); // relative times ("12 s ago") move on
  const [dialog, confirm] = useConfirm();
  const [busy, setBusy] = useState(false);
  const canAdmin = useCan('admin');
  // Bulk actions take the search's filters; a state outside what an action applies to hides it.
  const canRetry = filters.status === '' || bulkStatuses.retry.includes(filters.status as JobStatus);
  const canCancel = filters.status === '' || bulkStatuses.cancel.includes(filters.status as JobStatus);
  const canDelete = filters.status === '' || bulkStatuses.delete.includes(filters.status as JobStatus);
  const filtered = filterNames.some((name) => filters[name] !== '') && canAdmin;

  const bulk = async (action: BulkAction) => {
    const words = bulkWords[action];
    const filter = Object.fromEntries(
      filterNames
        .filter((name) => filters[name] !== '')
        .map((name) => [
          name,
          name === 'since' || name === 'until' ? new Date(filters[name]).toISOString() : filters[name],
        ]),
    );
    setBusy(true);
    try {
      const counted = await api<BulkJobsResult>('POST', '/v1/jobs/bulk', {
        body: { action, filter, dryRun: true },
      });
      if (counted.matched === 0) {
        notify(`No job matching these filters can be ${words.done.toLowerCase()}.`);
        return;
      }
      const many = `${counted.more ? 'more than ' : ''}${formatCount(counted.matched)} job${counted.matched === 1 ? '' : 's'}`;
      const ok = await confirm({
        title: `${words.verb} ${many}?`,
        body: <p>{words.explain}</p>,
        confirmLabel: `${words.verb} ${many}`,
        danger: action !== 'retry',
      });
      if (!ok) return;
      const result = await api<BulkJobsResult>('POST', '/v1/jobs/bulk', { body: { action, filter } });
      notify(
        `${words.done} ${formatCount(result.changed)} of ${formatCount(result.matched)} jobs` +
          (result.skipped.length > 0 ? `; ${formatCount(result.skipped.length)} had moved on` : '') +
          (result.failed.length > 0
            ? `; ${formatCount(result.failed.length)} failed: ${result.failed[0]!.message}`
            : '') +
          (result.more ? '; more match: run it again for the rest' : '') +
          '.',
        result.failed.length > 0 ? 'error' : undefined,
      );
      await jobs.reload();
    } catch (error) {
      notify(`Could not ${action} the matching jobs: ${(error as ApiError).message}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageTitle>Jobs</PageTitle>
      <SearchForm filters={filters} types={types} byState={byState} />
      <section aria-labelledby="results-title">
        <div class="toolbar">
          <h2 id="results-title">
            Results
            {jobs.data ? (
              <span class="count">
                {jobs.data.items.length}
                {jobs.data.next ? '+' : ''}
              </span>
            ) : null}
          </h2>
          <button type="button" onClick={() => void jobs.reload()} disabled={jobs.loading}>
            Refresh
          </button>
          {filtered && canRetry ? (
            <button type="button" onClick={() => void bulk('retry')} disabled={busy}>
              Retry all matching
            </button>
          ) : null}
          {filtered && canCancel ? (
            <button type="button" class="danger" onClick={() => void bulk('cancel')} disabled={busy}>
              Cancel all matching
            </button>
          ) : null}
          {filtered && canDelete ? (
            <button type="button" class="danger" onClick={() => void bulk('delete')} disabled={busy}>
              Delete all matching
            </button>
          ) : null}
        </div>
        {dialog}
        {jobs.error ? <ErrorBox error={jobs.error} /> : null}
        {!jobs.data ? (
          jobs.error ? null : (
            <Loading what="jobs" />
          )
        ) : jobs.data.items.length === 0 ? (
          <p class="muted" data-empty="jobs">
            No job matches these filters.
          </p>
        ) : (
          <div class="table-wrap">
            <table class="data" aria-labelledby="results-title" aria-busy={jobs.loading}>
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Type</th>
                  <th scope="col">State</th>
                  <th scope="col" class="num">
                    Attempts
                  </th>
                  <th scope="col" class="num wide-only">
                    Progress
                  </th>
                  <th scope="col" class="wide-only">
                    Error
                  </th>
                  <th scope="col" class="wide-only">
                    Key
                  </th>
                  <th scope="col" class="wide-only">
                    Created
                  </th>
                  <th scope="col" class="wide-only">
                    Updated
                  </th>
                </tr>
              </thead>
              <tbody>
                {jobs.data.items.map((job) => (
                  <tr key={job.id} data-job={job.id}>
                    <th scope="row">
                      <Link href={paths.job(job.id)} class="mono job-id">
                        {job.id}
                      </Link>
                    </th>
                    <td class="mono">{job.type}</td>
                    <td>
                      <StatusBadge status={job.status} />
                    </td>
                    <td class="num">
                      {job.attempts}/{job.maxAttempts}
                    </td>
                    <td class="num wide-only">{job.progress > 0 ? `${Math.round(job.progress)}%` : ''}</td>
                    <td
                      class="error-cell job-error wide-only"
                      title={job.error ? `${job.error.name}: ${job.error.message}` : undefined}
                    >
                      {job.error ? (
                        <>
                          <strong>{job.error.name}</strong> <span class="mono">{job.error.message}</span>
                        </>
                      ) : null}
                    </td>
                    <td class="mono wide-only">{job.key ?? ''}</td>
                    <td class="wide-only">
                      <Time at={job.createdAt} />
                    </td>
                    <td class="wide-only">
                      <Time at={job.updatedAt} relative />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <PagerNav pager={pager} next={jobs.data?.next ?? null} label="Job results" />
      </section>
    </>
  );
}

function SearchForm({
  filters,
  types,
  byState,
}: {
  filters: Filters;
  types: readonly string[];
  byState: Readonly<Record<string, number>> | undefined;
}) {
  const [draft, setDraft] = useState<Filters>(filters);
  // Back/forward or a link changes the URL: the form shows that search.
  useEffect(() => setDraft(filters), [JSON.stringify(filters)]);
  const field = (name: keyof Filters) => ({
    id: `filter-${name}`,
    name,
    value: draft[name],
    onInput: (event: { currentTarget: { value: string } }) =>
      setDraft({ ...draft, [name]: event.currentTarget.value }),
  });

  const submit = (event: Event) => {
    event.preventDefault();
    const query = Object.fromEntries(Object.entries(draft).filter(([, value]) => value.trim() !== ''));
    navigate(paths.jobs(query));
  };

  return (
    <form class="filters" role="search" aria-label="Search jobs" onSubmit={submit}>
      <div class="field">
        <label for="filter-type">Type</label>
        <input {...field('type')} list="job-types" placeholder="any" />
        <datalist id="job-types">
          {types.map((type) => (
            <option key={type} value={type} />
          ))}
        </datalist>
      </div>
      <div class="field">
        <label for="filter-status">State</label>
        <select
          id="filter-status"
          name="status"
          value={draft.status}
          onChange={(event) => setDraft({ ...draft, status: event.currentTarget.value })}
        >
          <option value="">any</option>
          {statuses.map((status) => (
            <option key={status} value={status}>
              {status}
              {byState ? ` (${formatCount(byState[status] ?? 0)})` : ''}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="filter-key">Key</label>
        <input {...field('key')} placeholder="any" />
      </div>
      <div class="field">
        <label for="filter-since">Created from</label>
        <input
          id="filter-since"
          type="datetime-local"
          step={1}
          value={toLocalInput(draft.since)}
          onInput={(event) => setDraft({ ...draft, since: fromLocalInput(event.currentTarget.value) })}
        />
      </div>
      <div class="field">
        <label for="filter-until">Created before</label>
        <input
          id="filter-until"
          type="datetime-local"
          step={1}
          value={toLocalInput(draft.until)}
          onInput={(event) => setDraft({ ...draft, until: fromLocalInput(event.currentTarget.value) })}
        />
      </div>
      <div class="field actions">
        <button type="submit" class="primary">
          Search
        </button>
        <button
          type="button"
          onClick={() => {
            setDraft(filtersOf(new URLSearchParams()));
            navigate(paths.jobs());
          }}
        >
          Clear
        </button>
      </div>
    </form>
  );
}
