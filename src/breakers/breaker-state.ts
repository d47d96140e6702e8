/**
 * A circuit breaker's states and transitions, as pure functions over the state every process
 * shares through the store:
 *
 * ```
 *   closed ──(failureThreshold consecutive failures, or the failure rate over its window)──► open
 *   open ──(openMs passed: the next call is let through as a probe)──► half-open
 *   half-open ──(halfOpenProbes probes succeeded)──► closed
 *   half-open ──(a probe failed)──► open (for openMs again)
 * ```
 *
 * While open, calls are refused with the time left; while half-open, at most `halfOpenProbes`
 * calls are in flight, the others refused. A probe whose process died never reports: after
 * `openMs` in half-open, new probes are let through again.
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { FailureInfo } from '../core/message.js';

export type BreakerStateName = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. @defaultValue 5 */
  failureThreshold?: number;
  /**
   * Also open when, over the last `windowMs`, at least `minimumCalls` calls were made and the
   * share of failures reached `threshold` (0–1). Counting every call costs a store write per
   * call; without it, only failures and the first success after one are written.
   */
  failureRate?: { threshold: number; minimumCalls: number; windowMs: number };
  /** How long it stays open before a probe is let through. @defaultValue 30000 */
  openMs?: number;
  /** Probes in flight at once when half-open, and successes needed to close. @defaultValue 1 */
  halfOpenProbes?: number;
  /** Which errors count as the dependency failing. @defaultValue every error */
  isFailure?: (error: unknown) => boolean;
}

export interface ResolvedBreakerOptions {
  readonly failureThreshold: number;
  readonly failureRate: {
    readonly threshold: number;
    readonly minimumCalls: number;
    readonly windowMs: number;
  } | null;
  readonly openMs: number;
  readonly halfOpenProbes: number;
  readonly isFailure: (error: unknown) => boolean;
}

/** What the store keeps of a breaker (JSON). */
export interface BreakerState {
  readonly state: BreakerStateName;
  readonly consecutiveFailures: number;
  readonly windowStart: number;
  readonly windowCalls: number;
  readonly windowFailures: number;
  readonly openedAt: number | null;
  readonly openUntil: number | null;
  readonly halfOpenAt: number | null;
  readonly probes: number;
  readonly probeSuccesses: number;
  /** Times it opened, all told. */
  readonly opened: number;
  readonly lastFailure: FailureInfo | null;
}

export const closedState: BreakerState = Object.freeze({
  state: 'closed',
  consecutiveFailures: 0,
  windowStart: 0,
  windowCalls: 0,
  windowFailures: 0,
  openedAt: null,
  openUntil: null,
  halfOpenAt: null,
  probes: 0,
  probeSuccesses: 0,
  opened: 0,
  lastFailure: null,
});

export function resolveBreakerOptions(name: string, options: BreakerOptions = {}): ResolvedBreakerOptions {
  const resolved: ResolvedBreakerOptions = {
    failureThreshold: options.failureThreshold ?? 5,
    failureRate: options.failureRate ?? null,
    openMs: options.openMs ?? 30_000,
    halfOpenProbes: options.halfOpenProbes ?? 1,
    isFailure: options.isFailure ?? (() => true),
  };
  for (const field of ['failureThreshold', 'openMs', 'halfOpenProbes'] as const) {
    if (!Number.isInteger(resolved[field]) || resolved[field] < 1) {
      throw new InvalidArgumentError(`breaker "${name}": ${field} must be an integer >= 1`, { field });
    }
  }
  const rate = resolved.failureRate;
  if (rate && !(rate.threshold > 0 && rate.threshold <= 1 && rate.minimumCalls >= 1 && rate.windowMs >= 1)) {
    throw new InvalidArgumentError(
      `breaker "${name}": failureRate needs a threshold in (0, 1], minimumCalls >= 1 and windowMs >= 1`,
      { field: 'failureRate' },
    );
  }
  return Object.freeze(resolved);
}

/** Whether a call may go: as an ordinary call, as a probe, or refused for `retryAfterMs`. */
export type Admission =
  | { readonly kind: 'call' }
  | { readonly kind: 'probe'; readonly next: BreakerState }
  | { readonly kind: 'refused'; readonly retryAfterMs: number };

export function admit(state: BreakerState, options: ResolvedBreakerOptions, now: number): Admission {
  if (state.state === 'closed') return { kind: 'call' };
  if (state.state === 'open') {
    if (now < state.openUntil!) return { kind: 'refused', retryAfterMs: state.openUntil! - now };
    return {
      kind: 'probe',
      next: { ...state, state: 'half-open', halfOpenAt: now, probes: 1, probeSuccesses: 0 },
    };
  }
  // Half-open. Probes of a process that died never report: after openMs, let new ones through.
  const stale = now - state.halfOpenAt! >= options.openMs;
  if (state.probes < options.halfOpenProbes || stale) {
    return {
      kind: 'probe',
      next: stale ? { ...state, halfOpenAt: now, probes: 1 } : { ...state, probes: state.probes + 1 },
    };
  }
  return { kind: 'refused', retryAfterMs: Math.max(100, state.halfOpenAt! + options.openMs - now) };
}

/**
 * The state after a call's outcome, or null when nothing changes (a success while closed with
 * no failure to forget and no rate to count: the common case writes nothing).
 */
export function settle(
  state: BreakerState,
  options: ResolvedBreakerOptions,
  now: number,
  outcome: { readonly failure: FailureInfo | null; readonly probe: boolean },
): BreakerState | null {
  const { failure } = outcome;
  if (state.state === 'half-open' && outcome.probe) {
    if (failure) return open(state, options, now, failure);
    const probeSuccesses = state.probeSuccesses + 1;
    if (probeSuccesses >= options.halfOpenProbes) return { ...closedState, opened: state.opened };
    return { ...state, probes: Math.max(0, state.probes - 1), probeSuccesses };
  }
  // Outcomes of calls let through before another process opened the breaker change nothing.
  if (state.state !== 'closed') return null;
  const rate = options.failureRate;
  if (!failure && state.consecutiveFailures === 0 && !rate) return null;
  const windowFresh = rate !== null && now - state.windowStart < rate.windowMs;
  const counted = rate
    ? {
        windowStart: windowFresh ? state.windowStart : now,
        windowCalls: (windowFresh ? state.windowCalls : 0) + 1,
        windowFailures: (windowFresh ? state.windowFailures : 0) + (failure ? 1 : 0),
      }
    : {};
  if (!failure) return { ...state, ...counted, consecutiveFailures: 0 };
  const next: BreakerState = {
    ...state,
    ...counted,
    consecutiveFailures: state.consecutiveFailures + 1,
    lastFailure: failure,
  };
  const rateTripped =
    rate !== null &&
    next.windowCalls >= rate.minimumCalls &&
    next.windowFailures / next.windowCalls >= rate.threshold;
  return next.consecutiveFailures >= options.failureThreshold || rateTripped
    ? open(next, options, now, failure)
    : next;
}

function open(
  state: BreakerState,
  options: ResolvedBreakerOptions,
  now: number,
  failure: FailureInfo,
): BreakerState {
  return {
    ...closedState,
    state: 'open',
    // A failed probe re-opens it: it has been out of service since it first left closed.
    openedAt: state.state === 'half-open' ? (state.openedAt ?? now) : now,
    openUntil: now + options.openMs,
    opened: state.opened + 1,
    consecutiveFailures: state.consecutiveFailures,
    lastFailure: failure,
  };
}
