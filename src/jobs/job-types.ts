/**
 * Job type options: one interface, defaults in one place, validated once.
 */
import { defaultBackoff, type BackoffOptions } from '../core/backoff.js';
import { InvalidArgumentError } from '../core/errors.js';
import { validateName } from '../core/names.js';
import { jobDefaults } from '../core/options.js';
import type { RateLimit } from './rate-limiter.js';

export interface JobTypeOptions {
  /** Runs before a job is dead. @defaultValue 3 */
  maxAttempts?: number;
  /** Delay between runs. @defaultValue `{ baseMs: 1000, capMs: 300000, jitter: 'full' }` */
  backoff?: Partial<BackoffOptions>;
  /** A run past this fails with `JobTimeoutError` and its signal aborts. @defaultValue 300000 (5 min) */
  timeoutMs?: number;
  /** Jobs of this type running at once in this process. @defaultValue 1 */
  concurrency?: number;
  /** At most `limit` starts per `intervalMs` (per key with `perKey`), in this process. */
  rateLimit?: RateLimit;
  /**
   * Jobs of this type running at once in every process on the store together, enforced by the
   * store when a job starts: a job over the limit waits (without using an attempt) and starts
   * when one ends. Each process still runs at most its own `concurrency`.
   */
  globalConcurrency?: number;
  /**
   * At most `limit` starts per `intervalMs` in every process on the store together (per job
   * key with `perKey`), kept in the store as a token bucket: a job over it waits, without using
   * an attempt, until a token is there.
   */
  globalRateLimit?: RateLimit;
  /**
   * Jobs of this type with one `key` running at once in every process on the store together
   * (at most N for one customer); jobs without a key are not limited by it.
   */
  keyConcurrency?: number;
  /** Default priority of new jobs (higher first). @defaultValue 0 */
  priority?: number;
  /**
   * How long an in-process worker's hold on a running job lasts between its renewals (every
   * half lease): how soon a job whose process died runs again elsewhere. @defaultValue 30000
   */
  leaseMs?: number;
  /**
   * Runs the handler through this circuit breaker (`jobs.breakers.define(name, …)`): while it is
   * open, jobs wait until it lets a probe through, without using an attempt.
   */
  breaker?: string;
}

export interface ResolvedJobType {
  readonly name: string;
  readonly maxAttempts: number;
  readonly backoff: BackoffOptions;
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly rateLimit: RateLimit | null;
  readonly globalConcurrency: number | null;
  readonly globalRateLimit: RateLimit | null;
  readonly keyConcurrency: number | null;
  readonly priority: number;
  /**
   * The ticket's lease. The worker extends it every half lease while the handler runs, so this
   * only bounds how soon a job whose worker died is run again.
   */
  readonly leaseMs: number;
  readonly breaker: string | null;
}

export const jobTypeDefaults = Object.freeze({
  maxAttempts: 3,
  backoff: defaultBackoff,
  timeoutMs: 300_000,
  concurrency: 1,
  priority: 0,
});

export function resolveJobType(name: string, options: JobTypeOptions = {}): ResolvedJobType {
  validateName('queue', `jobs.${name}`);
  const resolved: ResolvedJobType = {
    name,
    maxAttempts: options.maxAttempts ?? jobTypeDefaults.maxAttempts,
    backoff: { ...jobTypeDefaults.backoff, ...options.backoff },
    timeoutMs: options.timeoutMs ?? jobTypeDefaults.timeoutMs,
    concurrency: options.concurrency ?? jobTypeDefaults.concurrency,
    rateLimit: options.rateLimit ?? null,
    globalConcurrency: options.globalConcurrency ?? null,
    globalRateLimit: options.globalRateLimit ?? null,
    keyConcurrency: options.keyConcurrency ?? null,
    priority: options.priority ?? jobTypeDefaults.priority,
    leaseMs: options.leaseMs ?? jobDefaults.leaseMs,
    breaker: options.breaker ?? null,
  };
  const positive: [string, number][] = [
    ['maxAttempts', resolved.maxAttempts],
    ['timeoutMs', resolved.timeoutMs],
    ['concurrency', resolved.concurrency],
    ['leaseMs', resolved.leaseMs],
    ...(resolved.globalConcurrency === null
      ? []
      : [['globalConcurrency', resolved.globalConcurrency] as [string, number]]),
    ...(resolved.keyConcurrency === null
      ? []
      : [['keyConcurrency', resolved.keyConcurrency] as [string, number]]),
  ];
  for (const [field, value] of positive) {
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidArgumentError(`job type "${name}": ${field} must be an integer >= 1`, { field });
    }
  }
  for (const field of ['rateLimit', 'globalRateLimit'] as const) {
    const rate = resolved[field];
    if (!rate) continue;
    const { limit, intervalMs } = rate;
    if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(intervalMs) || intervalMs < 1) {
      throw new InvalidArgumentError(
        `job type "${name}": ${field} needs an integer limit >= 1 and intervalMs >= 1`,
        { field },
      );
    }
  }
  return Object.freeze(resolved);
}
