/**
 * The one payload every system carries: a ~200-byte JSON order event (the benchmark issue's
 * size). `seq` identifies the message for loss/duplicate counting; `sentAt` is stamped by the
 * producer right before the send call so the consumer can measure send→handler-start latency.
 */
import { performance } from 'node:perf_hooks';

export interface OrderEvent {
  type: 'order.created';
  seq: number;
  orderId: string;
  customerId: string;
  items: { sku: string; qty: number; price: number }[];
  total: number;
  currency: string;
  createdAt: string;
  /** Milliseconds since the epoch with sub-millisecond precision (see {@link now}). */
  sentAt: number;
}

/**
 * A wall-clock timestamp in milliseconds with sub-millisecond resolution. Producer and consumer
 * run in the same process in every scenario, so both sides read the same monotonic source.
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** The `seq`-th order event, stamped with the current time. */
export function order(seq: number): OrderEvent {
  const qty = 1 + (seq % 3);
  return {
    type: 'order.created',
    seq,
    orderId: `ord-${seq.toString().padStart(8, '0')}`,
    customerId: `cus-${seq % 997}`,
    items: [{ sku: 'SKU-12345', qty, price: 1999 }],
    total: 1999 * qty,
    currency: 'EUR',
    createdAt: '2026-11-22T12:00:00.000Z',
    sentAt: now(),
  };
}

/** Orders `from` … `from + count - 1`. */
export function orders(from: number, count: number): OrderEvent[] {
  return Array.from({ length: count }, (_, i) => order(from + i));
}

/** Serialised size of a typical payload, printed in the report's method section. */
export function payloadBytes(): number {
  return Buffer.byteLength(JSON.stringify(order(12_345)));
}

/** Encodes for systems that carry bytes (NATS, AMQP). */
export function encode(body: OrderEvent): Buffer {
  return Buffer.from(JSON.stringify(body));
}

export function decode(bytes: Uint8Array): OrderEvent {
  return JSON.parse(
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
  ) as OrderEvent;
}
