/**
 * Where `spool serve` writes its logs: JSON lines on stderr (for log shippers and `jq`), or
 * human-readable lines through pino-pretty (`12:04:05.123 WARN: message key=value …`) when a
 * person reads them. `auto`, the default, picks pretty when stderr is a terminal.
 *
 * Both are synchronous (one write(2) per line), as the JSON destination always was: lines
 * written just before a SIGTERM or a crash must not be lost in a buffer. pino-pretty's own stream
 * is asynchronous, so its formatter (`prettyFactory`) is used in front of a synchronous
 * destination instead.
 */
import pino, { type DestinationStream } from 'pino';

export const logFormats = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

/** A log destination that can be flushed before an exit. */
export interface LogOutput extends DestinationStream {
  /** True when lines are human-readable. */
  readonly pretty: boolean;
  flushSync(): void;
}

/** The destination for `format` on stderr (`auto`: pretty when stderr is a terminal). */
export async function logOutput(
  format: LogFormat,
  stderr: { isTTY?: boolean } = process.stderr,
): Promise<LogOutput> {
  const sonic = pino.destination({ dest: 2, sync: true });
  const pretty = format === 'pretty' || (format === 'auto' && stderr.isTTY === true);
  if (!pretty) return Object.assign(sonic, { pretty: false });
  // Loaded only when used: piped output never needs it.
  const { prettyFactory } = await import('pino-pretty');
  const format_ = prettyFactory({
    colorize: stderr.isTTY === true && process.env.NO_COLOR === undefined,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    singleLine: true,
  });
  return {
    pretty: true,
    write: (line: string) => sonic.write(format_(line)),
    flushSync: () => sonic.flushSync(),
  };
}
