/**
 * Alert rules as data: the TypeBox schema of a rule as an operator writes it (in the file given
 * to `spool serve --alerts`), and the validation that turns it into a normalized
 * {@link AlertRule} or refuses it with an `InvalidArgumentError` naming the rule, the field and
 * what to write instead. Rules are checked once, at start-up, so a typo stops the server rather
 * than silently never alerting.
 */
import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { InvalidArgumentError } from '../core/errors.js';

/** What a rule watches. */
export const alertKinds = [
  'depth',
  'oldest-age',
  'dlq-growth',
  'consumer-lag',
  'failure-rate',
  'breaker-open',
] as const;
export type AlertKind = (typeof alertKinds)[number];

/** Queue message states a depth rule can count. */
export const depthStates = ['ready', 'delayed', 'inFlight'] as const;
export type DepthState = (typeof depthStates)[number];

/** Kinds whose value is measured over a sliding window. */
const windowedKinds: readonly AlertKind[] = ['dlq-growth', 'failure-rate'];
const queueKinds: readonly AlertKind[] = ['depth', 'oldest-age', 'dlq-growth', 'failure-rate'];

const durationPattern = '^\\d+(\\.\\d+)?(ms|s|m|h|d)$';

/** A duration as operators write it: `"30s"`, `"5m"`, `"1h"`, `"250ms"`, or a number of seconds. */
export const DurationInput = Type.Union(
  [Type.String({ pattern: durationPattern }), Type.Number({ minimum: 0 })],
  { description: 'A duration such as "30s", "5m", "1h", "250ms", or a number of seconds' },
);

/** A queue, topic or group name, or a pattern: `*` (all) or `prefix*`. */
const NamePattern = Type.String({
  pattern: '^[A-Za-z0-9._:-]{0,200}\\*?$',
  minLength: 1,
  description: 'A name, `*` for all, or `prefix*`',
});

/** One rule as written in the alerts file. */
export const AlertRuleInput = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9._:-]{1,100}$',
      description: "Unique; 1-100 letters, digits, '.', '_', '-' or ':'",
    }),
    kind: Type.Union(
      alertKinds.map((kind) => Type.Literal(kind)),
      { description: alertKinds.join(', ') },
    ),
    queue: Type.Optional(NamePattern),
    topic: Type.Optional(NamePattern),
    group: Type.Optional(NamePattern),
    breaker: Type.Optional(NamePattern),
    threshold: Type.Number({ minimum: 0, description: 'Fires when the value is above this' }),
    window: Type.Optional(DurationInput),
    for: Type.Optional(DurationInput),
    states: Type.Optional(
      Type.Array(Type.Union(depthStates.map((state) => Type.Literal(state))), {
        minItems: 1,
        uniqueItems: true,
      }),
    ),
    minSettled: Type.Optional(Type.Integer({ minimum: 1 })),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);
export type AlertRuleInput = Static<typeof AlertRuleInput>;

/** The alerts file: the rules, and how often they are evaluated. A bare array of rules works too. */
export const AlertsFileInput = Type.Object(
  {
    interval: Type.Optional(DurationInput),
    rules: Type.Array(Type.Unknown()),
  },
  { additionalProperties: false },
);

/**
 * A validated rule, as `GET /v1/alerts` lists it. Durations are normalized to seconds; the
 * target fields present depend on the kind (`queue` for queue kinds, `topic` and `group` for
 * consumer lag), each a name, `*` or `prefix*`.
 */
export interface AlertRule {
  readonly name: string;
  readonly kind: AlertKind;
  readonly queue?: string;
  readonly topic?: string;
  readonly group?: string;
  /** breaker-open rules: a circuit breaker name, `*` or `prefix*`. */
  readonly breaker?: string;
  /**
   * Fires when the value is above it. Units by kind: messages (depth, consumer-lag), seconds
   * (oldest-age, and breaker-open: how long the breaker has not been closed), dead letters added
   * within the window (dlq-growth), a ratio 0..1 (failure-rate).
   */
  readonly threshold: number;
  /** The sliding window of dlq-growth and failure-rate rules. */
  readonly windowSeconds?: number;
  /** How long the condition must hold before the alert fires (Prometheus `for:`). */
  readonly forSeconds: number;
  /** Depth rules: the message states counted. */
  readonly states?: readonly DepthState[];
  /** Failure-rate rules: fewer settlements than this in the window never fire. */
  readonly minSettled?: number;
  readonly description?: string;
}

/** Validated alerting configuration. */
export interface AlertsConfig {
  readonly rules: readonly AlertRule[];
  /** How often rules are evaluated (ms). */
  readonly intervalMs: number;
}

