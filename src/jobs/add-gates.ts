/**
 * Add controls: what an add does when adds with the same key (or payload) came before it —
 * singleton, unique within a window, debounce (trailing or leading) and throttle. Each control
 * passes through a gate kept in the store (`lockJobGate`), read and written in the add's own
 * transaction under the gate's lock, so adds through one gate take turns in every process on the
 * store and the answer says what happened to each ({@link AddOutcome}).
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../core/errors.js';
import { refuseUnknownOptions } from '../core/options.js';
import type { JsonValue } from '../core/message.js';
import type { SpoolTransaction } from '../engine/transaction.js';
import type { JobGateRecord, JobRecord } from '../store/port.js';
import type { AddJobOptions } from './add-request.js';
import type { AddOutcome } from './job.js';
import { isFinished } from './job-states.js';

/** The control an add asked for, checked. */
export type AddControl =
  | { readonly kind: 'singleton'; readonly gate: string }
  | { readonly kind: 'unique'; readonly gate: string; readonly windowMs: number }
  | {
      readonly kind: 'debounce';
      readonly gate: string;
      readonly delayMs: number;
      readonly maxWaitMs: number | null;
      readonly mode: 'trailing' | 'leading';
    }
  | { readonly kind: 'throttle'; readonly gate: string; readonly intervalMs: number };

const controlNames = ['singleton', 'unique', 'debounce', 'throttle'] as const;

/** The control `options` ask for (null for none), or an `InvalidArgumentError` saying what to fix. */
export function resolveAddControl(payload: JsonValue, options: AddJobOptions): AddControl | null {
  const asked = controlNames.filter((name) => options[name] !== undefined && options[name] !== false);
  if (asked.length === 0) return null;
  if (asked.length > 1) {
    throw new InvalidArgumentError(
      `an add takes one of singleton, unique, debounce and throttle; this one has ${asked.join(' and ')}`,
      { field: asked[1] },
    );
  }
  const kind = asked[0]!;
  const key = options.key;
  const needKey = (what: string): string => {
    if (key === undefined) {
      throw new InvalidArgumentError(`${what} works per job key: give the add a key`, { field: 'key' });
    }
    return key;
  };
  if (kind === 'singleton') {
    if (options.singleton !== true) {
      throw new InvalidArgumentError('singleton must be true or false', { field: 'singleton' });
    }
    return { kind, gate: `singleton:${needKey('singleton')}` };
  }
  // A misspelt field (`maxWait`) would silently run with something other than what was asked.
  const fields = {
    unique: ['windowMs', 'by'],
    debounce: ['delayMs', 'maxWaitMs', 'mode'],
    throttle: ['intervalMs'],
  };
  refuseUnknownOptions(options[kind], fields[kind], kind);
  if (kind === 'unique') {
    const unique = options.unique!;
    const windowMs = positiveMs(unique.windowMs, 'unique.windowMs');
    const by = unique.by ?? 'key';
    if (by !== 'key' && by !== 'payload') {
      throw new InvalidArgumentError('unique.by must be "key" or "payload"', { field: 'unique.by' });
    }
    const gate =
      by === 'key' ? `unique:key:${needKey('unique by key')}` : `unique:payload:${payloadHash(payload)}`;
    return { kind, gate, windowMs };
  }
  // Debounce and throttle decide when the job runs, and may replace its payload.
  for (const field of ['delayMs', 'runAt', 'children'] as const) {
    if (options[field] !== undefined) {
      throw new InvalidArgumentError(`${kind} decides when the job runs: leave out ${field}`, { field });
    }
  }
  if (kind === 'debounce') {
    const debounce = options.debounce!;
    const delayMs = positiveMs(debounce.delayMs, 'debounce.delayMs');
    const maxWaitMs =
      debounce.maxWaitMs === undefined ? null : positiveMs(debounce.maxWaitMs, 'debounce.maxWaitMs');
    if (maxWaitMs !== null && maxWaitMs < delayMs) {
      throw new InvalidArgumentError('debounce.maxWaitMs must be at least debounce.delayMs', {
        field: 'debounce.maxWaitMs',
      });
    }
    const mode = debounce.mode ?? 'trailing';
    if (mode !== 'trailing' && mode !== 'leading') {
      throw new InvalidArgumentError('debounce.mode must be "trailing" or "leading"', {
        field: 'debounce.mode',
      });
    }
    return { kind, gate: `debounce:${needKey('debounce')}`, delayMs, maxWaitMs, mode };
  }
  const intervalMs = positiveMs(options.throttle!.intervalMs, 'throttle.intervalMs');
  return { kind, gate: `throttle:${needKey('throttle')}`, intervalMs };
}

