/**
 * The newest events this process appended to each partition, kept in memory so that readers in
 * the same process take them from here instead of SQLite. A topic fanned out to several consumer
 * groups is read once per group, usually right after the append: the flash sale (three groups)
 * spent two thirds of its CPU reading back rows it had just written.
 *
 * Only what is certainly in the database is served:
 * - events enter after their append's commit is durable (the store feeds the cache when the
 *   append's promise resolves; appends inside `transaction()` are not fed);
 * - a partition's cached events are one contiguous run of offsets: an append that does not start
 *   where the run ends (another process or a transaction appended in between) starts a new run;
 * - a read is served only for offsets the database says exist (`[startOffset, endOffset)` of the
 *   partition row the read takes anyway), and only after the id stored at the first offset served
 *   matches the cached one — which catches a topic deleted and created again by another process.
 * Anything else reads SQLite as before. Bounded: {@link maxEventsPerPartition} events per
 * partition and {@link maxCachedBytes} of payload in all; over that, the oldest are dropped.
 */
import type { AppendEvent, AppendResult, LogEvent } from '../../store/port.js';

/** Events kept per partition: a little more than a subscriber's default batch several times over. */
const maxEventsPerPartition = 8192;
/** Payload bytes (UTF-16 length of JSON text, roughly) kept over all partitions. */
const maxCachedBytes = 64 * 1024 * 1024;

interface PartitionTail {
  /** Offset of `events[head]`. */
  start: number;
  events: LogEvent[];
  head: number;
  bytes: number;
}

export class EventTailCache {
  readonly #partitions = new Map<string, PartitionTail>();
  #bytes = 0;

  /**
   * Adds the events of one append whose commit is durable. Appends of bytes (not JSON text) are
   * not kept: their payload is a mutable buffer a reader could change for the others.
   */
  appended(topic: string, events: readonly AppendEvent[], results: readonly AppendResult[]): void {
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!;
      const result = results[index]!;
      const key = partitionKey(topic, result.partition);
      if (typeof event.payload !== 'string') {
        this.#drop(key);
        continue;
      }
      let tail = this.#partitions.get(key);
      if (!tail || tail.start + tail.events.length - tail.head !== result.offset) {
        this.#drop(key);
        tail = { start: result.offset, events: [], head: 0, bytes: 0 };
        this.#partitions.set(key, tail);
      }
      // Frozen: every reader of the partition gets the same object.
      tail.events.push(
        Object.freeze({
          id: result.id,
          topic,
          partition: result.partition,
          offset: result.offset,
          timestamp: result.timestamp,
          payload: event.payload,
          headers: Object.freeze({ ...event.headers }),
          key: event.key,
        }),
      );
      tail.bytes += event.payload.length;
      this.#bytes += event.payload.length;
      if (tail.events.length - tail.head > maxEventsPerPartition) this.#dropOldest(tail);
    }
    while (this.#bytes > maxCachedBytes) this.#evictLargest();
  }

  /**
   * Up to `max` cached events from `from` on, all below `endOffset`; null when the cache does not
   * hold `from` or `idAt(from)` (the id stored in the database) differs from the cached event's.
   */
  read(
    topic: string,
    partition: number,
    from: number,
    max: number,
    endOffset: number,
    idAt: (offset: number) => string | undefined,
  ): LogEvent[] | null {
    const key = partitionKey(topic, partition);
    const tail = this.#partitions.get(key);
    if (!tail || max <= 0) return null;
    const cachedEnd = tail.start + tail.events.length - tail.head;
    if (from < tail.start || from >= cachedEnd || cachedEnd > endOffset) return null;
    const first = tail.head + (from - tail.start);
    if (idAt(from) !== tail.events[first]!.id) {
      this.#drop(key);
      return null;
    }
    return tail.events.slice(first, Math.min(first + max, tail.events.length));
  }

  /** Forgets a topic (deleted). */
  forget(topic: string): void {
    for (const key of [...this.#partitions.keys()]) {
      if (key.startsWith(`${topic}\u0000`)) this.#drop(key);
    }
  }

  #dropOldest(tail: PartitionTail): void {
    const event = tail.events[tail.head]!;
    const bytes = (event.payload as string).length;
    tail.head++;
    tail.start++;
    tail.bytes -= bytes;
    this.#bytes -= bytes;
    // Compact now and then instead of shifting on every drop.
    if (tail.head >= maxEventsPerPartition) {
      tail.events = tail.events.slice(tail.head);
      tail.head = 0;
    }
  }

  #evictLargest(): void {
    let largest: string | undefined;
    let bytes = -1;
    for (const [key, tail] of this.#partitions) {
      if (tail.bytes > bytes) [largest, bytes] = [key, tail.bytes];
    }
    if (largest === undefined) {
      this.#bytes = 0;
      return;
    }
    const tail = this.#partitions.get(largest)!;
    // Halve the largest run rather than drop it: its newest events are the ones readers want.
    const keep = Math.floor((tail.events.length - tail.head) / 2);
    if (keep === 0) {
      this.#drop(largest);
      return;
    }
    while (tail.events.length - tail.head > keep) this.#dropOldest(tail);
  }

  #drop(key: string): void {
    const tail = this.#partitions.get(key);
    if (!tail) return;
    this.#bytes -= tail.bytes;
    this.#partitions.delete(key);
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
