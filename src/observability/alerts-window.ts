/**
 * Growth over a sliding window, from periodic samples of a number that mostly goes up: a
 * counter (settlements counted by this process) or a depth that drops only when an operator
 * acts (the dead-letter queue, emptied by redrive or purge).
 *
 * The increase is the sum of the rises between consecutive samples, so a redrive in the middle
 * of the window does not cancel the dead letters that arrived before it (Prometheus' `increase()`
 * treats a drop as a counter reset the same way). The window is measured from the newest sample
 * at or before its start, so with samples every interval the span covered is between the window
 * and the window plus one interval; before the first full window it is whatever has been seen.
 */
export class SampleWindow {
  #samples: { readonly at: number; readonly value: number }[] = [];

  constructor(
    /** The window length (ms). */
    readonly windowMs: number,
  ) {}

  /** Records `value` observed at `at` (ms); drops samples no longer needed for the window. */
  add(at: number, value: number): void {
    this.#samples.push({ at, value });
    const start = at - this.windowMs;
    // Keep one sample at or before the window start: it is the baseline of the first rise.
    let firstNeeded = 0;
    for (let i = 0; i < this.#samples.length; i++) {
      if (this.#samples[i]!.at <= start) firstNeeded = i;
      else break;
    }
    if (firstNeeded > 0) this.#samples = this.#samples.slice(firstNeeded);
  }

  /** The sum of rises across the kept samples: 0 with fewer than two samples. */
  increase(): number {
    let total = 0;
    for (let i = 1; i < this.#samples.length; i++) {
      const rise = this.#samples[i]!.value - this.#samples[i - 1]!.value;
      if (rise > 0) total += rise;
    }
    return total;
  }

  /** How many samples are kept (for tests: the history stays bounded). */
  get size(): number {
    return this.#samples.length;
  }
}
