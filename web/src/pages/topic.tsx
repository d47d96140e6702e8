/**
 * One topic: partitions with their offsets, consumer groups with lag per partition (pause and
 * resume, and seek behind a confirmation), and a tail of the most recent events across partitions.
 */
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type ApiError, seg, withQuery } from '../api/http.js';
import type { ReadResult, SeekResult, SeekTarget, TopicEvent, TopicWithStats } from '../api/types.js';
import { ErrorBox, Loading, Time } from '../components/bits.js';
import { Modal } from '../components/dialog.js';
import { Link } from '../components/link.js';
import { TestMessageForm } from '../components/test-message.js';
import { bodyPreview, MessageDetail } from '../components/message-detail.js';
import { formatCount, fromLocalInput, plural, toLocalInput } from '../format.js';
import { notify } from '../state/notices.js';
import { useInterval, useResource } from '../state/resource.js';
import { useLiveStats } from '../state/stats.js';
import { PageTitle } from './page-title.js';
import { useCan } from '../state/scopes.js';

type Group = TopicWithStats['stats']['groups'][number];

/** How many recent events the tail shows, and reads per partition to find them. */
const tailSize = 50;

export function TopicPage({ name }: { name: string }) {
  const live = useLiveStats();
  const topic = useResource(
    (signal) => api<TopicWithStats>('GET', `/v1/topics/${seg(name)}`, { signal }),
    [name],
  );
  const liveTopic = live.latest?.topics.find((candidate) => candidate.name === name);
  // Offsets and lag move with every publish and commit: follow the live stats when they run.
  const liveKey = liveTopic
    ? JSON.stringify([liveTopic.partitions, liveTopic.groups.map((group) => [group.name, group.lag])])
    : null;
  useEffect(() => {
    if (liveKey !== null) void topic.reload();
  }, [liveKey]);
  useInterval(() => void topic.reload(), liveTopic ? null : 5000);
  const [seeking, setSeeking] = useState<Group | null>(null);

  if (topic.error && !topic.data) {
    return (
      <>
        <PageTitle title={`Topic ${name}`}>Topic {name}</PageTitle>
        <ErrorBox error={topic.error} action={<Link href="/">Back to the overview</Link>} />
      </>
    );
  }
  const data = topic.data;
  return (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <Link href="/">Overview</Link> / topics
      </nav>
      <PageTitle title={`Topic ${name}`}>
        Topic <span class="mono">{name}</span>
      </PageTitle>
      {!data ? (
        <Loading what="the topic" />
      ) : (
        <>
          <p class="muted small config-line">
            {plural(data.partitions, 'partition')} · retention{' '}
            {data.retentionMs === null ? 'forever' : `${Math.round(data.retentionMs / 3_600_000)} h`}
            {data.retentionBytes === null
              ? ''
              : ` or ${formatCount(data.retentionBytes)} bytes per partition`}
          </p>
          <div class="columns">
            <Partitions topic={data} />
            <Groups topic={data} onSeek={setSeeking} onChange={() => void topic.reload()} />
          </div>
          <Tail topic={data} />
          {seeking ? (
            <SeekDialog
              topic={name}
              group={seeking}
              onClose={() => setSeeking(null)}
              onDone={() => {
                setSeeking(null);
                void topic.reload();
              }}
            />
          ) : null}
        </>
      )}
      <TestMessageForm kind="topic" name={name} onSent={() => void topic.reload()} />
    </>
  );
}

