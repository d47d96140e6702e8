/**
 * Time as a dependency. The engine and the stores never read `Date.now()` or call `setTimeout`
 * directly: they ask a {@link Clock}. Production uses {@link systemClock}; tests use
 * {@link TestClock}, which only moves when told to, so delays, leases, session timeouts and
 * retention are tested in microseconds and deterministically.
 */

/** A handle returned by {@link Clock.setTimer}; pass it to {@link Clock.clearTimer}. */
export interface TimerHandle {
  readonly id: number;
}

/** The source of time for the engine and the stores. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `callback` once, after at least `delayMs` of this clock's time. */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; a no-op for a timer that already fired or was cleared. */
  clearTimer(handle: TimerHandle): void;
}

let nextTimerId = 1;

/** Wall-clock time and real timers. Timers are `unref`'d: a pending wake-up never keeps Node alive. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    // Node clamps delays above 2^31-1 ms to 1 ms; clamp ourselves to a safe maximum instead.
    const timeout = setTimeout(callback, Math.min(Math.max(0, delayMs), 2_147_483_647));
    timeout.unref();
    const handle = { id: nextTimerId++, timeout };
    return handle;
  },
  clearTimer(handle: TimerHandle): void {
    const timeout = (handle as { timeout?: NodeJS.Timeout }).timeout;
    if (timeout) clearTimeout(timeout);
  },
});

interface PendingTimer {
  readonly id: number;
  readonly dueAt: number;
  readonly callback: () => void;
}

/**
 * A clock that stands still until {@link TestClock.advance} moves it. Timers due within the
 * advanced span fire in due order, each with `now()` equal to its due time, and the promise
 * returned by `advance` yields to the event loop between timers so the work they start can run.
 */
export class TestClock implements Clock {
  #now: number;
  #timers: PendingTimer[] = [];

  /** @param startMs - the initial time; defaults to 2030-01-01T00:00:00Z so tests never depend on today. */
  constructor(startMs = Date.UTC(2030, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer = { id: nextTimerId++, dueAt: this.#now + Math.max(0, delayMs), callback };
    this.#timers.push(timer);
    return { id: timer.id };
  }

  clearTimer(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle.id);
  }

  /** How many timers are waiting to fire (useful to assert that nothing leaks). */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order. Between timers it
   * lets pending I/O and promise callbacks run, so engine reactions to a timer happen before
   * the next one fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await settle();
      const due = this.#timers
        .filter((timer) => timer.dueAt <= target)
        .sort((a, b) => a.dueAt - b.dueAt || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((timer) => timer !== due);
      this.#now = Math.max(this.#now, due.dueAt);
      due.callback();
    }
    this.#now = target;
    await settle();
  }

  /** Sets the time outright (forward only), firing due timers like {@link TestClock.advance}. */
  async setTime(ms: number): Promise<void> {
    if (ms < this.#now) throw new RangeError('TestClock only moves forward');
    await this.advance(ms - this.#now);
  }
}

/** Lets queued macrotasks (group-commit flushes, I/O callbacks) and microtasks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
