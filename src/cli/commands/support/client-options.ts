/**
 * The options every client command shares: `--url` (env `SPOOL_URL`), `--token` (env
 * `SPOOL_TOKEN`) and `--json`. Flags win over the environment, which wins over the defaults.
 */
import { type Command, Option } from 'commander';
import { SpoolClient } from '../../../client/index.js';
import { InvalidArgumentError } from '../../../core/errors.js';
import { defaultPort } from '../../../server/serve.js';

/** The default server URL: `spool serve`'s default address. */
export const defaultUrl = `http://127.0.0.1:${defaultPort}`;

/** The shared options, as commander parses them. */
export interface ClientFlags {
  url: string;
  token?: string;
  json?: boolean;
}

/** Adds `--url`, `--token` and `--json` (and their help) to `command`. */
export function withClientOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'the Spool server').env('SPOOL_URL').default(defaultUrl))
    .addOption(
      new Option(
        '--token <token>',
        'bearer API token (prefer SPOOL_TOKEN: command lines are visible to other users)',
      ).env('SPOOL_TOKEN'),
    )
    .option('--json', 'machine-readable JSON output on stdout')
    .addHelpText(
      'after',
      `
Flags win over SPOOL_URL / SPOOL_TOKEN, which win over the defaults.
Exit codes: 0 ok, 1 failure (a problem answer prints "CODE: detail" on stderr), 2 usage error.`,
    );
}

/** A client for the server the flags name. */
export function clientFor(flags: ClientFlags): SpoolClient {
  let url: URL;
  try {
    url = new URL(flags.url);
  } catch {
    throw usageError(`--url: "${flags.url}" is not a URL (e.g. ${defaultUrl})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw usageError('--url must be an http:// or https:// URL');
  return new SpoolClient({ url: flags.url, ...(flags.token ? { token: flags.token } : {}) });
}

/** A usage error: `spool` prints it and exits with code 2 (see `main.ts`). */
export function usageError(message: string): InvalidArgumentError {
  return new InvalidArgumentError(message);
}
