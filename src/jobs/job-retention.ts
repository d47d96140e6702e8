/**
 * Job retention: a background sweep, once a minute, that deletes finished jobs older than
 * `retentionMs` and, with `retainFinished`, all but the newest that many finished jobs per type.
 *
 * One process sweeps for all that share the store (the leader of the jobs role): the others would
 * race it for the same rows.
 */
import type { Spool } from '../engine/spool.js';
import type { JobRecord, Leadership, Page } from '../store/port.js';
import { finishedStatuses, isFinished } from './job-states.js';

const sweepEveryMs = 60_000;
/** Rows per delete: each batch is its own short transaction. */
const batch = 1_000;

export class JobRetention {
  #timer: ReturnType<Spool['clock']['setTimer']> | undefined;
  #closed = false;

  constructor(
    private readonly spool: Spool,
    private readonly leadership: Leadership,
    private readonly retentionMs: number,
    private readonly retainFinished: number | null,
  ) {}

  start(): void {
    if (this.#closed) return;
    this.#timer = this.spool.clock.setTimer(() => {
      void this.sweep()
        .catch((error: unknown) => this.spool.logger.error({ err: error }, 'job retention failed'))
        .finally(() => this.start());
    }, sweepEveryMs);
  }

  stop(): void {
    this.#closed = true;
    if (this.#timer) this.spool.clock.clearTimer(this.#timer);
  }

  /** One retention sweep: by age, then by count per type (`retainFinished`), then stale add gates. */
  async sweep(): Promise<void> {
    if (!this.leadership.held) return;
    const finishedBefore = this.spool.clock.now() - this.retentionMs;
    // Batches until the backlog is gone: a busy system finishes far more than 1,000 jobs a minute,
    // and one unbounded DELETE would hold its locks (and bloat) for as long as it runs.
    let deleted: number;
    do {
      deleted = await this.spool.store.deleteFinishedJobs({ finishedBefore, limit: batch });
    } while (deleted === batch && !this.#closed);
    await this.#keepNewestPerType();
    // The add gates whose window passed or whose job is gone (src/jobs/add-gates.ts).
    const now = this.spool.clock.now();
    while ((await this.spool.store.deleteStaleJobGates(now, batch)) === batch && !this.#closed);
  }

  /** Keeps the `retainFinished` most recently finished jobs of each type. */
  async #keepNewestPerType(): Promise<void> {
    const keep = this.retainFinished;
    if (keep === null) return;
    const finishedPerType = new Map<string, number>();
    for (const { type, status, count } of await this.spool.store.countJobs()) {
      if (isFinished(status)) finishedPerType.set(type, (finishedPerType.get(type) ?? 0) + count);
    }
    for (const [type, count] of finishedPerType) {
      if (this.#closed) return;
      if (count <= keep) continue;
      const cutoff = await this.#keptFinishedAfter(type, keep);
      if (cutoff !== null) {
        await this.spool.store.deleteFinishedJobs({ finishedBefore: cutoff, type, limit: batch });
      }
    }
  }

  /**
   * The `finishedAt` of the `keep`-th most recently finished job of `type` (null if there are
   * not that many): deleting the jobs that finished before it leaves `keep` (plus ties).
   */
  async #keptFinishedAfter(type: string, keep: number): Promise<number | null> {
    const finishedAt: number[] = [];
    for (const status of finishedStatuses) {
      let after: string | null = null;
      do {
        const page: Page<JobRecord> = await this.spool.store.listJobs(
          { type, status },
          { limit: batch, after },
        );
        for (const job of page.items) if (job.finishedAt !== null) finishedAt.push(job.finishedAt);
        after = page.next;
      } while (after !== null);
    }
    if (finishedAt.length < keep) return null;
    finishedAt.sort((a, b) => b - a);
    return finishedAt[keep - 1] ?? null;
  }
}
