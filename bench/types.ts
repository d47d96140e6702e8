/**
 * The contract between the scenario drivers and the systems they measure. A scenario drives every
 * system through the same few operations, so the measured code path outside the system (payload,
 * timing, counting) is identical for all of them; each adapter maps the operations onto its
 * system's own recommended client calls.
 */
import type { OrderEvent } from './payload.js';

/** What the report prints next to a system's numbers: without it, a number means nothing. */
export interface SystemInfo {
  /** Stable id used by `--only` and in the JSON, e.g. `spool-full`, `bullmq-redis-aof`. */
  readonly id: string;
  /** Human label for tables and charts. */
  readonly label: string;
  /** Client and server versions, e.g. `bullmq 6.7.0, Redis 7.0.15`. */
  readonly version: string;
  /** The durability configuration, verbatim, e.g. `Redis appendonly no (nothing on disk)`. */
  readonly durability: string;
  /** Client settings that matter for the numbers (batch sizes, prefetch, polling). */
  readonly settings: string;
  /** Whether this is Spool (ratios are computed for Spool systems against the others). */
  readonly spool: boolean;
  /** Whether the client reaches the system over a network socket (HTTP, AMQP, RESP, …). */
  readonly network: boolean;
  /** A ceiling to read the others against (the raw SQLite loop), never an anchor of a ratio. */
  readonly reference?: boolean;
}

/** Why an operation or a whole system was not measured; recorded as "n/a" with the reason. */
export class NotSupported extends Error {
  override readonly name = 'NotSupported';
}

/** A consumer started by {@link BenchQueue.consume} or {@link BenchFanout.subscribe}. */
export interface RunningConsumer {
  /**
   * Stops taking new messages and resolves once every message already handed to the handler
   * is acknowledged to the system (or the system's client has flushed its acks).
   */
  stop(): Promise<void>;
}

/** Called once per delivery, before the adapter acknowledges it. Must not throw. */
export type DeliveryHandler = (body: OrderEvent) => void;

export interface ConsumeOptions {
  /** At most this many messages delivered and not yet acknowledged (handlers at once, prefetch). */
  concurrency: number;
}

/** One fresh, empty queue (new file, schema, stream or queue name), for one measurement. */
export interface BenchQueue {
  /** Sends one message; resolves when the system has acknowledged it under its durability setting. */
  send(body: OrderEvent): Promise<void>;
  /**
   * Sends many messages with the system's batch API, resolving when all are acknowledged.
   * `undefined` when the system has none ({@link batchUnsupported} says why).
   */
  readonly sendBatch: ((bodies: readonly OrderEvent[]) => Promise<void>) | undefined;
  readonly batchUnsupported?: string;
  /** Starts consuming with the system's worker/consumer API and acking after the handler. */
  consume(handler: DeliveryHandler, options: ConsumeOptions): Promise<RunningConsumer>;
  /** Deletes what the measurement created (files, schema, queue). */
  close(): Promise<void>;
}

/** One fresh topic/exchange/stream with one independent subscription per consumer group. */
export interface BenchFanout {
  publish(body: OrderEvent): Promise<void>;
  readonly publishBatch: ((bodies: readonly OrderEvent[]) => Promise<void>) | undefined;
  /** How fan-out is done, when the system has no native fan-out and the adapter emulates it. */
  readonly emulation?: string;
  /** Starts the group's consumer; every group must receive every event. */
  subscribe(group: string, handler: DeliveryHandler): Promise<RunningConsumer>;
  close(): Promise<void>;
}

/** One system under test. A process measures one system at a time (see system-run.ts). */
export interface BenchSystem {
  /** Connects, checks the server, and fills in the version; throws {@link NotSupported} to skip. */
  setup(): Promise<SystemInfo>;
  openQueue(): Promise<BenchQueue>;
  /** `groups` are the consumer groups that will subscribe before anything is published. */
  openFanout(groups: readonly string[]): Promise<BenchFanout>;
  teardown(): Promise<void>;
}

/** A system's entry in the registry: how to build it, and which services it needs. */
export interface SystemEntry {
  readonly id: string;
  readonly label: string;
  readonly spool: boolean;
  /** Services from services.ts that must be up, e.g. `['postgres']`. */
  readonly services: readonly ServiceName[];
  /** The system, ready to `setup()`; a rejection (an anchor not installed) skips it with the reason. */
  create(context: SystemContext): BenchSystem | Promise<BenchSystem>;
}

export type ServiceName = 'postgres' | 'redis' | 'redis-aof' | 'rabbitmq' | 'nats';

/** What a system gets from the harness. */
export interface SystemContext {
  /** A temp directory owned by this system's run, deleted afterwards. */
  readonly workDir: string;
  /** Where the services listen (ports can differ from the defaults). */
  readonly endpoints: Endpoints;
  /** Unique per process, to name queues/schemas/streams so repetitions never share state. */
  uniqueName(prefix: string): string;
  log(line: string): void;
}

export interface Endpoints {
  readonly postgresUrl: string;
  readonly redisPort: number;
  readonly redisAofPort: number;
  readonly amqpUrl: string;
  readonly natsServer: string;
}