/** Adds the job (at `runAt`, or as the options say when null); `created: false` for an idempotent repeat. */
export type CreateJob = (runAt: number | null) => Promise<{ job: JobRecord; created: boolean }>;

/**
 * Passes an add of a `type` job through its control's gate, in `tx`: either `create`s the job
 * (recording it in the gate), or answers a job the gate holds — as it was, or with the add's
 * payload and a later run time. `payload` is the add's payload as stored (JSON text).
 */
export async function passGate(
  tx: SpoolTransaction,
  type: string,
  control: AddControl,
  payload: string,
  now: number,
  create: CreateJob,
): Promise<{ job: JobRecord; outcome: AddOutcome }> {
  const gate = await tx.records.lockJobGate(type, control.gate);
  // The job the gate answers with, locked against a worker starting it meanwhile.
  const held = gate ? await tx.records.lockJob(gate.jobId) : null;
  const save = (record: JobGateRecord) => tx.records.saveJobGate(record);
  const open = async (
    runAt: number | null,
    fields: Partial<JobGateRecord> = {},
    outcome: AddOutcome = 'created',
  ): Promise<{ job: JobRecord; outcome: AddOutcome }> => {
    const inserted = await create(runAt);
    // An idempotent repeat of an earlier add: that add already went through the gate.
    if (!inserted.created) return { job: inserted.job, outcome: 'existing' };
    await save({
      type,
      gate: control.gate,
      jobId: inserted.job.id,
      openedAt: now,
      touchedAt: now,
      expiresAt: null,
      ...fields,
    });
    return { job: inserted.job, outcome };
  };
  // Replaces the payload of a job that has not started, and moves it to `runAt`.
  const fold = async (job: JobRecord, runAt: number, outcome: AddOutcome) => {
    const updated = await tx.records.updateJob(job.id, { payload, runAt });
    await save({ ...gate!, touchedAt: now });
    return { job: updated ?? job, outcome };
  };

  switch (control.kind) {
    case 'singleton':
      if (held && !isFinished(held.status)) return { job: held, outcome: 'singleton' };
      return open(null);
    case 'unique':
      if (held && gate!.expiresAt !== null && gate!.expiresAt > now)
        return { job: held, outcome: 'duplicate' };
      return open(null, { expiresAt: now + control.windowMs });
    case 'debounce': {
      const { delayMs, maxWaitMs, mode } = control;
      const burstLeft = gate && maxWaitMs !== null ? gate.openedAt + maxWaitMs - now : Infinity;
      if (mode === 'leading') {
        if (held && gate && now - gate.touchedAt < delayMs && burstLeft > 0) {
          await save({ ...gate, touchedAt: now, expiresAt: now + delayMs });
          return { job: held, outcome: 'debounced' };
        }
        return open(null, { expiresAt: now + delayMs });
      }
      if (held && notStarted(held)) {
        // Never earlier than it was: the job's ticket is due at its first time and waits for the
        // moved one (NotDueError), which would be lost if the time moved back.
        return fold(held, Math.max(held.runAt, Math.min(now + delayMs, now + burstLeft)), 'debounced');
      }
      return open(now + delayMs);
    }
    case 'throttle': {
      const { intervalMs } = control;
      if (!gate || now >= gate.openedAt + intervalMs) return open(null, { expiresAt: now + intervalMs });
      // Within the interval of the last start: one job waits for the interval's end.
      if (held && notStarted(held) && held.runAt > now) return fold(held, held.runAt, 'throttled');
      const slot = gate.openedAt + intervalMs;
      return open(slot, { openedAt: slot, expiresAt: slot + intervalMs }, 'throttled');
    }
  }
}

/** A job still waiting for its first run (its payload may still change). */
function notStarted(job: JobRecord): boolean {
  return job.status === 'scheduled' && job.attempts === 0;
}

function positiveMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${field} must be a whole number of milliseconds >= 1`, { field });
  }
  return value;
}

/** A hash of the payload's JSON with object keys sorted: the same data, the same hash. */
function payloadHash(payload: JsonValue): string {
  return createHash('sha256')
    .update(JSON.stringify(sortKeys(payload)))
    .digest('base64url');
}

function sortKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys(value[key]!)]),
  );
}
