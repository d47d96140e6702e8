/**
 * Loaded into the `spool serve` child of the soak with `--import` (after tsx), so that the
 * server's own event loop is measured: `monitorEventLoopDelay` with a 10 ms resolution — the
 * instrument prom-client's default `nodejs_eventloop_lag_*` metrics use, which `spool serve` does
 * not enable — plus `process.memoryUsage()` and, from the `gc` performance entries, the heap left
 * after each major (mark-compact) collection: the live set, the leak indicator that the sawtooth
 * of `heapUsed` hides. The soak asks over the IPC channel at every sample (`'soak:sample'`); the
 * answer covers the time since the previous sample, then the window is reset. The channel is
 * unref'd: it never keeps the server alive.
 */
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

/** Timer resolution of the lag histogram, ms (prom-client's default). */
export const lagResolutionMs = 10;

/** What the probe answers; durations in ms, sizes in bytes. */
export interface ProbeSample {
  readonly type: 'soak:probe';
  /** Lag beyond the timer's resolution, ms: the histogram's value minus {@link lagResolutionMs}. */
  readonly lagP50: number;
  readonly lagP99: number;
  readonly lagMax: number;
  readonly lagMean: number;
  readonly heapUsed: number;
  /** Smallest heap in use right after a major GC in this window; null when there was none. */
  readonly heapAfterMajorGc: number | null;
  readonly majorGcs: number;
  /** Garbage collections (all kinds) and their total pause in this window. */
  readonly gcs: number;
  readonly gcPauseMs: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly rss: number;
}

if (process.send) {
  const histogram = monitorEventLoopDelay({ resolution: lagResolutionMs });
  histogram.enable();
  const excess = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - lagResolutionMs);
  let gc = { heapAfterMajor: Infinity, majors: 0, count: 0, pauseMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.pauseMs += entry.duration;
      const kind = (entry as { detail?: { kind?: number } | null }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        gc.majors++;
        gc.heapAfterMajor = Math.min(gc.heapAfterMajor, getHeapStatistics().used_heap_size);
      }
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (message: unknown) => {
    if (message !== 'soak:sample') return;
    const memory = process.memoryUsage();
    const sample: ProbeSample = {
      type: 'soak:probe',
      lagP50: excess(histogram.percentile(50)),
      lagP99: excess(histogram.percentile(99)),
      lagMax: excess(histogram.max),
      lagMean: excess(histogram.mean),
      heapUsed: memory.heapUsed,
      heapAfterMajorGc: Number.isFinite(gc.heapAfterMajor) ? gc.heapAfterMajor : null,
      majorGcs: gc.majors,
      gcs: gc.count,
      gcPauseMs: gc.pauseMs,
      heapTotal: memory.heapTotal,
      external: memory.external,
      rss: memory.rss,
    };
    histogram.reset();
    gc = { heapAfterMajor: Infinity, majors: 0, count: 0, pauseMs: 0 };
    process.send?.(sample);
  });
  // After the listener: adding a 'message' listener refs the channel again.
  process.channel?.unref();
}
