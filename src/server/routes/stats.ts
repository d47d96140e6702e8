/**
 * The JSON stats: `GET /v1/stats` (one document) and `GET /v1/stats/stream` (the same document
 * as a Server-Sent Event every `intervalMs`), for the dashboard and `spool stats`. The document
 * is built by src/observability/stats.ts from the same numbers as `/metrics`; its alerts are the
 * server's alert evaluator's firing alerts.
 *
 * Each stream event's `id:` is the time it was built (epoch ms). There is nothing to resume —
 * every event is a full snapshot — so `Last-Event-ID` is ignored; a comment line every 15 s
 * keeps proxies from closing the stream between long intervals.
 */
import type { RouteModule } from '../context.js';
import { openEventStream } from '../context.js';
import { eventStreamResponse } from '../schemas/common.js';
import {
  StatsHistoryQuery,
  StatsHistorySchema,
  StatsSchema,
  StatsStreamQuery,
} from '../../observability/stats-schema.js';
import { StatsHistory } from '../../observability/stats-history.js';

const heartbeatMs = 15_000;

export const statsRoutes: RouteModule = (app, { spool, metrics, alerts, closing }) => {
  const snapshot = () => metrics.stats.snapshot({ alerts: alerts.firing() });
  const history = new StatsHistory(
    () => metrics.stats.snapshot({ alerts: alerts.firing(), fresh: true }),
    spool.clock,
  );
  app.addHook('onReady', (done) => {
    history.start();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    history.close();
    done();
  });

  app.get(
    '/v1/stats/history',
    {
      schema: {
        operationId: 'getStatsHistory',
        tags: ['operations'],
        summary: 'The stats document every 10 s over the last hour, for charts that start from history',
        description:
          'Samples this server process took since it started (kept one hour); `*Total` counters are cumulative, so a rate is the difference of two samples over their time apart.',
        querystring: StatsHistoryQuery,
        response: { 200: StatsHistorySchema },
      },
      config: { access: 'token' },
    },
    (request) => {
      const windowMs = request.query.windowMs ?? history.keepMs;
      return {
        intervalMs: history.intervalMs,
        samples: history
          .since(spool.clock.now() - windowMs)
          .map((sample) => ({ at: new Date(sample.at).toISOString(), stats: sample.stats })),
      };
    },
  );

  app.get(
    '/v1/stats',
    {
      schema: {
        operationId: 'getStats',
        tags: ['operations'],
        summary: 'Depths, lag, job counts, counters and firing alerts, as JSON',
        description:
          'Store-derived numbers (depths, offsets, job counts) are read at most once a second; `*Total` counters and `processingSeconds` are those of this server process since `startedAt`.',
        response: { 200: StatsSchema },
      },
      config: { access: 'token' },
    },
    () => snapshot(),
  );

  app.get(
    '/v1/stats/stream',
    {
      schema: {
        operationId: 'streamStats',
        tags: ['operations'],
        summary: 'The stats document as Server-Sent Events (`event: stats`) every intervalMs',
        querystring: StatsStreamQuery,
        produces: ['text/event-stream'],
        response: {
          200: eventStreamResponse(
            '`event: stats` with the stats document, every intervalMs; it does not end',
          ),
        },
      },
      config: { access: 'token' },
    },
    async (request, reply) => {
      const intervalMs = request.query.intervalMs ?? 1000;
      const { raw, poll, headOnly } = openEventStream(request, reply, closing);
      if (headOnly) return;
      let lastWrite = Date.now();
      try {
        while (!poll.signal.aborted) {
          const started = Date.now();
          try {
            const document = await snapshot();
            raw.write(`id: ${started}\nevent: stats\ndata: ${JSON.stringify(document)}\n\n`);
            lastWrite = Date.now();
          } catch (error) {
            // A store hiccup skips one event; the stream goes on and the next one may succeed.
            request.log.warn({ err: error }, 'stats stream: could not read the stats');
          }
          let wait = Math.max(0, started + intervalMs - Date.now());
          while (wait > 0 && !poll.signal.aborted) {
            const untilHeartbeat = lastWrite + heartbeatMs - Date.now();
            if (untilHeartbeat <= 0) {
              raw.write(': heartbeat\n\n');
              lastWrite = Date.now();
              continue;
            }
            const step = Math.min(wait, untilHeartbeat);
            await sleep(step, poll.signal);
            wait = Math.max(0, started + intervalMs - Date.now());
          }
        }
      } finally {
        raw.end();
      }
    },
  );
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
