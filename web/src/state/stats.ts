/**
 * Live stats: one `GET /v1/stats/stream` connection shared by every screen, opened while at
 * least one screen watches and closed shortly after the last one leaves. Keeps the last five
 * minutes of snapshots so charts have a history, and turns the monotonic `*Total` counters into
 * rates (per second) between snapshots. A server without the stats routes (404) leaves the
 * screens on their own API calls.
 */
import { useEffect } from 'preact/hooks';
import { auth } from '../api/auth.js';
import { api, type ApiError } from '../api/http.js';
import { followStream, type StreamStatus } from '../api/sse.js';
import type { QueueStats, Stats, StatsHistory } from '../api/types.js';
import { createStore, useStore } from './store.js';

/** How much history the charts show. */
export const historyMs = 5 * 60_000;

/** One queue at one instant, with rates since the snapshot before. */
export interface QueuePoint {
  readonly t: number;
  readonly depth: number;
  readonly deadLettered: number;
  /** Messages sent per second; null at the first point or after the server restarted. */
  readonly inRate: number | null;
  /** Messages acked per second. */
  readonly outRate: number | null;
  readonly p50: number | null;
  readonly p99: number | null;
}

/**
 * A snapshot and when the server built it (epoch ms, the server's clock). Rates divide by the
 * time between builds: the counters are read then, whereas `time` says when the store was last
 * read, which the server does at most once a second.
 */
export interface Sample {
  readonly at: number;
  readonly stats: Stats;
}

export interface LiveStats {
  readonly status: StreamStatus | 'idle' | 'unsupported';
  readonly error: ApiError | null;
  readonly latest: Stats | null;
  /** Snapshots of the last {@link historyMs}, oldest first. */
  readonly history: readonly Sample[];
}

export const liveStats = createStore<LiveStats>({ status: 'idle', error: null, latest: null, history: [] });

let watchers = 0;
let connection: AbortController | null = null;
let closeTimer: ReturnType<typeof setTimeout> | undefined;

function receive(snapshot: Stats, at: number): void {
  liveStats.update((state) => {
    const history = state.history.filter((old) => at - old.at <= historyMs && old.at < at);
    const last = history.at(-1);
    // A restarted server starts its counters over: the old history no longer subtracts.
    const kept = last && last.stats.startedAt !== snapshot.startedAt ? [] : history;
    return { ...state, latest: snapshot, history: [...kept, { at, stats: snapshot }] };
  });
}

/**
 * Seeds the charts with the server's samples of the last {@link historyMs} (every 10 s), so a
 * page load starts from history rather than from empty. A server without the route, or an
 * error, just leaves the charts to fill live.
 */
async function loadHistory(signal: AbortSignal): Promise<void> {
  try {
    const { samples } = await api<StatsHistory>('GET', `/v1/stats/history?windowMs=${historyMs}`, { signal });
    for (const sample of samples) receive(sample.stats, Date.parse(sample.at));
  } catch {
    // The live stream below reports what is wrong, if anything is.
  }
}

function open(): void {
  const controller = new AbortController();
  connection = controller;
  const { signal } = controller;
  void (async () => {
    await loadHistory(signal);
    try {
      const first = await api<Stats>('GET', '/v1/stats', { signal });
      receive(first, Date.parse(first.time));
    } catch (error) {
      if (signal.aborted) return;
      const apiError = error as ApiError;
      const status = apiError.status === 404 ? 'unsupported' : 'failed';
      liveStats.update((state) => ({ ...state, status, error: apiError }));
      if (status === 'unsupported' || apiError.status === 401) return;
    }
    await followStream('/v1/stats/stream', {
      signal,
      onEvent: (event) => {
        if (event.event !== 'stats') return;
        try {
          const snapshot = JSON.parse(event.data) as Stats;
          const at = Number(event.id);
          receive(snapshot, Number.isFinite(at) && at > 0 ? at : Date.parse(snapshot.time));
        } catch {
          // A malformed snapshot is skipped; the next one comes within a second.
        }
      },
      onStatus: (status, error) =>
        liveStats.update((state) => ({
          ...state,
          status: status === 'failed' && error?.status === 404 ? 'unsupported' : status,
          error: error ?? null,
        })),
    });
  })();
}

function close(): void {
  connection?.abort();
  connection = null;
  liveStats.update((state) => ({ ...state, status: 'idle' }));
}

// A new token (after a 401) reconnects with it.
let tokenVersion = auth.get().version;
auth.subscribe(({ version }) => {
  if (version === tokenVersion) return;
  tokenVersion = version;
  if (connection === null) return;
  close();
  if (watchers > 0) open();
});

/** The live stats; keeps the shared stream open while the calling component is mounted. */
export function useLiveStats(): LiveStats {
  useEffect(() => {
    watchers++;
    clearTimeout(closeTimer);
    if (connection === null) open();
    return () => {
      watchers--;
      // Moving between screens unmounts one watcher before mounting the next: keep the stream.
      if (watchers === 0) closeTimer = setTimeout(close, 5000);
    };
  }, []);
  return useStore(liveStats);
}

/** Per-second rate of `counter` between two snapshots; null when it cannot be told. */
function rate(before: number | undefined, after: number, seconds: number): number | null {
  if (before === undefined || seconds <= 0 || after < before) return null;
  return (after - before) / seconds;
}

/** The chart series of one queue over the kept history. */
export function queueSeries(history: readonly Sample[], name: string): QueuePoint[] {
  const points: QueuePoint[] = [];
  let previous: { at: number; queue: QueueStats } | undefined;
  for (const { at, stats } of history) {
    const queue = stats.queues.find((candidate) => candidate.name === name);
    if (!queue) {
      previous = undefined;
      continue;
    }
    const seconds = previous ? (at - previous.at) / 1000 : 0;
    points.push({
      t: at,
      depth: queue.ready + queue.delayed + queue.inFlight,
      deadLettered: queue.deadLettered,
      inRate: rate(previous?.queue.sentTotal, queue.sentTotal, seconds),
      outRate: rate(previous?.queue.ackedTotal, queue.ackedTotal, seconds),
      p50: queue.processingSeconds.p50,
      p99: queue.processingSeconds.p99,
    });
    previous = { at, queue };
  }
  return points;
}

/**
 * A queue's send and ack rates averaged over the last `windowMs` (smoother than one interval),
 * null until two snapshots are at hand.
 */
export function queueRates(
  history: readonly Sample[],
  name: string,
  windowMs = 10_000,
): { inRate: number | null; outRate: number | null } {
  const last = history.at(-1);
  const lastQueue = last?.stats.queues.find((queue) => queue.name === name);
  if (!last || !lastQueue) return { inRate: null, outRate: null };
  const first = history.find((sample) => last.at - sample.at <= windowMs);
  const firstQueue = first?.stats.queues.find((queue) => queue.name === name);
  if (!first || !firstQueue || first === last) return { inRate: null, outRate: null };
  const seconds = (last.at - first.at) / 1000;
  return {
    inRate: rate(firstQueue.sentTotal, lastQueue.sentTotal, seconds),
    outRate: rate(firstQueue.ackedTotal, lastQueue.ackedTotal, seconds),
  };
}
