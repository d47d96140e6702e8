/**
 * The soak's verdicts: each metric of the first phase next to the same metric of the last phase,
 * with its relative change and a threshold; "flat" when the last phase stays within it.
 */
import { LatencyHistogram } from './measure.js';

/** One sample of the run: the window of `seconds` that ended `t` seconds after the load started. */
export interface Sample {
  readonly t: number;
  readonly seconds: number;
  /** Server, from /proc (RSS, fds) and the in-process probe (heap, event-loop lag). */
  readonly rssMb: number;
  readonly heapUsedMb: number;
  /** The smallest heap left by a major GC in this window (the live set); NaN without one. */
  readonly heapAfterGcMb: number;
  /** Share of the window the server spent in GC pauses, %. */
  readonly gcPausePercent: number;
  readonly fds: number;
  readonly fdKinds: Record<string, number>;
  /** Event-loop lag beyond the 10 ms timer resolution in this window, ms. */
  readonly lagP50Ms: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  /** The server's CPU use in this window, % of one core. */
  readonly serverCpuPercent: number;
  /** This (the load-generating) process's CPU use in this window, % of one core. */
  readonly soakCpuPercent: number;
  readonly databaseMb: number;
  /** Messages sent (acknowledged), received, jobs added and completion webhooks received, per s. */
  readonly sentPerSecond: number;
  readonly receivedPerSecond: number;
  readonly jobsAddedPerSecond: number;
  readonly webhooksPerSecond: number;
  /** Latencies in this window, ms: p50, p99, max. */
  readonly sendToHandler: Percentiles;
  readonly sendRequest: Percentiles;
  readonly jobAddRequest: Percentiles;
  readonly jobAddToWebhook: Percentiles;
  /** Messages waiting in the soak queue and deliveries waiting in spool.webhooks. */
  readonly queueBacklog: number;
  readonly webhookBacklog: number;
  readonly errors: number;
  readonly loadAverage: number;
}

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly count: number;
}

export function percentiles(histogram: LatencyHistogram): Percentiles {
  return {
    p50: histogram.percentile(50),
    p99: histogram.percentile(99),
    max: histogram.max,
    count: histogram.count,
  };
}

/** The histograms of one sample, kept beside it (not in the JSON) so a phase's p99 is exact. */
export interface SampleHistograms {
  readonly sendToHandler: LatencyHistogram;
  readonly sendRequest: LatencyHistogram;
  readonly jobAddToWebhook: LatencyHistogram;
}

/** A stretch of the run that is compared: samples whose window ended in (from, to]. */
export interface Phase {
  readonly name: string;
  readonly from: number;
  readonly to: number;
}

interface MetricSpec {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly digits: number;
  /** How a phase's value is made from its samples. */
  readonly value: (samples: readonly Sample[], histograms: readonly SampleHistograms[]) => number;
  /** `growth`: fails when the last phase is higher; `drop`: when it is lower; `info`: never. */
  readonly check: 'growth' | 'drop' | 'info';
  /** Allowed ratio last / first (growth: at most, drop: at least). */
  readonly ratio?: number;
  /** Changes smaller than this (in the metric's unit) never fail, whatever the ratio. */
  readonly slack?: number;
  readonly thresholdText: string;
}

export interface MetricVerdict {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly first: number;
  readonly last: number;
  /** last / first − 1. */
  readonly change: number;
  readonly threshold: string;
  readonly verdict: 'flat' | 'GREW' | 'DROPPED' | 'info' | 'no data';
}

function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2;
}

function mean(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite);
  return finite.length === 0 ? NaN : finite.reduce((sum, value) => sum + value, 0) / finite.length;
}

const mergedP99 =
  (pick: (histograms: SampleHistograms) => LatencyHistogram) =>
  (_samples: readonly Sample[], histograms: readonly SampleHistograms[]) =>
    LatencyHistogram.merged(histograms.map(pick)).percentile(99);

