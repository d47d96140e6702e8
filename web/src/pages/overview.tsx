/**
 * The overview: firing alerts, every queue (depths, rates, oldest message), every topic with its
 * groups' lag, and jobs by state — live from the stats stream. On a server without the stats
 * routes, queues and topics come from their own routes every 5 s (no rates, no jobs).
 */
import { useState } from 'preact/hooks';
import { api, type ApiError, seg } from '../api/http.js';
import type { Alert, QueueWithStats, Stats, TopicConfig, TopicWithStats } from '../api/types.js';
import { ErrorBox, Loading, Stat, Time } from '../components/bits.js';
import { CreateForms } from '../components/create-forms.js';
import { Link } from '../components/link.js';
import { formatCount, formatRate, formatSeconds } from '../format.js';
import { useInterval, useResource } from '../state/resource.js';
import { paths } from '../state/router.js';
import { useCan } from '../state/scopes.js';
import { queueRates, type Sample, useLiveStats } from '../state/stats.js';
import { servesJobType, servesQueue, useWorkers } from '../state/workers.js';
import type { Breaker, WorkerRecord } from '../api/types.js';
import { useBreakers } from '../state/breakers.js';
import { notify } from '../state/notices.js';
import { PageTitle } from './page-title.js';

/**
 * Queues and topics Spool keeps for itself: job queues (`jobs.<type>`, summed up under Jobs),
 * webhook deliveries and the events log. Hidden unless asked for, so the application's own
 * queues are what the overview shows first.
 */
export function isSystem(name: string): boolean {
  return name.startsWith('spool.') || name.startsWith('jobs.');
}

/**
 * Dead letters in Spool's own queues — webhook deliveries given up on, job tickets — would hide
 * with those queues: they are named here, with a link to each dead-letter queue, whatever the
 * toggle says.
 */
function HiddenDeadLetters({ queues }: { queues: readonly QueueRow[] }) {
  const withDead = queues.filter((queue) => queue.deadLettered > 0);
  if (withDead.length === 0) return null;
  return (
    <p class="panel system-dead" role="status" data-system-dead>
      Spool's own queues have dead letters:{' '}
      {withDead.map((queue, index) => (
        <span key={queue.name}>
          {index > 0 ? ', ' : null}
          <Link href={paths.queue(queue.name, 'dlq')} class="mono">
            {queue.name}
          </Link>{' '}
          ({formatCount(queue.deadLettered)})
        </span>
      ))}
      {withDead.some((queue) => queue.name === 'spool.webhooks')
        ? ' — undelivered webhooks (a receiver that kept failing, or no SPOOL_WEBHOOK_SECRET to sign with).'
        : '.'}
    </p>
  );
}

interface QueueRow {
  readonly name: string;
  readonly ready: number;
  readonly delayed: number;
  readonly inFlight: number;
  readonly deadLettered: number;
  readonly oldestSeconds: number | null;
  /** Paused: it takes sends and delivers nothing until resumed. */
  readonly paused: boolean;
  readonly inRate: number | null;
  readonly outRate: number | null;
  readonly p99: number | null;
}

interface TopicRow {
  readonly name: string;
  readonly partitions: number;
  readonly events: number;
  readonly groups: readonly { readonly name: string; readonly lag: number }[];
}

interface Overview {
  readonly queues: readonly QueueRow[];
  readonly topics: readonly TopicRow[];
  readonly jobs: Stats['jobs'] | null;
  readonly alerts: readonly Alert[] | null;
}

function fromStats(stats: Stats, history: readonly Sample[]): Overview {
  return {
    queues: stats.queues.map((queue) => ({
      name: queue.name,
      ready: queue.ready,
      delayed: queue.delayed,
      inFlight: queue.inFlight,
      deadLettered: queue.deadLettered,
      oldestSeconds: queue.oldestMessageAgeSeconds,
      paused: queue.paused,
      ...queueRates(history, queue.name),
      p99: queue.processingSeconds.p99,
    })),
    topics: stats.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.length,
      events: topic.partitions.reduce((sum, partition) => sum + partition.endOffset, 0),
      groups: topic.groups.map((group) => ({ name: group.name, lag: group.lag })),
    })),
    jobs: stats.jobs,
    alerts: stats.alerts,
  };
}

