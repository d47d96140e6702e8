/**
 * The exit codes of `spool`, from the error catalogue (`errorCatalogue` and `exitCodes` in
 * src/core/errors.ts): a command that fails with a Spool error — thrown by the engine in direct
 * mode, answered by a server as a problem, or raised by the client — exits with its code's
 * `exitCode`, so a script can tell "fix the command" (2) from "not there" (3), "conflict" (4),
 * "token" (5) and "try again" (6). Anything else exits 1.
 */
import {
  type ErrorSpec,
  errorCatalogue,
  errorSpecOf,
  type ExitCode,
  exitCodeMeanings,
  exitCodes,
} from '../../../core/errors.js';

/** The exit code for `error`: its code's in the catalogue, or 1 (failure) for anything else. */
export function exitCodeOf(error: unknown): ExitCode {
  if (typeof error !== 'object' || error === null) return exitCodes.failure;
  const { code, status } = error as { code?: unknown; status?: unknown };
  const spec = typeof code === 'string' ? errorSpecOf(code) : undefined;
  if (spec) return spec.exitCode;
  // A problem with a code this CLI does not know (a newer server's): judge by its status.
  if (typeof status === 'number') return specOfStatus(status)?.exitCode ?? exitCodes.failure;
  return exitCodes.failure;
}

/**
 * The exit code for a batch whose items failed with `codes` (settling several receipts, …): the
 * exit code they share, or 1 when they differ or none is known.
 */
export function exitCodeOfCodes(codes: ReadonlyArray<string | undefined>): ExitCode {
  const exits = new Set(codes.map((code) => (code === undefined ? undefined : errorSpecOf(code)?.exitCode)));
  const [only] = exits;
  return exits.size === 1 && only !== undefined ? only : exitCodes.failure;
}

/** The first entry the server answers with `status`, to place an unknown code by its status. */
function specOfStatus(status: number): ErrorSpec | undefined {
  return Object.values(errorCatalogue).find(
    (spec: ErrorSpec) => spec.answeredByServer && spec.httpStatus === status,
  );
}

/** The exit codes, one a line, for `--help` (generated from the catalogue). */
export function exitCodesHelp(): string {
  const lines = Object.entries(exitCodeMeanings).map(([exit, meaning]) => `  ${exit}  ${meaning}`);
  return `Exit codes (a Spool error prints "CODE: detail" on stderr; its code decides the exit code):\n${lines.join('\n')}`;
}
