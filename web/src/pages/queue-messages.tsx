/**
 * The messages browser: the queue in delivery order, read without leasing anything, a page at a
 * time; purge behind a confirmation.
 */
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type ApiError, seg, withQuery } from '../api/http.js';
import type { QueuedMessagePage } from '../api/types.js';
import { ErrorBox, Loading, StatusBadge, Time } from '../components/bits.js';
import { useConfirm } from '../components/dialog.js';
import { bodyPreview, MessageDetail } from '../components/message-detail.js';
import { PagerNav, usePager } from '../components/pager.js';
import { plural } from '../format.js';
import { notify } from '../state/notices.js';
import { useResource } from '../state/resource.js';
import { useCan } from '../state/scopes.js';

const pageSize = 50;

export function QueueMessages({ name, depth }: { name: string; depth: number | null }) {
  const pager = usePager(name);
  const page = useResource(
    (signal) =>
      api<QueuedMessagePage>(
        'GET',
        withQuery(`/v1/queues/${seg(name)}/messages`, { limit: pageSize, cursor: pager.cursor }),
        {
          signal,
        },
      ),
    [name, pager.cursor],
  );
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [dialog, confirm] = useConfirm();
  // The first page follows the queue as it changes; later pages stay put while being read.
  useEffect(() => {
    if (pager.page === 1 && depth !== null) void page.reload();
  }, [depth]);

  const purge = async () => {
    const ok = await confirm({
      title: `Purge queue ${name}?`,
      body: (
        <p>
          Every message of <strong>{name}</strong> — ready, delayed and in flight
          {depth !== null ? ` (${plural(depth, 'message')})` : ''} — is deleted for good. Dead letters are
          kept.
        </p>
      ),
      confirmLabel: 'Purge messages',
      danger: true,
    });
    if (!ok) return;
    try {
      const { purged } = await api<{ purged: number }>('POST', `/v1/queues/${seg(name)}/purge`);
      notify(`Purged ${plural(purged, 'message')} from ${name}.`);
      pager.first();
      await page.reload();
    } catch (error) {
      notify(`Could not purge ${name}: ${(error as ApiError).message}`, 'error');
    }
  };

  const toggle = (id: string) =>
    setOpen((current) => {
      const next = new Set(current);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  const canAdmin = useCan('admin');
  return (
    <section aria-labelledby="messages-title">
      <div class="toolbar">
        <h2 id="messages-title">Messages</h2>
        <button type="button" onClick={() => void page.reload()} disabled={page.loading}>
          Refresh
        </button>
        {canAdmin ? (
          <button type="button" class="danger" onClick={() => void purge()} disabled={depth === 0}>
            Purge queue…
          </button>
        ) : null}
      </div>
      {page.error ? <ErrorBox error={page.error} /> : null}
      {!page.data ? (
        page.error ? null : (
          <Loading what="messages" />
        )
      ) : page.data.items.length === 0 ? (
        <p class="muted">The queue is empty.</p>
      ) : (
        <div class="table-wrap">
          <table class="data" aria-labelledby="messages-title">
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">State</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col" class="num">
                  Priority
                </th>
                <th scope="col">Key</th>
                <th scope="col">Enqueued</th>
                <th scope="col">Available</th>
                <th scope="col">Body</th>
              </tr>
            </thead>
            <tbody>
              {page.data.items.map((message) => (
                <Fragment key={message.id}>
                  <tr data-message={message.id}>
                    <th scope="row">
                      <button
                        type="button"
                        class="disclosure mono"
                        aria-expanded={open.has(message.id)}
                        aria-controls={`detail-${message.id}`}
                        onClick={() => toggle(message.id)}
                      >
                        <span class="disclosure-icon" aria-hidden="true" />
                        {message.id}
                      </button>
                    </th>
                    <td>
                      <StatusBadge status={message.state} />
                    </td>
                    <td class="num">{message.attempts}</td>
                    <td class="num">{message.priority}</td>
                    <td class="mono">{message.key ?? ''}</td>
                    <td>
                      <Time at={message.enqueuedAt} />
                    </td>
                    <td>
                      <Time at={message.availableAt} relative />
                      {message.expiresAt === null ? null : (
                        <span class="muted small" data-expires>
                          {' '}
                          · expires <Time at={message.expiresAt} relative />
                        </span>
                      )}
                    </td>
                    <td class="mono clip">{bodyPreview(message)}</td>
                  </tr>
                  {open.has(message.id) ? (
                    <tr class="detail-row" id={`detail-${message.id}`}>
                      <td colSpan={8}>
                        <MessageDetail message={message} />
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <PagerNav pager={pager} next={page.data?.next ?? null} label="Messages" />
      {dialog}
    </section>
  );
}