/** The same picture from the resource routes, for servers without `/v1/stats`. */
async function fromResources(signal: AbortSignal): Promise<Overview> {
  const [queues, topics] = await Promise.all([
    api<{ items: QueueWithStats[] }>('GET', '/v1/queues', { signal }),
    api<{ items: TopicConfig[] }>('GET', '/v1/topics', { signal }),
  ]);
  const details = await Promise.all(
    topics.items.map((topic) => api<TopicWithStats>('GET', `/v1/topics/${seg(topic.name)}`, { signal })),
  );
  return {
    queues: queues.items.map((queue) => ({
      name: queue.name,
      ...queue.stats,
      oldestSeconds: queue.stats.oldestAgeMs / 1000,
      inRate: null,
      outRate: null,
      p99: null,
    })),
    topics: details.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions,
      events: topic.stats.partitions.reduce((sum, partition) => sum + partition.endOffset, 0),
      groups: topic.stats.groups.map((group) => ({ name: group.group, lag: group.totalLag })),
    })),
    jobs: null,
    alerts: null,
  };
}

export function OverviewPage() {
  const live = useLiveStats();
  const unsupported = live.status === 'unsupported';
  const fallback = useResource(
    (signal) => (unsupported ? fromResources(signal) : Promise.resolve(null)),
    [unsupported],
  );
  useInterval(() => void fallback.reload(), unsupported ? 5000 : null);

  const [showSystem, setShowSystem] = useState(false);
  // The workers registry, when the token may read it: flags queues and job types nobody serves.
  const canRead = useCan('read');
  const canAdmin = useCan('admin');
  const workers = useWorkers(canRead || canAdmin).items;
  const breakers = useBreakers(canRead || canAdmin).items;

  const all = live.latest ? fromStats(live.latest, live.history) : (fallback.data ?? null);
  const error = unsupported ? fallback.error : live.latest ? null : live.error;
  const hidden = all
    ? all.queues.filter((queue) => isSystem(queue.name)).length +
      all.topics.filter((topic) => isSystem(topic.name)).length
    : 0;
  const overview =
    all && !showSystem
      ? {
          ...all,
          queues: all.queues.filter((queue) => !isSystem(queue.name)),
          topics: all.topics.filter((topic) => !isSystem(topic.name)),
        }
      : all;
  return (
    <>
      <PageTitle
        extra={
          hidden > 0 ? (
            <label class="inline small muted">
              <input
                type="checkbox"
                checked={showSystem}
                onChange={(event) => setShowSystem(event.currentTarget.checked)}
              />
              Show Spool's own queues and topics ({hidden}: jobs, webhooks, events log)
            </label>
          ) : null
        }
      >
        Overview
      </PageTitle>
      {error ? <ErrorBox error={error} /> : null}
      {overview === null ? (
        error ? null : (
          <Loading what="the overview" />
        )
      ) : (
        <>
          {overview.alerts ? <Alerts alerts={overview.alerts} /> : null}
          {breakers && breakers.length > 0 ? <BreakersSummary breakers={breakers} /> : null}
          {!showSystem ? (
            <HiddenDeadLetters queues={all!.queues.filter((queue) => isSystem(queue.name))} />
          ) : null}
          <QueuesTable
            queues={overview.queues}
            live={!unsupported}
            alerts={overview.alerts ?? []}
            workers={workers}
          />
          <TopicsTable topics={overview.topics} alerts={overview.alerts ?? []} />
          {overview.jobs ? <JobsSummary jobs={overview.jobs} queues={all!.queues} workers={workers} /> : null}
          <CreateForms />
        </>
      )}
    </>
  );
}

