/**
 * What an add asks for: its options, when it may run, what is checked before it is stored, what
 * makes two adds the same request (idempotency), and how a batch names a bad item.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { encodeJson, type JsonValue } from '../core/message.js';
import type { JobRecord } from '../store/port.js';
import { assertWebhookUrl } from '../webhooks/message.js';
import { metadataWithGroup } from './job-group.js';

export interface AddJobOptions {
  /** Run no earlier than this many ms from now. */
  delayMs?: number;
  /** Run no earlier than this time. Wins over `delayMs`. */
  runAt?: Date | number;
  /** @defaultValue the type's priority */
  priority?: number;
  /** @defaultValue the type's maxAttempts */
  maxAttempts?: number;
  /** A grouping key: search by it, rate-limit per it. */
  key?: string;
  /**
   * Fairness group (a tenant, a customer): jobs of a type start round-robin across groups, so
   * one group's backlog does not starve another's (see the queue send option `group`). Kept in
   * the job's metadata as `spool.group`, so retries and wake-ups keep it. 1 to 256 characters.
   */
  group?: string;
  /** Your own data, returned with the job. */
  metadata?: Record<string, JsonValue>;
  /** A URL that receives a signed webhook when the job finishes. */
  callbackUrl?: string;
  /** Makes the add idempotent: a repeat returns the first job (a different payload is refused). */
  idempotencyKey?: string;
  /**
   * At most one job of this type and `key` queued, scheduled, waiting or running: while there is
   * one, an add answers it (`outcome: 'singleton'`) instead of adding another. Needs a `key`.
   */
  singleton?: boolean;
  /** Refuses repeats within a window, by `key` or payload (`outcome: 'duplicate'`). */
  unique?: UniqueOptions;
  /** Folds a burst of adds with one `key` into one job (`outcome: 'debounced'`). */
  debounce?: DebounceOptions;
  /** At most one job per `key` starts per interval; the rest fold into one (`outcome: 'throttled'`). */
  throttle?: ThrottleOptions;
  /** Jobs that must complete before this one runs; their results are in `context.children()`. */
  children?: { type: string; payload?: JsonValue; options?: Omit<AddJobOptions, 'children'> }[];
}

/** `unique`: a repeat within `windowMs` answers the first job instead of adding one. */
export interface UniqueOptions {
  /** How long after an add its repeats are refused, in ms. */
  readonly windowMs: number;
  /**
   * What makes two adds the same: the job `key` (the default), or the payload (a hash of its
   * JSON with object keys sorted, so `{a,b}` and `{b,a}` are the same).
   */
  readonly by?: 'key' | 'payload';
}

/** `debounce`: a burst of adds with one key becomes one job. */
export interface DebounceOptions {
  /**
   * `trailing`: the job runs once the adds have been quiet this long (ms). `leading`: the first
   * add runs at once, and adds until the key has been quiet this long are dropped.
   */
  readonly delayMs: number;
  /** The longest a burst can put the job off (trailing) or drop adds (leading), in ms. */
  readonly maxWaitMs?: number;
  /**
   * `trailing` (the default): each add replaces the waiting job's payload — the last one wins —
   * and moves its run time to `delayMs` from now (at most `maxWaitMs` after the burst's first
   * add). `leading`: the burst's first add runs; the rest answer that job.
   */
  readonly mode?: 'trailing' | 'leading';
}

/** `throttle`: at most one job per key starts in each `intervalMs`. */
export interface ThrottleOptions {
  /**
   * The first add runs at once; adds within `intervalMs` of it fold into one job that runs when
   * the interval ends, with the last add's payload.
   */
  readonly intervalMs: number;
}

/** One job of `Jobs.addBatch`. */
export interface BatchJob {
  readonly type: string;
  readonly payload?: JsonValue;
  readonly options?: AddJobOptions;
}

/**
 * Runs `work` for item `index` of a batch, so a validation error names the item: its field
 * becomes `jobs.<index>.<field>` (the path of the item in a `POST /v1/jobs/batch` body).
 */
export async function withItemIndex<T>(index: number, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InvalidArgumentError) {
      const field = typeof error.details.field === 'string' ? `.${error.details.field}` : '';
      throw new InvalidArgumentError(`jobs[${index}]: ${error.message}`, {
        ...error.details,
        field: `jobs.${index}${field}`,
      });
    }
    throw error;
  }
}

/** When a job added now with `options` may first run. */
export function resolveRunAt(options: AddJobOptions, now: number): number {
  if (options.runAt !== undefined) {
    const at = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
    if (!Number.isFinite(at))
      throw new InvalidArgumentError('runAt must be a valid time', { field: 'runAt' });
    return Math.max(now, at);
  }
  if (options.delayMs !== undefined) {
    if (!Number.isFinite(options.delayMs) || options.delayMs < 0) {
      throw new InvalidArgumentError('delayMs must be a number >= 0', { field: 'delayMs' });
    }
    return now + Math.trunc(options.delayMs);
  }
  return now;
}

/** The record of a new job, as an add with `options` at `now` makes it (its time resolved). */
export function newJobRecord(fields: {
  readonly type: string;
  readonly payload: JsonValue;
  readonly options: AddJobOptions;
  /** The job type's, for what the options leave out. */
  readonly defaults: { readonly priority: number; readonly maxAttempts: number };
  readonly now: number;
  readonly runAt: number;
  readonly parentId: string | null;
  readonly requestHash: string | null;
}): JobRecord {
  const { type, payload, options, defaults, now, runAt, parentId, requestHash } = fields;
  const children = options.children ?? [];
  return {
    id: newId(),
    type,
    status: children.length > 0 ? 'waiting' : runAt > now ? 'scheduled' : 'queued',
    payload: encodeJson(payload ?? null, 'job payload'),
    key: options.key ?? null,
    priority: options.priority ?? defaults.priority,
    metadata: encodeJson(metadataWithGroup(options.metadata, options.group), 'job metadata'),
    maxAttempts: options.maxAttempts ?? defaults.maxAttempts,
    attempts: 0,
    createdAt: now,
    updatedAt: now,
    runAt,
    startedAt: null,
    finishedAt: null,
    progress: 0,
    progressData: null,
    result: null,
    lastError: null,
    history: [],
    logs: [],
    parentId,
    pendingChildren: children.length,
    callbackUrl: options.callbackUrl ?? null,
    idempotencyKey: options.idempotencyKey ?? null,
    requestHash,
    version: 1,
  };
}

/** Refuses a job record no worker could run or no webhook could be sent for. */
export function validateRecord(record: JobRecord): void {
  if (!Number.isInteger(record.maxAttempts) || record.maxAttempts < 1) {
    throw new InvalidArgumentError('maxAttempts must be an integer >= 1', { field: 'maxAttempts' });
  }
  if (!Number.isInteger(record.priority)) {
    throw new InvalidArgumentError('priority must be an integer', { field: 'priority' });
  }
  // Checked here, at the door: a URL no delivery can be made to must never reach the transaction
  // that finishes the job.
  if (record.callbackUrl !== null) assertWebhookUrl(record.callbackUrl, 'callbackUrl');
}

/** What makes two adds "the same request" for idempotency. */
export function hashRequest(type: string, payload: JsonValue, options: AddJobOptions): string | null {
  if (options.idempotencyKey === undefined) return null;
  const { idempotencyKey: _key, ...rest } = options;
  return createHash('sha256')
    .update(encodeJson([type, payload, rest], 'job add request'))
    .digest('base64url');
}
