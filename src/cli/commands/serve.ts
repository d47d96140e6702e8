/**
 * `spool serve`: the HTTP server on the embedded store (or `--store`). Prints the URL on stdout
 * and logs JSON lines on stderr. SIGTERM or SIGINT shut it down gracefully: stop accepting, end
 * long polls, let in-flight requests finish (up to --shutdown-timeout), then close the store so
 * every acknowledged write is flushed. A second signal exits at once.
 */
import { type Command, InvalidArgumentError as InvalidFlagError, Option } from 'commander';
import pino from 'pino';
import { InvalidArgumentError } from '../../core/errors.js';
import { EventSubscriptions, subscriptionsFromEnv } from '../../jobs/event-subscriptions.js';
import { Jobs } from '../../jobs/jobs.js';
import { AlertEvaluator } from '../../observability/alerts-evaluator.js';
import { loadAlertsFile } from '../../observability/alerts-rules.js';
import { createLogger, defaultLogLevel, logLevels, type SpoolLogger } from '../../observability/logging.js';
import { openSpool } from '../../open-spool.js';
import { Webhooks, type WebhooksOptions } from '../../webhooks/delivery.js';
import { parseTokenList } from '../../server/auth.js';
import { assertMayListen, defaultPort, startServer } from '../../server/serve.js';
import { createSpool, type Spool } from '../../engine/spool.js';
import { resolveStore, type StoreLocation } from '../store-location.js';

interface ServeOptions {
  host: string;
  port: number;
  data: string;
  store?: string;
  durability: 'full' | 'process';
  tokens?: string;
  bodyLimit: number;
  shutdownTimeout: number;
  logLevel: string;
  alerts?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API server (on the embedded SQLite store by default)')
    .addOption(
      new Option('--host <address>', 'address to listen on; anything but loopback requires API tokens')
        .env('SPOOL_HOST')
        .default('127.0.0.1'),
    )
    .addOption(
      new Option('--port <number>', 'port to listen on (0 picks a free one)')
        .env('SPOOL_PORT')
        .default(defaultPort)
        .argParser((value) => wholeNumber(value, 'port', 65_535)),
    )
    .addOption(
      new Option('--data <dir>', 'data directory of the embedded store (the file is <dir>/spool.db)')
        .env('SPOOL_DATA')
        .default('./data'),
    )
    .addOption(
      new Option(
        '--store <url>',
        'store instead of --data: postgres://user@host/db (shared by several servers), sqlite:<path> or a file path',
      ).env('SPOOL_STORE'),
    )
    .addOption(
      new Option('--durability <mode>', 'full: fsync every commit; process: survives a crash, not power loss')
        .choices(['full', 'process'])
        .env('SPOOL_DURABILITY')
        .default('full'),
    )
    .addOption(
      new Option(
        '--tokens <list>',
        'API tokens "token:scope,scope;token:scope" with scopes produce, consume, admin (prefer SPOOL_TOKENS: command lines are visible to other users)',
      ).env('SPOOL_TOKENS'),
    )
    .addOption(
      new Option('--body-limit <bytes>', 'largest request body accepted (larger: 413)')
        .env('SPOOL_BODY_LIMIT')
        .default(1024 * 1024)
        .argParser((value) => wholeNumber(value, 'body limit', 2 ** 31 - 1, 1)),
    )
    .addOption(
      new Option('--shutdown-timeout <ms>', 'how long in-flight requests may run after SIGTERM')
        .env('SPOOL_SHUTDOWN_TIMEOUT_MS')
        .default(10_000)
        .argParser((value) => wholeNumber(value, 'shutdown timeout', 2 ** 31 - 1)),
    )
    .addOption(
      new Option(
        '--alerts <file>',
        'alert rules (JSON: { "interval": "5s", "rules": [{ "name", "kind", "queue" | "topic", "threshold", … }] }); see docs/operating.md',
      ).env('SPOOL_ALERTS_FILE'),
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(logLevels)
        .env('SPOOL_LOG_LEVEL')
        .default(defaultLogLevel),
    )
    .addHelpText(
      'after',
      `
Flags win over SPOOL_* environment variables, which win over the defaults.
The URL is printed on stdout once the server listens; logs are JSON lines on stderr.
Exit codes: 0 stopped by SIGTERM/SIGINT, 1 failure (e.g. port in use), 2 usage or configuration error.`,
    )
    .action(async (options: ServeOptions, command: Command) => {
      const explicit = (name: string) => command.getOptionValueSource(name) !== 'default';
      if (options.store !== undefined && explicit('data')) {
        throw new InvalidArgumentError('give either --data or --store, not both', { field: 'store' });
      }
      await serve(options);
    });
}

async function serve(options: ServeOptions): Promise<void> {
  const tokens = options.tokens === undefined ? [] : parseTokenList(options.tokens);
  // Refuse before creating the data directory.
  assertMayListen(options.host, { tokens });
  // Rules are checked before anything opens: a typo stops the start with what to fix.
  const alertsFile = options.alerts === undefined ? undefined : loadAlertsFile(options.alerts);
  const location = resolveStore(options);
  // Synchronous, as the library default: with a buffered destination, lines written just before
  // a SIGTERM went missing from the output (seen in test/observability/logging under load). The
  // price is one write(2) per request line at info; --log-level warn removes it.
  const destination = pino.destination({ dest: 2, sync: true });
  // One logger for requests, the engine and the jobs: JSON lines with trace ids.
  const logger = createLogger({ level: options.logLevel, destination });
  const spool = await openStore(location, options.durability, logger);
  const webhooks = new Webhooks(spool, webhookOptionsFromEnv());
  const jobs = new Jobs(spool);
  const subscriptions = new EventSubscriptions(
    spool,
    subscriptionsFromEnv(process.env.SPOOL_WEBHOOK_SUBSCRIPTIONS),
  );
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
      bodyLimitBytes: options.bodyLimit,
      shutdownTimeoutMs: options.shutdownTimeout,
      logger,
    });
  } catch (error) {
    await alerts.close();
    await subscriptions.close();
    await jobs.close();
    await webhooks.close();
    await spool.close();
    throw error;
  }
  logger.info(
    {
      url: server.url,
      store: location.kind === 'sqlite' ? location.path : redactPassword(location.url),
      durability: location.kind === 'sqlite' ? options.durability : 'postgres',
      tokens: tokens.length,
      alertRules: alerts.rules.length,
    },
    tokens.length === 0 ? 'listening without API tokens (loopback only)' : 'listening',
  );
  if (!process.env.SPOOL_WEBHOOK_SECRET) {
    logger.warn(
      'SPOOL_WEBHOOK_SECRET is not set: webhook deliveries (callbackUrl, subscriptions) cannot be signed and will be dead-lettered',
    );
  }
  process.stdout.write(`Spool is listening on ${server.url}\n`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
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

function wholeNumber(value: string, what: string, maximum: number, minimum = 0): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || number < minimum || number > maximum) {
    throw new InvalidFlagError(`${what} must be a whole number from ${minimum} to ${maximum}`);
  }
  return number;
}
