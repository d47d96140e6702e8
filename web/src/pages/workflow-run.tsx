/**
 * One workflow run: its status, input, output or error, the compensation that failed, key,
 * metadata and deadline, and the timeline of its steps in the order the code called them — steps, sleeps,
 * waits for events, child runs, then the compensations that undid completed steps — each with
 * its attempts, times, duration, output or error, and when a sleeping or retrying one is due.
 * Send an event, cancel, and retry a failed run from its failed step. Looks again every second
 * while the run is not finished.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, type ApiError, seg } from '../api/http.js';
import type { WorkflowEventAccepted, WorkflowRun, WorkflowStep } from '../api/types.js';
import { ErrorBox, Json, Loading, StatusBadge, Time } from '../components/bits.js';
import { Modal, useConfirm } from '../components/dialog.js';
import { Link } from '../components/link.js';
import { formatRelative, formatSeconds, preview } from '../format.js';
import { notify } from '../state/notices.js';
import { useInterval, useNow, useResource } from '../state/resource.js';
import { paths } from '../state/router.js';
import { useCan } from '../state/scopes.js';
import { PageTitle } from './page-title.js';

/** The statuses a run ends in: nothing changes after them (but a retry of a failed one). */
const finished = new Set(['completed', 'failed', 'compensated', 'cancelled']);
const compensationPrefix = '#compensate.';

