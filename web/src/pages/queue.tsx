/**
 * One queue: its configuration and counts, and three tabs — live charts (rates in and out,
 * depth, processing time p50/p99 from the stats stream), the messages browser, and the
 * dead-letter queue with redrive and purge.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, type ApiError, seg } from '../api/http.js';
import type { QueueWithStats } from '../api/types.js';
import { ErrorBox, Loading, Stat } from '../components/bits.js';
import { LineChart } from '../components/line-chart.js';
import { TestMessageForm } from '../components/test-message.js';
import { Link } from '../components/link.js';
import { formatCount, formatRate, formatSeconds } from '../format.js';
import { useInterval, useResource } from '../state/resource.js';
import { paths } from '../state/router.js';
import { historyMs, queueSeries, useLiveStats } from '../state/stats.js';
import { notify } from '../state/notices.js';
import { useCan } from '../state/scopes.js';
import { isSystem } from './overview.js';
import { PageTitle } from './page-title.js';
import { DeadLetters } from './queue-dlq.js';
import { QueueMessages } from './queue-messages.js';

export type QueueTab = 'live' | 'messages' | 'dlq';

export function QueuePage({ name, tab }: { name: string; tab: QueueTab }) {
  const live = useLiveStats();
  const queue = useResource(
    (signal) => api<QueueWithStats>('GET', `/v1/queues/${seg(name)}`, { signal }),
    [name],
  );
  const liveQueue = live.latest?.queues.find((candidate) => candidate.name === name);
  const canAdmin = useCan('admin');
  const [busy, setBusy] = useState(false);
  // Another operator's pause or resume shows in the live stream: read the queue again then.
  const livePaused = liveQueue?.paused;
  useEffect(() => {
    if (livePaused !== undefined && livePaused !== queue.data?.stats.paused) void queue.reload();
  }, [livePaused]);
  const toggle = async (action: 'pause' | 'resume') => {
    setBusy(true);
    try {
      await api<QueueWithStats>('POST', `/v1/queues/${seg(name)}/${action}`);
      notify(action === 'pause' ? `Paused queue ${name}.` : `Resumed queue ${name}.`);
      await queue.reload();
    } catch (error) {
      notify(`Could not ${action} queue ${name}: ${(error as ApiError).message}`, 'error');
    } finally {
      setBusy(false);
    }
  };
  // Counts come live from the stream when it runs; otherwise the queue is read every 5 s.
  useInterval(() => void queue.reload(), liveQueue ? null : 5000);

  if (queue.error && !queue.data) {
    return (
      <>
        <PageTitle title={name}>Queue {name}</PageTitle>
        <ErrorBox error={queue.error} action={<Link href="/">Back to the overview</Link>} />
      </>
    );
  }
  const counts = liveQueue
    ? {
        ready: liveQueue.ready,
        delayed: liveQueue.delayed,
        inFlight: liveQueue.inFlight,
        deadLettered: liveQueue.deadLettered,
        oldestSeconds: liveQueue.oldestMessageAgeSeconds,
      }
    : queue.data
      ? { ...queue.data.stats, oldestSeconds: queue.data.stats.oldestAgeMs / 1000 }
      : null;
  const config = queue.data;
  const paused = queue.data?.stats.paused ?? false;
  // Spool's own queues are paused through their job type (the overview), not here.
  const reserved = isSystem(name);
  return (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <Link href="/">Overview</Link> / queues
      </nav>
      <PageTitle
        title={`Queue ${name}`}
        extra={
          queue.data ? (
            <div class="head-actions">
              {paused ? (
                <span class="badge tone-warn" data-queue-paused>
                  paused: nothing is delivered
                </span>
              ) : null}
              {canAdmin && !reserved ? (
                <button
                  type="button"
                  disabled={busy}
                  onClick={() => void toggle(paused ? 'resume' : 'pause')}
                >
                  {paused ? 'Resume' : 'Pause'}
                </button>
              ) : null}
            </div>
          ) : null
        }
      >
        Queue <span class="mono">{name}</span>
      </PageTitle>
      {counts ? (
        <dl class="stats" aria-label="Queue counts">
          <Stat label="Ready" value={<span data-stat="ready">{formatCount(counts.ready)}</span>} />
          <Stat label="Delayed" value={formatCount(counts.delayed)} />
          <Stat label="In flight" value={formatCount(counts.inFlight)} />
          <Stat
            label="Dead letters"
            tone={counts.deadLettered > 0 ? 'bad' : undefined}
            value={<span data-stat="dead-lettered">{formatCount(counts.deadLettered)}</span>}
          />
          <Stat
            label="Oldest message"
            value={counts.oldestSeconds ? formatSeconds(counts.oldestSeconds) : '–'}
          />
        </dl>
      ) : (
        <Loading what="the queue" />
      )}
      {config ? (
        <p class="muted small config-line">
          max attempts {config.maxAttempts} · lease {formatSeconds(config.visibilityTimeoutMs / 1000)} ·
          backoff {formatSeconds(config.backoff.baseMs / 1000)}–{formatSeconds(config.backoff.capMs / 1000)} (
          {config.backoff.jitter} jitter) · max depth{' '}
          {config.maxDepth === null ? 'unbounded' : formatCount(config.maxDepth)} · dedup window{' '}
          {formatSeconds(config.dedupWindowMs / 1000)}
          {config.messageTtlMs == null
            ? null
            : ` · messages expire after ${formatSeconds(config.messageTtlMs / 1000)}`}
        </p>
      ) : null}
      <nav class="tabs" aria-label="Queue views">
        <Link href={paths.queue(name)} aria-current={tab === 'live' ? 'page' : undefined}>
          Live
        </Link>
        <Link href={paths.queue(name, 'messages')} aria-current={tab === 'messages' ? 'page' : undefined}>
          Messages
        </Link>
        <Link href={paths.queue(name, 'dlq')} aria-current={tab === 'dlq' ? 'page' : undefined}>
          Dead letters{counts && counts.deadLettered > 0 ? ` (${formatCount(counts.deadLettered)})` : ''}
        </Link>
      </nav>
      {tab === 'live' ? <LiveCharts name={name} /> : null}
      {tab === 'messages' ? (
        <QueueMessages name={name} depth={counts ? counts.ready + counts.delayed + counts.inFlight : null} />
      ) : null}
      {tab === 'dlq' ? <DeadLetters name={name} deadLettered={counts?.deadLettered ?? null} /> : null}
      <TestMessageForm kind="queue" name={name} onSent={() => void queue.reload()} />
    </>
  );
}

function LiveCharts({ name }: { name: string }) {
  const live = useLiveStats();
  if (live.status === 'unsupported') {
    return (
      <p class="muted">
        This server does not publish live stats (GET /v1/stats/stream), so there are no charts.
      </p>
    );
  }
  const points = queueSeries(live.history, name);
  const times = points.map((point) => point.t);
  return (
    <section class="charts" aria-label="Live charts">
      <LineChart
        title="Messages per second"
        times={times}
        windowMs={historyMs}
        format={formatRate}
        series={[
          { label: 'In (sent)', tone: 'series-1', values: points.map((point) => point.inRate) },
          { label: 'Out (acked)', tone: 'series-2', values: points.map((point) => point.outRate) },
        ]}
      />
      <LineChart
        title="Depth"
        times={times}
        windowMs={historyMs}
        format={formatCount}
        series={[
          { label: 'Messages', tone: 'series-1', values: points.map((point) => point.depth) },
          { label: 'Dead letters', tone: 'series-3', values: points.map((point) => point.deadLettered) },
        ]}
      />
      <LineChart
        title="Processing time (last 60 s)"
        times={times}
        windowMs={historyMs}
        format={formatSeconds}
        series={[
          { label: 'p50', tone: 'series-1', values: points.map((point) => point.p50) },
          { label: 'p99', tone: 'series-2', values: points.map((point) => point.p99) },
        ]}
      />
    </section>
  );
}
