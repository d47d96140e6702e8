/**
 * A Prometheus histogram family whose numbers live in {@link BucketHistogram}s (filled on the
 * engine's hot paths without allocating), exposed through a prom-client `Registry`.
 *
 * prom-client's `Histogram` can only be fed one observation at a time through its own
 * label-hashing `observe`; it has no way to publish counts kept elsewhere. Its `Registry`,
 * though, reads every metric through the same small surface — `name`, `help`, `type`,
 * `aggregator`, `get()` resolving to the values, and `reset()` — which this class provides, so
 * the family is rendered (and merged, and converted to OpenMetrics) by prom-client like any other.
 */
import type { Histogram, Registry } from 'prom-client';
import type { BucketHistogram } from './metrics-histogram.js';

/** One labelled series of the family. */
export interface HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly histogram: BucketHistogram;
}

interface ExportedValue {
  readonly metricName: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

export class ExportedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly series: () => Iterable<HistogramSeries>,
  ) {}

  /** Adds the family to `registry` (prom-client reads it by the surface described above). */
  register(registry: Registry): this {
    registry.registerMetric(this as unknown as Histogram);
    return this;
  }

  get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: ExportedValue[];
  }> {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, histogram } of this.series()) {
      const cumulative = histogram.cumulative();
      histogram.bounds.forEach((bound, index) => {
        values.push({ metricName: bucket, labels: { ...labels, le: bound }, value: cumulative[index]! });
      });
      values.push({ metricName: bucket, labels: { ...labels, le: '+Inf' }, value: histogram.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...labels }, value: histogram.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...labels }, value: histogram.count });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  /** Counts are cumulative since the process started counting, as Prometheus expects: no reset. */
  reset(): void {}
}
