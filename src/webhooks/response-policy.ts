/**
 * What a receiver's answer means for a delivery, per Standard Webhooks: 2xx delivered; 410 Gone
 * disables the endpoint; 408, 429 and 5xx are transient and retried (after `Retry-After` when
 * the receiver sends one); everything else (other 4xx, and 1xx/3xx since redirects are not
 * followed) will not change on a retry, so the delivery is dead-lettered at once.
 */

/** The decision for one HTTP answer. */
export type Verdict =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'gone' }
  | { readonly kind: 'retry'; readonly retryAfterMs: number | null }
  | { readonly kind: 'reject' };

/** Decides what `status` (with its `Retry-After` header, if any) means, at time `now` (ms). */
export function judgeResponse(status: number, retryAfter: string | undefined, now: number): Verdict {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 410) return { kind: 'gone' };
  if (status === 408 || status === 429 || (status >= 500 && status < 600)) {
    return { kind: 'retry', retryAfterMs: parseRetryAfter(retryAfter, now) };
  }
  return { kind: 'reject' };
}

/**
 * A `Retry-After` value (RFC 9110 §10.2.3: delay seconds or an HTTP-date) as ms from `now`;
 * null when absent or unreadable. A date in the past means "now" (0).
 */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  const text = value?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Math.min(Number(text), 2 ** 31) * 1000;
  const at = /^[A-Za-z]{3,9},? /.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
