/**
 * `spool stats`: the stats document of `GET /v1/stats` — queues with their depths and what the
 * server counted, topics with each consumer group's lag, jobs by state, firing alerts — as
 * tables, or as the document itself with `--json`.
 *
 * In direct mode (`--data`) the document is built in this process from the store: depths, lag
 * and job counts are the same; the `*Total` counters and processing quantiles are zero/null,
 * because they count what a running server did, and no server is involved.
 *
 * Spool's own queues and topics (`spool.*`: webhooks, the events log; `jobs.*`: one queue per job
 * type, counted under jobs) are left out, as the dashboard does, unless `--all` — from the JSON
 * document too, so that `--all` means the same with and without `--json`.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { SpoolError } from '../../core/errors.js';
import type { StatsSnapshot } from '../../observability/stats.js';
import { isInternalName } from '../../server/handles.js';
import { type ClientFlags, clientFor, withClientOptions } from './support/client-options.js';
import { duration, note, out, printJson, table } from './support/output.js';

interface StatsFlags extends ClientFlags {
  all?: boolean;
}

/** Adds `spool stats` to the program. */
export function registerStats(program: Command): void {
  withClientOptions(
    program
      .command('stats')
      .description('queues with depths and counters, topics with consumer-group lag, jobs by state, alerts')
      .option('--all', "also Spool's own queues and topics (spool.*, and jobs.* queues, one per job type)"),
  ).action(async (flags: StatsFlags) => {
    const all = flags.data === undefined ? await fromServer(flags) : await fromDataDirectory(flags.data);
    const stats = flags.all
      ? all
      : {
          ...all,
          queues: all.queues.filter((queue) => !isInternalName(queue.name)),
          topics: all.topics.filter((topic) => !isInternalName(topic.name)),
        };
    if (flags.json) printJson(stats);
    else {
      printStats(stats, flags.data !== undefined);
      const hidden = all.queues.length - stats.queues.length + all.topics.length - stats.topics.length;
      if (hidden > 0) note(`(${hidden} internal queues and topics of Spool not shown: --all shows them)`);
    }
  });
}

async function fromServer(flags: ClientFlags): Promise<StatsSnapshot> {
  return clientFor(flags).stats();
}

async function fromDataDirectory(dir: string): Promise<StatsSnapshot> {
  // Loaded only in direct mode: the server path needs neither the engine nor SQLite.
  const [{ openSpool }, { MetricsRecorder }, { StatsCollector }, { DirectModeError }] = await Promise.all([
    import('../../open-spool.js'),
    import('../../observability/metrics-recorder.js'),
    import('../../observability/stats.js'),
    import('./support/engine-backend.js'),
  ]);
  try {
    const spool = await openSpool({ path: join(dir, 'spool.db') });
    try {
      return await new StatsCollector({ spool, recorder: new MetricsRecorder() }).snapshot();
    } finally {
      await spool.close();
    }
  } catch (error) {
    if (error instanceof SpoolError) throw new DirectModeError(error.code, error.message, { cause: error });
    throw error;
  }
}

function printStats(stats: StatsSnapshot, direct: boolean): void {
  out(
    stats.queues.length === 0
      ? 'no queues'
      : table(
          [
            'queue',
            'ready',
            'delayed',
            'in flight',
            'dead',
            'oldest',
            'sent',
            'acked',
            'retried',
            'p50',
            'p99',
          ],
          stats.queues.map((q) => [
            q.name,
            q.ready,
            q.delayed,
            q.inFlight,
            q.deadLettered,
            q.oldestMessageAgeSeconds === null ? '-' : duration(Math.round(q.oldestMessageAgeSeconds * 1000)),
            q.sentTotal,
            q.ackedTotal,
            q.retriedTotal,
            seconds(q.processingSeconds.p50),
            seconds(q.processingSeconds.p99),
          ]),
        ),
  );
  out(
    direct
      ? '(direct mode: sent/acked/retried and p50/p99 are counted by a running server, not shown here)'
      : `(sent/acked/retried: since ${stats.startedAt}; p50/p99: handler time over the last minute)`,
  );
  out();
  const rows = stats.topics.flatMap((topic) => {
    const published = topic.partitions.reduce((sum, p) => sum + p.endOffset, 0);
    const base = [topic.name, topic.partitions.length, published];
    if (topic.groups.length === 0) return [[...base, '-', '-']];
    return topic.groups.map((group) => [...base, group.name, group.lag]);
  });
  out(rows.length === 0 ? 'no topics' : table(['topic', 'partitions', 'published', 'group', 'lag'], rows));
  if (stats.jobs.byType.length > 0) {
    out();
    const states = [
      'queued',
      'active',
      'retrying',
      'scheduled',
      'waiting',
      'completed',
      'dead',
      'cancelled',
    ] as const;
    out(
      table(
        ['job type', ...states],
        stats.jobs.byType.map(({ type, byState }) => [type, ...states.map((state) => byState[state])]),
      ),
    );
  }
  if (stats.alerts.length > 0) {
    out();
    out(
      table(
        ['alert', 'since', 'message'],
        stats.alerts.map((alert) => [alert.id, alert.since, alert.message]),
        100,
      ),
    );
  }
}

/** A quantile in seconds as a short human duration ('-' when there was nothing to measure). */
function seconds(value: number | null): string {
  if (value === null) return '-';
  return value < 1 ? `${Number((value * 1000).toPrecision(3))}ms` : `${Number(value.toPrecision(3))}s`;
}
