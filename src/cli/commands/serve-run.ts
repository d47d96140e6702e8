/**
 * What `spool serve` runs once its flags are read (see `serve.ts`): opens the store, starts jobs,
 * webhooks, subscriptions and alerts, listens, and shuts everything down on SIGTERM or SIGINT.
 */
import { createSpool, type Spool } from '../../engine/spool.js';
import { EventSubscriptions, subscriptionsFromEnv } from '../../jobs/event-subscriptions.js';
import { Jobs } from '../../jobs/jobs.js';
import { AlertEvaluator } from '../../observability/alerts-evaluator.js';
import { loadAlertsFile } from '../../observability/alerts-rules.js';
import { createLogger, type SpoolLogger } from '../../telemetry/logging.js';
import { openSpool } from '../../open-spool.js';
import { parseTokenList } from '../../server/auth.js';
import { assertMayListen, startServer } from '../../server/serve.js';
import { Webhooks, type WebhooksOptions } from '../../webhooks/delivery.js';
import { type DataLock, lockDatabase } from '../data-lock.js';
import { type LogFormat, logOutput } from '../log-output.js';
import { resolveStore, type StoreLocation } from '../store-location.js';

/** The flags of `spool serve`, as commander parses them. */
export interface ServeOptions {
  host: string;
  port: number;
  data: string;
  store?: string;
  durability: 'full' | 'process';
  tokens?: string;
  bodyLimit: number;
  shutdownTimeout: number;
  logLevel: string;
  logFormat: LogFormat;
  alerts?: string;
  /** False with --no-auto-create, else what SPOOL_AUTO_CREATE says (on when unset). */
  autoCreate: boolean;
}

