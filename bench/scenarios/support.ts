/** Timing and counting helpers shared by the scenario drivers. */
import { setTimeout as sleep } from 'node:timers/promises';

/** Seconds elapsed since `start` (a `process.hrtime.bigint()` reading). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Resolves when {@link tick} has been called `target` times, or when the deadline passes. */
export class Countdown {
  #left: number;
  #resolve!: (reached: boolean) => void;
  readonly #done: Promise<boolean>;

  constructor(target: number) {
    this.#left = target;
    this.#done = new Promise((resolve) => (this.#resolve = resolve));
    if (target <= 0) this.#resolve(true);
  }

  tick(): void {
    if (--this.#left === 0) this.#resolve(true);
  }

  /** True when the target was reached, false on timeout. */
  async wait(timeoutSeconds: number): Promise<boolean> {
    const controller = new AbortController();
    const timeout = sleep(timeoutSeconds * 1000, false, { signal: controller.signal }).catch(() => false);
    const reached = await Promise.race([this.#done, timeout]);
    controller.abort();
    return reached;
  }
}

/**
 * Runs `senders` loops that each take the next index until `count` are taken, or until
 * `deadline` (a `process.hrtime.bigint()` reading) has passed. Resolves with how many were done.
 */
export async function concurrently(
  count: number,
  senders: number,
  work: (index: number) => Promise<void>,
  deadline?: bigint,
): Promise<number> {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(senders, count) }, async () => {
      while (next < count) {
        if (deadline !== undefined && process.hrtime.bigint() >= deadline) break;
        await work(next++);
        done++;
      }
    }),
  );
  return done;
}

/** The hrtime reading `seconds` from now. */
export function deadlineIn(seconds: number): bigint {
  return process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
}

/** Counts deliveries per message `seq`, to report lost and duplicated messages. */
export class DeliveryLedger {
  readonly #seen: Uint16Array;
  delivered = 0;

  constructor(readonly expected: number) {
    this.#seen = new Uint16Array(expected);
  }

  /** Records one delivery; returns true the first time this `seq` is seen. */
  record(seq: number): boolean {
    this.delivered++;
    if (seq < 0 || seq >= this.expected) return false;
    const before = this.#seen[seq]!;
    if (before < 65_535) this.#seen[seq] = before + 1;
    return before === 0;
  }

  get lost(): number {
    let lost = 0;
    for (const n of this.#seen) if (n === 0) lost++;
    return lost;
  }

  get duplicated(): number {
    let extra = 0;
    for (const n of this.#seen) if (n > 1) extra += n - 1;
    return extra;
  }
}