export const metricSpecs: readonly MetricSpec[] = [
  {
    key: 'rss',
    label: 'server RSS, median',
    unit: 'MB',
    digits: 1,
    value: (samples) => median(samples.map((s) => s.rssMb)),
    check: 'growth',
    ratio: 1.2,
    thresholdText: '≤ +20 %',
  },
  {
    key: 'heap',
    label: 'server heap after major GC, median',
    unit: 'MB',
    digits: 1,
    value: (samples) => median(samples.map((s) => s.heapAfterGcMb)),
    check: 'growth',
    ratio: 1.2,
    thresholdText: '≤ +20 %',
  },
  {
    key: 'heapUsed',
    label: 'server heap used (with garbage), median',
    unit: 'MB',
    digits: 1,
    value: (samples) => median(samples.map((s) => s.heapUsedMb)),
    check: 'info',
    thresholdText: '—',
  },
  {
    key: 'fds',
    label: 'server open fds, median',
    unit: '',
    digits: 0,
    value: (samples) => median(samples.map((s) => s.fds)),
    check: 'growth',
    ratio: 1.1,
    slack: 2,
    thresholdText: '≤ +10 % (or +2)',
  },
  {
    key: 'lag',
    label: 'event-loop lag p99, median of samples',
    unit: 'ms',
    digits: 2,
    value: (samples) => median(samples.map((s) => s.lagP99Ms)),
    check: 'growth',
    ratio: 1.5,
    slack: 2,
    thresholdText: '≤ ×1.5 (or +2 ms)',
  },
  {
    key: 'sendToHandler',
    label: 'send→handler p99',
    unit: 'ms',
    digits: 1,
    value: mergedP99((h) => h.sendToHandler),
    check: 'growth',
    ratio: 1.5,
    slack: 2,
    thresholdText: '≤ ×1.5 (or +2 ms)',
  },
  {
    key: 'sendRequest',
    label: 'send HTTP request p99',
    unit: 'ms',
    digits: 1,
    value: mergedP99((h) => h.sendRequest),
    check: 'growth',
    ratio: 1.5,
    slack: 2,
    thresholdText: '≤ ×1.5 (or +2 ms)',
  },
  {
    key: 'jobAddToWebhook',
    label: 'job add→webhook p99',
    unit: 'ms',
    digits: 1,
    value: mergedP99((h) => h.jobAddToWebhook),
    check: 'growth',
    ratio: 1.5,
    slack: 2,
    thresholdText: '≤ ×1.5 (or +2 ms)',
  },
  {
    key: 'throughput',
    label: 'messages + jobs through, mean',
    unit: '/s',
    digits: 0,
    value: (samples) => mean(samples.map((s) => s.sentPerSecond + s.jobsAddedPerSecond)),
    check: 'drop',
    ratio: 0.9,
    thresholdText: '≥ −10 %',
  },
  {
    key: 'serverCpu',
    label: 'server CPU, mean',
    unit: '% core',
    digits: 0,
    value: (samples) => mean(samples.map((s) => s.serverCpuPercent)),
    check: 'info',
    thresholdText: '—',
  },
  {
    key: 'gc',
    label: 'server time in GC pauses, mean',
    unit: '%',
    digits: 1,
    value: (samples) => mean(samples.map((s) => s.gcPausePercent)),
    check: 'info',
    thresholdText: '—',
  },
  {
    key: 'soakCpu',
    label: 'load generator (this process) CPU, mean',
    unit: '% core',
    digits: 0,
    value: (samples) => mean(samples.map((s) => s.soakCpuPercent)),
    check: 'info',
    thresholdText: '—',
  },
  {
    key: 'database',
    label: 'database on disk, at phase end',
    unit: 'MB',
    digits: 0,
    value: (samples) => samples.at(-1)?.databaseMb ?? NaN,
    check: 'info',
    thresholdText: '— (jobs are kept)',
  },
  {
    key: 'load',
    label: 'machine load average (1 min), mean',
    unit: '',
    digits: 2,
    value: (samples) => mean(samples.map((s) => s.loadAverage)),
    check: 'info',
    thresholdText: '—',
  },
];

export function inPhase(phase: Phase, sample: Sample): boolean {
  return sample.t > phase.from + 1e-6 && sample.t <= phase.to + 1e-6;
}

export function compare(
  samples: readonly Sample[],
  histograms: readonly SampleHistograms[],
  first: Phase,
  last: Phase,
): MetricVerdict[] {
  const pick = (phase: Phase) => {
    const indexes = samples.flatMap((sample, index) => (inPhase(phase, sample) ? [index] : []));
    return { samples: indexes.map((i) => samples[i]!), histograms: indexes.map((i) => histograms[i]!) };
  };
  const a = pick(first);
  const b = pick(last);
  return metricSpecs.map((spec) => {
    const before = spec.value(a.samples, a.histograms);
    const after = spec.value(b.samples, b.histograms);
    const change = after / before - 1;
    let verdict: MetricVerdict['verdict'] = 'info';
    if (!Number.isFinite(before) || !Number.isFinite(after)) verdict = 'no data';
    else if (spec.check === 'growth') {
      const grew = after > before * spec.ratio! && after - before > (spec.slack ?? 0);
      verdict = grew ? 'GREW' : 'flat';
    } else if (spec.check === 'drop') {
      verdict = after < before * spec.ratio! ? 'DROPPED' : 'flat';
    }
    return {
      key: spec.key,
      label: spec.label,
      unit: spec.unit,
      first: before,
      last: after,
      change,
      threshold: spec.thresholdText,
      verdict,
    };
  });
}

function formatValue(value: number, digits: number): string {
  return Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '—';
}

function formatChange(change: number): string {
  if (!Number.isFinite(change)) return '—';
  const percent = change * 100;
  return `${percent >= 0 ? '+' : '−'}${Math.abs(percent).toFixed(1)} %`;
}

/** The comparison as a Markdown table (prints readably in a terminal too). */
export function verdictTable(verdicts: readonly MetricVerdict[], first: Phase, last: Phase): string {
  const digits = new Map(metricSpecs.map((spec) => [spec.key, spec.digits]));
  const rows = verdicts.map((v) => {
    const unit = v.unit === '' ? '' : ` ${v.unit}`;
    return [
      v.label,
      `${formatValue(v.first, digits.get(v.key)!)}${unit}`,
      `${formatValue(v.last, digits.get(v.key)!)}${unit}`,
      formatChange(v.change),
      v.threshold,
      v.verdict,
    ];
  });
  const header = ['metric', first.name, last.name, 'change', 'threshold', 'verdict'];
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}
