/**
 * The alert evaluator: every interval it measures what each rule watches (queue depth, oldest
 * message age, dead-letter growth, failure rate, consumer-group lag) and moves each alert
 * through the states Prometheus users know:
 *
 *   inactive ──condition holds──► pending ──held for `for`──► firing ──condition fails once──► inactive
 *
 * A rule with a pattern (`*`, `prefix*`) has one alert per matching queue or group. Moving to
 * firing and back is recorded once each, as `alert.firing` and `alert.resolved` in the events
 * log (so `GET /v1/events` streams and webhook subscriptions see them), logged, and passed to
 * `onTransition`. An alert clears on the first evaluation that finds its condition false — one
 * evaluation, not one sample, so a single good reading between bad ones does clear it; use
 * `for` to keep short spikes from firing at all.
 *
 * State is in memory: after a restart an ongoing breach fires again (after its `for`), as with
 * Prometheus. A failed measurement (the store did not answer) changes nothing: alerts neither
 * fire nor resolve on missing data.
 */
import type { TimerHandle } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import { type AlertEvent, eventsTopic } from '../engine/events-log.js';
import type { Spool } from '../engine/spool.js';
import type { Topic } from '../engine/topic.js';
import { type AlertTarget, type Measurement, MeasureSnapshot } from './alerts-measure.js';
import { type AlertKind, type AlertRule, type AlertRuleInput, parseAlertsConfig } from './alerts-rules.js';
import { SettlementCounter, type SettlementSource } from './alerts-settlements.js';
import { SampleWindow } from './alerts-window.js';

/** A firing alert, as `GET /v1/alerts`, `GET /v1/stats` and `/readyz` show it. */
export interface Alert {
  /** `<rule name>/<target key>`: the target key is the queue name, or `topic/group`. */
  readonly id: string;
  readonly rule: string;
  readonly kind: AlertKind;
  readonly target: AlertTarget;
  readonly threshold: number;
  /** The latest measured value, in the threshold's unit. */
  readonly value: number;
  /** When it started firing (ISO 8601). */
  readonly since: string;
  /** A sentence for humans: what is wrong, by how much. */
  readonly message: string;
}

/** Where the evaluator logs transitions and failures; a pino logger fits. */
export interface AlertLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface AlertEvaluatorOptions {
  /** The rules, as written in an alerts file (validated here; an invalid rule throws `InvalidArgumentError`). */
  readonly rules: readonly AlertRuleInput[];
  /** How often rules are evaluated: `"5s"`, `"1m"`, or a number of seconds. @defaultValue "5s" */
  readonly interval?: string | number;
  /**
   * Settlement counts for failure-rate rules. By default the evaluator attaches its own counter
   * to the Spool's instrumentation hooks (only when a failure-rate rule exists).
   */
  readonly settlements?: SettlementSource;
  /** Transitions (warn when firing, info when resolved) and evaluation failures. @defaultValue none */
  readonly logger?: AlertLogger;
  /** Record transitions in the events log (`spool.events`). @defaultValue true */
  readonly recordEvents?: boolean;
  /** Called after each transition is recorded. Must not throw. */
  readonly onTransition?: (event: AlertEvent) => void;
}

/** The state of one (rule, target) pair across evaluations. */
interface AlertState {
  readonly id: string;
  readonly rule: AlertRule;
  target: AlertTarget;
  value: number;
  /** When the condition was first seen holding in the current streak; null when it does not hold. */
  pendingSince: number | null;
  /** When it started firing; null when not firing. */
  firingSince: number | null;
  /** dlq-growth: dead-letter depth samples; failure-rate: failed counts. */
  readonly samples?: SampleWindow;
  /** failure-rate: settled counts. */
  readonly settledSamples?: SampleWindow;
  /** failure-rate: settlements within the window at the last evaluation. */
  settledInWindow: number;
  /** The evaluation that last saw this target (targets not seen are gone: their alerts resolve). */
  seen: number;
}

export class AlertEvaluator {
  /** The validated rules, as `GET /v1/alerts` lists them. */
  readonly rules: readonly AlertRule[];
  /** How often rules are evaluated (ms). */
  readonly intervalMs: number;
  readonly #spool: Spool;
  readonly #options: AlertEvaluatorOptions;
  readonly #settlements: SettlementSource;
  #detachCounter: (() => void) | undefined;
  readonly #states = new Map<string, AlertState>();
  #evaluation = 0;
  #running: Promise<void> = Promise.resolve();
  #timer: TimerHandle | undefined;
  #started = false;
  #closed = false;
  #evaluatedAt: number | null = null;
  #failingSince: number | null = null;
  #events: Promise<Topic<AlertEvent>> | undefined;

