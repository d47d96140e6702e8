/**
 * Workers: every queue consumer, subscription, job worker, remote worker and group member of
 * every process sharing the store — host, pid, kind, what it serves, concurrency, in flight,
 * processed, last seen — refreshed every 5 s. Stale ones (unseen for three heartbeat intervals:
 * their process died or lost the store) are flagged, and tokens with `admin` may remove them
 * after confirming.
 */
import { api, type ApiError, seg } from '../api/http.js';
import type { WorkerRecord } from '../api/types.js';
import { ErrorBox, Loading, Time } from '../components/bits.js';
import { useConfirm } from '../components/dialog.js';
import { formatCount, formatRelative } from '../format.js';
import { notify } from '../state/notices.js';
import { useNow } from '../state/resource.js';
import { useCan } from '../state/scopes.js';
import { servesLabel, useWorkers } from '../state/workers.js';
import { PageTitle } from './page-title.js';

export function WorkersPage() {
  const workers = useWorkers();
  const now = useNow(1000);
  const [dialog, confirm] = useConfirm();
  const canAdmin = useCan('admin');
  const remove = async (worker: WorkerRecord) => {
    const ok = await confirm({
      title: `Remove worker ${worker.id}?`,
      body: (
        <p>
          Its record goes from the registry ({worker.kind} on {worker.host}, pid {worker.pid}). A worker that
          is still running comes back at its next heartbeat.
        </p>
      ),
      confirmLabel: 'Remove worker',
      danger: true,
    });
    if (!ok) return;
    try {
      await api('DELETE', `/v1/workers/${seg(worker.id)}`);
      notify(`Removed worker ${worker.id}.`);
      await workers.reload();
    } catch (error) {
      notify(`Could not remove worker ${worker.id}: ${(error as ApiError).message}`, 'error');
    }
  };
  const items = workers.items;
  const stale = items?.filter((worker) => worker.stale).length ?? 0;
  return (
    <>
      <PageTitle>Workers</PageTitle>
      {dialog}
      {workers.error ? <ErrorBox error={workers.error} /> : null}
      {items === null ? (
        workers.error ? null : (
          <Loading what="workers" />
        )
      ) : items.length === 0 ? (
        <p class="muted">
          No workers registered. Consumers, subscriptions and job workers appear here while they run.
        </p>
      ) : (
        <>
          <p class="muted" role="status">
            {formatCount(items.length)} workers
            {stale > 0 ? `, ${formatCount(stale)} stale (not seen for three heartbeats)` : ''}.
          </p>
          <div class="table-wrap">
            <table class="data">
              <caption class="visually-hidden">Registered workers</caption>
              <thead>
                <tr>
                  <th scope="col">Host</th>
                  <th scope="col" class="num">
                    PID
                  </th>
                  <th scope="col">Kind</th>
                  <th scope="col">Serves</th>
                  <th scope="col" class="num">
                    Concurrency
                  </th>
                  <th scope="col" class="num">
                    In flight
                  </th>
                  <th scope="col" class="num">
                    Processed
                  </th>
                  <th scope="col">Last seen</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((worker) => (
                  <tr key={worker.id} data-worker={worker.id} class={worker.stale ? 'stale' : undefined}>
                    <th scope="row" class="mono" title={worker.id}>
                      {worker.host}
                    </th>
                    <td class="num mono">{worker.pid}</td>
                    <td>{worker.kind}</td>
                    <td class="mono clip">{servesLabel(worker.serves)}</td>
                    <td class="num">{formatCount(worker.concurrency)}</td>
                    <td class="num">{formatCount(worker.inFlight)}</td>
                    <td class="num">{formatCount(worker.processed)}</td>
                    <td>
                      <Time at={worker.lastSeenAt} />{' '}
                      <span class="muted small">{formatRelative(worker.lastSeenAt, now)}</span>
                      {worker.stale ? (
                        <>
                          {' '}
                          <span class="badge tone-bad" data-stale>
                            stale
                          </span>
                        </>
                      ) : null}
                    </td>
                    <td class="actions">
                      {canAdmin ? (
                        <button type="button" class="danger" onClick={() => void remove(worker)}>
                          Remove…
                        </button>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
