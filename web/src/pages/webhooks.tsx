/**
 * Webhooks: the delivery log (every attempt, with the receiver's status and why it failed),
 * filtered by outcome — failures first, where an operator looks — and the endpoints disabled
 * after answering 410 Gone, each with a confirmed Enable. Deliveries that failed for good are
 * in the `spool.webhooks` dead-letter queue, from where they can be redriven.
 */
import { useState } from 'preact/hooks';
import { api, type ApiError, withQuery } from '../api/http.js';
import type { DeliveryAttempt, DeliveryPage, DisabledEndpoint } from '../api/types.js';
import { ErrorBox, Loading, Time } from '../components/bits.js';
import { useConfirm } from '../components/dialog.js';
import { Link } from '../components/link.js';
import { notify } from '../state/notices.js';
import { useResource } from '../state/resource.js';
import { navigate, paths } from '../state/router.js';
import { PageTitle } from './page-title.js';
import { useCan } from '../state/scopes.js';

const outcomes = ['dead-lettered', 'retrying', 'skipped', 'delivered'] as const;

export function WebhooksPage({ query }: { query: URLSearchParams }) {
  const outcome = query.get('outcome') ?? 'dead-lettered';
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const deliveries = useResource(
    (signal) =>
      api<DeliveryPage>(
        'GET',
        withQuery('/v1/webhooks/deliveries', {
          ...(outcome === 'all' ? {} : { outcome }),
          limit: 100,
          cursor,
        }),
        { signal },
      ),
    [outcome, cursor],
  );
  const disabled = useResource(
    (signal) => api<{ items: DisabledEndpoint[] }>('GET', '/v1/webhooks/endpoints/disabled', { signal }),
    [],
  );
  const [dialog, confirm] = useConfirm();
  const canAdmin = useCan('admin');

  const enable = async (endpoint: DisabledEndpoint) => {
    const ok = await confirm({
      title: `Enable ${endpoint.url}?`,
      body: (
        <p>
          Deliveries to it start again; the ones skipped while it was disabled stay in the dead-letter queue.
        </p>
      ),
      confirmLabel: 'Enable endpoint',
    });
    if (!ok) return;
    try {
      await api('POST', '/v1/webhooks/endpoints/enable', { body: { url: endpoint.url } });
      notify(`Enabled ${endpoint.url}.`);
      await disabled.reload();
    } catch (error) {
      notify(`Could not enable ${endpoint.url}: ${(error as ApiError).message}`, 'error');
    }
  };

  return (
    <>
      <PageTitle>Webhooks</PageTitle>
      {dialog}
      <section class="panel" aria-labelledby="disabled-title">
        <h2 id="disabled-title">Disabled endpoints</h2>
        {disabled.error ? <ErrorBox error={disabled.error} /> : null}
        {!disabled.data ? null : disabled.data.items.length === 0 ? (
          <p class="muted" data-empty="disabled">
            None: every endpoint receives its deliveries.
          </p>
        ) : (
          <ul class="plain">
            {disabled.data.items.map((endpoint) => (
              <li key={endpoint.url} data-disabled={endpoint.url}>
                <span class="mono">{endpoint.url}</span> — {endpoint.reason}, <Time at={endpoint.at} />{' '}
                {canAdmin ? (
                  <button type="button" onClick={() => void enable(endpoint)}>
                    Enable
                  </button>
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="deliveries-title">
        <div class="toolbar">
          <h2 id="deliveries-title">Deliveries</h2>
          <label>
            Outcome{' '}
            <select
              value={outcome}
              onChange={(event) => {
                setCursors([]);
                navigate(paths.webhooks({ outcome: event.currentTarget.value }));
              }}
            >
              {[...outcomes, 'all'].map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </label>
          <span class="muted small">
            Failed for good:{' '}
            <Link href={paths.queue('spool.webhooks', 'dlq')}>the spool.webhooks dead letters</Link>
          </span>
        </div>
        {deliveries.error ? <ErrorBox error={deliveries.error} /> : null}
        {!deliveries.data ? (
          deliveries.error ? null : (
            <Loading what="deliveries" />
          )
        ) : deliveries.data.items.length === 0 ? (
          <p class="muted" data-empty="deliveries">
            No {outcome === 'all' ? '' : `${outcome} `}deliveries
            {deliveries.data.next ? ' in this part of the log.' : '.'}
          </p>
        ) : (
          <DeliveryTable items={deliveries.data.items} />
        )}
        {deliveries.data?.next ? (
          <button type="button" onClick={() => setCursors([...cursors, deliveries.data!.next!])}>
            Later deliveries →
          </button>
        ) : null}
        {cursors.length > 0 ? (
          <button type="button" onClick={() => setCursors([])}>
            ← From the start
          </button>
        ) : null}
      </section>
    </>
  );
}

/** Delivery attempts, one row each (also the job page's completion-webhook section). */
export function DeliveryTable({ items }: { items: readonly DeliveryAttempt[] }) {
  return (
    <div class="table-wrap">
      <table class="data">
        <caption class="visually-hidden">Webhook delivery attempts, oldest first</caption>
        <thead>
          <tr>
            <th scope="col">At</th>
            <th scope="col">Event</th>
            <th scope="col">Endpoint</th>
            <th scope="col" class="num">
              Attempt
            </th>
            <th scope="col">Outcome</th>
            <th scope="col" class="num">
              Status
            </th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <tr key={item.offset} data-delivery={item.webhookId}>
              <td>
                <Time at={item.at} />
              </td>
              <td class="mono">{item.event}</td>
              <td class="mono clip">{item.url}</td>
              <td class="num">{item.attempt}</td>
              <td>
                <span
                  class={`badge tone-${item.outcome === 'delivered' ? 'ok' : item.outcome === 'retrying' ? 'warn' : 'bad'}`}
                >
                  {item.outcome}
                </span>
              </td>
              <td class="num">{item.status ?? '–'}</td>
              <td class="error-cell">{item.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