function Partitions({ topic }: { topic: TopicWithStats }) {
  return (
    <section aria-labelledby="partitions-title" class="panel">
      <h2 id="partitions-title">Partitions</h2>
      <table class="data" aria-labelledby="partitions-title">
        <thead>
          <tr>
            <th scope="col">Partition</th>
            <th scope="col" class="num">
              First kept offset
            </th>
            <th scope="col" class="num">
              End offset
            </th>
            <th scope="col" class="num">
              Events kept
            </th>
          </tr>
        </thead>
        <tbody>
          {topic.stats.partitions.map((partition) => (
            <tr key={partition.partition} data-partition={partition.partition}>
              <th scope="row">{partition.partition}</th>
              <td class="num">{formatCount(partition.startOffset)}</td>
              <td class="num" data-col="end-offset">
                {formatCount(partition.endOffset)}
              </td>
              <td class="num">{formatCount(partition.endOffset - partition.startOffset)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Groups({
  topic,
  onSeek,
  onChange,
}: {
  topic: TopicWithStats;
  onSeek: (group: Group) => void;
  onChange: () => void;
}) {
  const canAdmin = useCan('admin');
  const groups = topic.stats.groups;
  const toggle = async (group: string, action: 'pause' | 'resume') => {
    try {
      await api('POST', `/v1/topics/${seg(topic.name)}/groups/${seg(group)}/${action}`);
      notify(
        action === 'pause' ? `Paused group ${group}: its members read nothing.` : `Resumed group ${group}.`,
      );
      onChange();
    } catch (error) {
      notify(`Could not ${action} group ${group}: ${(error as ApiError).message}`, 'error');
    }
  };
  return (
    <section aria-labelledby="groups-title" class="panel">
      <h2 id="groups-title">Consumer groups</h2>
      {groups.length === 0 ? (
        <p class="muted">No consumer group reads this topic yet.</p>
      ) : (
        <table class="data" aria-labelledby="groups-title">
          <thead>
            <tr>
              <th scope="col">Group / partition</th>
              <th scope="col" class="num">
                Committed
              </th>
              <th scope="col" class="num">
                End
              </th>
              <th scope="col" class="num">
                Lag
              </th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {groups.map((group) => (
              <Fragment key={group.group}>
                <tr class="group-row" data-group={group.group}>
                  <th scope="row">
                    {group.group} <span class="muted small">{plural(group.members, 'member')}</span>
                    {group.paused ? (
                      <>
                        {' '}
                        <span class="badge tone-warn" data-paused-group={group.group}>
                          paused
                        </span>
                      </>
                    ) : null}
                  </th>
                  <td />
                  <td />
                  <td class="num">
                    <span class={`badge ${group.totalLag > 0 ? 'tone-warn' : 'tone-ok'}`}>
                      {formatCount(group.totalLag)}
                    </span>
                  </td>
                  <td>
                    {canAdmin ? (
                      <>
                        <button
                          type="button"
                          onClick={() => void toggle(group.group, group.paused ? 'resume' : 'pause')}
                          aria-label={`${group.paused ? 'Resume' : 'Pause'} group ${group.group}`}
                        >
                          {group.paused ? 'Resume' : 'Pause'}
                        </button>{' '}
                        <button
                          type="button"
                          onClick={() => onSeek(group)}
                          aria-label={`Seek group ${group.group}`}
                        >
                          Seek…
                        </button>
                      </>
                    ) : null}
                  </td>
                </tr>
                {group.partitions.map((partition) => (
                  <tr key={partition.partition} class="sub-row">
                    <th scope="row" class="indent">
                      partition {partition.partition}
                    </th>
                    <td class="num">{formatCount(partition.committed)}</td>
                    <td class="num">{formatCount(partition.endOffset)}</td>
                    <td class="num">{formatCount(partition.lag)}</td>
                    <td />
                  </tr>
                ))}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The most recent events across partitions, newest first. */
function Tail({ topic }: { topic: TopicWithStats }) {
  const [follow, setFollow] = useState(true);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = (id: string) =>
    setOpen((current) => {
      const next = new Set(current);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const ends = topic.stats.partitions.map((partition) => partition.endOffset).join(',');
  const tail = useResource(
    async (signal) => {
      const reads = await Promise.all(
        topic.stats.partitions.map((partition) =>
          api<ReadResult>(
            'GET',
            withQuery(`/v1/topics/${seg(topic.name)}/partitions/${partition.partition}/events`, {
              from: Math.max(partition.startOffset, partition.endOffset - tailSize),
              limit: tailSize,
            }),
            { signal },
          ),
        ),
      );
      return reads
        .flatMap((read) => read.events)
        .sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp) || b.offset - a.offset)
        .slice(0, tailSize);
    },
    [topic.name],
  );
  useEffect(() => {
    if (follow) void tail.reload();
  }, [ends]);

  return (
    <section aria-labelledby="tail-title" class="panel">
      <div class="toolbar">
        <h2 id="tail-title">Recent events</h2>
        <label class="inline">
          <input
            type="checkbox"
            checked={follow}
            onChange={(event) => setFollow(event.currentTarget.checked)}
          />{' '}
          Follow new events
        </label>
        <button type="button" onClick={() => void tail.reload()} disabled={tail.loading}>
          Refresh
        </button>
      </div>
      {tail.error ? <ErrorBox error={tail.error} /> : null}
      {!tail.data ? (
        tail.error ? null : (
          <Loading what="recent events" />
        )
      ) : tail.data.length === 0 ? (
        <p class="muted">No events kept in this topic.</p>
      ) : (
        <div class="table-wrap">
          <table class="data" aria-labelledby="tail-title">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col" class="num">
                  Partition
                </th>
                <th scope="col" class="num">
                  Offset
                </th>
                <th scope="col">Key</th>
                <th scope="col">Type</th>
                <th scope="col">Body</th>
              </tr>
            </thead>
            <tbody>
              {tail.data.map((event: TopicEvent) => (
                <Fragment key={event.id}>
                  <tr data-event={event.id}>
                    <td>
                      <button
                        type="button"
                        class="disclosure"
                        aria-expanded={open.has(event.id)}
                        aria-label={`Event at partition ${event.partition}, offset ${event.offset}`}
                        onClick={() => toggle(event.id)}
                      >
                        <span class="disclosure-icon" aria-hidden="true" />
                        <Time at={event.timestamp} />
                      </button>
                    </td>
                    <td class="num">{event.partition}</td>
                    <td class="num">{event.offset}</td>
                    <td class="mono">{event.key ?? ''}</td>
                    <td class="mono">{eventType(event)}</td>
                    <td class="mono clip">{bodyPreview(event)}</td>
                  </tr>
                  {open.has(event.id) ? (
                    <tr class="detail-row">
                      <td colSpan={6}>
                        <MessageDetail message={event} />
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function SeekDialog({
  topic,
  group,
  onClose,
  onDone,
}: {
  topic: string;
  group: Group;
  onClose: () => void;
  onDone: () => void;
}) {
  const [to, setTo] = useState<'earliest' | 'latest' | 'time'>('latest');
  const [time, setTime] = useState(toLocalInput(new Date(Date.now() - 3_600_000).toISOString()));
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    let target: SeekTarget;
    if (to === 'time') {
      const iso = fromLocalInput(time);
      if (iso === '') {
        setProblem('Enter a date and time.');
        return;
      }
      target = { timestamp: iso };
    } else target = to;
    setBusy(true);
    setProblem(null);
    try {
      const result = await api<SeekResult>(
        'POST',
        `/v1/topics/${seg(topic)}/groups/${seg(group.group)}/seek`,
        {
          body: { to: target },
        },
      );
      const offsets = result.offsets.map((entry) => `${entry.partition}→${entry.offset}`).join(', ');
      notify(`Group ${group.group} now reads from ${offsets || 'its new offsets'}.`);
      onDone();
    } catch (error) {
      setProblem((error as ApiError).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={`Seek group ${group.group}`} onClose={onClose}>
      <form onSubmit={(event) => void submit(event)}>
        <p>
          Moves the committed offsets of <strong>{group.group}</strong> on <strong>{topic}</strong>. Its
          members drop what they have not committed and continue from there: moving back re-delivers events,
          moving forward skips them (it has {plural(group.totalLag, 'event')} unprocessed now).
        </p>
        <fieldset>
          <legend>Move to</legend>
          <label class="inline">
            <input type="radio" name="to" checked={to === 'earliest'} onChange={() => setTo('earliest')} />{' '}
            The earliest kept event (re-process everything kept)
          </label>
          <label class="inline">
            <input type="radio" name="to" checked={to === 'latest'} onChange={() => setTo('latest')} /> The
            end (skip the backlog)
          </label>
          <label class="inline">
            <input type="radio" name="to" checked={to === 'time'} onChange={() => setTo('time')} /> The first
            event at or after a time
          </label>
          <label for="seek-time" class={to === 'time' ? '' : 'muted'}>
            Time (your local time)
          </label>
          <input
            id="seek-time"
            type="datetime-local"
            step={1}
            value={time}
            disabled={to !== 'time'}
            onInput={(event) => setTime(event.currentTarget.value)}
          />
        </fieldset>
        {problem ? (
          <p class="field-error" role="alert">
            {problem}
          </p>
        ) : null}
        <div class="modal-actions">
          <button type="button" onClick={onClose} autoFocus>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={busy}>
            {busy ? 'Seeking…' : `Seek ${group.group}`}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/**
 * What kind of event it is: a CloudEvents `ce-type` or a `type` header, else the `type` field of
 * a JSON object body (how most producers say it), else nothing.
 */
function eventType(event: { headers: Record<string, string>; body?: unknown }): string {
  const header = event.headers['ce-type'] ?? event.headers.type;
  if (header !== undefined) return header;
  const body = event.body;
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const type = (body as Record<string, unknown>).type;
    if (typeof type === 'string') return type;
  }
  return '';
}
