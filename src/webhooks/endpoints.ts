/**
 * Disabled endpoints. A receiver that answers 410 Gone asks never to be called again; that must
 * hold across restarts and for every process on the store, so the list is durable: each disable
 * or enable is an event on the topic `spool.webhook-endpoints` (one partition, kept forever;
 * it only grows when an endpoint changes state). Every process folds the log into a map and
 * catches up before each check — one read that usually returns nothing — so a disable made by
 * one process is seen by the next delivery of any other.
 *
 * Processed markers (`markProcessed`) were the alternative; they expire with the processed
 * retention and cannot be listed or undone, which an operator re-enabling an endpoint needs.
 *
 * Endpoints are identified by their URL without fragment: the URL a delivery is posted to.
 */
import type { Spool } from '../engine/spool.js';
import type { Topic } from '../engine/topic.js';

/** The topic that records endpoint state changes. */
export const webhookEndpointsTopic = 'spool.webhook-endpoints';

/** A disabled endpoint. */
export interface DisabledEndpoint {
  readonly url: string;
  /** Why it was disabled. */
  readonly reason: string;
  /** When (ms since epoch). */
  readonly at: number;
}

interface EndpointChange {
  readonly url: string;
  readonly disabled: boolean;
  readonly reason: string;
  readonly at: number;
}

/** The durable list of disabled endpoints, shared by every process on the store. */
export class EndpointRegistry {
  #topic: Topic<EndpointChange> | undefined;
  readonly #disabled = new Map<string, DisabledEndpoint>();
  #nextOffset = 0;
  #reading: Promise<void> | undefined;
  #queuedRead: Promise<void> | undefined;

  constructor(private readonly spool: Spool) {}

  /** Creates the topic if needed. */
  async open(): Promise<void> {
    this.#topic = await this.spool.topic<EndpointChange>(webhookEndpointsTopic, {
      partitions: 1,
      retentionMs: null,
    });
  }

  /** Whether deliveries to `url` are to be skipped. */
  async isDisabled(url: string): Promise<boolean> {
    await this.#catchUp();
    return this.#disabled.has(endpointKey(url));
  }

  /** Disables `url`: later deliveries to it are dead-lettered without being sent. */
  async disable(url: string, reason: string): Promise<void> {
    await this.#publish({ url: endpointKey(url), disabled: true, reason, at: this.spool.clock.now() });
  }

  /** Enables `url` again; resolves false if it was not disabled. */
  async enable(url: string): Promise<boolean> {
    if (!(await this.isDisabled(url))) return false;
    await this.#publish({
      url: endpointKey(url),
      disabled: false,
      reason: 'enabled',
      at: this.spool.clock.now(),
    });
    return true;
  }

  /** The endpoints disabled now. */
  async list(): Promise<DisabledEndpoint[]> {
    await this.#catchUp();
    return [...this.#disabled.values()];
  }

  async #publish(change: EndpointChange): Promise<void> {
    await this.#require().publish(change, { partition: 0 });
    await this.#catchUp();
  }

  /**
   * Applies the changes logged up to now. A read that started before this call may miss a
   * change made just before it, so callers arriving during a read share one follow-up read.
   */
  #catchUp(): Promise<void> {
    if (!this.#reading) {
      this.#reading = this.#read().finally(() => (this.#reading = undefined));
      return this.#reading;
    }
    this.#queuedRead ??= this.#reading
      .catch(() => undefined)
      .then(() => {
        this.#queuedRead = undefined;
        return this.#catchUp();
      });
    return this.#queuedRead;
  }

  async #read(): Promise<void> {
    for (;;) {
      const { events, endOffset } = await this.#require().read(0, this.#nextOffset, 1000);
      for (const { body: change, offset } of events) {
        const { url, reason, at } = change;
        if (change.disabled) this.#disabled.set(url, { url, reason, at });
        else this.#disabled.delete(url);
        this.#nextOffset = offset + 1;
      }
      if (events.length === 0 || this.#nextOffset >= endOffset) return;
    }
  }

  #require(): Topic<EndpointChange> {
    if (!this.#topic) throw new Error('EndpointRegistry.open() was not awaited');
    return this.#topic;
  }
}

function endpointKey(url: string): string {
  const parsed = new URL(url);
  parsed.hash = '';
  return parsed.href;
}
