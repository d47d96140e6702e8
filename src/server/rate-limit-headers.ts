/**
 * The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers, -11): `RateLimit-Policy`
 * names a quota policy with its quota `q` and window `w` (whole seconds), `RateLimit` says what is
 * left of it — the available quota `r` and the effective window `t`, the seconds within which no
 * more than `r` will be served. Both are Structured Field lists of one item: the policy name as a
 * String, then parameters; `pk` is the partition key as a Byte Sequence (base64 between colons),
 * here the job key of a per-key limit, and `qu="concurrent-requests"` marks a concurrency limit.
 *
 * A job type's limits are named `"<type>/<option>"`: `"invoice.render/globalRateLimit"`.
 */
import type { Clock } from '../core/clock.js';
import type { RetryAfterError } from '../core/errors.js';
import { LimitReachedError, type ReachedLimit } from '../core/wait-errors.js';
import type { RateLimitBudget } from '../jobs/start-limits.js';

/** One quota policy and what is left of it. */
interface PolicyState {
  readonly name: string;
  readonly quota: number;
  /** The policy's window in ms; null for a concurrency limit (it has none). */
  readonly windowMs: number | null;
  readonly concurrency: boolean;
  readonly partitionKey: string | null;
  readonly remaining: number;
  /** Until more than `remaining` may be served (ms). */
  readonly effectiveMs: number;
}

/** Whole seconds, rounded up: what a client waits is never shorter than the server's wait. */
export function ceilSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/** An sf-string: quoted, with `\` and `"` escaped (type names are printable ASCII already). */
function sfString(value: string): string {
  return `"${value.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

function fields(state: PolicyState): Record<'ratelimit-policy' | 'ratelimit', string> {
  const name = sfString(state.name);
  const pk =
    state.partitionKey === null ? '' : `;pk=:${Buffer.from(state.partitionKey, 'utf8').toString('base64')}:`;
  const window = state.windowMs === null ? '' : `;w=${Math.max(1, ceilSeconds(state.windowMs))}`;
  const unit = state.concurrency ? ';qu="concurrent-requests"' : '';
  return {
    'ratelimit-policy': `${name};q=${state.quota}${unit}${window}${pk}`,
    ratelimit: `${name};r=${state.remaining};t=${ceilSeconds(state.effectiveMs)}${pk}`,
  };
}

/** The policy name of a job type's limit. */
export function limitPolicyName(type: string, option: ReachedLimit['option']): string {
  return `${type}/${option}`;
}

/** The header fields of a `globalRateLimit` budget (`GET /v1/jobs/types/{type}/rate-limit`). */
export function budgetHeaders(budget: RateLimitBudget): Record<'ratelimit-policy' | 'ratelimit', string> {
  return fields({
    name: limitPolicyName(budget.type, 'globalRateLimit'),
    quota: budget.limit,
    windowMs: budget.intervalMs,
    concurrency: false,
    partitionKey: budget.key,
    remaining: budget.remaining,
    effectiveMs: budget.nextTokenMs,
  });
}

/**
 * The header fields of a limit that held a job back for `retryAfterMs` more: nothing left of it
 * (`r=0`) until then, and `Retry-After` at the same moment.
 */
export function reachedLimitHeaders(
  reached: ReachedLimit,
  retryAfterMs: number,
): Record<'ratelimit-policy' | 'ratelimit' | 'retry-after', string> {
  return {
    ...fields({
      name: limitPolicyName(reached.jobType, reached.option),
      quota: reached.limit,
      windowMs: reached.intervalMs,
      concurrency: reached.intervalMs === null,
      partitionKey: reached.key,
      remaining: 0,
      effectiveMs: retryAfterMs,
    }),
    'retry-after': String(Math.max(1, ceilSeconds(retryAfterMs))),
  };
}

/**
 * The limits that held a claim's jobs back (`onHeldBack`), for the headers of an answer without
 * jobs: the one that lets a job start soonest, among those still holding.
 */
export class HeldBackLimits {
  #soonest: { reached: ReachedLimit; dueAt: number } | undefined;

  constructor(private readonly clock: Clock) {}

  heard(error: RetryAfterError): void {
    if (!(error instanceof LimitReachedError) || error.reached === null) return;
    const now = this.clock.now();
    const dueAt = now + error.retryAfterMs;
    if (this.#soonest === undefined || this.#soonest.dueAt <= now || dueAt < this.#soonest.dueAt) {
      this.#soonest = { reached: error.reached, dueAt };
    }
  }

  /** The header fields of the soonest limit still holding; none when none is. */
  headers(): Partial<Record<'ratelimit-policy' | 'ratelimit' | 'retry-after', string>> {
    const left = this.#soonest === undefined ? 0 : this.#soonest.dueAt - this.clock.now();
    return this.#soonest !== undefined && left > 0 ? reachedLimitHeaders(this.#soonest.reached, left) : {};
  }
}