export function WorkflowRunPage({ id }: { id: string }) {
  const run = useResource(
    (signal) => api<WorkflowRun>('GET', `/v1/workflow-runs/${seg(id)}`, { signal }),
    [id],
  );
  const data = run.data;
  const running = data !== undefined && !finished.has(data.status);
  // A run moves on in a worker: look again every second until it has ended.
  useInterval(() => void run.reload(), running ? 1000 : null);
  const now = useNow(1000);
  const [busy, setBusy] = useState(false);
  const [sending, setSending] = useState(false);
  const [dialog, confirm] = useConfirm();
  const canAdmin = useCan('admin');
  const canProduce = useCan('produce');

  const cancel = async () => {
    const ok = await confirm({
      title: `Cancel run ${id}?`,
      body: (
        <p>
          Its next step, sleep or wait stops it; the compensations of its completed steps run, newest first,
          and it ends cancelled. A cancelled run cannot be resumed.
        </p>
      ),
      confirmLabel: 'Cancel run',
      danger: true,
    });
    if (!ok) return;
    setBusy(true);
    try {
      await api<WorkflowRun>('POST', `/v1/workflow-runs/${seg(id)}/cancel`);
      notify(`Cancelling run ${id}: its compensations run, then it ends cancelled.`);
      await run.reload();
    } catch (error) {
      notify(`Could not cancel run ${id}: ${(error as ApiError).message}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  const retry = async () => {
    setBusy(true);
    try {
      await api<WorkflowRun>('POST', `/v1/workflow-runs/${seg(id)}/retry`);
      notify(`Run ${id} resumes from its failed step.`);
      await run.reload();
    } catch (error) {
      notify(`Could not retry run ${id}: ${(error as ApiError).message}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <Link href={paths.workflows()}>Workflows</Link> /{' '}
        {data ? <Link href={paths.workflows({ workflow: data.workflow })}>{data.workflow}</Link> : '…'}
      </nav>
      <PageTitle
        title={`Run ${id}`}
        extra={
          data ? (
            <div class="head-actions">
              <StatusBadge status={data.status} />
              {canProduce && !finished.has(data.status) ? (
                <button type="button" disabled={busy} onClick={() => setSending(true)}>
                  Send event…
                </button>
              ) : null}
              {canAdmin && data.status === 'failed' ? (
                <button type="button" class="primary" disabled={busy} onClick={() => void retry()}>
                  Retry from failed step
                </button>
              ) : null}
              {canAdmin && !finished.has(data.status) ? (
                <button type="button" class="danger" disabled={busy} onClick={() => void cancel()}>
                  Cancel run…
                </button>
              ) : null}
            </div>
          ) : null
        }
      >
        Run <span class="mono">{id}</span>
      </PageTitle>
      {run.error ? (
        <ErrorBox
          error={run.error}
          action={<Link href={paths.workflows()}>Back to the workflow runs</Link>}
        />
      ) : null}
      {!data ? (
        run.error ? null : (
          <Loading what="the run" />
        )
      ) : (
        <div class="job-layout">
          <section class="panel" aria-labelledby="facts-title">
            <h2 id="facts-title">Facts</h2>
            <dl class="pairs">
              <Pair
                label="Workflow"
                value={
                  <Link href={paths.workflows({ workflow: data.workflow })} class="mono">
                    {data.workflow}
                  </Link>
                }
              />
              <Pair label="Status" value={<span data-run-status={data.status}>{data.status}</span>} />
              <Pair
                label="Current step"
                value={
                  data.currentStep === null ? (
                    <span class="muted">none</span>
                  ) : (
                    <span class="mono">{data.currentStep}</span>
                  )
                }
              />
              <Pair label="Key" value={data.key ?? <span class="muted">none</span>} />
              <Pair label="Created" value={<Time at={data.createdAt} />} />
              <Pair
                label="Updated"
                value={
                  <>
                    <Time at={data.updatedAt} />{' '}
                    <span class="muted small">{formatRelative(data.updatedAt, now)}</span>
                  </>
                }
              />
              {data.deadline && !data.finishedAt ? (
                <Pair
                  label="Times out"
                  value={
                    <>
                      <Time at={data.deadline} />{' '}
                      <span class="muted small">{formatRelative(data.deadline, now)}</span>
                    </>
                  }
                />
              ) : null}
              {data.finishedAt ? (
                <Pair
                  label="Finished"
                  value={
                    <>
                      <Time at={data.finishedAt} />{' '}
                      <span class="muted small">after {duration(data.createdAt, data.finishedAt)}</span>
                    </>
                  }
                />
              ) : null}
              <Pair label="As a job" value={<Link href={paths.job(data.id)}>job {data.id}</Link>} />
            </dl>
            {Object.keys(data.metadata).length > 0 ? (
              <>
                <h3>Metadata</h3>
                <Json label="Metadata" value={data.metadata} />
              </>
            ) : null}
          </section>
          <section class="panel" aria-labelledby="input-title">
            <h2 id="input-title">Input</h2>
            <Json label="Input" value={data.input} />
          </section>
          <section class="panel" aria-labelledby="outcome-title">
            <h2 id="outcome-title">
              {data.status === 'completed' ? 'Output' : data.error ? 'Error' : 'Outcome'}
            </h2>
            {data.status === 'completed' ? (
              <Json label="Output" value={data.output} />
            ) : data.error ? (
              <FailureDetail failure={data.error} />
            ) : (
              <p class="muted">Not finished.</p>
            )}
            {data.status === 'compensated' ? (
              <p class="small" data-outcome="compensated">
                Every completed step with a compensation was undone.
              </p>
            ) : null}
            {data.compensationError ? (
              <div data-compensation-error>
                <h3>
                  Compensation failed: <span class="mono">{undoLabel(data.compensationError.stepId)}</span>
                </h3>
                <FailureDetail failure={data.compensationError.error} />
              </div>
            ) : null}
          </section>
          <section class="panel wide" aria-labelledby="steps-title">
            <h2 id="steps-title">
              Steps <span class="count">{data.steps.length}</span>
            </h2>
            <StepTimeline steps={data.steps} now={now} ended={!running} />
          </section>
        </div>
      )}
      {sending && data ? (
        <SendEventDialog
          run={data}
          onClose={() => setSending(false)}
          onSent={() => {
            setSending(false);
            void run.reload();
          }}
        />
      ) : null}
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

/** From one time to another; times are kept to the millisecond, so less reads "< 1 ms". */
function duration(from: string, to: string): string {
  const ms = Date.parse(to) - Date.parse(from);
  return ms < 1 ? '< 1 ms' : formatSeconds(ms / 1000);
}

/** `undo charge` for the compensation of step `charge`. */
function undoLabel(stepId: string): string {
  return `undo ${stepId}`;
}

/** The event name a wait's id (`#event.<name>.<n>`) waits for. */
function eventName(id: string): string {
  return id.slice('#event.'.length, id.lastIndexOf('.'));
}

const kindLabels: Record<WorkflowStep['kind'], string> = {
  step: 'step',
  sleep: 'sleep',
  event: 'event',
  child: 'child run',
  compensation: 'compensation',
};
const stepTone: Record<WorkflowStep['status'], string> = {
  completed: 'ok',
  failed: 'bad',
  retrying: 'warn',
  sleeping: 'info',
  waiting: 'info',
};

/** What a step is, in words: its id, or `sleep 1`, `wait for "approved"`, `undo charge`. */
function stepLabel(step: WorkflowStep): ComponentChildren {
  switch (step.kind) {
    case 'compensation':
      return (
        <>
          <span aria-hidden="true">↶ </span>
          {undoLabel(step.id.slice(compensationPrefix.length))}
        </>
      );
    case 'sleep':
      return `sleep ${step.id.slice('#sleep.'.length)}`;
    case 'event':
      return (
        <>
          wait for <span class="mono">{eventName(step.id)}</span>
        </>
      );
    default:
      return step.id;
  }
}

/** Every recorded step in order (the server sends compensations after the code's own steps). */
function StepTimeline({
  steps,
  now,
  ended,
}: {
  steps: readonly WorkflowStep[];
  now: number;
  /** The run has ended: a step left unfinished (a wait the run was cancelled in) no longer runs. */
  ended: boolean;
}) {
  if (steps.length === 0) return <p class="muted">No step recorded yet.</p>;
  return (
    <div class="table-wrap">
      <table class="data steps">
        <caption class="visually-hidden">
          Steps in the order the code called them; compensations, which undo completed steps, last
        </caption>
        <thead>
          <tr>
            <th scope="col" class="num">
              #
            </th>
            <th scope="col">Step</th>
            <th scope="col">Kind</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">
              Attempts
            </th>
            <th scope="col">Started</th>
            <th scope="col">Finished</th>
            <th scope="col" class="num">
              Took
            </th>
            <th scope="col">Output or error</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((step, index) => (
            <tr
              key={step.id}
              data-step={step.id}
              data-step-kind={step.kind}
              data-step-status={step.status}
              class={step.kind === 'compensation' ? 'compensation' : undefined}
            >
              <td class="num muted">{index + 1}</td>
              <th scope="row" title={step.id}>
                {stepLabel(step)}
              </th>
              <td>
                <span class={`badge kind kind-${step.kind}`}>{kindLabels[step.kind]}</span>
              </td>
              <td>
                <span class={`badge tone-${stepTone[step.status]}`}>{step.status}</span>
                {step.wakeAt && !ended && step.status !== 'completed' && step.status !== 'failed' ? (
                  <span class="muted small" data-col="wake">
                    {' '}
                    {step.status === 'retrying'
                      ? 'next attempt'
                      : step.status === 'waiting'
                        ? 'times out'
                        : 'wakes'}{' '}
                    {formatRelative(step.wakeAt, now)} (<Time at={step.wakeAt} />)
                  </span>
                ) : null}
              </td>
              <td class="num">{step.kind === 'step' || step.kind === 'compensation' ? step.attempts : ''}</td>
              <td>
                <Time at={step.startedAt} />
              </td>
              <td>
                <Time at={step.finishedAt} />
              </td>
              <td class="num">
                {step.finishedAt ? (
                  duration(step.startedAt, step.finishedAt)
                ) : ended ? (
                  <span class="muted" title="The run ended before this step finished">
                    –
                  </span>
                ) : (
                  <span class="muted">
                    {formatSeconds(Math.max(0, now - Date.parse(step.startedAt)) / 1000)}…
                  </span>
                )}
              </td>
              <td class="step-result">
                <StepResult step={step} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A step's output or error, folded to one line; open for the whole of it. */
function StepResult({ step }: { step: WorkflowStep }) {
  if (step.error) {
    return (
      <details class="step-detail error-cell">
        <summary>
          <strong>{step.error.name}</strong> <span class="mono">{preview(step.error.message, 60)}</span>
        </summary>
        <p class="mono">{step.error.message}</p>
        {step.error.stack ? <pre class="mono stack-text">{step.error.stack}</pre> : null}
      </details>
    );
  }
  if (step.kind === 'child' && step.status === 'waiting' && isChildRef(step.output)) {
    return (
      <>
        child run{' '}
        <Link href={paths.workflowRun(step.output.runId)} class="mono">
          {step.output.runId}
        </Link>
      </>
    );
  }
  if (step.status !== 'completed' || step.output === undefined) return null;
  if (step.kind === 'sleep') return <span class="muted">slept</span>;
  if (step.kind === 'compensation' && step.output === null) return <span class="muted">undone</span>;
  if (step.kind === 'event' && step.output === null) return <span class="muted">timed out</span>;
  return (
    <details class="step-detail">
      <summary class="mono">{preview(step.output, 60) || 'null'}</summary>
      <Json label={`Output of ${step.id}`} value={step.output} />
    </details>
  );
}

/** A child step's record while the child runs: `{ runId }`. */
function isChildRef(value: unknown): value is { runId: string } {
  return (
    value !== null && typeof value === 'object' && typeof (value as { runId?: unknown }).runId === 'string'
  );
}

/** A failure: its name and message, and where it was thrown. */
function FailureDetail({ failure }: { failure: { name: string; message: string; stack?: string } }) {
  return (
    <div class="error-cell">
      <p>
        <strong>{failure.name}</strong> <span class="mono">{failure.message}</span>
      </p>
      {failure.stack ? (
        <details class="stack">
          <summary>Stack</summary>
          <pre class="mono">{failure.stack}</pre>
        </details>
      ) : null}
    </div>
  );
}

/**
 * "Send event": a name (the ones the run waits for offered first) and a JSON payload. The first
 * `waitForEvent` of that name that matches takes it; a sleeping or waiting run resumes at once.
 */
function SendEventDialog({
  run,
  onClose,
  onSent,
}: {
  run: WorkflowRun;
  onClose: () => void;
  onSent: () => void;
}) {
  const waitedFor = run.steps
    .filter((step) => step.kind === 'event' && step.status === 'waiting')
    .map((step) => eventName(step.id));
  const [name, setName] = useState(waitedFor[0] ?? '');
  const [payload, setPayload] = useState('{}');
  const [invalid, setInvalid] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const send = async (event: Event) => {
    event.preventDefault();
    let parsed: unknown = null;
    if (payload.trim() !== '') {
      try {
        parsed = JSON.parse(payload);
      } catch (error) {
        setInvalid(`The payload is not JSON: ${(error as Error).message}`);
        return;
      }
    }
    setInvalid(null);
    setBusy(true);
    try {
      await api<WorkflowEventAccepted>('POST', `/v1/workflow-runs/${seg(run.id)}/events`, {
        body: { name: name.trim(), payload: parsed },
      });
      notify(`Sent event ${name.trim()} to run ${run.id}.`);
      onSent();
    } catch (error) {
      setInvalid((error as ApiError).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={`Send an event to run ${run.id}`} onClose={onClose} class="send-event">
      <form onSubmit={(event) => void send(event)}>
        <div class="modal-body">
          <label>
            Event name
            <input
              type="text"
              required
              maxLength={200}
              list="waited-events"
              value={name}
              onInput={(event) => setName(event.currentTarget.value)}
            />
            <datalist id="waited-events">
              {waitedFor.map((waited) => (
                <option key={waited} value={waited} />
              ))}
            </datalist>
          </label>
          {waitedFor.length > 0 ? (
            <p class="muted small">
              The run waits for: <span class="mono">{waitedFor.join(', ')}</span>
            </p>
          ) : null}
          <label>
            Payload (JSON)
            <textarea
              class="mono"
              rows={5}
              value={payload}
              aria-invalid={invalid !== null}
              onInput={(event) => setPayload(event.currentTarget.value)}
            />
          </label>
          {invalid ? (
            <p class="field-error" role="alert">
              {invalid}
            </p>
          ) : null}
        </div>
        <div class="modal-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Send event
          </button>
        </div>
      </form>
    </Modal>
  );
}
