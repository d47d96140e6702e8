/**
 * What an add asks for: its options, when it may run, what is checked before it is stored, what
 * makes two adds the same request (idempotency), and how a batch names a bad item.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../core/errors.js';
import { encodeJson, type JsonValue } from '../core/message.js';
import type { JobRecord } from '../store/port.js';
import { assertWebhookUrl } from '../webhooks/message.js';

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
  /** Your own data, returned with the job. */
  metadata?: Record<string, JsonValue>;
  /** A URL that receives a signed webhook when the job finishes. */
  callbackUrl?: string;
  /** Makes the add idempotent: a repeat returns the first job (a different payload is refused). */
  idempotencyKey?: string;
  /** Jobs that must complete before this one runs; their results are in `context.children()`. */
  children?: { type: string; payload?: JsonValue; options?: Omit<AddJobOptions, 'children'> }[];
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
