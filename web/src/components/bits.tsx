/** Small presentational pieces used across screens. */
import type { ComponentChildren } from 'preact';
import type { ApiError } from '../api/http.js';
import { formatFullTime, formatRelative, formatTime } from '../format.js';

/** A time, with the full date and the relative time in its tooltip. */
export function Time({
  at,
  relative = false,
}: {
  at: string | number | null | undefined;
  relative?: boolean;
}) {
  if (at === null || at === undefined) return <span class="muted">–</span>;
  const iso = new Date(at).toISOString();
  return (
    <time dateTime={iso} title={`${formatFullTime(at)} (${formatRelative(at)})`}>
      {relative ? formatRelative(at) : formatTime(at)}
    </time>
  );
}

const statusTone: Record<string, string> = {
  completed: 'ok',
  active: 'info',
  queued: 'neutral',
  scheduled: 'neutral',
  waiting: 'neutral',
  retrying: 'warn',
  dead: 'bad',
  cancelled: 'muted',
  ready: 'neutral',
  delayed: 'neutral',
  'in-flight': 'info',
  // Workflow runs and their steps.
  running: 'info',
  sleeping: 'neutral',
  failed: 'bad',
  compensated: 'warn',
  // Circuit breakers.
  closed: 'ok',
  open: 'bad',
  'half-open': 'warn',
};

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge tone-${statusTone[status] ?? 'neutral'}`}>{status}</span>;
}

/** A JSON value, pretty-printed. */
export function Json({ value, label }: { value: unknown; label: string }) {
  const text = value === undefined ? 'undefined' : JSON.stringify(value, null, 2);
  return (
    <pre class="json" aria-label={label} tabIndex={0}>
      {text}
    </pre>
  );
}

/** Why something could not be shown or done: the problem's title, detail and code. */
export function ErrorBox({ error, action }: { error: ApiError; action?: ComponentChildren }) {
  return (
    <div class="error-box" role="alert">
      <strong>{error.title}</strong>
      <p>{error.message}</p>
      {error.code.startsWith('HTTP_') ? null : <p class="muted small">code {error.code}</p>}
      {action}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** A labelled number, for summary strips. */
export function Stat({ label, value, tone }: { label: string; value: ComponentChildren; tone?: string }) {
  return (
    <div class={`stat${tone ? ` tone-${tone}` : ''}`}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}
