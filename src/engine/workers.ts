/**
 * The workers registry: who consumes what, across every process sharing the store.
 *
 * Every queue consumer (`queue.process`), subscription (`topic.subscribe`), in-process job worker
 * and polled group member of this process registers here on start, and is removed on a clean
 * close. The server registers the workers it serves remotely (stream consumers, remote job
 * workers) the same way, with {@link Workers.register}.
 *
 * Heartbeats are batched: once per interval (`SpoolOptions.workerHeartbeatMs`, 5 s by default)
 * ONE store write (`Store.saveWorkers`) records every registration of this process, with its
 * in-flight and processed counts sampled at that moment; nothing is written per message. A
 * registration or a close is written on the next turn of the event loop (so a burst of them
 * shares one write), not at the next interval.
 *
 * A worker unseen for three of its heartbeat intervals is listed as `stale` (its process died or
 * lost the store); it is not deleted at once, so an operator can see what went away. The store's
 * upkeep (`Spool.maintain`) deletes workers unseen for longer than `workerRetentionMs` (one hour by
 * default), and an operator may remove one sooner ({@link Workers.remove}).
 */
import { hostname } from 'node:os';
import type { Clock, TimerHandle } from '../core/clock.js';
import { InvalidArgumentError, WorkerNotFoundError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { SpoolLogger } from '../telemetry/logging.js';
import type { Store, WorkerHeartbeat, WorkerKind, WorkerRecord, WorkerServes } from '../store/port.js';

export type { WorkerKind, WorkerServes } from '../store/port.js';

/** A worker's counters, as its heartbeats report them. */
export interface WorkerStats {
  /** Work it holds now (messages leased, events or jobs being handled). */
  readonly inFlight: number;
  /** Work it finished since it started. */
  readonly processed: number;
  /** Work it may hold at once, when that changes while it runs (a subscription's partitions). */
  readonly concurrency?: number;
}

/** What {@link Workers.register} records about a worker. */
export interface WorkerRegistration {
  readonly kind: WorkerKind;
  /** The queue, topic and group, or job types it serves. */
  readonly serves: WorkerServes;
  /** Work it may hold at once. */
  readonly concurrency: number;
  /** Where it runs: for a remote worker, its host as the server sees it. @defaultValue `os.hostname()` */
  readonly host?: string;
  /** Its process id, when known. @defaultValue `process.pid` (0 for a remote worker is fine) */
  readonly pid?: number;
  /** A stable id (a group member's, say); registering a live id again replaces it. @defaultValue a new UUIDv7 */
  readonly id?: string;
  /**
   * Read at every heartbeat, for in-process workers that keep their own counters. Without it,
   * heartbeats report what {@link WorkerHandle.update} last set (zeros at first).
   */
  readonly stats?: () => WorkerStats;
  /**
   * For workers only seen when they call in (polled group members, remote job workers that poll):
   * the registration closes itself when {@link WorkerHandle.update} was not called for this long
   * (ms). @defaultValue never
   */
  readonly idleTimeoutMs?: number;
}

/** A registered worker: update its counters while it runs, close it when it stops. */
export interface WorkerHandle {
  readonly id: string;
  /** False once closed (or, with `idleTimeoutMs`, once it closed itself). */
  readonly active: boolean;
  /**
   * Sets the counters the next heartbeat reports (fields left out keep their values). Cheap: it
   * only changes memory, so it may be called per message.
   */
  update(stats: Partial<WorkerStats>): void;
  /**
   * Removes the worker from the registry; resolves once that is written (or failed, which is
   * logged: the record then goes stale and is swept). Safe to call more than once.
   */
  close(): Promise<void>;
}

/** A worker as listed: its record, and whether it stopped heartbeating. */
export interface WorkerInfo extends WorkerRecord {
  /** Unseen for more than three of its heartbeat intervals. */
  readonly stale: boolean;
}

/** How many missed heartbeats make a worker stale. */
export const staleAfterIntervals = 3;

interface LiveWorker {
  readonly record: Omit<WorkerHeartbeat, 'inFlight' | 'processed'>;
  readonly stats: (() => WorkerStats) | undefined;
  manual: { inFlight: number; processed: number; concurrency: number };
  readonly idleTimeoutMs: number | undefined;
  /** When `update` was last called (or the registration made). */
  touchedAt: number;
}

/** The registry of one Spool instance: `spool.workers`. */
export class Workers {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #logger: SpoolLogger;
  readonly #live = new Map<string, LiveWorker>();
  /** Ids closed since the last write: deleted by the next one. */
  readonly #gone = new Set<string>();
  /** Ids registered since the last write: recorded by the next one, even between heartbeats. */
  readonly #fresh = new Set<string>();
  #timer: TimerHandle | undefined;
  /** The write scheduled for the next turn of the event loop, if any. */
  #soon: Promise<void> | undefined;
  /** Writes run one after another, so a close is never overtaken by an older heartbeat. */
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  /** @internal Created by the Spool. */
  constructor(
    store: Store,
    logger: SpoolLogger,
    /** How often this process heartbeats its workers (ms). */
    readonly heartbeatMs: number,
  ) {
    this.#store = store;
    this.#clock = store.clock;
    this.#logger = logger;
  }

  /**
   * Registers a worker and returns its handle. It is written on the next turn of the event loop,
   * then heartbeated with every other worker of this process until its handle is closed (or the
   * Spool closes, which removes every worker still registered).
   *
   * @example
   * ```ts
   * const worker = spool.workers.register({ kind: 'remote-worker', serves: { jobTypes: ['email'] },
   *   concurrency: 4, host: request.ip, pid: 0 });
   * worker.update({ inFlight: 2, processed: 10 });
   * await worker.close();
   * ```
   */
  register(registration: WorkerRegistration): WorkerHandle {
    const { concurrency } = registration;
    if (!Number.isInteger(concurrency) || concurrency < 0) {
      throw new InvalidArgumentError('worker concurrency must be a whole number >= 0', {
        field: 'concurrency',
      });
    }
    const id = registration.id ?? newId();
    this.#live.set(id, {
      record: {
        id,
        kind: registration.kind,
        host: registration.host ?? hostname(),
        pid: registration.pid ?? process.pid,
        serves: registration.serves,
        concurrency,
        startedAt: this.#clock.now(),
        heartbeatIntervalMs: this.heartbeatMs,
      },
      stats: registration.stats,
      manual: { inFlight: 0, processed: 0, concurrency },
      idleTimeoutMs: registration.idleTimeoutMs,
      touchedAt: this.#clock.now(),
    });
    this.#gone.delete(id);
    this.#fresh.add(id);
    if (!this.#closed) {
      void this.#writeSoon();
      this.#arm();
    }
    let closing: Promise<void> | undefined;
    const live = this.#live.get(id)!;
    const workers = this.#live;
    return {
      id,
      get active() {
        return workers.get(id) === live;
      },
      update: (stats) => {
        live.manual = { ...live.manual, ...stats };
        live.touchedAt = this.#clock.now();
      },
      close: () => (closing ??= this.#unregister(id, live)),
    };
  }

  /** Every worker of every process sharing the store, flagged `stale` when it stopped heartbeating. */
  async list(): Promise<WorkerInfo[]> {
    const now = this.#clock.now();
    return (await this.#store.listWorkers()).map((record) => ({
      ...record,
      stale: now - record.lastSeenAt > staleAfterIntervals * record.heartbeatIntervalMs,
    }));
  }

  /**
   * Removes a worker's record (a stale one, typically). Throws `WorkerNotFoundError` for an id
   * the registry does not have. A worker that is still alive reappears at its next heartbeat.
   */
  async remove(id: string): Promise<void> {
    if ((await this.#store.deleteWorkers([id])) === 0) throw new WorkerNotFoundError(id);
  }

  /** Writes this process's heartbeats now, rather than at the next interval. */
  heartbeat(): Promise<void> {
    return this.#write(true);
  }

  /** @internal On `Spool.close`: removes every worker still registered, and stops heartbeating. */
  async close(): Promise<void> {
    if (this.#closed) return this.#writing;
    this.#closed = true;
    if (this.#timer) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    for (const id of this.#live.keys()) this.#gone.add(id);
    this.#live.clear();
    await this.#write(false);
  }

  #unregister(id: string, live: LiveWorker): Promise<void> {
    // Registered again under the same id meanwhile: that registration is the live one.
    if (this.#live.get(id) !== live) return Promise.resolve();
    this.#live.delete(id);
    this.#gone.add(id);
    if (this.#live.size === 0 && this.#timer) {
      this.#clock.clearTimer(this.#timer);
      this.#timer = undefined;
    }
    return this.#closed ? this.#writing : this.#writeSoon();
  }

  /** One write on the next turn of the event loop, shared by everything that asks before it runs. */
  #writeSoon(): Promise<void> {
    this.#soon ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        this.#soon = undefined;
        resolve(this.#write(false));
      });
    });
    return this.#soon;
  }

  /** Runs the heartbeat timer while any worker is registered. */
  #arm(): void {
    if (this.#timer || this.#closed || this.#live.size === 0) return;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      void this.#write(true).finally(() => this.#arm());
    }, this.heartbeatMs);
  }

  /**
   * Deletes the closed workers and records the new ones, and with `all` heartbeats every live
   * one; never rejects (failures are logged).
   */
  #write(all: boolean): Promise<void> {
    const next = this.#writing.then(async () => {
      const now = this.#clock.now();
      for (const [id, live] of this.#live) {
        if (live.idleTimeoutMs !== undefined && now - live.touchedAt > live.idleTimeoutMs) {
          this.#live.delete(id);
          this.#gone.add(id);
        }
      }
      const gone = [...this.#gone];
      this.#gone.clear();
      const fresh = this.#fresh;
      const heartbeats = [...this.#live.entries()]
        .filter(([id]) => all || fresh.has(id))
        .map(([, live]) => sample(live));
      fresh.clear();
      try {
        if (gone.length > 0) await this.#store.deleteWorkers(gone);
        if (heartbeats.length > 0) await this.#store.saveWorkers(heartbeats);
      } catch (error) {
        this.#logger.warn({ err: error }, 'cannot record the workers registry heartbeat');
      }
    });
    this.#writing = next;
    return next;
  }
}

function sample(worker: LiveWorker): WorkerHeartbeat {
  const stats = worker.stats?.() ?? worker.manual;
  return {
    ...worker.record,
    concurrency: stats.concurrency ?? worker.record.concurrency,
    inFlight: stats.inFlight,
    processed: stats.processed,
  };
}