  /** Validates the rules; nothing runs until {@link AlertEvaluator.start}. */
  constructor(spool: Spool, options: AlertEvaluatorOptions) {
    const config = parseAlertsConfig({
      ...(options.interval === undefined ? {} : { interval: options.interval }),
      rules: options.rules,
    });
    this.rules = config.rules;
    this.intervalMs = config.intervalMs;
    this.#spool = spool;
    this.#options = options;
    if (options.settlements) {
      this.#settlements = options.settlements;
    } else {
      const counter = new SettlementCounter();
      this.#settlements = counter;
      if (this.rules.some((rule) => rule.kind === 'failure-rate'))
        this.#detachCounter = spool.instrument(counter);
    }
  }

  /** An evaluator without rules: answers every question with "nothing is firing". */
  static none(spool: Spool): AlertEvaluator {
    return new AlertEvaluator(spool, { rules: [], recordEvents: false });
  }

  /**
   * Evaluates once now, then every interval (timers are the Spool clock's, unref'd: they never
   * keep the process alive). Resolves after the first evaluation. Without rules it does nothing.
   */
  async start(): Promise<void> {
    if (this.#closed) throw new InvalidArgumentError('this alert evaluator is closed');
    if (this.#started || this.rules.length === 0) return;
    this.#started = true;
    await this.evaluate();
    this.#schedule();
  }

  /** Stops evaluating (waiting for a running evaluation) and detaches from the engine. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) this.#spool.clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#detachCounter?.();
    this.#detachCounter = undefined;
    await this.#running;
  }

  /** The alerts firing now, oldest first. This is what `GET /v1/stats` reports as `alerts`. */
  firing(): Alert[] {
    return [...this.#states.values()]
      .filter((state) => state.firingSince !== null)
      .sort((a, b) => a.firingSince! - b.firingSince! || a.id.localeCompare(b.id))
      .map((state) => toAlert(state, state.firingSince!));
  }

  /** When the rules were last evaluated (ms since epoch); null before the first evaluation. */
  get evaluatedAt(): number | null {
    return this.#evaluatedAt;
  }

  /**
   * Evaluates every rule now (after any evaluation already running) and records the
   * transitions. Resolves once they are recorded. Evaluations never overlap.
   */
  evaluate(): Promise<void> {
    const run = this.#running.then(() => this.#evaluate());
    this.#running = run.catch(() => {});
    return run;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#spool.clock.setTimer(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      this.evaluate()
        .catch((error: unknown) => this.#options.logger?.error({ err: error }, 'alert evaluation failed'))
        .finally(() => this.#schedule());
    }, this.intervalMs);
  }

  async #evaluate(): Promise<void> {
    if (this.rules.length === 0) return;
    const evaluation = ++this.#evaluation;
    const now = this.#spool.clock.now();
    const snapshot = new MeasureSnapshot(this.#spool, (queue) => this.#settlements.settlements(queue));
    const transitions: AlertEvent[] = [];
    const failedRules = new Set<string>();
    for (const rule of this.rules) {
      let measurements: Measurement[];
      try {
        measurements = await snapshot.measure(rule);
      } catch (error) {
        // No data is not good news: leave this rule's alerts as they are.
        failedRules.add(rule.name);
        this.#reportFailure(error, rule, now);
        continue;
      }
      for (const measurement of measurements) {
        const transition = this.#observe(rule, measurement, now, evaluation);
        if (transition) transitions.push(transition);
      }
    }
    if (failedRules.size === 0) this.#reportRecovery(now);
    // Targets no longer there (a deleted queue, a group that went away) no longer breach.
    for (const [id, state] of this.#states) {
      if (state.seen === evaluation || failedRules.has(state.rule.name)) continue;
      if (state.firingSince !== null) transitions.push(this.#transition('alert.resolved', state, now));
      this.#states.delete(id);
    }
    this.#evaluatedAt = now;
    for (const event of transitions) await this.#publish(event);
  }

  /** Updates one alert with a measurement; returns its transition, if any. */
  #observe(rule: AlertRule, measurement: Measurement, now: number, evaluation: number): AlertEvent | null {
    const id = `${rule.name}/${measurement.key}`;
    let state = this.#states.get(id);
    if (!state) {
      const windowMs = (rule.windowSeconds ?? 0) * 1000;
      state = {
        id,
        rule,
        target: measurement.target,
        value: 0,
        pendingSince: null,
        firingSince: null,
        ...(rule.windowSeconds === undefined ? {} : { samples: new SampleWindow(windowMs) }),
        ...(rule.kind === 'failure-rate' ? { settledSamples: new SampleWindow(windowMs) } : {}),
        settledInWindow: 0,
        seen: evaluation,
      };
      this.#states.set(id, state);
    }
    state.seen = evaluation;
    state.target = measurement.target;
    const breached = this.#measureValue(state, measurement, now);
    if (!breached) {
      state.pendingSince = null;
      if (state.firingSince === null) return null;
      const event = this.#transition('alert.resolved', state, now);
      state.firingSince = null;
      return event;
    }
    state.pendingSince ??= now;
    if (state.firingSince !== null || now - state.pendingSince < rule.forSeconds * 1000) return null;
    state.firingSince = now;
    return this.#transition('alert.firing', state, now);
  }

  /** Sets `state.value` from the measurement; returns whether the rule's condition holds. */
  #measureValue(state: AlertState, measurement: Measurement, now: number): boolean {
    const { rule } = state;
    switch (rule.kind) {
      case 'dlq-growth':
        state.samples!.add(now, measurement.sample);
        state.value = state.samples!.increase();
        break;
      case 'failure-rate': {
        state.samples!.add(now, measurement.failed ?? 0);
        state.settledSamples!.add(now, measurement.settled ?? 0);
        const failed = state.samples!.increase();
        state.settledInWindow = state.settledSamples!.increase();
        state.value = state.settledInWindow === 0 ? 0 : Math.min(1, failed / state.settledInWindow);
        return state.settledInWindow >= (rule.minSettled ?? 1) && state.value > rule.threshold;
      }
      default:
        state.value = measurement.sample;
    }
    return state.value > rule.threshold;
  }

  #transition(event: AlertEvent['event'], state: AlertState, now: number): AlertEvent {
    const alert = toAlert(state, state.firingSince ?? now);
    return { event, queue: state.target.queue ?? null, at: now, alert };
  }

  async #publish(event: AlertEvent): Promise<void> {
    const { logger, onTransition } = this.#options;
    if (event.event === 'alert.firing')
      logger?.warn({ alert: event.alert }, `alert firing: ${event.alert.message}`);
    else logger?.info({ alert: event.alert }, `alert resolved: ${event.alert.id}`);
    if (this.#options.recordEvents !== false) {
      try {
        this.#events ??= this.#spool.topic<AlertEvent>(eventsTopic, {
          partitions: 1,
          retentionMs: 86_400_000,
        });
        const topic = await this.#events;
        await topic.publish(event, { partition: 0, key: event.alert.id });
      } catch (error) {
        this.#events = undefined;
        // The transition stands (the API shows it); only its record in the log is lost.
        logger?.error({ err: error, alert: event.alert.id }, `could not record ${event.event}`);
      }
    }
    onTransition?.(event);
  }

  #reportFailure(error: unknown, rule: AlertRule, now: number): void {
    if (this.#failingSince !== null) return;
    this.#failingSince = now;
    this.#options.logger?.error(
      { err: error, rule: rule.name },
      'alert evaluation failed: alerts keep their state until measurements succeed again',
    );
  }

  #reportRecovery(now: number): void {
    if (this.#failingSince === null) return;
    this.#options.logger?.info({ failedForMs: now - this.#failingSince }, 'alert evaluation recovered');
    this.#failingSince = null;
  }
}

