/**
 * A small parser of the Prometheus text exposition format (0.0.4) for tests: samples with their
 * labels, and the declared TYPE of each family, so assertions read real `/metrics` output.
 */
import assert from 'node:assert/strict';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** Family name → counter | gauge | histogram | … */
  readonly types: ReadonlyMap<string, string>;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = sampleLine.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(labelPair)) {
      labels[name!] = value!.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    }
    const raw = match[3]!;
    samples.push({ name: match[1]!, labels, value: raw === '+Inf' ? Infinity : Number(raw) });
  }
  return { samples, types };
}

/** The samples of `name` whose labels include `labels`. */
export function select(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}

/** The one sample of `name` with exactly these labels (beyond `le`-less identity); fails otherwise. */
export function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.filter(
    (sample) =>
      sample.name === name &&
      Object.keys(sample.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  assert.equal(
    found.length,
    1,
    `${name}${JSON.stringify(labels)}: expected one sample, found ${found.length}`,
  );
  return found[0]!.value;
}

/** Checks a histogram series: cumulative buckets never decrease and `+Inf` equals `_count`. */
export function assertHistogram(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): {
  count: number;
  sum: number;
  buckets: { le: number; count: number }[];
} {
  assert.equal(exposition.types.get(name), 'histogram', `${name} is declared a histogram`);
  const buckets = select(exposition, `${name}_bucket`, labels)
    .filter((sample) => Object.keys(sample.labels).length === Object.keys(labels).length + 1)
    .map((sample) => ({
      le: Number(sample.labels.le === '+Inf' ? Infinity : sample.labels.le),
      count: sample.value,
    }))
    .sort((a, b) => a.le - b.le);
  assert.ok(buckets.length > 1, `${name} has buckets`);
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(buckets[i]!.count >= buckets[i - 1]!.count, `${name} buckets are cumulative`);
  }
  const count = valueOf(exposition, `${name}_count`, labels);
  assert.equal(buckets.at(-1)!.le, Infinity);
  assert.equal(buckets.at(-1)!.count, count, `${name}: +Inf bucket equals _count`);
  return { count, sum: valueOf(exposition, `${name}_sum`, labels), buckets };
}
