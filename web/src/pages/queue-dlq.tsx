/**
 * The dead-letter queue: each message with the error that killed it and its attempts, and
 * redrive (one, the selected, or all) back to the queue, or purge for good — purges always
 * behind a confirmation, as is redriving everything.
 */
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type ApiError, seg, withQuery } from '../api/http.js';
import type { DeadLetterPage } from '../api/types.js';
import { ErrorBox, Loading, Time } from '../components/bits.js';
import { useConfirm } from '../components/dialog.js';
import { bodyPreview, MessageDetail } from '../components/message-detail.js';
import { PagerNav, usePager } from '../components/pager.js';
import { plural } from '../format.js';
import { notify } from '../state/notices.js';
import { useResource } from '../state/resource.js';
import { useCan } from '../state/scopes.js';

const pageSize = 50;

/** What a redrive or purge applies to: some ids, or every dead letter of the queue. */
type Selection = { readonly ids: readonly string[] } | 'all';

export function DeadLetters({ name, deadLettered }: { name: string; deadLettered: number | null }) {
  const pager = usePager(name);
  const page = useResource(
    (signal) =>
      api<DeadLetterPage>(
        'GET',
        withQuery(`/v1/queues/${seg(name)}/dlq`, { limit: pageSize, cursor: pager.cursor }),
        {
          signal,
        },
      ),
    [name, pager.cursor],
  );
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [dialog, confirm] = useConfirm();

  // New dead letters (or ones another operator redrove) show up without a manual refresh.
  useEffect(() => {
    if (deadLettered !== null) void page.reload();
  }, [deadLettered]);
  // A selection only ever holds messages on screen.
  const items = page.data?.items ?? [];
  useEffect(() => {
    setSelected((current) => new Set(items.filter((item) => current.has(item.id)).map((item) => item.id)));
  }, [page.data]);

  const describe = (selection: Selection) =>
    selection !== 'all'
      ? plural(selection.ids.length, 'dead letter')
      : deadLettered === null
        ? `all dead letters of ${name}`
        : `all ${plural(deadLettered, 'dead letter')} of ${name}`;

  const run = async (action: 'redrive' | 'purge', selection: Selection) => {
    const body = selection === 'all' ? undefined : { ids: selection.ids };
    setBusy(true);
    try {
      if (action === 'redrive') {
        const { redriven } = await api<{ redriven: number }>('POST', `/v1/queues/${seg(name)}/redrive`, {
          body,
        });
        notify(`Redrove ${plural(redriven, 'message')} to ${name}.`);
      } else {
        const { purged } = await api<{ purged: number }>('POST', `/v1/queues/${seg(name)}/dlq/purge`, {
          body,
        });
        notify(`Purged ${plural(purged, 'dead letter')} of ${name}.`);
      }
      setSelected(new Set());
      if (selection === 'all') pager.first();
      await page.reload();
    } catch (error) {
      notify(`Could not ${action} ${describe(selection)}: ${(error as ApiError).message}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  const redrive = async (selection: Selection) => {
    if (selection === 'all') {
      const ok = await confirm({
        title: `Redrive every dead letter of ${name}?`,
        body: (
          <p>
            {`Redrive ${describe('all')}`}: they go back to the end of the queue with their attempts reset and
            are delivered again at once. Fix what made them fail first, or they come back here.
          </p>
        ),
        confirmLabel: 'Redrive all',
      });
      if (!ok) return;
    }
    await run('redrive', selection);
  };

  const purge = async (selection: Selection) => {
    const ok = await confirm({
      title: `Purge dead letters of ${name}?`,
      body: <p>{`Delete ${describe(selection)} for good. This cannot be undone.`}</p>,
      confirmLabel: selection === 'all' ? 'Purge all dead letters' : `Purge ${describe(selection)}`,
      danger: true,
    });
    if (ok) await run('purge', selection);
  };

  const toggle = (set: ReadonlySet<string>, id: string) => {
    const next = new Set(set);
    if (!next.delete(id)) next.add(id);
    return next;
  };
  const allOnPage = items.length > 0 && items.every((item) => selected.has(item.id));
  const chosen = { ids: [...selected] };

  const canAdmin = useCan('admin');
  return (
    <section aria-labelledby="dlq-title">
      <div class="toolbar">
        <h2 id="dlq-title">Dead letters</h2>
        <button type="button" onClick={() => void page.reload()} disabled={page.loading}>
          Refresh
        </button>
        <span class="toolbar-gap" />
        {canAdmin ? (
          <>
            <button type="button" disabled={busy || selected.size === 0} onClick={() => void redrive(chosen)}>
              Redrive selected{selected.size > 0 ? ` (${selected.size})` : ''}
            </button>
            <button
              type="button"
              class="danger"
              disabled={busy || selected.size === 0}
              onClick={() => void purge(chosen)}
            >
              Purge selected…
            </button>
            <button type="button" disabled={busy || items.length === 0} onClick={() => void redrive('all')}>
              Redrive all…
            </button>
            <button
              type="button"
              class="danger"
              disabled={busy || items.length === 0}
              onClick={() => void purge('all')}
            >
              Purge all…
            </button>
          </>
        ) : null}
      </div>
      {page.error ? <ErrorBox error={page.error} /> : null}
      {!page.data ? (
        page.error ? null : (
          <Loading what="dead letters" />
        )
      ) : items.length === 0 ? (
        <p class="muted" data-empty="dlq">
          No dead letters: every message of {name} was delivered or is still being retried.
        </p>
      ) : (
        <div class="table-wrap">
          <table class="data" aria-labelledby="dlq-title" aria-busy={busy}>
            <thead>
              <tr>
                <th scope="col" class="check">
                  <input
                    type="checkbox"
                    aria-label="Select all dead letters on this page"
                    checked={allOnPage}
                    onChange={() =>
                      setSelected(allOnPage ? new Set() : new Set(items.map((item) => item.id)))
                    }
                  />
                </th>
                <th scope="col">Id</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col">Dead-lettered</th>
                <th scope="col">Last error</th>
                <th scope="col">Body</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((letter) => {
                const last = letter.errors.at(-1);
                return (
                  <Fragment key={letter.id}>
                    <tr data-message={letter.id} class={selected.has(letter.id) ? 'selected' : undefined}>
                      <td class="check">
                        <input
                          type="checkbox"
                          aria-label={`Select ${letter.id}`}
                          checked={selected.has(letter.id)}
                          onChange={() => setSelected((current) => toggle(current, letter.id))}
                        />
                      </td>
                      <th scope="row">
                        <button
                          type="button"
                          class="disclosure mono"
                          aria-expanded={open.has(letter.id)}
                          onClick={() => setOpen((current) => toggle(current, letter.id))}
                        >
                          <span class="disclosure-icon" aria-hidden="true" />
                          {letter.id}
                        </button>
                      </th>
                      <td class="num">{letter.attempts}</td>
                      <td>
                        <Time at={letter.deadLetteredAt} />
                      </td>
                      <td class="error-cell">
                        {last ? (
                          <>
                            <strong>{last.name}</strong> <span class="mono">{last.message}</span>
                          </>
                        ) : (
                          <span class="muted">no error recorded</span>
                        )}
                      </td>
                      <td class="mono clip">{bodyPreview(letter)}</td>
                      <td>
                        {canAdmin ? (
                          <button
                            type="button"
                            disabled={busy}
                            aria-label={`Redrive ${letter.id}`}
                            onClick={() => void redrive({ ids: [letter.id] })}
                          >
                            Redrive
                          </button>
                        ) : null}
                      </td>
                    </tr>
                    {open.has(letter.id) ? (
                      <tr class="detail-row">
                        <td colSpan={7}>
                          <MessageDetail message={letter} />
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <PagerNav pager={pager} next={page.data?.next ?? null} label="Dead letters" />
      {dialog}
    </section>
  );
}
