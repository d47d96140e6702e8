/**
 * Key → partition. Spool uses the same function as Kafka's default partitioner —
 * `(murmur2(utf8(key)) & 0x7fffffff) % partitions`, seed 0x9747b28c — so a key lands on the same
 * partition number in Spool as in Kafka with the same partition count, and the mapping is
 * stable across versions, processes and machines.
 */

const encoder = new TextEncoder();

/** Kafka's 32-bit murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed int. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  const r = 24;
  let h = 0x9747b28c ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4]! & 0xff) |
      ((data[i4 + 1]! & 0xff) << 8) |
      ((data[i4 + 2]! & 0xff) << 16) |
      ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length4 * 4;
  // Kafka's tail handling falls through 3 → 2 → 1; written as ifs to keep the compiler's
  // no-fallthrough check on.
  const remainder = length % 4;
  if (remainder >= 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (remainder >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (remainder >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition for `key` among `partitions` partitions. */
export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(encoder.encode(key)) & 0x7fffffff) % partitions;
}