function Alerts({ alerts }: { alerts: readonly Alert[] }) {
  return (
    <section aria-labelledby="alerts-title" class="panel">
      <h2 id="alerts-title">
        Alerts <span class={`count ${alerts.length > 0 ? 'tone-bad' : 'tone-ok'}`}>{alerts.length}</span>
      </h2>
      {alerts.length === 0 ? (
        <p class="muted">No alert is firing.</p>
      ) : (
        <ul class="alerts">
          {alerts.map((alert) => (
            <li key={alert.id} class="alert-item">
              <strong>{alert.rule}</strong> <span class="badge tone-bad">{alert.kind}</span> {alert.message}{' '}
              <span class="muted small">
                (since <Time at={alert.since} />)
              </span>{' '}
              <AlertTarget alert={alert} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The circuit breakers by state, the open ones named: a dependency that is down shows here. */
function BreakersSummary({ breakers }: { breakers: readonly Breaker[] }) {
  const count = (state: Breaker['state']) => breakers.filter((breaker) => breaker.state === state).length;
  const notClosed = breakers.filter((breaker) => breaker.state !== 'closed');
  return (
    <section aria-labelledby="breakers-title" class="panel" data-breakers-summary>
      <h2 id="breakers-title">
        <Link href={paths.breakers()}>Circuit breakers</Link>
      </h2>
      <dl class="stats">
        <Stat label="open" tone={count('open') > 0 ? 'bad' : undefined} value={formatCount(count('open'))} />
        <Stat
          label="half-open"
          tone={count('half-open') > 0 ? 'warn' : undefined}
          value={formatCount(count('half-open'))}
        />
        <Stat label="closed" value={formatCount(count('closed'))} />
      </dl>
      {notClosed.length > 0 ? (
        <p class="small">
          Not closed:{' '}
          {notClosed.map((breaker, index) => (
            <span key={breaker.name}>
              {index > 0 ? ', ' : null}
              <span class="mono">{breaker.name}</span>{' '}
              <span class={`badge tone-${breaker.state === 'open' ? 'bad' : 'warn'}`}>{breaker.state}</span>
            </span>
          ))}{' '}
          — <Link href={paths.breakers()}>see the breakers</Link>
        </p>
      ) : null}
    </section>
  );
}

function AlertTarget({ alert }: { alert: Alert }) {
  if (alert.target.queue)
    return <Link href={paths.queue(alert.target.queue)}>Open queue {alert.target.queue}</Link>;
  if (alert.target.topic)
    return <Link href={paths.topic(alert.target.topic)}>Open topic {alert.target.topic}</Link>;
  return null;
}

/** A badge next to a queue or topic a firing alert is about, naming the rules. */
function AlertBadge({ alerts }: { alerts: readonly Alert[] }) {
  if (alerts.length === 0) return null;
  return (
    <span class="badge tone-bad" title={alerts.map((alert) => alert.message).join('\n')}>
      {alerts.length === 1 ? `alert: ${alerts[0]!.rule}` : `${alerts.length} alerts`}
    </span>
  );
}

function QueuesTable({
  queues,
  live,
  alerts,
  workers,
}: {
  queues: readonly QueueRow[];
  live: boolean;
  alerts: readonly Alert[];
  /** The workers registry; null when unknown (no flag then). */
  workers: readonly WorkerRecord[] | null;
}) {
  return (
    <section aria-labelledby="queues-title" class="panel">
      <h2 id="queues-title">
        Queues <span class="count">{queues.length}</span>
      </h2>
      {queues.length === 0 ? (
        <p class="muted">No queues yet. Create one with PUT /v1/queues/&lt;name&gt;.</p>
      ) : (
        <div class="table-wrap">
          <table class="data" aria-labelledby="queues-title">
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col" class="num">
                  Ready
                </th>
                <th scope="col" class="num">
                  Delayed
                </th>
                <th scope="col" class="num">
                  In flight
                </th>
                <th scope="col" class="num">
                  DLQ
                </th>
                {live ? (
                  <>
                    <th scope="col" class="num">
                      In /s
                    </th>
                    <th scope="col" class="num">
                      Out /s
                    </th>
                    <th scope="col" class="num">
                      p99
                    </th>
                  </>
                ) : null}
                <th scope="col" class="num">
                  Oldest
                </th>
              </tr>
            </thead>
            <tbody>
              {queues.map((queue) => (
                <tr key={queue.name} data-queue={queue.name}>
                  <th scope="row">
                    <Link href={paths.queue(queue.name)}>{queue.name}</Link>{' '}
                    <AlertBadge alerts={alerts.filter((alert) => alert.target.queue === queue.name)} />
                    {queue.paused ? (
                      <span
                        class="badge tone-warn"
                        data-paused={queue.name}
                        title="Sends land; nothing is delivered until it resumes"
                      >
                        paused
                      </span>
                    ) : null}
                    {workers !== null &&
                    !queue.paused &&
                    queue.ready > 0 &&
                    !servesQueue(workers, queue.name) ? (
                      <Link
                        href={paths.workers()}
                        class="badge tone-warn unserved"
                        data-unconsumed={queue.name}
                        title="Messages are ready and no live consumer of this queue is registered"
                      >
                        no consumer
                      </Link>
                    ) : null}
                  </th>
                  <td class="num" data-col="ready">
                    {formatCount(queue.ready)}
                  </td>
                  <td class="num" data-col="delayed">
                    {formatCount(queue.delayed)}
                  </td>
                  <td class="num" data-col="in-flight">
                    {formatCount(queue.inFlight)}
                  </td>
                  <td class="num" data-col="dlq">
                    {queue.deadLettered > 0 ? (
                      <Link
                        href={paths.queue(queue.name, 'dlq')}
                        class="tone-bad"
                        aria-label={`${formatCount(queue.deadLettered)} dead letters in ${queue.name}`}
                      >
                        {formatCount(queue.deadLettered)}
                      </Link>
                    ) : (
                      '0'
                    )}
                  </td>
                  {live ? (
                    <>
                      <td class="num">{formatRate(queue.inRate)}</td>
                      <td class="num">{formatRate(queue.outRate)}</td>
                      <td class="num">{formatSeconds(queue.p99)}</td>
                    </>
                  ) : null}
                  <td class="num">{queue.oldestSeconds ? formatSeconds(queue.oldestSeconds) : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function TopicsTable({ topics, alerts }: { topics: readonly TopicRow[]; alerts: readonly Alert[] }) {
  return (
    <section aria-labelledby="topics-title" class="panel">
      <h2 id="topics-title">
        Topics <span class="count">{topics.length}</span>
      </h2>
      {topics.length === 0 ? (
        <p class="muted">No topics yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="data" aria-labelledby="topics-title">
            <thead>
              <tr>
                <th scope="col">Topic</th>
                <th scope="col" class="num">
                  Partitions
                </th>
                <th scope="col" class="num">
                  Events
                </th>
                <th scope="col">Groups (lag)</th>
              </tr>
            </thead>
            <tbody>
              {topics.map((topic) => (
                <tr key={topic.name} data-topic={topic.name}>
                  <th scope="row">
                    <Link href={paths.topic(topic.name)}>{topic.name}</Link>{' '}
                    <AlertBadge alerts={alerts.filter((alert) => alert.target.topic === topic.name)} />
                  </th>
                  <td class="num">{topic.partitions}</td>
                  <td class="num">{formatCount(topic.events)}</td>
                  <td>
                    {topic.groups.length === 0 ? (
                      <span class="muted">none</span>
                    ) : (
                      <ul class="inline-list">
                        {topic.groups.map((group) => (
                          <li key={group.name}>
                            {group.name}{' '}
                            <span class={`badge ${group.lag > 0 ? 'tone-warn' : 'tone-ok'}`}>
                              lag {formatCount(group.lag)}
                            </span>
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

type JobState = keyof Stats['jobs']['byState'];
const shownStates: readonly JobState[] = [
  'waiting',
  'scheduled',
  'queued',
  'active',
  'retrying',
  'completed',
  'dead',
  'cancelled',
];
const stateTone: Record<string, string> = { active: 'info', retrying: 'warn', dead: 'bad', completed: 'ok' };

/** How long queued jobs of a type may wait, none running, before the overview asks for a worker. */
const unservedAfterSeconds = 30;

/**
 * Job types that look unserved: jobs queued and none running, and — with the workers registry —
 * no live worker (in process or remote) registered for the type, or — without it — the type's
 * oldest ticket waiting for {@link unservedAfterSeconds} or more.
 */
function unservedTypes(
  jobs: Stats['jobs'],
  queues: readonly QueueRow[],
  workers: readonly WorkerRecord[] | null,
): Map<string, number> {
  const waiting = new Map<string, number>();
  for (const entry of jobs.byType) {
    // A paused type's queued jobs wait on purpose: the row says paused instead.
    if (entry.paused) continue;
    const age = queues.find((queue) => queue.name === `jobs.${entry.type}`)?.oldestSeconds ?? null;
    if (workers !== null) {
      if (entry.byState.queued > 0 && entry.byState.active === 0 && !servesJobType(workers, entry.type)) {
        waiting.set(entry.type, age ?? 0);
      }
      continue;
    }
    if (
      entry.byState.queued > 0 &&
      entry.byState.active === 0 &&
      age !== null &&
      age >= unservedAfterSeconds
    ) {
      waiting.set(entry.type, age);
    }
  }
  return waiting;
}

function JobsSummary({
  jobs,
  queues,
  workers,
}: {
  jobs: Stats['jobs'];
  queues: readonly QueueRow[];
  workers: readonly WorkerRecord[] | null;
}) {
  const unserved = unservedTypes(jobs, queues, workers);
  const canAdmin = useCan('admin');
  const [busy, setBusy] = useState<string | null>(null);
  // The stats stream shows the change within a second; nothing to reload by hand.
  const toggle = async (type: string, action: 'pause' | 'resume') => {
    setBusy(type);
    try {
      await api('POST', `/v1/jobs/types/${seg(type)}/${action}`);
      notify(action === 'pause' ? `Paused job type ${type}.` : `Resumed job type ${type}.`);
    } catch (error) {
      notify(`Could not ${action} job type ${type}: ${(error as ApiError).message}`, 'error');
    } finally {
      setBusy(null);
    }
  };
  return (
    <section aria-labelledby="jobs-title" class="panel">
      <h2 id="jobs-title">Jobs by state</h2>
      <dl class="stats">
        {shownStates.map((state) => (
          <Stat
            key={state}
            label={state}
            tone={jobs.byState[state] > 0 ? stateTone[state] : undefined}
            value={<Link href={paths.jobs({ status: state })}>{formatCount(jobs.byState[state])}</Link>}
          />
        ))}
      </dl>
      {jobs.byType.length > 0 ? (
        <div class="table-wrap">
          <table class="data">
            <caption class="visually-hidden">Jobs by type and state</caption>
            <thead>
              <tr>
                <th scope="col">Type</th>
                {shownStates.map((state) => (
                  <th key={state} scope="col" class="num">
                    {state}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {jobs.byType.map((entry) => (
                <tr key={entry.type}>
                  <th scope="row">
                    <Link href={paths.jobs({ type: entry.type })}>{entry.type}</Link>{' '}
                    {entry.paused ? (
                      <span class="badge tone-warn" data-paused-type={entry.type}>
                        paused
                      </span>
                    ) : null}
                    {canAdmin ? (
                      <button
                        type="button"
                        class="small"
                        disabled={busy === entry.type}
                        aria-label={`${entry.paused ? 'Resume' : 'Pause'} job type ${entry.type}`}
                        onClick={() => void toggle(entry.type, entry.paused ? 'resume' : 'pause')}
                      >
                        {entry.paused ? 'Resume' : 'Pause'}
                      </button>
                    ) : null}
                    {unserved.has(entry.type) ? (
                      <span class="badge tone-warn unserved" data-unserved={entry.type}>
                        {workers !== null
                          ? `no worker: ${entry.byState.queued} queued, no live worker registered`
                          : `no worker? ${entry.byState.queued} queued, none running for ${formatSeconds(unserved.get(entry.type))}`}
                      </span>
                    ) : null}
                  </th>
                  {shownStates.map((state) => (
                    <td key={state} class="num">
                      {entry.byState[state] > 0 ? (
                        <Link href={paths.jobs({ type: entry.type, status: state })}>
                          {formatCount(entry.byState[state])}
                        </Link>
                      ) : (
                        <span class="muted">0</span>
                      )}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
