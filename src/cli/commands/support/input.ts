/** Reading what the user gives: JSON bodies from an argument or stdin, NDJSON files, flag values. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { InvalidArgumentError as InvalidFlagError } from 'commander';
import { usageError } from './client-options.js';

/** Parses a JSON argument; `what` names it in the usage error. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw usageError(
      `${what} is not valid JSON: ${text.length > 60 ? `${text.slice(0, 59)}…` : text} (quote a string as '"text"')`,
    );
  }
}

/**
 * The body from the argument, or else from stdin when it is not a terminal. Without either, a
 * usage error — or `fallback` when one is given.
 */
export async function bodyFromArgOrStdin(
  arg: string | undefined,
  what: string,
  fallback?: { value: unknown },
): Promise<unknown> {
  if (arg !== undefined) return parseJson(arg, what);
  const missing = () => {
    if (fallback) return fallback.value;
    throw usageError(`give the ${what} as an argument or on stdin`);
  };
  if (process.stdin.isTTY) return missing();
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  if (text.trim() === '') return missing();
  return parseJson(text.trim(), what);
}

/** The non-empty lines of an NDJSON file ('-' for stdin), each parsed as JSON. */
export async function readNdjson(path: string): Promise<unknown[]> {
  const input = path === '-' ? process.stdin : createReadStream(path, { encoding: 'utf8' });
  const values: unknown[] = [];
  let line = 0;
  try {
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      values.push(parseJson(text, `${path} line ${line}`));
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw usageError(`--file: ${path} does not exist`);
    throw error;
  }
  return values;
}

/** A commander parser for `--header k=v` (repeatable) into a record. */
export function collectHeader(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidFlagError('a header is key=value');
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

/** A commander parser for whole numbers from `minimum` to `maximum`. */
export function wholeNumber(minimum = 0, maximum = 2 ** 31 - 1): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || number < minimum || number > maximum) {
      throw new InvalidFlagError(`must be a whole number from ${minimum} to ${maximum}`);
    }
    return number;
  };
}

/**
 * Like {@link wholeNumber}, or `none` (no bound). The parser answers the string 'none' (commander
 * turns a null from a parser into ''): {@link orNull} makes it null.
 */
export function wholeNumberOrNone(minimum = 0, maximum = 2 ** 53 - 1): (value: string) => number | 'none' {
  const parse = wholeNumber(minimum, maximum);
  return (value) => {
    if (value.trim().toLowerCase() === 'none') return 'none';
    try {
      return parse(value);
    } catch {
      throw new InvalidFlagError(`must be a whole number from ${minimum} to ${maximum}, or none`);
    }
  };
}

/** A {@link wholeNumberOrNone} flag's value: undefined when not given, null for none. */
export function orNull(value: number | 'none' | undefined): number | null | undefined {
  return value === 'none' ? null : value;
}

/** Splits `items` into batches of at most `size` items and about `maxBytes` of JSON each. */
export function batches<T>(items: readonly T[], size: number, maxBytes = 512 * 1024): T[][] {
  const result: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const itemBytes = Buffer.byteLength(JSON.stringify(item));
    if (current.length > 0 && (current.length >= size || bytes + itemBytes > maxBytes)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += itemBytes;
  }
  if (current.length > 0) result.push(current);
  return result;
}
