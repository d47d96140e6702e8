/**
 * When each receipt handed out by `Queue.receive` was leased, so that its ack can record how long
 * the consumer worked on the message (the processing-time metric and the dashboard's p50/p99).
 * `process()` and the lease stream measure their own handlers; this covers consumers that receive
 * and ack by hand — over HTTP, most of all, where receive and ack are separate requests.
 *
 * Bounded: a consumer that never settles what it received must not grow the map. Past `limit`
 * entries the oldest are forgotten (their acks then record no processing time).
 */
export class LeaseTimes {
  readonly #leasedAt = new Map<string, number>();

  constructor(private readonly limit = 50_000) {}

  /** Receipts just leased, at `at` (`performance.now()`). */
  leased(receipts: readonly string[], at: number): void {
    for (const receipt of receipts) this.#leasedAt.set(receipt, at);
    let excess = this.#leasedAt.size - this.limit;
    if (excess <= 0) return;
    // A Map iterates in insertion order: the first keys are the oldest leases.
    for (const receipt of this.#leasedAt.keys()) {
      this.#leasedAt.delete(receipt);
      if (--excess === 0) break;
    }
  }

  /** Forgets `receipt` without measuring it (a message handed back untried). */
  forget(receipt: string): void {
    this.#leasedAt.delete(receipt);
  }

  /** Forgets `receipt`; answers how long ago it was leased (seconds), if it is known. */
  settled(receipt: string, now: number): number | undefined {
    const at = this.#leasedAt.get(receipt);
    if (at === undefined) return undefined;
    this.#leasedAt.delete(receipt);
    return (now - at) / 1000;
  }
}