/** The evaluation interval when the file does not give one. */
export const defaultAlertIntervalMs = 5000;

/**
 * Parses a duration (`"5m"`, `"30s"`, `"250ms"`, `"1h"`, `"1d"`, or a number of seconds) to ms.
 * Throws `InvalidArgumentError` naming `field` otherwise.
 */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
  const match = typeof value === 'string' ? new RegExp(durationPattern).exec(value) : null;
  if (!match) {
    throw new InvalidArgumentError(
      `${field} must be a duration such as "30s", "5m", "1h" or "250ms", or a number of seconds; got ${JSON.stringify(value)}`,
      { field },
    );
  }
  const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms'];
  return Math.round(Number.parseFloat(value as string) * unitMs);
}

/**
 * Validates rules (as parsed from JSON) and normalizes them. Throws `InvalidArgumentError` for
 * the first problem, saying which rule and which field and what would be accepted.
 */
export function parseAlertRules(input: unknown, intervalMs = defaultAlertIntervalMs): AlertRule[] {
  if (!Array.isArray(input)) {
    throw new InvalidArgumentError('alert rules must be a JSON array of rules', { field: 'rules' });
  }
  const names = new Set<string>();
  return input.map((raw, index) => {
    const rule = parseRule(raw, index, intervalMs);
    if (names.has(rule.name)) {
      throw new InvalidArgumentError(
        `alert rule ${index} ("${rule.name}"): another rule has the same name; names must be unique (they are part of alert ids)`,
        { field: `rules.${index}.name` },
      );
    }
    names.add(rule.name);
    return rule;
  });
}

/** Validates a whole alerts document: `{ interval?, rules }` or a bare array of rules. */
export function parseAlertsConfig(input: unknown): AlertsConfig {
  if (Array.isArray(input)) return { rules: parseAlertRules(input), intervalMs: defaultAlertIntervalMs };
  const [error] = Value.Errors(AlertsFileInput, input);
  if (error) {
    const problem = error.path.startsWith('/interval')
      ? 'must be a duration such as "5s"'
      : error.message.toLowerCase();
    throw new InvalidArgumentError(
      `the alerts configuration must be { "interval"?: "5s", "rules": [ … ] } or an array of rules: ${describePath(error.path, 'the document')} ${problem}`,
      { field: error.path.replace(/^\//, '').replaceAll('/', '.') || 'rules' },
    );
  }
  const document = input as { interval?: unknown; rules: unknown[] };
  const intervalMs =
    document.interval === undefined ? defaultAlertIntervalMs : parseDuration(document.interval, 'interval');
  if (intervalMs < 100 || intervalMs > 3_600_000) {
    throw new InvalidArgumentError('interval must be from 100ms to 1h', { field: 'interval' });
  }
  return { rules: parseAlertRules(document.rules, intervalMs), intervalMs };
}

/** The contents of a valid alerts file, as written (pass to `new AlertEvaluator(spool, file)`). */
export interface AlertsFile {
  readonly interval?: string | number;
  readonly rules: readonly AlertRuleInput[];
}

/**
 * Reads and validates an alerts file (JSON): `{ "interval"?: "5s", "rules": [ … ] }` or a bare
 * array of rules. Errors name the file: a missing file, bad JSON and invalid rules are all
 * `InvalidArgumentError`s.
 */
export function loadAlertsFile(path: string): AlertsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`cannot read the alerts file ${path}: ${(error as Error).message}`, {
      field: 'alerts',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`the alerts file ${path} is not JSON: ${(error as Error).message}`, {
      field: 'alerts',
    });
  }
  try {
    parseAlertsConfig(parsed);
    return Array.isArray(parsed) ? { rules: parsed as AlertRuleInput[] } : (parsed as AlertsFile);
  } catch (error) {
    if (error instanceof InvalidArgumentError) {
      throw new InvalidArgumentError(`${path}: ${error.message}`, { ...error.details });
    }
    throw error;
  }
}

