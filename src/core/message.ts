/**
 * The message envelope and its encoding. A body is any JSON value or raw bytes; stores keep it
 * as a {@link Payload}: the JSON text, or the bytes unchanged. Encoding happens once at send and
 * decoding once at delivery, so nothing in between re-serialises a body.
 *
 * Field names map onto CloudEvents 1.0: `id` → id, `enqueuedAt`/`timestamp` → time,
 * `headers['ce-type']`-style headers carry type/source/subject when a producer sets them.
 */
import { InvalidArgumentError } from './errors.js';

/** A JSON value: what `JSON.parse` can return. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A message body: a JSON value, or bytes sent and delivered untouched. */
export type MessageBody = JsonValue | Uint8Array;

/** A body as a store keeps it: JSON text (a string) or raw bytes. */
export type Payload = string | Uint8Array;

/** String headers carried with a message (W3C `traceparent`, CloudEvents attributes, your own). */
export type Headers = Record<string, string>;

/** Turns a body into its stored form. Throws {@link InvalidArgumentError} for what JSON cannot hold. */
export function encodeBody(body: MessageBody): Payload {
  if (body instanceof Uint8Array) return body;
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (cause) {
    throw new InvalidArgumentError(
      `message body cannot be serialised as JSON: ${(cause as Error).message}; send a JSON value or a Uint8Array`,
    );
  }
  if (text === undefined) {
    throw new InvalidArgumentError(
      `message body of type ${typeof body} is not JSON; send a JSON value or a Uint8Array`,
    );
  }
  return text;
}

/**
 * JSON text of a value the caller gave (a job payload, metadata, a result), or an
 * {@link InvalidArgumentError} naming `what` when JSON cannot hold it: a cycle, a BigInt, or
 * nesting deeper than the serialiser's stack (a 50,000-deep array) — the caller's mistake,
 * never a server error.
 */
export function encodeJson(value: unknown, what: string): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (cause) {
    const reason = cause instanceof RangeError ? 'it is nested too deeply' : (cause as Error).message;
    throw new InvalidArgumentError(
      `${what} cannot be serialised as JSON: ${reason}; give a plain JSON value`,
    );
  }
}

/** Turns a stored payload back into the body that was sent. */
export function decodeBody<T = MessageBody>(payload: Payload): T {
  return (typeof payload === 'string' ? JSON.parse(payload) : payload) as T;
}

/** Checks a headers object: string keys to string values. */
export function validateHeaders(headers: unknown, where: string): Headers {
  if (headers === undefined) return {};
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw new InvalidArgumentError(`${where}: headers must be an object of string values`);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') {
      throw new InvalidArgumentError(`${where}: header "${name}" must be a string, got ${typeof value}`, {
        field: `headers.${name}`,
      });
    }
  }
  return headers as Headers;
}

/** What went wrong in one delivery attempt, as recorded in a message's history. */
export interface AttemptError {
  /** The attempt number that failed (1 for the first delivery). */
  readonly attempt: number;
  /** When the failure was recorded (ms since epoch). */
  readonly at: number;
  /** The error's class name, e.g. `TypeError`, or `LeaseExpired` when the consumer vanished. */
  readonly name: string;
  readonly message: string;
}

/** Reduces a thrown value to the name and message that are stored in a message's history. */
export function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** A failure as a job keeps it: the error's class name, its message and where it was thrown. */
export interface FailureInfo {
  readonly name: string;
  readonly message: string;
  /** The stack's frames (`at …` lines), bounded: see {@link boundStack}. Absent when unknown. */
  readonly stack?: string;
}

/** The most stack a failure keeps: enough frames to find the line, never a bloated row. */
export const stackLimits = Object.freeze({ lines: 30, chars: 4_000 });

/**
 * The frames of `stack` (its `at …` lines, without the `Name: message` head the failure already
 * holds), at most {@link stackLimits} — a deep recursion's 10,000 frames would otherwise be
 * stored with every attempt. Undefined when there are none.
 */
export function boundStack(stack: unknown): string | undefined {
  if (typeof stack !== 'string') return undefined;
  const lines = stack.split('\n');
  const first = lines.findIndex((line) => /^\s+at /.test(line));
  if (first < 0) return undefined;
  const frames = lines.slice(first, first + stackLimits.lines).map((line) => line.trimEnd());
  const more = lines.length - first - frames.length;
  const text = frames.join('\n') + (more > 0 ? `\n    … ${more} more` : '');
  return text.length > stackLimits.chars ? `${text.slice(0, stackLimits.chars - 1)}…` : text;
}

/** A thrown value as a job keeps it: name, message and bounded stack. */
export function describeFailure(error: unknown): FailureInfo {
  const { name, message } = describeError(error);
  const stack = error instanceof Error ? boundStack(error.stack) : undefined;
  return stack === undefined ? { name, message } : { name, message, stack };
}