function toAlert(state: AlertState, since: number): Alert {
  const { rule, target, value } = state;
  return {
    id: state.id,
    rule: rule.name,
    kind: rule.kind,
    target,
    threshold: rule.threshold,
    value: round(value),
    since: new Date(since).toISOString(),
    message: describe(rule, target, value, state.settledInWindow),
  };
}

/** A sentence per kind: what is measured, how much, against which threshold. */
function describe(rule: AlertRule, target: AlertTarget, value: number, settled: number): string {
  const queue = `queue "${target.queue}"`;
  const window = rule.windowSeconds === undefined ? '' : formatDuration(rule.windowSeconds);
  switch (rule.kind) {
    case 'depth':
      return `${queue} holds ${round(value)} messages (${rule.states!.join(', ')}); threshold ${rule.threshold}`;
    case 'oldest-age':
      return `the oldest message of ${queue} is ${round(value)} s old; threshold ${rule.threshold} s`;
    case 'dlq-growth':
      return `${queue} dead-lettered ${round(value)} messages in the last ${window}; threshold ${rule.threshold}`;
    case 'failure-rate':
      return `${percent(value)} of the ${settled} settlements of ${queue} in the last ${window} failed (retried or dead-lettered); threshold ${percent(rule.threshold)}`;
    case 'consumer-lag':
      return `consumer group "${target.group}" of topic "${target.topic}" is ${round(value)} events behind; threshold ${rule.threshold}`;
    case 'breaker-open':
      return `circuit breaker "${target.breaker}" has not been closed for ${round(value)} s (its dependency keeps failing); threshold ${rule.threshold} s`;
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function percent(ratio: number): string {
  return `${Math.round(ratio * 1000) / 10}%`;
}

function formatDuration(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
