/**
 * The `Prefer` request header (RFC 7240). Only `return=minimal` is honoured, on the job adds:
 * a producer adding thousands of jobs rarely reads the records that would echo every payload
 * back, and serialising them was most of a batch add's answer time. Preferences the server does
 * not know are ignored, as the RFC asks.
 */

/** Where the answer says which preference it applied. */
interface ReplyHeaders {
  header(name: string, value: string): unknown;
}

/**
 * True when `prefer` (comma-separated preferences, any case, the value optionally quoted) asks
 * for `return=minimal`; `reply` then carries `Preference-Applied: return=minimal`.
 */
export function returnsMinimal(prefer: string | undefined, reply: ReplyHeaders): boolean {
  const minimal =
    prefer !== undefined &&
    prefer.split(',').some((preference) => /^\s*return\s*=\s*"?minimal"?\s*(;|$)/i.test(preference));
  if (minimal) reply.header('preference-applied', 'return=minimal');
  return minimal;
}