function parseRule(raw: unknown, index: number, intervalMs: number): AlertRule {
  const label =
    typeof raw === 'object' && raw !== null && typeof (raw as { name?: unknown }).name === 'string'
      ? `alert rule ${index} ("${(raw as { name: string }).name}")`
      : `alert rule ${index}`;
  const fail = (field: string, message: string): never => {
    throw new InvalidArgumentError(`${label}: ${message}`, { field: `rules.${index}.${field}` });
  };
  const [error] = Value.Errors(AlertRuleInput, raw);
  if (error) {
    const field = error.path.replace(/^\//, '').split('/')[0] ?? '';
    fail(field, `${describePath(error.path, 'the rule')} ${hintFor(field, error.message)}`);
  }
  const rule = raw as AlertRuleInput;
  const isQueueKind = queueKinds.includes(rule.kind);
  if (rule.kind === 'breaker-open') {
    const other = (['queue', 'topic', 'group'] as const).find((field) => rule[field] !== undefined);
    if (other) fail(other, `a breaker-open rule watches circuit breakers: drop "${other}", use "breaker"`);
  } else if (rule.breaker !== undefined) {
    fail('breaker', 'only breaker-open rules take "breaker"');
  }
  if (rule.kind === 'breaker-open') {
    // Its target is the breaker; nothing else to check.
  } else if (isQueueKind) {
    if (rule.queue === undefined)
      fail('queue', `a ${rule.kind} rule needs "queue": a name, "*" or "prefix*"`);
    if (rule.topic !== undefined || rule.group !== undefined) {
      fail(
        rule.topic !== undefined ? 'topic' : 'group',
        `a ${rule.kind} rule watches a queue: drop topic/group`,
      );
    }
  } else {
    if (rule.topic === undefined)
      fail('topic', 'a consumer-lag rule needs "topic": a name, "*" or "prefix*"');
    if (rule.queue !== undefined) fail('queue', 'a consumer-lag rule watches a topic: drop "queue"');
  }
  if (rule.states !== undefined && rule.kind !== 'depth') fail('states', 'only depth rules take "states"');
  if (rule.minSettled !== undefined && rule.kind !== 'failure-rate') {
    fail('minSettled', 'only failure-rate rules take "minSettled"');
  }
  if (rule.kind === 'failure-rate' && rule.threshold > 1) {
    fail('threshold', 'a failure-rate threshold is a ratio from 0 to 1 (0.05 = 5% of settlements failed)');
  }
  let windowSeconds: number | undefined;
  if (windowedKinds.includes(rule.kind)) {
    if (rule.window === undefined) fail('window', `a ${rule.kind} rule needs "window", e.g. "5m"`);
    const windowMs = parseDuration(rule.window, `rules.${index}.window`);
    if (windowMs < intervalMs) {
      fail(
        'window',
        `the window (${windowMs} ms) must be at least the evaluation interval (${intervalMs} ms): a window is measured between evaluations`,
      );
    }
    windowSeconds = windowMs / 1000;
  } else if (rule.window !== undefined) {
    fail('window', `a ${rule.kind} rule has no window (only dlq-growth and failure-rate do)`);
  }
  const forSeconds = rule.for === undefined ? 0 : parseDuration(rule.for, `rules.${index}.for`) / 1000;
  return Object.freeze({
    name: rule.name,
    kind: rule.kind,
    ...(rule.kind === 'breaker-open'
      ? { breaker: rule.breaker ?? '*' }
      : isQueueKind
        ? { queue: rule.queue! }
        : { topic: rule.topic!, group: rule.group ?? '*' }),
    threshold: rule.threshold,
    ...(windowSeconds === undefined ? {} : { windowSeconds }),
    forSeconds,
    ...(rule.kind === 'depth' ? { states: Object.freeze([...(rule.states ?? depthStates)]) } : {}),
    ...(rule.kind === 'failure-rate' ? { minSettled: rule.minSettled ?? 1 } : {}),
    ...(rule.description === undefined ? {} : { description: rule.description }),
  });
}

function describePath(path: string, whole: string): string {
  return path === '' ? whole : `"${path.replace(/^\//, '').replaceAll('/', '.')}"`;
}

function hintFor(field: string, message: string): string {
  switch (field) {
    case 'kind':
      return `must be one of ${alertKinds.join(', ')}`;
    case 'window':
    case 'for':
      return 'must be a duration such as "30s", "5m", "1h", or a number of seconds';
    case 'queue':
    case 'topic':
    case 'group':
    case 'breaker':
      return 'must be a name, "*" or "prefix*" (letters, digits, ".", "_", "-", ":")';
    case 'states':
      return `must list states from ${depthStates.join(', ')}`;
    case 'threshold':
      return 'must be a number >= 0';
    case 'minSettled':
      return 'must be a whole number >= 1';
    case 'name':
      return "is required: 1-100 letters, digits, '.', '_', '-' or ':'";
    default:
      if (/unexpected property/i.test(message)) {
        return `is not a rule field (fields: ${Object.keys(AlertRuleInput.properties).join(', ')})`;
      }
      return message.toLowerCase();
  }
}

/** True when `name` matches a rule's name pattern: exact, `*`, or `prefix*`. */
export function matchesPattern(pattern: string, name: string): boolean {
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}
