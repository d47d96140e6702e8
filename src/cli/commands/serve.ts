/**
 * `spool serve`: the HTTP server on the embedded store (or `--store`). Prints one line on stdout
 * once it listens (the API and dashboard URLs) and logs on stderr: human-readable lines on a
 * terminal, JSON lines when piped (`--log-format`). SIGTERM or SIGINT shut it down gracefully:
 * stop accepting, end long polls, let in-flight requests finish (up to --shutdown-timeout), then
 * close the store so every acknowledged write is flushed. A second signal exits at once.
 *
 * A second server on the same SQLite database refuses to start (see `data-lock.ts`).
 */
import { type Command, InvalidArgumentError as InvalidFlagError, Option } from 'commander';
import { InvalidArgumentError } from '../../core/errors.js';
import { defaultLogLevel, logLevels } from '../../telemetry/logging.js';
import { logFormats } from '../log-output.js';
import { defaultPort } from '../../server/default-port.js';
import type { ServeOptions } from './serve-run.js';

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
        'API tokens "token:scope,scope;token:scope" with scopes produce, consume, admin; "token:" (no scope) may only read: GET routes and /metrics (prefer SPOOL_TOKENS: command lines are visible to other users)',
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
    .option(
      '--no-auto-create',
      'send, receive and publish answer 404 for a queue or topic that does not exist, instead of creating it with the defaults (env SPOOL_AUTO_CREATE=false)',
    )
    .addOption(
      new Option('--log-level <level>', 'log level (debug adds one line per request)')
        .choices(logLevels)
        .env('SPOOL_LOG_LEVEL')
        .default(defaultLogLevel),
    )
    .addOption(
      new Option('--log-format <format>', 'auto: human-readable on a terminal, JSON lines when piped')
        .choices(logFormats)
        .env('SPOOL_LOG_FORMAT')
        .default('auto'),
    )
    .addHelpText(
      'after',
      `
Flags win over SPOOL_* environment variables, which win over the defaults.
Once the server listens, one line on stdout gives the API and dashboard URLs. Logs go to stderr:
human-readable on a terminal, JSON lines when piped or with --log-format json.
One server per data directory: a second spool serve on the same --data (or SQLite --store) refuses
to start and names the running one (the lock is <db>.lock, released when the server exits).
Exit codes: 0 stopped by SIGTERM/SIGINT, 1 failure (e.g. port in use, data directory in use),
2 usage or configuration error.`,
    )
    .action(async (options: ServeOptions, command: Command) => {
      const explicit = (name: string) => command.getOptionValueSource(name) !== 'default';
      if (options.store !== undefined && explicit('data')) {
        throw new InvalidArgumentError('give either --data or --store, not both', { field: 'store' });
      }
      // Read here rather than with Option.env(): commander would turn any value of the variable,
      // "true" included, into --no-auto-create.
      if (!explicit('autoCreate')) options.autoCreate = autoCreateFromEnv(process.env.SPOOL_AUTO_CREATE);
      // Loaded only to serve: the other commands start faster without the server stack.
      const { serve } = await import('./serve-run.js');
      await serve(options);
    });
}

/** SPOOL_AUTO_CREATE: unset or empty means on; true/false (or 1/0, yes/no, on/off) otherwise. */
function autoCreateFromEnv(value: string | undefined): boolean {
  const setting = value?.trim().toLowerCase() ?? '';
  if (['', 'true', '1', 'yes', 'on'].includes(setting)) return true;
  if (['false', '0', 'no', 'off'].includes(setting)) return false;
  throw new InvalidArgumentError(`SPOOL_AUTO_CREATE must be true or false, not "${value}"`, {
    field: 'SPOOL_AUTO_CREATE',
  });
}

function wholeNumber(value: string, what: string, maximum: number, minimum = 0): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || number < minimum || number > maximum) {
    throw new InvalidFlagError(`${what} must be a whole number from ${minimum} to ${maximum}`);
  }
  return number;
}
