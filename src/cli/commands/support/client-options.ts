/**
 * The options every client command shares: `--url` (env `SPOOL_URL`), `--token` (env
 * `SPOOL_TOKEN`), `--data` (env `SPOOL_DATA`) and `--json`. Flags win over the environment, which
 * wins over the defaults.
 *
 * `--url` talks to a server over HTTP; `--data` opens the data directory's embedded store in this
 * process instead (direct mode). Naming both at the same level (two flags, or two environment
 * variables) is a usage error; a flag wins over the other one's environment variable.
 */
import { type Command, Option } from 'commander';
import { SpoolClient } from '../../../client/index.js';
import { InvalidArgumentError } from '../../../core/errors.js';
import { defaultPort } from '../../../server/default-port.js';
import { exitCodesHelp } from './exit-codes.js';

/** The default server URL: `spool serve`'s default address. */
export const defaultUrl = `http://127.0.0.1:${defaultPort}`;

/** The shared options, as commander parses them. */
export interface ClientFlags {
  /** The server; absent in direct mode (the default URL is applied by {@link clientFor}). */
  url?: string;
  token?: string;
  /** The data directory to open directly (direct mode); absent when talking to a server. */
  data?: string;
  json?: boolean;
}

/** Adds `--url`, `--token`, `--data` and `--json` (and their help) to `command`. */
export function withClientOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', `the Spool server (default: ${defaultUrl})`).env('SPOOL_URL'))
    .addOption(
      new Option(
        '--token <token>',
        'bearer API token (prefer SPOOL_TOKEN: command lines are visible to other users)',
      ).env('SPOOL_TOKEN'),
    )
    .addOption(
      new Option(
        '--data <dir>',
        'no server: open the embedded store <dir>/spool.db in this process (see "Direct mode" below)',
      ).env('SPOOL_DATA'),
    )
    .option('--json', 'machine-readable JSON output on stdout')
    .hook('preAction', (_hooked, action) => chooseMode(action))
    .addHelpText(
      'after',
      `
Flags win over SPOOL_URL / SPOOL_TOKEN / SPOOL_DATA, which win over the defaults.
${exitCodesHelp()}

Direct mode (--data <dir> or SPOOL_DATA, instead of --url): the command opens <dir>/spool.db
itself and works on it without a server; output and exit codes are the same. SQLite has one
writer at a time: use direct mode when no server is running on that directory (or only to read),
otherwise go through the server with --url. --url and --data together are a usage error.
send, receive and publish create a missing queue or topic with the default configuration, in
direct mode as the library does, and through a server unless it runs with --no-auto-create; the
other commands need it to exist.`,
    );
}

/**
 * Decides between the server and direct mode from where `--url` and `--data` came from, and
 * drops the one that loses, so that `flags.data !== undefined` means direct mode.
 */
function chooseMode(command: Command): void {
  // An empty variable (SPOOL_DATA= …) counts as unset.
  const source = (name: string) => {
    const value: unknown = command.getOptionValue(name);
    const from = command.getOptionValueSource(name);
    return value === undefined || (value === '' && from === 'env') ? undefined : from;
  };
  const url = source('url');
  const data = source('data');
  if (url === undefined) command.setOptionValue('url', undefined);
  if (data === undefined) command.setOptionValue('data', undefined);
  if (url === undefined || data === undefined) return;
  if (url === data) {
    throw usageError(
      url === 'env'
        ? 'SPOOL_URL and SPOOL_DATA are both set: unset one, or pick with --url or --data'
        : 'give either --url (a server) or --data (a data directory), not both',
    );
  }
  // One came from a flag, the other from the environment: the flag wins.
  command.setOptionValue(url === 'cli' ? 'data' : 'url', undefined);
}

/** A client for the server the flags name. */
export function clientFor(flags: ClientFlags): SpoolClient {
  const target = flags.url ?? defaultUrl;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw usageError(`--url: "${target}" is not a URL (e.g. ${defaultUrl})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw usageError('--url must be an http:// or https:// URL');
  return new SpoolClient({ url: target, ...(flags.token ? { token: flags.token } : {}) });
}

/** A usage error: `spool` prints it and exits with code 2 (see `main.ts`). */
export function usageError(message: string): InvalidArgumentError {
  return new InvalidArgumentError(message);
}
