/**
 * Remote job workers that poll (`POST /v1/jobs/claim`, then heartbeat, complete, fail) in the
 * workers registry. Unlike a stream, a poller has no connection to be seen by: it is known by
 * its address and the job types it claims, and it is present while it calls — its registration
 * closes itself when no claim, heartbeat, completion or failure came for a lease and a wait.
 *
 * Workers on one host that claim the same types are one record (HTTP carries no process id);
 * the id is derived from the address and types, so every server a poller talks to keeps the same
 * record.
 */
import { createHash } from 'node:crypto';
import type { WorkerHandle, Workers } from '../engine/workers.js';

interface Poller {
  readonly handle: WorkerHandle;
  readonly ip: string;
  inFlight: number;
  processed: number;
  concurrency: number;
}

export class PolledWorkers {
  readonly #pollers = new Map<string, Poller>();

  constructor(private readonly workers: Workers) {}

  /** A claim from `ip` for `types` (up to `max` jobs) leased `leased` jobs. */
  claimed(ip: string, types: readonly string[], max: number, leased: number, idleTimeoutMs: number): void {
    const sorted = [...new Set(types)].sort();
    const id = `poll-${createHash('sha256')
      .update(`${ip}\n${sorted.join('\n')}`)
      .digest('hex')
      .slice(0, 24)}`;
    let poller = this.#pollers.get(id);
    if (!poller?.handle.active) {
      poller = {
        handle: this.workers.register({
          id,
          kind: 'remote-worker',
          serves: { jobTypes: sorted },
          concurrency: max,
          host: ip,
          pid: 0,
          idleTimeoutMs,
        }),
        ip,
        inFlight: 0,
        processed: 0,
        concurrency: max,
      };
      this.#pollers.set(id, poller);
    }
    poller.inFlight += leased;
    // A claim asks for the free slots only: the worker's size is at least what it holds plus those.
    poller.concurrency = Math.max(poller.concurrency, poller.inFlight + max - leased);
    this.#report(poller);
  }

  /** A heartbeat (or progress, log) from `ip`: its pollers are still there. */
  touched(ip: string): void {
    for (const poller of this.#from(ip)) this.#report(poller);
  }

  /** A completion or failure from `ip`: one job fewer held, one more done. */
  finished(ip: string): void {
    const pollers = this.#from(ip);
    const holder = pollers.find((poller) => poller.inFlight > 0) ?? pollers[0];
    if (holder) {
      holder.inFlight = Math.max(0, holder.inFlight - 1);
      holder.processed++;
    }
    for (const poller of pollers) this.#report(poller);
  }

  #from(ip: string): Poller[] {
    const found: Poller[] = [];
    for (const [id, poller] of this.#pollers) {
      if (!poller.handle.active) this.#pollers.delete(id);
      else if (poller.ip === ip) found.push(poller);
    }
    return found;
  }

  #report(poller: Poller): void {
    poller.handle.update({
      inFlight: poller.inFlight,
      processed: poller.processed,
      concurrency: poller.concurrency,
    });
  }
}
