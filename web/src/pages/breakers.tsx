/**
 * Circuit breakers: one card per breaker the store has seen — its state (closed, open, half-open),
 * consecutive failures, when it opened and how often, the countdown to its next probe, and the
 * last failure — refreshed every 2 s. Tokens with `admin` may reset one (close it now, in every
 * process) after confirming.
 */
import { api, type ApiError, seg } from '../api/http.js';
import type { Breaker } from '../api/types.js';
import { ErrorBox, Loading, Time } from '../components/bits.js';
import { useConfirm } from '../components/dialog.js';
import { formatCount, formatRelative, plural } from '../format.js';
import { breakerStates, useBreakers } from '../state/breakers.js';
import { notify } from '../state/notices.js';
import { useNow } from '../state/resource.js';
import { useCan } from '../state/scopes.js';
import { PageTitle } from './page-title.js';

export function BreakersPage() {
  const breakers = useBreakers();
  const now = useNow(1000);
  const [dialog, confirm] = useConfirm();
  const canAdmin = useCan('admin');
  const reset = async (breaker: Breaker) => {
    const ok = await confirm({
      title: `Reset breaker ${breaker.name}?`,
      body: (
        <p>
          It closes now, in every process on the store: calls to the dependency go through again. Reset it
          when you know the dependency is back; if it still fails, the breaker opens again after its failure
          threshold.
        </p>
      ),
      confirmLabel: 'Reset breaker',
      danger: true,
    });
    if (!ok) return;
    try {
      await api<Breaker>('POST', `/v1/breakers/${seg(breaker.name)}/reset`);
      notify(`Reset breaker ${breaker.name}: closed.`);
      await breakers.reload();
    } catch (error) {
      notify(`Could not reset breaker ${breaker.name}: ${(error as ApiError).message}`, 'error');
    }
  };
  const items = breakers.items
    ? [...breakers.items].sort(
        (a, b) => stateOrder[a.state] - stateOrder[b.state] || (a.name < b.name ? -1 : 1),
      )
    : null;
  const open = items?.filter((breaker) => breaker.state !== 'closed').length ?? 0;
  return (
    <>
      <PageTitle>Circuit breakers</PageTitle>
      {dialog}
      {breakers.error ? <ErrorBox error={breakers.error} /> : null}
      {items === null ? (
        breakers.error ? null : (
          <Loading what="circuit breakers" />
        )
      ) : items.length === 0 ? (
        <p class="muted" data-empty="breakers">
          No circuit breakers yet. A breaker appears here once a process calls through it (
          <code>jobs.breakers.define(name, options)</code>, or <code>breaker</code> on a job type or a
          workflow step).
        </p>
      ) : (
        <>
          <p class="muted" role="status">
            {plural(items.length, 'breaker')}
            {open > 0 ? `, ${formatCount(open)} not closed` : ', all closed'}.
          </p>
          <ul class="cards" aria-label="Circuit breakers, open ones first">
            {items.map((breaker) => (
              <li key={breaker.name}>
                <BreakerCard
                  breaker={breaker}
                  now={now}
                  onReset={canAdmin ? () => void reset(breaker) : null}
                />
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

const stateOrder: Record<Breaker['state'], number> = { open: 0, 'half-open': 1, closed: 2 };

function BreakerCard({
  breaker,
  now,
  onReset,
}: {
  breaker: Breaker;
  now: number;
  /** Null when the token may not reset it. */
  onReset: (() => void) | null;
}) {
  const state = breakerStates[breaker.state];
  const titleId = `breaker-${breaker.name}`;
  const probeDue = breaker.openUntil !== null && Date.parse(breaker.openUntil) <= now;
  return (
    <article
      class={`panel card breaker tone-${state.tone}`}
      aria-labelledby={titleId}
      data-breaker={breaker.name}
      data-breaker-state={breaker.state}
    >
      <div class="card-head">
        <h2 id={titleId} class="mono">
          {breaker.name}
        </h2>
        <span class={`badge tone-${state.tone}`} title={state.explain}>
          {breaker.state}
        </span>
      </div>
      <dl class="pairs">
        <div>
          <dt>Failures in a row</dt>
          <dd data-col="failures">{formatCount(breaker.consecutiveFailures)}</dd>
        </div>
        <div>
          <dt>Opened</dt>
          <dd data-col="opened">
            {breaker.opened === 0
              ? 'never'
              : breaker.opened === 1
                ? 'once'
                : `${formatCount(breaker.opened)} times`}
            {breaker.openedAt ? (
              <>
                , last <Time at={breaker.openedAt} />{' '}
                <span class="muted small">{formatRelative(breaker.openedAt, now)}</span>
              </>
            ) : null}
          </dd>
        </div>
        {breaker.state !== 'closed' && breaker.openUntil ? (
          <div>
            <dt>Next probe</dt>
            <dd data-col="probe">
              {probeDue ? (
                'due: the next call is let through as a probe'
              ) : (
                <>
                  <strong>{formatRelative(breaker.openUntil, now)}</strong> (<Time at={breaker.openUntil} />)
                </>
              )}
            </dd>
          </div>
        ) : null}
        <div>
          <dt>Last failure</dt>
          <dd data-col="last-failure">
            {breaker.lastFailure ? (
              <span class="error-cell">
                <strong>{breaker.lastFailure.name}</strong>{' '}
                <span class="mono">{breaker.lastFailure.message}</span>
              </span>
            ) : (
              <span class="muted">none</span>
            )}
          </dd>
        </div>
        <div>
          <dt>Changed</dt>
          <dd>
            <Time at={breaker.updatedAt} />
          </dd>
        </div>
      </dl>
      {onReset ? (
        <button
          type="button"
          class="danger"
          disabled={breaker.state === 'closed' && breaker.consecutiveFailures === 0}
          title={
            breaker.state === 'closed' && breaker.consecutiveFailures === 0
              ? 'Closed, with no failure counted: nothing to reset'
              : undefined
          }
          onClick={onReset}
        >
          Reset…
        </button>
      ) : null}
    </article>
  );
}
