/**
 * Schedules: what fires when — cron or interval, the job it adds, next and last fire times —
 * with Run now (adds the schedule's job at once; the slots are unchanged), Pause / Resume (a
 * paused schedule fires nothing; it resumes from its next slot) and a confirmed Delete.
 */
import { api, type ApiError, seg } from '../api/http.js';
import type { JobAccepted, Schedule } from '../api/types.js';
import { useConfirm } from '../components/dialog.js';
import { notify } from '../state/notices.js';
import { ErrorBox, Loading, Time } from '../components/bits.js';
import { Link } from '../components/link.js';
import { formatRelative, formatSeconds, preview } from '../format.js';
import { useInterval, useNow, useResource } from '../state/resource.js';
import { paths } from '../state/router.js';
import { PageTitle } from './page-title.js';
import { useCan } from '../state/scopes.js';

export function SchedulesPage() {
  const schedules = useResource(
    (signal) => api<{ items: Schedule[] }>('GET', '/v1/schedules', { signal }),
    [],
  );
  const now = useNow(1000);
  // Next fire times move on once a slot fires.
  useInterval(() => void schedules.reload(), 10_000);
  const [dialog, confirm] = useConfirm();
  const canAdmin = useCan('admin');
  const run = async (name: string) => {
    try {
      const accepted = await api<JobAccepted>('POST', `/v1/schedules/${seg(name)}/run`);
      notify(`Schedule ${name} ran now: job ${accepted.id}.`);
      await schedules.reload();
    } catch (error) {
      notify(`Could not run schedule ${name}: ${(error as ApiError).message}`, 'error');
    }
  };
  const toggle = async (name: string, action: 'pause' | 'resume') => {
    try {
      await api<Schedule>('POST', `/v1/schedules/${seg(name)}/${action}`);
      notify(action === 'pause' ? `Paused schedule ${name}.` : `Resumed schedule ${name}.`);
      await schedules.reload();
    } catch (error) {
      notify(`Could not ${action} schedule ${name}: ${(error as ApiError).message}`, 'error');
    }
  };
  const remove = async (name: string) => {
    const ok = await confirm({
      title: `Delete schedule ${name}?`,
      body: <p>It fires no more jobs; jobs it already added are kept.</p>,
      confirmLabel: 'Delete schedule',
      danger: true,
    });
    if (!ok) return;
    try {
      await api('DELETE', `/v1/schedules/${seg(name)}`);
      notify(`Deleted schedule ${name}.`);
      await schedules.reload();
    } catch (error) {
      notify(`Could not delete schedule ${name}: ${(error as ApiError).message}`, 'error');
    }
  };
  const items = schedules.data
    ? [...schedules.data.items].sort(
        (a, b) => Number(a.paused) - Number(b.paused) || Date.parse(a.nextRunAt) - Date.parse(b.nextRunAt),
      )
    : null;
  return (
    <>
      <PageTitle>Schedules</PageTitle>
      {dialog}
      {schedules.error ? <ErrorBox error={schedules.error} /> : null}
      {items === null ? (
        schedules.error ? null : (
          <Loading what="schedules" />
        )
      ) : items.length === 0 ? (
        <p class="muted">
          No schedules. Create one with{' '}
          <code>spool schedules set &lt;name&gt; --type &lt;job type&gt; --cron "…"</code> or PUT
          /v1/schedules/&lt;name&gt;.
        </p>
      ) : (
        <div class="table-wrap">
          <table class="data">
            <caption class="visually-hidden">Schedules, next to fire first, paused ones last</caption>
            <thead>
              <tr>
                <th scope="col">Schedule</th>
                <th scope="col">When</th>
                <th scope="col">Job type</th>
                <th scope="col">Payload</th>
                <th scope="col">Missed slots</th>
                <th scope="col">Next run</th>
                <th scope="col">Last run</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((schedule) => (
                <tr key={schedule.name} data-schedule={schedule.name}>
                  <th scope="row" class="mono">
                    {schedule.name}
                  </th>
                  <td class="mono">
                    {schedule.cron !== null
                      ? `${schedule.cron}${schedule.timezone ? ` (${schedule.timezone})` : ''}`
                      : `every ${formatSeconds((schedule.everyMs ?? 0) / 1000)}`}
                  </td>
                  <td>
                    <Link href={paths.jobs({ type: schedule.type })} class="mono">
                      {schedule.type}
                    </Link>
                  </td>
                  <td class="mono clip">{preview(schedule.payload, 60)}</td>
                  <td>{schedule.missed}</td>
                  <td>
                    {schedule.paused ? (
                      <span class="badge tone-warn" title={`Paused ${schedule.pausedAt ?? ''}`}>
                        paused
                      </span>
                    ) : (
                      <>
                        <Time at={schedule.nextRunAt} />{' '}
                        <span class="muted small">{formatRelative(schedule.nextRunAt, now)}</span>
                      </>
                    )}
                  </td>
                  <td>
                    <Time at={schedule.lastRunAt} />
                  </td>
                  <td class="actions">
                    {canAdmin ? (
                      <>
                        <button type="button" onClick={() => void run(schedule.name)}>
                          Run now
                        </button>{' '}
                        <button
                          type="button"
                          onClick={() => void toggle(schedule.name, schedule.paused ? 'resume' : 'pause')}
                        >
                          {schedule.paused ? 'Resume' : 'Pause'}
                        </button>{' '}
                        <button type="button" class="danger" onClick={() => void remove(schedule.name)}>
                          Delete…
                        </button>
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
