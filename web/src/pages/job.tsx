/**
 * One job: its state and a timeline (created, each attempt with its error, finished), progress,
 * payload, result or error, its children, and the delivery attempts of its completion webhook;
 * cancel, retry and delete. Follows the job's own event stream,
 * so the screen changes as the job runs.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type ApiError, seg, withQuery } from '../api/http.js';
import { followStream } from '../api/sse.js';
import type { DeliveryPage, Job, JobPage } from '../api/types.js';
import { ErrorBox, Json, Loading, StatusBadge, Time } from '../components/bits.js';
import { useConfirm } from '../components/dialog.js';
import { Link } from '../components/link.js';
import { formatSeconds } from '../format.js';
import { notify } from '../state/notices.js';
import { useResource } from '../state/resource.js';
import { navigate, paths } from '../state/router.js';
import { PageTitle } from './page-title.js';
import { DeliveryTable } from './webhooks.js';
import { workflowTypePrefix } from './workflows.js';
import { useCan } from '../state/scopes.js';

const cancellable = new Set(['waiting', 'scheduled', 'queued', 'retrying', 'active']);
const retryable = new Set(['dead', 'cancelled']);
const deletable = new Set(['completed', 'dead', 'cancelled']);

export function JobPage({ id }: { id: string }) {
  const job = useResource((signal) => api<Job>('GET', `/v1/jobs/${seg(id)}`, { signal }), [id]);
  const children = useResource(
    (signal) => api<JobPage>('GET', withQuery('/v1/jobs', { parentId: id, limit: 100 }), { signal }),
    [id],
  );
  // The attempts of the job's completion webhook, if it has a callbackUrl (they begin once it
  // finishes, so they are looked for again at each change of the job).
  const callbackUrl = job.data?.callbackUrl ?? null;
  const createdAt = job.data?.createdAt;
  const deliveries = useResource(
    (signal) =>
      callbackUrl === null || createdAt === undefined
        ? Promise.resolve(null)
        : api<DeliveryPage>(
            'GET',
            withQuery('/v1/webhooks/deliveries', { jobId: id, since: createdAt, limit: 100 }),
            { signal },
          ),
    [id, callbackUrl, createdAt, job.data?.status, job.data?.updatedAt],
  );
  // A delivery being retried changes without the job changing: look again while one is.
  const retrying = deliveries.data?.items.at(-1)?.outcome === 'retrying';
  useEffect(() => {
    if (!retrying) return;
    const timer = setInterval(() => void deliveries.reload(), 5000);
    return () => clearInterval(timer);
  }, [id, retrying]);
  const [busy, setBusy] = useState(false);
  // Bumped by a retry: the job's stream ends once the job is finished, so follow it anew.
  const [runs, setRuns] = useState(0);
  const [dialog, confirm] = useConfirm();

  // The job's events: each one is a change worth reloading for (status, attempt, progress).
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    void followStream(`/v1/jobs/${seg(id)}/events`, {
      signal: controller.signal,
      onEvent: () => {
        // A replayed history arrives as a burst: one reload for all of it.
        clearTimeout(timer);
        timer = setTimeout(() => {
          void job.reload();
          void children.reload();
        }, 150);
      },
    });
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [id, runs]);

  // A running job's log lines are not events: while it is active, look again every 2 s.
  const active = job.data?.status === 'active';
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => void job.reload(), 2000);
    return () => clearInterval(timer);
  }, [id, active]);

  const act = async (action: 'cancel' | 'retry' | 'delete') => {
    if (action === 'delete') {
      const ok = await confirm({
        title: `Delete job ${id}?`,
        body: <p>Its record is deleted with its payload, result, errors and logs. This cannot be undone.</p>,
        confirmLabel: 'Delete job',
        danger: true,
      });
      if (!ok) return;
    }
    if (action === 'cancel') {
      const ok = await confirm({
        title: `Cancel job ${id}?`,
        body: (
          <p>
            A waiting job never runs; a running one is told to stop (its handler's signal fires) and whatever
            it finishes is discarded. It can be retried later.
          </p>
        ),
        confirmLabel: 'Cancel job',
        danger: true,
      });
      if (!ok) return;
    }
    setBusy(true);
    try {
      if (action === 'delete') {
        await api<null>('DELETE', withQuery(`/v1/jobs/${seg(id)}`, { purge: 'true' }));
        notify(`Deleted job ${id}.`);
        navigate(paths.jobs(job.data ? { type: job.data.type } : {}));
        return;
      }
      if (action === 'cancel') await api<Job>('DELETE', `/v1/jobs/${seg(id)}`);
      else {
        await api<Job>('POST', `/v1/jobs/${seg(id)}/retry`);
        setRuns((count) => count + 1);
      }
      notify(action === 'cancel' ? `Cancelled job ${id}.` : `Job ${id} starts over.`);
      await job.reload();
    } catch (error) {
      notify(`Could not ${action} job ${id}: ${(error as ApiError).message}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  const data = job.data;
  const canAdmin = useCan('admin');
  return (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <Link href={paths.jobs()}>Jobs</Link> /{' '}
        {data ? <Link href={paths.jobs({ type: data.type })}>{data.type}</Link> : '…'}
      </nav>
      <PageTitle
        title={`Job ${id}`}
        extra={
          data ? (
            <div class="head-actions">
              <StatusBadge status={data.status} />
              {canAdmin && cancellable.has(data.status) ? (
                <button type="button" class="danger" disabled={busy} onClick={() => void act('cancel')}>
                  Cancel job…
                </button>
              ) : null}
              {canAdmin && retryable.has(data.status) ? (
                <button type="button" class="primary" disabled={busy} onClick={() => void act('retry')}>
                  Retry
                </button>
              ) : null}
              {canAdmin && deletable.has(data.status) ? (
                <button type="button" class="danger" disabled={busy} onClick={() => void act('delete')}>
                  Delete…
                </button>
              ) : null}
            </div>
          ) : null
        }
      >
        Job <span class="mono">{id}</span>
      </PageTitle>
      {job.error ? (
        <ErrorBox error={job.error} action={<Link href={paths.jobs()}>Back to the job search</Link>} />
      ) : null}
      {!data ? (
        job.error ? null : (
          <Loading what="the job" />
        )
      ) : (
        <div class="job-layout">
          <section class="panel" aria-labelledby="facts-title">
            <h2 id="facts-title">Facts</h2>
            <dl class="pairs">
              <Pair label="Type" value={<span class="mono">{data.type}</span>} />
              {data.type.startsWith(workflowTypePrefix) ? (
                <Pair
                  label="Workflow run"
                  value={<Link href={paths.workflowRun(data.id)}>steps and actions</Link>}
                />
              ) : null}
              <Pair label="State" value={<span data-job-status={data.status}>{data.status}</span>} />
              <Pair label="Attempts" value={`${data.attempts} of ${data.maxAttempts}`} />
              <Pair label="Priority" value={data.priority} />
              <Pair label="Key" value={data.key ?? <span class="muted">none</span>} />
              <Pair label="Runs at" value={<Time at={data.runAt} />} />
              {data.parentId ? (
                <Pair label="Parent" value={<Link href={paths.job(data.parentId)}>{data.parentId}</Link>} />
              ) : null}
              {data.pendingChildren > 0 ? (
                <Pair label="Waiting for" value={`${data.pendingChildren} children`} />
              ) : null}
              {data.callbackUrl ? (
                <Pair label="Callback" value={<span class="mono">{data.callbackUrl}</span>} />
              ) : null}
            </dl>
            <label for="job-progress">Progress {Math.round(data.progress)}%</label>
            <progress id="job-progress" max={100} value={data.progress} />
            {data.progressData !== null && data.progressData !== undefined ? (
              <Json label="Progress data" value={data.progressData} />
            ) : null}
          </section>
          <section class="panel" aria-labelledby="timeline-title">
            <h2 id="timeline-title">Timeline</h2>
            <Timeline job={data} />
          </section>
          <section class="panel" aria-labelledby="payload-title">
            <h2 id="payload-title">Payload</h2>
            <Json label="Payload" value={data.payload} />
            {Object.keys(data.metadata).length > 0 ? (
              <>
                <h3>Metadata</h3>
                <Json label="Metadata" value={data.metadata} />
              </>
            ) : null}
          </section>
          <section class="panel" aria-labelledby="outcome-title">
            <h2 id="outcome-title">
              {data.status === 'completed' ? 'Result' : data.error ? 'Error' : 'Outcome'}
            </h2>
            {data.status === 'completed' ? (
              <Json label="Result" value={data.result} />
            ) : data.error ? (
              <FailureDetail failure={data.error} />
            ) : (
              <p class="muted">Not finished.</p>
            )}
          </section>
          {data.logs.length > 0 ? (
            <section class="panel wide" aria-labelledby="logs-title">
              <h2 id="logs-title">Log</h2>
              <ol class="job-log mono" aria-label="Lines the handler logged">
                {data.logs.map((line, index) => (
                  <li key={index} data-level={line.level}>
                    <Time at={line.at} /> <span class="muted">#{line.attempt}</span>{' '}
                    {line.level === 'info' ? null : <strong>{line.level.toUpperCase()} </strong>}
                    {line.message}
                  </li>
                ))}
              </ol>
            </section>
          ) : null}
          {data.callbackUrl ? (
            <section class="panel wide" aria-labelledby="webhook-title">
              <h2 id="webhook-title">Completion webhook</h2>
              {deliveries.error ? (
                <ErrorBox error={deliveries.error} />
              ) : deliveries.data && deliveries.data.items.length > 0 ? (
                <DeliveryTable items={deliveries.data.items} />
              ) : (
                <p class="muted" data-empty="deliveries">
                  {data.status === 'completed' || data.status === 'dead' || data.status === 'cancelled'
                    ? 'No delivery attempt logged yet.'
                    : 'Sent when the job finishes.'}
                </p>
              )}
              <p class="small">
                <Link href={paths.webhooks({ outcome: 'all' })}>All webhook deliveries</Link>
              </p>
            </section>
          ) : null}
          {children.data && children.data.items.length > 0 ? (
            <section class="panel wide" aria-labelledby="children-title">
              <h2 id="children-title">Children</h2>
              <ul class="plain">
                {children.data.items.map((child) => (
                  <li key={child.id}>
                    <Link href={paths.job(child.id)} class="mono">
                      {child.id}
                    </Link>{' '}
                    <span class="mono">{child.type}</span> <StatusBadge status={child.status} />
                  </li>
                ))}
              </ul>
            </section>
          ) : null}
        </div>
      )}
      {dialog}
    </>
  );
}

function Pair({ label, value }: { label: string; value: ComponentChildren }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

interface Step {
  readonly at: string;
  readonly tone: string;
  readonly text: ComponentChildren;
}

function Timeline({ job }: { job: Job }) {
  const steps: Step[] = [{ at: job.createdAt, tone: 'neutral', text: 'Created' }];
  if (Date.parse(job.runAt) - Date.parse(job.createdAt) > 1000 && job.history.length === 0) {
    steps.push({ at: job.runAt, tone: 'neutral', text: 'Due to run' });
  }
  for (const attempt of job.history) {
    steps.push({ at: attempt.startedAt, tone: 'info', text: `Attempt ${attempt.attempt} started` });
    if (attempt.finishedAt) {
      const took = formatSeconds((Date.parse(attempt.finishedAt) - Date.parse(attempt.startedAt)) / 1000);
      steps.push(
        attempt.error
          ? {
              at: attempt.finishedAt,
              tone: 'bad',
              text: (
                <>
                  Attempt {attempt.attempt} failed after {took}: <strong>{attempt.error.name}</strong>{' '}
                  <span class="mono">{attempt.error.message}</span>
                  {attempt.error.stack ? <StackTrace stack={attempt.error.stack} /> : null}
                </>
              ),
            }
          : {
              at: attempt.finishedAt,
              tone: 'ok',
              text: `Attempt ${attempt.attempt} succeeded after ${took}`,
            },
      );
    }
  }
  if (job.status === 'retrying') steps.push({ at: job.runAt, tone: 'warn', text: 'Next attempt' });
  if (job.finishedAt && job.status !== 'completed') {
    steps.push({
      at: job.finishedAt,
      tone: job.status === 'dead' ? 'bad' : 'muted',
      text: `Finished: ${job.status}`,
    });
  } else if (job.finishedAt) {
    steps.push({ at: job.finishedAt, tone: 'ok', text: 'Completed' });
  }
  return (
    <ol class="timeline">
      {steps.map((step, index) => (
        <li key={index} class={`tone-${step.tone}`}>
          <Time at={step.at} /> <span>{step.text}</span>
        </li>
      ))}
    </ol>
  );
}

/** A failure: its name and message, and where it was thrown. */
function FailureDetail({ failure }: { failure: { name: string; message: string; stack?: string } }) {
  return (
    <div class="error-cell">
      <p>
        <strong>{failure.name}</strong> <span class="mono">{failure.message}</span>
      </p>
      {failure.stack ? <StackTrace stack={failure.stack} open /> : null}
    </div>
  );
}

/** A stack's frames, folded away unless `open`: a timeline of attempts stays readable. */
function StackTrace({ stack, open = false }: { stack: string; open?: boolean }) {
  return (
    <details class="stack" open={open}>
      <summary>Stack</summary>
      <pre class="mono">{stack}</pre>
    </details>
  );
}
