/** How much work each scenario does: the numbers, or the reduced `--quick` set. */

export interface Counts {
  /** Messages per send, process and flash-sale measurement. */
  readonly messages: number;
  /** "One at a time awaited" stops at this many messages or {@link singleCapSeconds}, whichever first. */
  readonly singleMax: number;
  readonly singleCapSeconds: number;
  /**
   * The other send scenarios stop taking new sends after this long, so a system doing a few
   * hundred messages per second does not hold the run up for minutes; the rate is then computed
   * from the messages actually sent, and the report says so.
   */
  readonly sendCapSeconds: number;
  /** Messages sent and consumed before the first measurement of a system (not measured). */
  readonly warmupMessages: number;
  /** Latency scenario: steady rate and measured duration, after an unmeasured warm-up. */
  readonly latencyRate: number;
  readonly latencySeconds: number;
  readonly latencyWarmupSeconds: number;
  /** Longest wait for consumers to finish before the rest is counted as lost. */
  readonly drainTimeoutSeconds: number;
  readonly repetitions: number;
}

export const fullCounts: Counts = {
  messages: 100_000,
  singleMax: 100_000,
  singleCapSeconds: 10,
  sendCapSeconds: 20,
  warmupMessages: 2_000,
  latencyRate: 1000,
  latencySeconds: 10,
  latencyWarmupSeconds: 1,
  drainTimeoutSeconds: 180,
  repetitions: 3,
};

export const quickCounts: Counts = {
  messages: 2_000,
  singleMax: 2_000,
  singleCapSeconds: 1,
  sendCapSeconds: 10,
  warmupMessages: 500,
  latencyRate: 1000,
  latencySeconds: 1,
  latencyWarmupSeconds: 0.25,
  drainTimeoutSeconds: 30,
  repetitions: 1,
};