export async function serve(options: ServeOptions): Promise<void> {
  const tokens = options.tokens === undefined ? [] : parseTokenList(options.tokens);
  // Refuse before creating the data directory.
  assertMayListen(options.host, { tokens });
  // Rules are checked before anything opens: a typo stops the start with what to fix.
  const alertsFile = options.alerts === undefined ? undefined : loadAlertsFile(options.alerts);
  const location = resolveStore(options);
  const subscriptionList = subscriptionsFromEnv(process.env.SPOOL_WEBHOOK_SUBSCRIPTIONS);
  // Synchronous, as the library default: with a buffered destination, lines written just before
  // a SIGTERM went missing from the output (seen in test/observability/logging under load). The
  // price is one write(2) per line; request lines are only written at debug.
  const destination = await logOutput(options.logFormat);
  // One logger for requests, the engine and the jobs: JSON lines with trace ids (or their
  // human-readable form on a terminal).
  const logger = createLogger({ level: options.logLevel, destination });
  // Listened for from here on, not only once listening: a SIGTERM that arrives while the server
  // starts (a supervisor stopping it at once, a test that stops it as soon as the URL is printed)
  // then shuts it down cleanly instead of killing it with the signal's default action.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  // One server per SQLite database: refuse before opening it (see data-lock.ts).
  const lock: DataLock | null =
    location.kind === 'sqlite' && location.path !== ':memory:' ? lockDatabase(location.path) : null;
  let spool: Spool;
  try {
    spool = await openStore(location, options.durability, logger);
  } catch (error) {
    lock?.release();
    throw error;
  }
  const webhooks = new Webhooks(spool, webhookOptionsFromEnv());
  const jobs = new Jobs(spool);
  const subscriptions = new EventSubscriptions(spool, subscriptionList);
  const alerts = alertsFile
    ? new AlertEvaluator(spool, { ...alertsFile, logger: logger.child({ component: 'alerts' }) })
    : AlertEvaluator.none(spool);
  let server;
  try {
    await webhooks.open();
    await webhooks.start();
    await jobs.start();
    await subscriptions.start();
    await alerts.start();
    server = await startServer({
      spool,
      jobs,
      webhooks,
      alerts,
      host: options.host,
      port: options.port,
      auth: { tokens },
      autoCreate: options.autoCreate,
      bodyLimitBytes: options.bodyLimit,
      shutdownTimeoutMs: options.shutdownTimeout,
      // A child: startServer quietens the server's logger while it starts listening.
      logger: logger.child({}),
    });
  } catch (error) {
    await alerts.close();
    await subscriptions.close();
    await jobs.close();
    await webhooks.close();
    await spool.close();
    lock?.release();
    throw error;
  }
  // On a terminal the line on stdout below says it: the details go to debug there.
  logger[destination.pretty ? 'debug' : 'info'](
    {
      url: server.url,
      store: location.kind === 'sqlite' ? location.path : redactPassword(location.url),
      durability: location.kind === 'sqlite' ? options.durability : 'postgres',
      tokens: tokens.length,
      autoCreate: options.autoCreate,
      alertRules: alerts.rules.length,
    },
    tokens.length === 0 ? 'listening without API tokens (loopback only)' : 'listening',
  );
  // Only when webhooks are configured: a job's callbackUrl without a secret is dead-lettered
  // with the reason, which is logged then (warn) and shown in the delivery log.
  if (subscriptionList.length > 0 && !process.env.SPOOL_WEBHOOK_SECRET) {
    logger.warn(
      'SPOOL_WEBHOOK_SUBSCRIPTIONS is set but SPOOL_WEBHOOK_SECRET is not: webhook deliveries cannot be signed and will be dead-lettered',
    );
  }
  process.stdout.write(
    `Spool is listening on ${server.url} (dashboard: ${server.url}/, API: ${server.url}/v1, docs: ${server.url}/openapi.json)\n`,
  );

  const signal = await stopSignal;
  const forceExit = () => {
    logger.warn('second signal: exiting without finishing the shutdown');
    destination.flushSync();
    process.exit(1);
  };
  process.once('SIGTERM', forceExit);
  process.once('SIGINT', forceExit);
  logger.info({ signal }, 'shutting down: finishing in-flight requests');
  await server.close();
  await alerts.close();
  await subscriptions.close({ timeoutMs: options.shutdownTimeout });
  await jobs.close({ timeoutMs: options.shutdownTimeout });
  await webhooks.close({ timeoutMs: options.shutdownTimeout });
  await spool.close({ timeoutMs: options.shutdownTimeout });
  lock?.release();
  logger.info('stopped');
  destination.flushSync();
  process.removeListener('SIGTERM', forceExit);
  process.removeListener('SIGINT', forceExit);
}

/** Opens the Spool on the embedded store or on PostgreSQL (whose durability is its own). */
async function openStore(
  location: StoreLocation,
  durability: 'full' | 'process',
  logger: SpoolLogger,
): Promise<Spool> {
  if (location.kind === 'sqlite') return openSpool({ path: location.path, durability, logger });
  // Loaded only when asked for: pg is an optional dependency.
  const { openPostgresStore } = await import('../../stores/postgres/index.js');
  return createSpool({ store: await openPostgresStore({ connectionString: location.url }), logger });
}

function redactPassword(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

/**
 * Webhook delivery settings from the environment: `SPOOL_WEBHOOK_SECRET` (signing secrets,
 * space-separated while rotating), `SPOOL_WEBHOOK_ALLOW` (comma-separated hosts/CIDRs that may be
 * private), `SPOOL_WEBHOOK_ALLOW_PRIVATE=true` (any private or loopback destination).
 */
function webhookOptionsFromEnv(): WebhooksOptions {
  const secrets = process.env.SPOOL_WEBHOOK_SECRET?.split(/\s+/).filter((secret) => secret !== '');
  const allow = process.env.SPOOL_WEBHOOK_ALLOW?.split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  return {
    ...(secrets && secrets.length > 0 ? { secret: secrets } : {}),
    ...(allow && allow.length > 0 ? { allow } : {}),
    allowPrivateNetworks: process.env.SPOOL_WEBHOOK_ALLOW_PRIVATE === 'true',
  };
}
