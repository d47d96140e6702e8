/**
 * Queue and topic configuration: one schema each (TypeBox, so the server can reuse it for
 * request validation and the OpenAPI document), defaults in one place, validated once and
 * frozen. A resolved config is what the store persists.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { defaultBackoff } from './backoff.js';
import { InvalidArgumentError } from './errors.js';
import { validateName } from './names.js';

const PositiveMs = Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 });

export const BackoffSchema = Type.Object(
  {
    baseMs: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }),
    capMs: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }),
    jitter: Type.Union([Type.Literal('full'), Type.Literal('equal'), Type.Literal('none')]),
  },
  { additionalProperties: false },
);

/** The stored configuration of a queue. */
export const QueueConfigSchema = Type.Object(
  {
    name: Type.String(),
    /** How long a received message stays invisible to other consumers unless acked or extended. */
    visibilityTimeoutMs: PositiveMs,
    /** Deliveries before a message is dead-lettered (1 = no retries). */
    maxAttempts: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    backoff: BackoffSchema,
    /** Messages the queue may hold (ready + delayed + in flight); null for no bound. */
    maxDepth: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    /** How long a dedup id is remembered. */
    dedupWindowMs: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }),
    /**
     * Messages expire this long after their send unless they carry their own `ttlMs`; an expired
     * message is never delivered and goes to the dead letters (`MessageExpired`). Null (or
     * absent, in a configuration saved before expiry existed): messages never expire.
     */
    messageTtlMs: Type.Optional(Type.Union([PositiveMs, Type.Null()])),
    /**
     * The most messages of the queue leased at once, by every consumer in every process on the
     * store together: a claim takes no more than what is left. Null (or absent, in a
     * configuration saved before it existed): no bound beyond each consumer's own concurrency.
     */
    globalConcurrency: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()]),
    ),
  },
  { additionalProperties: false },
);
export type QueueConfig = Static<typeof QueueConfigSchema>;

/** Options for a queue; every field has a default. */
export interface QueueOptions {
  /** @defaultValue 30000 */
  visibilityTimeoutMs?: number;
  /** @defaultValue 5 */
  maxAttempts?: number;
  /** @defaultValue `{ baseMs: 1000, capMs: 300000, jitter: 'full' }` */
  backoff?: Partial<QueueConfig['backoff']>;
  /** @defaultValue null (unbounded) */
  maxDepth?: number | null;
  /** @defaultValue 300000 (5 minutes) */
  dedupWindowMs?: number;
  /**
   * Messages expire this long after their send (a send's own `ttlMs` wins): an expired message
   * is never delivered and goes to the dead-letter queue with a `MessageExpired` error.
   * @defaultValue null (never)
   */
  messageTtlMs?: number | null;
  /**
   * At most this many messages of the queue in flight (leased) at once, across every consumer
   * in every process on the store: a claim takes only what is left. An expired lease no longer
   * counts (its consumer is presumed gone).
   * @defaultValue null (no bound beyond each consumer's concurrency)
   */
  globalConcurrency?: number | null;
}

export const queueDefaults = Object.freeze({
  visibilityTimeoutMs: 30_000,
  maxAttempts: 5,
  backoff: defaultBackoff,
  maxDepth: null,
  dedupWindowMs: 300_000,
  messageTtlMs: null,
  globalConcurrency: null,
});

