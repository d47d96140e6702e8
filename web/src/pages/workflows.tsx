/**
 * Workflow runs of every workflow, newest first, by workflow name and run status, a page at a
 * time (cursor). The filters live in the URL (`/workflows?workflow=order&status=failed`), as on
 * the jobs search. The first page follows the runs as they move on (the stats stream's job
 * counts change), later pages stay put while read.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, withQuery } from '../api/http.js';
import type { WorkflowRunPage, WorkflowRunStatus } from '../api/types.js';
import { ErrorBox, Loading, StatusBadge, Time } from '../components/bits.js';
import { Link } from '../components/link.js';
import { PagerNav, usePager } from '../components/pager.js';
import { useNow, useResource } from '../state/resource.js';
import { navigate, paths } from '../state/router.js';
import { useLiveStats } from '../state/stats.js';
import { PageTitle } from './page-title.js';

export const runStatuses: readonly WorkflowRunStatus[] = [
  'queued',
  'running',
  'sleeping',
  'waiting',
  'retrying',
  'completed',
  'failed',
  'compensated',
  'cancelled',
];
/** The job type of a workflow's runs: `spool.workflow.<name>`. */
export const workflowTypePrefix = 'spool.workflow.';
const filterNames = ['workflow', 'status'] as const;
type Filters = Record<(typeof filterNames)[number], string>;

const pageSize = 50;

function filtersOf(query: URLSearchParams): Filters {
  return Object.fromEntries(filterNames.map((name) => [name, query.get(name) ?? ''])) as Filters;
}

export function WorkflowsPage({ query }: { query: URLSearchParams }) {
  const filters = filtersOf(query);
  const key = JSON.stringify(filters);
  const pager = usePager(key);
  const runs = useResource(
    (signal) =>
      api<WorkflowRunPage>(
        'GET',
        withQuery('/v1/workflow-runs', { ...filters, limit: pageSize, cursor: pager.cursor }),
        { signal },
      ),
    [key, pager.cursor],
  );
  const live = useLiveStats();
  // The workflows are the job types `spool.workflow.<name>` (for the name field's suggestions).
  const workflowTypes = (live.latest?.jobs.byType ?? []).filter((entry) =>
    entry.type.startsWith(workflowTypePrefix),
  );
  const names = workflowTypes.map((entry) => entry.type.slice(workflowTypePrefix.length));
  // The first page follows the runs as their jobs change state; later pages stay put while read.
  const counts = live.latest ? JSON.stringify(workflowTypes.map((entry) => entry.byState)) : null;
  useEffect(() => {
    if (counts !== null && pager.page === 1) void runs.reload();
  }, [counts]);
  useNow(5000); // relative times ("12 s ago") move on
  // Lists may come without the current step (a server that reads no steps for them): no column then.
  const withStep = runs.data?.items.some((run) => run.currentStep !== null) ?? false;

  return (
    <>
      <PageTitle>Workflows</PageTitle>
      <SearchForm filters={filters} names={names} />
      <section aria-labelledby="runs-title">
        <div class="toolbar">
          <h2 id="runs-title">
            Runs
            {runs.data ? (
              <span class="count">
                {runs.data.items.length}
                {runs.data.next ? '+' : ''}
              </span>
            ) : null}
          </h2>
          <button type="button" onClick={() => void runs.reload()} disabled={runs.loading}>
            Refresh
          </button>
        </div>
        {runs.error ? <ErrorBox error={runs.error} /> : null}
        {!runs.data ? (
          runs.error ? null : (
            <Loading what="workflow runs" />
          )
        ) : runs.data.items.length === 0 ? (
          <p class="muted" data-empty="runs">
            {filters.workflow === '' && filters.status === ''
              ? 'No workflow runs yet. Start one with POST /v1/workflows/<name>/runs or workflows.start().'
              : 'No workflow run matches these filters.'}
          </p>
        ) : (
          <div class="table-wrap">
            <table class="data" aria-labelledby="runs-title" aria-busy={runs.loading}>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Workflow</th>
                  <th scope="col">Status</th>
                  {withStep ? <th scope="col">Current step</th> : null}
                  <th scope="col" class="wide-only">
                    Error
                  </th>
                  <th scope="col" class="wide-only">
                    Key
                  </th>
                  <th scope="col" class="wide-only">
                    Created
                  </th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {runs.data.items.map((run) => (
                  <tr key={run.id} data-run={run.id} data-run-status={run.status}>
                    <th scope="row">
                      <Link href={paths.workflowRun(run.id)} class="mono job-id">
                        {run.id}
                      </Link>
                    </th>
                    <td>
                      <Link href={paths.workflows({ workflow: run.workflow })} class="mono">
                        {run.workflow}
                      </Link>
                    </td>
                    <td>
                      <StatusBadge status={run.status} />
                    </td>
                    {withStep ? (
                      <td class="mono" data-col="current-step">
                        {run.currentStep ?? ''}
                      </td>
                    ) : null}
                    <td
                      class="error-cell job-error wide-only"
                      title={run.error ? `${run.error.name}: ${run.error.message}` : undefined}
                    >
                      {run.error ? (
                        <>
                          <strong>{run.error.name}</strong> <span class="mono">{run.error.message}</span>
                        </>
                      ) : null}
                    </td>
                    <td class="mono wide-only">{run.key ?? ''}</td>
                    <td class="wide-only">
                      <Time at={run.createdAt} />
                    </td>
                    <td>
                      <Time at={run.updatedAt} relative />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <PagerNav pager={pager} next={runs.data?.next ?? null} label="Workflow runs" />
      </section>
    </>
  );
}

function SearchForm({ filters, names }: { filters: Filters; names: readonly string[] }) {
  const [draft, setDraft] = useState<Filters>(filters);
  // Back/forward or a link changes the URL: the form shows that search.
  useEffect(() => setDraft(filters), [JSON.stringify(filters)]);

  const submit = (event: Event) => {
    event.preventDefault();
    const query = Object.fromEntries(Object.entries(draft).filter(([, value]) => value.trim() !== ''));
    navigate(paths.workflows(query));
  };

  return (
    <form class="filters" role="search" aria-label="Search workflow runs" onSubmit={submit}>
      <div class="field">
        <label for="filter-workflow">Workflow</label>
        <input
          id="filter-workflow"
          name="workflow"
          value={draft.workflow}
          list="workflow-names"
          placeholder="any"
          onInput={(event) => setDraft({ ...draft, workflow: event.currentTarget.value })}
        />
        <datalist id="workflow-names">
          {names.map((name) => (
            <option key={name} value={name} />
          ))}
        </datalist>
      </div>
      <div class="field">
        <label for="filter-status">Status</label>
        <select
          id="filter-status"
          name="status"
          value={draft.status}
          onChange={(event) => setDraft({ ...draft, status: event.currentTarget.value })}
        >
          <option value="">any</option>
          {runStatuses.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
      </div>
      <div class="field actions">
        <button type="submit" class="primary">
          Search
        </button>
        <button
          type="button"
          onClick={() => {
            setDraft(filtersOf(new URLSearchParams()));
            navigate(paths.workflows());
          }}
        >
          Clear
        </button>
      </div>
    </form>
  );
}
