/**
 * Wake-ups instead of polling. Each queue and each topic partition set has one signal per Spool
 * instance: producers `notify()` after a committed write, and idle consumers `wait()` on it with
 * a deadline (the next delayed message, the next lease expiry, or a slow safety poll for writes
 * made by other processes). A waiter is released by whichever comes first.
 */
import type { Clock } from '../core/clock.js';

export class WakeSignal {
  #waiters = new Set<() => void>();
  #version = 0;

  constructor(private readonly clock: Clock) {}

  /**
   * Rises on every notify. A consumer reads it before looking for work and passes it to
   * {@link WakeSignal.wait}, so a notify that lands between "found nothing" and "start waiting"
   * is not missed.
   */
  get version(): number {
    return this.#version;
  }

  /** Wakes every current waiter. */
  notify(): void {
    this.#version++;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /**
   * Resolves on the next `notify()`, after `timeoutMs` of clock time, or when `signal` aborts,
   * whichever is first. Resolves true if woken by a notify. With `sinceVersion`, resolves at
   * once if a notify happened after that version was read.
   */
  wait(timeoutMs: number, signal?: AbortSignal, sinceVersion?: number): Promise<boolean> {
    if (sinceVersion !== undefined && sinceVersion !== this.#version) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (notified: boolean) => {
        this.#waiters.delete(onNotify);
        this.clock.clearTimer(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(notified);
      };
      const onNotify = () => finish(true);
      const onAbort = () => finish(false);
      const timer = this.clock.setTimer(() => finish(false), Math.max(0, timeoutMs));
      this.#waiters.add(onNotify);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  get waiting(): number {
    return this.#waiters.size;
  }
}

/** A wake signal per name, created on first use. */
export class WakeSignals {
  #signals = new Map<string, WakeSignal>();

  constructor(private readonly clock: Clock) {}

  for(name: string): WakeSignal {
    let signal = this.#signals.get(name);
    if (!signal) {
      signal = new WakeSignal(this.clock);
      this.#signals.set(name, signal);
    }
    return signal;
  }

  /** Wakes every waiter of every signal (used at close so long polls return at once). */
  notifyAll(): void {
    for (const signal of this.#signals.values()) signal.notify();
  }

  delete(name: string): void {
    this.#signals.get(name)?.notify();
    this.#signals.delete(name);
  }
}