/** The stored configuration of a topic. */
export const TopicConfigSchema = Type.Object(
  {
    name: Type.String(),
    /** Fixed at creation: keys map to partitions by `murmur2(key) % partitions`. */
    partitions: Type.Integer({ minimum: 1, maximum: 1024 }),
    /** Events older than this are trimmed; null keeps them by age forever. */
    retentionMs: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    /** Per partition, the oldest events are trimmed while the payload bytes exceed this; null for no bound. */
    retentionBytes: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type TopicConfig = Static<typeof TopicConfigSchema>;

/** Options for a topic; every field has a default. */
export interface TopicOptions {
  /** @defaultValue 4 */
  partitions?: number;
  /** @defaultValue 604800000 (7 days, as Kafka) */
  retentionMs?: number | null;
  /** @defaultValue null */
  retentionBytes?: number | null;
}

export const topicDefaults = Object.freeze({
  partitions: 4,
  retentionMs: 7 * 24 * 3_600_000,
  retentionBytes: null,
});

/**
 * Defaults of consumer-group members, in one place for the engine, the HTTP schemas (and so the
 * OpenAPI document), the client and the CLI. The two kinds of member keep different sessions on
 * purpose: an in-process subscriber heartbeats on a timer (every third of its session), so a
 * short session moves a dead member's partitions quickly; a polled member (HTTP, CLI) heartbeats
 * only when it polls, so its session must also cover processing the batch it was given.
 */
export const groupMemberDefaults: Readonly<{
  subscriberSessionTimeoutMs: number;
  polledSessionTimeoutMs: number;
  startFrom: 'earliest' | 'latest';
  batchSize: number;
  pollWaitMs: number;
}> = Object.freeze({
  /** `Topic.subscribe`: a member silent this long is dropped. */
  subscriberSessionTimeoutMs: 10_000,
  /** `Topic.poll`, `POST …/groups/{group}/poll`: a member that has not polled this long is dropped. */
  polledSessionTimeoutMs: 30_000,
  /** Where a new group starts reading. */
  startFrom: 'earliest',
  /** Events per subscriber batch or poll. */
  batchSize: 100,
  /** A poll answers at once when nothing is ready. */
  pollWaitMs: 0,
});

/** Defaults of the jobs layer that its doors (HTTP, client workers, CLI) repeat. */
export const jobDefaults: Readonly<{ leaseMs: number }> = Object.freeze({
  /**
   * How long a remote worker's claim holds a job before another worker may take it; heartbeats
   * extend it. In process, the ticket's lease works the same way.
   */
  leaseMs: 30_000,
});

/** Applies defaults to `options`, validates the result and freezes it. */
export function resolveQueueConfig(name: string, options: QueueOptions = {}): Readonly<QueueConfig> {
  validateName('queue', name);
  refuseUnknownOptions(options, queueOptionNames, `queue "${name}"`);
  refuseUnknownOptions(options.backoff, backoffOptionNames, `queue "${name}": backoff`);
  const config = {
    name,
    visibilityTimeoutMs: options.visibilityTimeoutMs ?? queueDefaults.visibilityTimeoutMs,
    maxAttempts: options.maxAttempts ?? queueDefaults.maxAttempts,
    backoff: { ...queueDefaults.backoff, ...options.backoff },
    maxDepth: options.maxDepth === undefined ? queueDefaults.maxDepth : options.maxDepth,
    dedupWindowMs: options.dedupWindowMs ?? queueDefaults.dedupWindowMs,
    messageTtlMs: options.messageTtlMs === undefined ? queueDefaults.messageTtlMs : options.messageTtlMs,
    globalConcurrency:
      options.globalConcurrency === undefined ? queueDefaults.globalConcurrency : options.globalConcurrency,
  };
  return deepFreeze(check(QueueConfigSchema, config, `queue "${name}"`));
}

/** Applies defaults to `options`, validates the result and freezes it. */
export function resolveTopicConfig(name: string, options: TopicOptions = {}): Readonly<TopicConfig> {
  validateName('topic', name);
  refuseUnknownOptions(options, topicOptionNames, `topic "${name}"`);
  const config = {
    name,
    partitions: options.partitions ?? topicDefaults.partitions,
    retentionMs: options.retentionMs === undefined ? topicDefaults.retentionMs : options.retentionMs,
    retentionBytes:
      options.retentionBytes === undefined ? topicDefaults.retentionBytes : options.retentionBytes,
  };
  return deepFreeze(check(TopicConfigSchema, config, `topic "${name}"`));
}

/**
 * Refuses options this code does not know (a misspelt `maxAttemps`, or a `ttlMs` Spool does not
 * have): ignoring them would silently run with something other than what the caller asked for.
 * Keys whose value is undefined count as absent.
 */
export function refuseUnknownOptions(
  options: object | undefined,
  known: readonly string[],
  where: string,
): void {
  if (options === undefined || options === null) return;
  const unknown = Object.entries(options)
    .filter(([key, value]) => value !== undefined && !known.includes(key))
    .map(([key]) => key);
  if (unknown.length === 0) return;
  throw new InvalidArgumentError(
    `${where}: unknown option${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}; the options are ${known.join(', ')}`,
    { errors: unknown.map((field) => ({ field, message: 'is not an option Spool knows' })) },
  );
}

const queueOptionNames = [
  'visibilityTimeoutMs',
  'maxAttempts',
  'backoff',
  'maxDepth',
  'dedupWindowMs',
  'messageTtlMs',
  'globalConcurrency',
];
const backoffOptionNames = ['baseMs', 'capMs', 'jitter'];
const topicOptionNames = ['partitions', 'retentionMs', 'retentionBytes'];

/** Validates `value` against `schema`, throwing one error that lists every problem by path. */
export function check<S extends TSchema>(schema: S, value: unknown, where: string): Static<S> {
  if (Value.Check(schema, value)) return value;
  const errors = [...Value.Errors(schema, value)].map((error) => ({
    field: error.path.replace(/^\//, '').replaceAll('/', '.') || '(root)',
    message: error.message,
  }));
  const summary = errors.map((error) => `${error.field}: ${error.message}`).join('; ');
  throw new InvalidArgumentError(`${where}: ${summary}`, { errors });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
