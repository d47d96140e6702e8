/**
 * Queue and topic handles for the routes.
 *
 * `spool.queue(name)` and `spool.topic(name)` create what is missing — right for code that owns
 * its queues, wrong for most of an HTTP API, where a typo in a URL must be a 404 and not a new
 * queue. So handles come from `spool.openQueue` / `spool.openTopic`, which never create. The
 * exceptions are the routes that put work in or take it out — send, receive and publish — which
 * create a missing queue or topic with the default configuration when the server auto-creates
 * (`autoCreate`, the default; `spool serve --no-auto-create` turns it off), as the library does.
 * Names under `spool.` (Spool's own queues and topics) and `jobs.` (the queues of job types) are
 * never created that way.
 *
 * That is a store read, and the hot routes (send, receive, settle, publish) would pay it on
 * every request. Handles are therefore kept for `maxAgeMs` and then checked again. Within that
 * window a queue deleted or reconfigured by another process still looks as it was: writes to it
 * fail in the store anyway (`QueueNotFoundError`, `StaleReceiptError`), and a changed
 * `visibilityTimeoutMs` default reaches receives up to `maxAgeMs` late. Changes made through this
 * server update the handles at once.
 */
import { QueueNotFoundError, TopicNotFoundError } from '../core/errors.js';
import type { Queue } from '../engine/queue.js';
import { isReservedName } from '../engine/reserved-names.js';
import type { Spool } from '../engine/spool.js';
import type { Topic } from '../engine/topic.js';

interface Cached<T> {
  readonly handle: T;
  /** When the store last confirmed the name (store clock ms). */
  readonly checkedAt: number;
}

export class Handles {
  readonly #queues = new Map<string, Cached<Queue>>();
  readonly #topics = new Map<string, Cached<Topic>>();

  constructor(
    private readonly spool: Spool,
    /** How long a handle is trusted before the store is asked again. */
    private readonly maxAgeMs = 1000,
    /** Whether {@link queueOnFirstUse} and {@link topicOnFirstUse} create what is missing. */
    readonly autoCreate = true,
  ) {}

  /**
   * The queue named `name`, created with the default configuration if it does not exist and
   * {@link autoCreate} is on (for send and receive); else as {@link queue}.
   */
  async queueOnFirstUse(name: string): Promise<Queue> {
    try {
      return await this.queue(name);
    } catch (error) {
      if (!(error instanceof QueueNotFoundError) || !this.#mayCreate(name)) throw error;
      return this.rememberQueue(await this.spool.queue(name));
    }
  }

  /** The topic named `name`, created like {@link queueOnFirstUse} (for publish). */
  async topicOnFirstUse(name: string): Promise<Topic> {
    try {
      return await this.topic(name);
    } catch (error) {
      if (!(error instanceof TopicNotFoundError) || !this.#mayCreate(name)) throw error;
      return this.rememberTopic(await this.spool.topic(name));
    }
  }

  /** The queue named `name`; `QueueNotFoundError` (404) if it does not exist. */
  async queue(name: string): Promise<Queue> {
    const cached = this.#fresh(this.#queues, name);
    if (cached) return cached;
    try {
      return this.rememberQueue(await this.spool.openQueue(name));
    } catch (error) {
      if (error instanceof QueueNotFoundError) this.#queues.delete(name);
      throw error;
    }
  }

  /** The topic named `name`; `TopicNotFoundError` (404) if it does not exist. */
  async topic(name: string): Promise<Topic> {
    const cached = this.#fresh(this.#topics, name);
    if (cached) return cached;
    try {
      return this.rememberTopic(await this.spool.openTopic(name));
    } catch (error) {
      if (error instanceof TopicNotFoundError) this.#topics.delete(name);
      throw error;
    }
  }

  /** Keeps a handle just opened with a new configuration. */
  rememberQueue(queue: Queue): Queue {
    this.#queues.set(queue.name, { handle: queue, checkedAt: this.spool.clock.now() });
    return queue;
  }

  rememberTopic(topic: Topic): Topic {
    this.#topics.set(topic.name, { handle: topic, checkedAt: this.spool.clock.now() });
    return topic;
  }

  forgetQueue(name: string): void {
    this.#queues.delete(name);
  }

  forgetTopic(name: string): void {
    this.#topics.delete(name);
  }

  #mayCreate(name: string): boolean {
    // The name rules are checked by the route's schema and again by the engine when it creates.
    return this.autoCreate && !isReservedName(name);
  }

  #fresh<T>(cache: Map<string, Cached<T>>, name: string): T | undefined {
    const cached = cache.get(name);
    if (cached && this.spool.clock.now() - cached.checkedAt < this.maxAgeMs) return cached.handle;
    return undefined;
  }
}

/** Names Spool keeps for itself: never created on first use over HTTP (see engine/reserved-names.ts). */
export const isInternalName = isReservedName;
