/**
 * Structured logs: JSON lines through pino. Every line about a message, event or job names it
 * (`queue`/`topic`, `messageId`/`eventId`/`jobId`) and its trace (`traceId`), so a log search
 * and a trace view lead to each other.
 *
 * Levels: `error` for failures of Spool itself (a consumer loop or store error), `warn` for
 * final failures of work (a message dead-lettered, a job dead), `debug` for the per-message
 * path (processed, retried). Nothing per message is logged at `info`, so the default level
 * costs nothing on the hot path.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import { InvalidArgumentError } from '../core/errors.js';
import { activeSpanContext, traceIdOf } from './tracing.js';

/** The levels a logger can be set to, most severe first; `silent` logs nothing. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type LogLevel = (typeof logLevels)[number];

/** The level used when neither a flag nor `SPOOL_LOG_LEVEL` sets one. */
export const defaultLogLevel: LogLevel = 'info';

type LogMethod = (fields: object, message?: string) => void;

/**
 * What Spool logs through: a pino logger, or anything of the same shape (fields first, then
 * the message).
 */
export interface SpoolLogger {
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
  /** Whether a line at `level` would be written: hot paths check before building fields. */
  isLevelEnabled(level: string): boolean;
  child(bindings: Record<string, unknown>): SpoolLogger;
}

export interface CreateLoggerOptions {
  /** @defaultValue `SPOOL_LOG_LEVEL`, else `info` */
  level?: string;
  /** Where the JSON lines go. @defaultValue stderr */
  destination?: DestinationStream;
}

/**
 * A pino logger for Spool: JSON lines with `level` as a name (`"level":"warn"`), and the active
 * span's `traceId`/`spanId` on every line written inside a traced operation.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  return pino(
    {
      name: 'spool',
      level: resolveLogLevel(options.level),
      formatters: { level: (label) => ({ level: label }) },
      mixin: traceFields,
    },
    // Synchronous: log lines are rare (see the module notes) and must survive a crash.
    options.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/**
 * The level in force: `flag` (a command-line option or an explicit setting), else
 * `SPOOL_LOG_LEVEL`, else `info`. An unknown level is an {@link InvalidArgumentError}.
 */
export function resolveLogLevel(
  flag?: string,
  env: string | undefined = process.env.SPOOL_LOG_LEVEL,
): LogLevel {
  const [value, source] =
    flag !== undefined ? [flag, 'log level'] : env ? [env, 'SPOOL_LOG_LEVEL'] : [defaultLogLevel, ''];
  const level = value.trim().toLowerCase();
  if (!(logLevels as readonly string[]).includes(level)) {
    throw new InvalidArgumentError(`${source} must be one of ${logLevels.join(', ')}; got "${value}"`, {
      field: 'logLevel',
    });
  }
  return level as LogLevel;
}

let fallback: Logger | undefined;

/** The logger of a Spool created without one: stderr, at `SPOOL_LOG_LEVEL` or `info`. */
export function defaultLogger(): Logger {
  fallback ??= createLogger();
  return fallback;
}

/** Fields naming a queue message and its trace. */
export function messageFields(message: {
  readonly queue: string;
  readonly id: string;
  readonly attempt?: number;
  readonly headers: Readonly<Record<string, string>>;
}): Record<string, unknown> {
  return {
    queue: message.queue,
    messageId: message.id,
    ...(message.attempt === undefined ? {} : { attempt: message.attempt }),
    ...traceOf(message.headers),
  };
}

/** Fields naming a topic event (as a group member sees it) and its trace. */
export function eventFields(
  event: {
    readonly topic: string;
    readonly id: string;
    readonly partition: number;
    readonly offset: number;
    readonly headers: Readonly<Record<string, string>>;
  },
  group: string,
): Record<string, unknown> {
  return {
    topic: event.topic,
    group,
    partition: event.partition,
    offset: event.offset,
    eventId: event.id,
    ...traceOf(event.headers),
  };
}

/** Fields naming a job; `headers` are those of its ticket, which carry its trace. */
export function jobFields(
  job: { readonly id: string; readonly type: string },
  headers?: Readonly<Record<string, string>>,
): Record<string, unknown> {
  return { jobId: job.id, jobType: job.type, ...traceOf(headers) };
}

/** `{ traceId }` from a `traceparent` header, else from the active span, else nothing. */
function traceOf(headers: Readonly<Record<string, string>> | undefined): { traceId?: string } {
  const traceId = traceIdOf(headers?.traceparent) ?? activeSpanContext()?.traceId;
  return traceId === undefined ? {} : { traceId };
}

/** pino mixin: the active span's ids, when a traced operation is logging. */
function traceFields(): object {
  const spanContext = activeSpanContext();
  return spanContext ? { traceId: spanContext.traceId, spanId: spanContext.spanId } : {};
}
