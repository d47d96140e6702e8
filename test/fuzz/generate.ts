/**
 * fast-check arbitraries for requests, built from the operations of `/openapi.json`: valid
 * requests (every parameter and body field drawn from its JSON schema), mutated ones (one place
 * broken: a wrong type, a missing or extra field, a number past its bounds or a NaN-like string,
 * deep nesting, an odd or overlong name, bad percent-encoding, a wrong content type, a body that
 * is not JSON, a duplicated query parameter, a bad `Last-Event-ID`), junk requests to paths and
 * methods the API does not have, and short valid scenarios (see `scenarios.ts`).
 *
 * Values the fuzzer can only know at run time — a receipt from an earlier receive, a job's id
 * and lease from a claim, a cursor — are generated as references ({@link ref}) and resolved when
 * the request is sent, so generation stays a pure function of the seed.
 */
import { namePatternSource } from '../../src/core/names.js';
import fc from 'fast-check';
import type { Contract, JsonSchema, Operation } from './contract.js';

/** What a reference stands for; resolved against what earlier answers returned. */
export type RefKind =
  'receipt' | 'messageId' | 'jobId' | 'claimedId' | 'claimedLease' | 'cursor' | 'pollCursor' | 'eventId';

const refMark = '\u0001ref:';

/** A placeholder for a run-time value, resolved when the request is sent. */
export function ref(kind: RefKind): string {
  return `${refMark}${kind}`;
}

/** The kind a placeholder stands for, or undefined for an ordinary string. */
export function refKindOf(text: string): RefKind | undefined {
  return text.startsWith(refMark) ? (text.slice(refMark.length) as RefKind) : undefined;
}

/** Who calls: a token with every scope, one scope only, no token, an unknown or a malformed one. */
export type AuthChoice = 'all' | 'produce' | 'consume' | 'admin' | 'none' | 'invalid' | 'malformed';

/** A path segment: text to percent-encode, or bytes to send as they are. */
export interface Segment {
  readonly text: string;
  readonly raw: boolean;
}

export type Body =
  | { readonly kind: 'none'; readonly contentType?: string }
  | { readonly kind: 'json'; readonly value: unknown; readonly contentType: string }
  | { readonly kind: 'text'; readonly text: string; readonly contentType: string | null }
  /** JSON nested `depth` levels deep inside `field` (built when sent, to keep cases printable). */
  /**
   * A valid body with JSON nested `depth` levels deep at `at` (built when sent, to keep cases
   * printable); `at` empty: the whole body is the nesting.
   */
  | {
      readonly kind: 'deep';
      readonly base: unknown;
      readonly at: readonly (string | number)[];
      readonly depth: number;
      readonly open: '[' | '{';
    }
  /** A JSON body of about `bytes` bytes, for the body limit. */
  | { readonly kind: 'huge'; readonly bytes: number; readonly field: string | null };

export interface RequestCase {
  readonly kind: 'request';
  /** The operation (its id), or `junk` for requests outside the API. */
  readonly label: string;
  readonly mode: 'valid' | 'mutated' | 'junk';
  /** What was broken, for the report: `body.maxDepth: wrong type`, `query: duplicate limit`, … */
  readonly mutation: string;
  readonly method: string;
  readonly segments: readonly Segment[];
  /** Name, value, and whether to send both as they are instead of percent-encoding them. */
  readonly query: readonly (readonly [string, string, boolean])[];
  readonly headers: readonly (readonly [string, string])[];
  readonly auth: AuthChoice;
  readonly body: Body;
  /** `raw` writes the request bytes on a socket: bytes and framing no HTTP client would send. */
  readonly transport: 'http' | 'raw';
  /** How long to read a stream before hanging up (ms). */
  readonly holdMs: number;
  /** Picks which earlier receipt, job, cursor … each reference resolves to. */
  readonly refSeed: number;
}

export type ScenarioName = 'queue' | 'job' | 'job-fail' | 'topic' | 'schedule';

export interface ScenarioCase {
  readonly kind: 'scenario';
  readonly label: string;
  readonly name: ScenarioName;
  /** Varies the scenario's data (body shapes, counts). */
  readonly variant: number;
}

export type FuzzCase = RequestCase | ScenarioCase;

/** Names every run creates at start, so valid requests reach existing resources. */
export const pools = {
  queues: ['fz.q0', 'fz.q1', 'fz.q2', 'fz.small'],
  topics: ['fz.t0', 'fz.t1'],
  groups: ['g0', 'g1', 'g2'],
  members: ['m0', 'm1', 'm2', 'm3'],
  jobTypes: ['fz.j0', 'fz.j1', 'fz.j2'],
  schedules: ['fz.s0', 'fz.s1'],
  workflows: ['fz.w0'],
  breakers: ['fz.b0'],
  /** More valid names, mostly absent: 404s, and PUTs that create a bounded set of resources. */
  others: Array.from({ length: 16 }, (_, i) => `fz.x${i}`),
} as const;

const nameAlphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-';

/** Decoded names no route accepts (or, for the reserved ones, should refuse to create). */
export const oddNames: readonly string[] = [
  '',
  ' ',
  '.',
  '..',
  '../..',
  '../../etc/passwd',
  'a/b',
  'a\\b',
  '%2F',
  'a%2Fb',
  'ünïcødé',
  '名前',
  '🎉',
  'e\u0301',
  '\u202eevil',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'a\udc00b',
  '\uffff',
  '\u{10ffff}',
  '\n',
  'a\r\nx-injected: 1',
  'a b',
  'a?b',
  'a#b',
  'a;b',
  'a'.repeat(201),
  'a'.repeat(1000),
  'a'.repeat(4000),
  'spool.webhooks',
  'spool.events',
  'spool.',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'NaN',
  '-1',
  '1e999',
  'null',
  'undefined',
  'CON',
  "'; DROP TABLE messages; --",
  '*',
  '%',
];

/** Path segments sent as they are: dot segments, bad percent-encoding, bytes that need encoding. */
export const rawSegments: readonly string[] = [
  '..',
  '.',
  '%2e%2e',
  '%2E',
  '%2F',
  'a%2fb',
  '%5C',
  '%',
  '%%',
  '%zz',
  '%4',
  '%G1',
  '%00',
  '%0A',
  '%C0%AF',
  '%C3%28',
  '%ED%A0%80',
  '%FF%FE',
  '%E2%82',
  '%25',
  '%2525',
  'ü',
  '名',
  '%F0%9F%8E%89',
  ';jsessionid=1',
  '',
  '//',
];

/** Query values that are not what a number or a date parameter wants. */
const oddQueryValues: readonly string[] = [
  'NaN',
  'nan',
  'Infinity',
  '-Infinity',
  '-1',
  '-0',
  '0',
  '1.5',
  '1e3',
  '1e309',
  '9'.repeat(40),
  '9'.repeat(400),
  '0x10',
  '0b11',
  ' 5',
  '5 ',
  '5abc',
  '',
  'true',
  'null',
  '[]',
  '{}',
  '2024-13-45T99:99:99Z',
  '2024-01-01',
  'ünï',
  '\u0000',
  'a'.repeat(5000),
];

/** `Last-Event-ID` values: resumable, out of range, and not ids at all. */
const lastEventIds: readonly string[] = [
  '0',
  '1',
  '5',
  '-1',
  '1e3',
  '1.5',
  'NaN',
  '',
  ' 3',
  '0x10',
  '9007199254740991',
  '9007199254740993',
  '18446744073709551616',
  '9'.repeat(400),
  'abc',
  '\t',
];

const contentTypes: readonly string[] = [
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/octet-stream',
  'application/problem+json',
  'application/json-patch+json',
  'application/vnd.api+json',
  'APPLICATION/JSON',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json;;;',
  'application/json; boundary',
  'application/jsonx',
  'json',
  '*/*',
  '',
  ';',
  'application/json, text/plain',
];

const nonJsonBodies: readonly string[] = [
  '',
  ' ',
  '\n',
  '{',
  '}',
  '{"a":',
  '{"a":1,}',
  "{'a':1}",
  '[1,2',
  'undefined',
  'NaN',
  '-',
  '1e999',
  '"unterminated',
  '{"a":"\\ud800"}',
  '{"a":"\\u12"}',
  '\u0000',
  '\ufeff{}',
  '{}{}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  'null',
  'true',
  '0',
  '-1',
  '"text"',
  '[]',
  '[{}]',
  '{"body":1,"body":2}',
  'a=1&b=2',
  '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz--',
];

const safeUrls: readonly string[] = [
  'https://spool-fuzz.invalid/hook',
  'http://spool-fuzz.invalid:8080/a?b=c',
  'http://127.0.0.1:9/hook',
  'http://[::1]:9/',
  'http://169.254.169.254/latest/meta-data/',
  'http://10.0.0.1/',
  'ftp://spool-fuzz.invalid/',
  'file:///etc/passwd',
  'javascript:alert(1)',
  'not a url',
  'https://',
  'http://user:pass@spool-fuzz.invalid/',
  'http://0x7f000001/',
  'http://[::ffff:127.0.0.1]/',
  'http://[64:ff9b::a00:1]/',
];

const crons: readonly string[] = [
  '* * * * *',
  '*/5 * * * *',
  '0 0 * * *',
  '0 0 1 1 *',
  '0 0 30 2 *',
  '* * * * * *',
  '0 0 29 2 1',
  '99 * * * *',
  '* * *',
  'not cron',
  '@hourly',
  '@yearly',
  '0 0 31 4 *',
  '*/0 * * * *',
  '1-0 * * * *',
];

const timezones: readonly string[] = [
  'UTC',
  'Europe/Paris',
  'America/St_Johns',
  'Asia/Kathmandu',
  'Pacific/Kiritimati',
  'Etc/GMT+12',
  'Mars/Olympus_Mons',
  'utc',
  '+05:30',
  '',
];

/** Large and odd numbers for any numeric field. */
const oddNumbers: readonly unknown[] = [
  -1,
  -0,
  0,
  0.5,
  1.5,
  -2147483648,
  2147483648,
  4294967296,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e21,
  1e308,
  -1e308,
  5e-324,
  '1',
  '1e3',
  'NaN',
  'Infinity',
  '-Infinity',
  '',
  null,
  true,
  [],
  {},
  [1],
];

// ---------------------------------------------------------------------------------------------
// Values from schemas

interface Where {
  /** The operation's path template, for names whose meaning depends on it. */
  readonly opPath: string;
  /** The field or parameter name (the last part of its path). */
  readonly field: string;
  readonly location: 'path' | 'query' | 'header' | 'body';
}

function weighted<T>(...entries: [number, fc.Arbitrary<T>][]): fc.Arbitrary<T> {
  return fc.oneof(
    ...entries.filter(([weight]) => weight > 0).map(([weight, arbitrary]) => ({ weight, arbitrary })),
  );
}

function validName(pool: readonly string[]): fc.Arbitrary<string> {
  return weighted(
    [6, fc.constantFrom(...pool)],
    [3, fc.constantFrom(...pools.others)],
    [1, fc.string({ unit: fc.constantFrom(...nameAlphabet), minLength: 1, maxLength: 200 })],
    [1, fc.constant('n'.repeat(200))],
  );
}

/** Field-name knowledge: where a valid value is better taken from a pool or from a live answer. */
function hinted(schema: JsonSchema, where: Where): fc.Arbitrary<unknown> | undefined {
  const { field, location, opPath } = where;
  const fresh = (fallback: fc.Arbitrary<unknown>, kind: RefKind) =>
    weighted([4, fc.constant(ref(kind))], [1, fallback]);
  if (location === 'path' && field === 'name') {
    if (opPath.startsWith('/v1/queues')) return validName(pools.queues);
    if (opPath.startsWith('/v1/topics')) return validName(pools.topics);
    if (opPath.startsWith('/v1/schedules')) return validName(pools.schedules);
    if (opPath.startsWith('/v1/workflows')) return validName(pools.workflows);
    if (opPath.startsWith('/v1/breakers')) return validName(pools.breakers);
  }
  if (location === 'path' && field === 'group') return validName(pools.groups);
  if (location === 'path' && field === 'partition') {
    return weighted([8, fc.integer({ min: 0, max: 3 })], [1, fc.nat()]);
  }
  if (location === 'path' && field === 'id') {
    const leased = /heartbeat|progress|complete|fail/.test(opPath);
    return weighted(
      [4, fc.constant(ref(leased ? 'claimedId' : 'jobId'))],
      [1, fc.uuid()],
      [1, fc.string({ minLength: 1, maxLength: 100 })],
    );
  }
  switch (field) {
    case 'receipt':
      return fresh(fc.string({ minLength: 1, maxLength: 40 }), 'receipt');
    case 'lease':
      return fresh(fc.string({ minLength: 1, maxLength: 40 }), 'claimedLease');
    case 'cursor':
      return location === 'body'
        ? fresh(fc.string({ minLength: 1, maxLength: 60 }), 'pollCursor')
        : schema.pattern === '^[0-9]+$'
          ? weighted([3, fc.nat().map(String)], [1, fc.constant(ref('cursor'))])
          : fresh(fc.string({ minLength: 1, maxLength: 60 }), 'cursor');
    case 'member':
      return fc.constantFrom(...pools.members);
    case 'waitMs':
      return weighted(
        [14, fc.constant(0)],
        [5, fc.integer({ min: 1, max: 100 })],
        [1, fc.integer({ min: 100, max: 1500 })],
        [1, fc.constantFrom(schema.maximum ?? 20_000, 60_000)],
      );
    case 'type':
    case 'jobType':
      return location === 'query' && field === 'type'
        ? fc.constantFrom(...pools.jobTypes)
        : weighted([6, fc.constantFrom(...pools.jobTypes)], [1, fc.string({ minLength: 1, maxLength: 190 })]);
    case 'queue':
      return validName(pools.queues);
    case 'jobId':
    case 'parentId':
      return fresh(fc.uuid(), 'jobId');
    case 'callbackUrl':
    case 'url':
      return fc.constantFrom(...safeUrls);
    case 'cron':
      return fc.constantFrom(...crons);
    case 'timezone':
      return fc.constantFrom(...timezones);
    case 'intervalMs':
      return fc.integer({ min: schema.minimum ?? 250, max: 1000 });
    case 'from':
      return weighted([3, fc.integer({ min: 0, max: 50 })], [1, fc.nat()]);
    case 'partition':
      return weighted([6, fc.integer({ min: 0, max: 3 })], [1, fc.nat()]);
    case 'progress':
      return fc.double({ min: 0, max: 100, noNaN: true });
    case 'offsets':
      return fc.dictionary(fc.constantFrom('0', '1', '2', '3'), fc.integer({ min: 0, max: 100 }), {
        maxKeys: 4,
      });
    case 'idempotency-key':
      return fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 });
    default:
      return undefined;
  }
}

/** A value `schema` accepts, biased to small sizes and to the pools. */
export function valid(contract: Contract, input: JsonSchema, where: Where, depth = 0): fc.Arbitrary<unknown> {
  const schema = contract.resolve(input);
  const hint = hinted(schema, where);
  if (hint) return hint;
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return fc.oneof(...variants.map((variant) => valid(contract, variant, where, depth + 1)));
  const type = [schema.type ?? 'any'].flat()[0];
  switch (type) {
    case 'integer': {
      const min = schema.minimum ?? -(2 ** 31);
      const max = Math.min(schema.maximum ?? 2 ** 31 - 1, Number.MAX_SAFE_INTEGER);
      const centre = Math.min(Math.max(0, min), max);
      return weighted(
        [6, fc.integer({ min: Math.max(min, centre - 1000), max: Math.min(max, centre + 1000) })],
        [2, fc.constantFrom(min, max)],
        [1, fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) })],
        [1, fc.constant(Math.min(max, Number.MAX_SAFE_INTEGER))],
      );
    }
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'string':
      return validString(schema);
    case 'array': {
      const item = schema.items ?? {};
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? 5, 5));
      return weighted(
        [20, fc.array(valid(contract, item, where, depth + 1), { minLength, maxLength })],
        // Now and then a full batch, up to the documented maximum.
        [
          1,
          fc
            .integer({ min: minLength, max: Math.min(schema.maxItems ?? 50, 1000) })
            .chain((length) =>
              fc.array(valid(contract, item, where, depth + 1), { minLength: length, maxLength: length }),
            ),
        ],
      );
    }
    case 'object':
      return validObject(contract, schema, where, depth);
    default:
      // Any JSON value: message and event bodies, payloads, results.
      return weighted(
        [8, fc.jsonValue({ maxDepth: 2 })],
        [1, fc.jsonValue({ maxDepth: 6 })],
        [1, fc.string({ unit: 'grapheme', maxLength: 200 })],
      );
  }
}

function validString(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = schema.maxLength ?? Math.max(minLength, 64);
  if (schema.format === 'date-time') {
    return fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2100-01-01T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((date) => date.toISOString());
  }
  if (schema.format === 'byte' || schema.pattern === '^[A-Za-z0-9+/]*={0,2}$') {
    return fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64'));
  }
  if (schema.pattern === '^[0-9]+$') return fc.nat().map(String);
  // The engine's name rule (with its lookahead, which fast-check cannot generate from) is the
  // plain alphabet as far as valid values go: '.' and '..' alone are rare enough to ignore.
  if (schema.pattern === '^[A-Za-z0-9._:-]+$' || schema.pattern === namePatternSource) {
    return fc.string({
      unit: fc.constantFrom(...nameAlphabet),
      minLength: Math.max(minLength, 1),
      maxLength,
    });
  }
  if (schema.pattern !== undefined) {
    return fc
      .stringMatching(new RegExp(schema.pattern))
      .filter((text) => text.length >= minLength && text.length <= maxLength);
  }
  return weighted(
    [6, fc.string({ minLength, maxLength: Math.min(maxLength, 40) })],
    [2, fc.string({ unit: 'grapheme', minLength, maxLength: Math.min(maxLength, 40) })],
    [1, fc.string({ unit: 'binary', minLength, maxLength: Math.min(maxLength, 40) })],
    [1, fc.constant('x'.repeat(Math.max(minLength, Math.min(maxLength, 10_000))))],
  );
}

function validObject(
  contract: Contract,
  schema: JsonSchema,
  where: Where,
  depth: number,
): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  const names = Object.keys(properties);
  if (names.length === 0) {
    const extra = schema.additionalProperties;
    if (typeof extra === 'object') {
      return fc.dictionary(
        fc.string({ minLength: 1, maxLength: 12 }),
        valid(contract, extra, where, depth + 1),
        {
          maxKeys: 4,
        },
      );
    }
    return extra === false
      ? fc.constant({})
      : fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
  }
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const name of names) {
    model[name] = valid(contract, properties[name]!, { ...where, field: name, location: 'body' }, depth + 1);
  }
  return fc.record(model, { requiredKeys: [...(schema.required ?? [])] });
}

// ---------------------------------------------------------------------------------------------
// Mutations

interface Mutant {
  readonly value: unknown;
  readonly what: string;
}

function deepValue(depth: number, open: '[' | '{'): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = open === '[' ? [value] : { a: value };
  return value;
}

/** `object` with one more own member (also `__proto__`, as JSON.parse makes it). */
function withMember(object: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const out = { ...object };
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

/** A value of the wrong kind for `schema`, or one past its bounds. */
function wrongValue(schema: JsonSchema): fc.Arbitrary<Mutant> {
  const type = [schema.type ?? 'any'].flat()[0];
  const candidates: fc.Arbitrary<Mutant>[] = [
    fc
      .constantFrom<unknown>(null, true, 'text', 42, -1, [], {}, [null], { nested: { deeper: [1] } })
      .map((value) => ({
        value,
        what: 'wrong type',
      })),
  ];
  if (type === 'integer' || type === 'number') {
    const bounds: unknown[] = [];
    if (schema.minimum !== undefined) bounds.push(schema.minimum - 1, schema.minimum - 0.5);
    if (schema.maximum !== undefined) bounds.push(schema.maximum + 1, schema.maximum + 0.5);
    candidates.push(
      fc.constantFrom(...oddNumbers, ...bounds).map((value) => ({ value, what: 'odd number' })),
    );
  }
  if (type === 'string') {
    const lengths: unknown[] = [''];
    if (schema.maxLength !== undefined) lengths.push('y'.repeat(schema.maxLength + 1));
    candidates.push(
      fc
        .constantFrom(...lengths, ...oddNames, 'x'.repeat(100_000))
        .map((value) => ({ value, what: 'odd string' })),
      fc.string({ unit: 'binary', maxLength: 50 }).map((value) => ({ value, what: 'binary string' })),
    );
  }
  if (type === 'array') {
    const over =
      schema.maxItems !== undefined ? [Array.from({ length: schema.maxItems + 1 }, () => 'x')] : [];
    candidates.push(
      fc
        .constantFrom<unknown>([], ...over, [[[]]], [null, 1, 'a', {}])
        .map((value) => ({ value, what: 'odd array' })),
    );
  }
  if (type === 'object' || type === 'any') {
    candidates.push(
      fc
        .constantFrom(50, 500, 1000)
        .chain((depth) =>
          fc
            .constantFrom<'[' | '{'>('[', '{')
            .map((open) => ({ value: deepValue(depth, open), what: `nested ${depth} deep` })),
        ),
    );
  }
  return fc.oneof(...candidates);
}

/** `valid` with exactly one place broken. */
function mutated(contract: Contract, input: JsonSchema, where: Where, depth = 0): fc.Arbitrary<Mutant> {
  const schema = contract.resolve(input);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants && variants.some((variant) => contract.resolve(variant).type === 'object')) {
    // Break the object variant: that is where the interesting fields are.
    const objects = variants.filter((variant) => contract.resolve(variant).type === 'object');
    return weighted(
      [4, fc.oneof(...objects.map((variant) => mutated(contract, variant, where, depth + 1)))],
      [1, wrongValue(schema)],
    );
  }
  const type = [schema.type ?? 'any'].flat()[0];
  if (type === 'object' && schema.properties && depth < 4) {
    const names = Object.keys(schema.properties);
    const base = validObject(contract, schema, where, depth) as fc.Arbitrary<Record<string, unknown>>;
    const options: [number, fc.Arbitrary<Mutant>][] = [
      [
        6,
        fc.constantFrom(...names).chain((name) =>
          fc
            .tuple(
              base,
              mutated(
                contract,
                schema.properties![name]!,
                { ...where, field: name, location: 'body' },
                depth + 1,
              ),
            )
            .map(([object, mutant]) => ({
              value: { ...object, [name]: mutant.value },
              what: `${name}: ${mutant.what}`,
            })),
        ),
      ],
      [
        // Unknown fields are refused (400) where the schema closes the object.
        schema.additionalProperties === false ? 2 : 0,
        fc
          .tuple(
            base,
            fc.constantFrom('unknownField', '__proto__', 'constructor', 'Body', ' body', 'bodybase64', ''),
          )
          .map(([object, extra]) => ({
            value: withMember(object, extra, { polluted: true }),
            what: `extra field ${JSON.stringify(extra)}`,
          })),
      ],
      [1, wrongValue(schema)],
    ];
    const required = schema.required ?? [];
    if (required.length > 0) {
      options.push([
        2,
        fc.tuple(base, fc.constantFrom(...required)).map(([object, name]) => {
          const { [name]: _dropped, ...rest } = object;
          return { value: rest, what: `missing ${name}` };
        }),
      ]);
    }
    return weighted(...options);
  }
  if (type === 'array' && schema.items && depth < 4) {
    const item = schema.items;
    return weighted(
      [
        3,
        fc
          .tuple(
            fc.array(valid(contract, item, where, depth + 1), { maxLength: 3 }),
            mutated(contract, item, where, depth + 1),
          )
          .map(([items, mutant]) => ({ value: [...items, mutant.value], what: `item: ${mutant.what}` })),
      ],
      [1, wrongValue(schema)],
    );
  }
  return wrongValue(schema);
}

// ---------------------------------------------------------------------------------------------
// Requests

const auth: fc.Arbitrary<AuthChoice> = weighted(
  [90, fc.constant<AuthChoice>('all')],
  [2, fc.constantFrom<AuthChoice>('produce', 'consume', 'admin')],
  [2, fc.constant<AuthChoice>('none')],
  [1, fc.constant<AuthChoice>('invalid')],
  [1, fc.constant<AuthChoice>('malformed')],
);

const transport = weighted<'http' | 'raw'>([19, fc.constant('http')], [1, fc.constant('raw')]);
const holdMs = fc.integer({ min: 50, max: 400 });

/** The places a mutation can hit in a request of `op`. */
type Target =
  | 'path'
  | 'query'
  | 'duplicate-query'
  | 'unknown-query'
  | 'header'
  | 'body'
  | 'body-text'
  | 'content-type'
  | 'deep'
  | 'huge'
  | 'no-body';

function targetsOf(op: Operation): Target[] {
  const targets: Target[] = ['unknown-query', 'header'];
  if (op.params.some((p) => p.in === 'path')) targets.push('path', 'path', 'path');
  if (op.params.some((p) => p.in === 'query')) targets.push('query', 'query', 'duplicate-query');
  if (op.body)
    targets.push('body', 'body', 'body', 'body', 'body-text', 'content-type', 'deep', 'deep', 'no-body');
  else targets.push('body-text');
  return targets;
}

function pathSegments(
  contract: Contract,
  op: Operation,
  broken: boolean,
): fc.Arbitrary<{ segments: Segment[]; what: string }> {
  const parts = op.path.split('/').slice(1);
  const names = parts.filter((part) => /^\{.+\}$/.test(part)).map((part) => part.slice(1, -1));
  const values = names.map((name) => {
    const param = op.params.find((p) => p.in === 'path' && p.name === name);
    return valid(contract, param?.schema ?? { type: 'string' }, {
      opPath: op.path,
      field: name,
      location: 'path',
    }).map((value): Segment => ({ text: String(value), raw: false }));
  });
  const build = (chosen: Segment[], what: string) => {
    let index = 0;
    return {
      segments: parts.map((part): Segment =>
        /^\{.+\}$/.test(part) ? chosen[index++]! : { text: part, raw: true },
      ),
      what,
    };
  };
  if (!broken || names.length === 0) return fc.tuple(...values).map((chosen) => build(chosen, ''));
  return fc
    .tuple(fc.tuple(...values), fc.nat({ max: names.length - 1 }), brokenSegment)
    .map(([chosen, which, segment]) => {
      const copy = [...chosen];
      copy[which] = segment;
      return build(
        copy,
        `path ${names[which]}: ${segment.raw ? 'raw ' : ''}${JSON.stringify(segment.text.slice(0, 40))}`,
      );
    });
}

const brokenSegment: fc.Arbitrary<Segment> = weighted(
  [4, fc.constantFrom(...oddNames).map((text): Segment => ({ text, raw: false }))],
  [3, fc.constantFrom(...rawSegments).map((text): Segment => ({ text, raw: true }))],
  [
    1,
    fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
      .map((text): Segment => ({ text, raw: false })),
  ],
  [
    1,
    fc.integer({ min: 201, max: 3000 }).map((length): Segment => ({ text: 'z'.repeat(length), raw: false })),
  ],
);

function queryPairs(
  contract: Contract,
  op: Operation,
  target: Target | undefined,
): fc.Arbitrary<{ query: [string, string, boolean][]; what: string }> {
  const params = op.params.filter((p) => p.in === 'query');
  const entries = params.map((param) =>
    fc.option(
      valid(contract, param.schema, { opPath: op.path, field: param.name, location: 'query' }).map(
        (value): [string, string, boolean] => [param.name, String(value), false],
      ),
      { freq: 2, nil: undefined },
    ),
  );
  const base = fc.tuple(...entries).map((chosen) => chosen.filter((entry) => entry !== undefined));
  if (target === 'query' && params.length > 0) {
    return fc
      .tuple(base, fc.constantFrom(...params), fc.constantFrom(...oddQueryValues), fc.boolean())
      .map(([query, param, value, rawValue]) => ({
        query: [
          ...query.filter(([name]) => name !== param.name),
          [param.name, value, rawValue && /^[\x21-\x7e]*$/.test(value) && !value.includes('#')],
        ],
        what: `query ${param.name}=${JSON.stringify(value.slice(0, 40))}`,
      }));
  }
  if (target === 'duplicate-query' && params.length > 0) {
    return fc
      .tuple(
        base,
        fc.constantFrom(...params),
        fc.constantFrom(...oddQueryValues, '1', '2', '10'),
        fc.constantFrom('1', '3', '100'),
      )
      .map(([query, param, first, second]) => ({
        query: [...query, [param.name, first, false], [param.name, second, false]],
        what: `duplicate query ${param.name}`,
      }));
  }
  if (target === 'unknown-query') {
    return fc
      .tuple(
        base,
        fc.constantFrom<[string, string, boolean]>(
          ['unknown', '1', false],
          ['__proto__', 'x', false],
          ['constructor', 'x', false],
          ['limit[]', '1', true],
          ['a[b]', '1', true],
          ['%zz', '1', true],
          ['', '', true],
          ['x', '%', true],
          ['x', '%E0%A4%A', true],
          ['&&&', '', true],
        ),
      )
      .map(([query, extra]) => ({ query: [...query, extra], what: `extra query ${extra[0]}=${extra[1]}` }));
  }
  return base.map((query) => ({ query, what: '' }));
}

function headerPairs(
  op: Operation,
  target: Target | undefined,
): fc.Arbitrary<{ headers: [string, string][]; what: string }> {
  const params = op.params.filter((p) => p.in === 'header');
  const keys = params.map((param) =>
    fc.option(
      fc
        .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 })
        .map((value): [string, string] => [param.name, value]),
      {
        freq: 3,
        nil: undefined,
      },
    ),
  );
  const lastEventId = op.streaming
    ? fc.option(
        fc.constantFrom(...lastEventIds).map((value): [string, string] => ['last-event-id', value]),
        { freq: 2, nil: undefined },
      )
    : fc.constant(undefined);
  const base = fc
    .tuple(fc.tuple(...keys), lastEventId)
    .map(([chosen, last]) =>
      [...chosen, last].filter((entry): entry is [string, string] => entry !== undefined),
    );
  if (target !== 'header') return base.map((headers) => ({ headers, what: '' }));
  const odd = fc.constantFrom<[string, string]>(
    ['idempotency-key', ''],
    ['idempotency-key', 'k'.repeat(257)],
    ['idempotency-key', 'ünïcødé'],
    ['idempotency-key', ' '],
    ['last-event-id', '-1'],
    ['last-event-id', '9'.repeat(400)],
    ['last-event-id', 'NaN'],
    ['last-event-id', '18446744073709551616'],
    ['x-request-id', 'x'.repeat(500)],
    ['x-request-id', '../../etc'],
    ['x-request-id', 'ünï'],
    ['traceparent', '00-00000000000000000000000000000000-0000000000000000-00'],
    ['traceparent', 'ff-' + 'f'.repeat(32) + '-' + 'f'.repeat(16) + '-ff'],
    ['traceparent', 'garbage'],
    ['tracestate', 'a=' + 'b'.repeat(600)],
    ['accept', 'text/event-stream'],
    ['accept', 'application/xml'],
    ['accept-encoding', 'gzip, br, zstd'],
    ['content-length', 'abc'],
    ['transfer-encoding', 'chunked, identity'],
    ['x-forwarded-for', '999.999.999.999'],
    ['host', ''],
    ['expect', '100-continue'],
  );
  return fc.tuple(base, odd).map(([headers, extra]) => ({
    headers: [...headers.filter(([name]) => name !== extra[0]), extra],
    what: `header ${extra[0]}: ${JSON.stringify(extra[1].slice(0, 40))}`,
  }));
}

function bodyOf(
  contract: Contract,
  op: Operation,
  target: Target | undefined,
): fc.Arbitrary<{ body: Body; what: string }> {
  const json = (value: unknown, contentType = 'application/json'): Body => ({
    kind: 'json',
    value,
    contentType,
  });
  const where: Where = { opPath: op.path, field: '', location: 'body' };
  if (!op.body) {
    if (target === 'body-text') {
      return fc
        .tuple(fc.constantFrom(...nonJsonBodies), fc.constantFrom('application/json', 'text/plain', null))
        .map(([text, contentType]) => ({
          body: { kind: 'text', text, contentType },
          what: `unexpected body ${JSON.stringify(text.slice(0, 20))}`,
        }));
    }
    return fc.constant({ body: { kind: 'none' }, what: '' });
  }
  const schema = op.body;
  switch (target) {
    case 'body':
      return mutated(contract, schema, where).map((mutant) => ({
        body: json(mutant.value),
        what: `body ${mutant.what}`,
      }));
    case 'body-text':
      return fc
        .tuple(
          fc.constantFrom(...nonJsonBodies),
          fc.constantFrom('application/json', 'application/json; charset=utf-8'),
        )
        .map(([text, contentType]) => ({
          body: { kind: 'text', text, contentType },
          what: `body text ${JSON.stringify(text.slice(0, 30))}`,
        }));
    case 'content-type':
      return fc
        .tuple(valid(contract, schema, where), fc.constantFrom(...contentTypes))
        .map(([value, contentType]) => ({
          body: json(value, contentType),
          what: `content-type ${JSON.stringify(contentType)}`,
        }));
    case 'deep':
      return fc
        .tuple(
          fc.constantFrom(...deepPlaces(contract, schema)),
          fc.constantFrom(100, 1000, 3000, 10_000, 50_000, 100_000),
          fc.constantFrom<'[' | '{'>('[', '{'),
        )
        .chain(([place, depth, open]) =>
          valid(contract, place.variant, where).map((base) => ({
            body: { kind: 'deep', base, at: place.at, depth, open },
            what: `nested ${depth} deep at ${place.at.join('.') || '(root)'}`,
          })),
        );
    case 'huge':
      return fc
        .tuple(
          fc.constantFrom(1024 * 1024 - 200, 1024 * 1024 + 1, 3 * 1024 * 1024),
          fc.constantFrom<string | null>(null, 'body'),
        )
        .map(([bytes, field]) => ({ body: { kind: 'huge', bytes, field }, what: `body of ${bytes} bytes` }));
    case 'no-body':
      return fc
        .constantFrom<Body>(
          { kind: 'none' },
          { kind: 'none', contentType: 'application/json' },
          { kind: 'text', text: '', contentType: null },
        )
        .map((body) => ({ body, what: 'no body' }));
    default:
      return valid(contract, schema, where).map((value) => ({ body: json(value), what: '' }));
  }
}

/** Whether a schema takes any JSON value (a message body, a payload, a result). */
function takesAnything(schema: JsonSchema): boolean {
  return (
    schema.type === undefined &&
    !schema.anyOf &&
    !schema.oneOf &&
    !schema.enum &&
    schema.const === undefined &&
    !schema.$ref
  );
}

/**
 * Where a body can carry JSON of any shape, hence any depth: fields that take any value, maps of
 * any values, and such fields of array items (a batch's messages, a job's children). Each comes
 * with the variant of the body it belongs to, so the rest of the body can be valid.
 */
function deepPlaces(
  contract: Contract,
  schema: JsonSchema,
): { variant: JsonSchema; at: (string | number)[] }[] {
  const resolved = contract.resolve(schema);
  const variants = (resolved.anyOf ?? resolved.oneOf ?? [resolved]).map((variant) =>
    contract.resolve(variant),
  );
  const places: { variant: JsonSchema; at: (string | number)[] }[] = [];
  for (const variant of variants) {
    for (const [name, input] of Object.entries(variant.properties ?? {})) {
      const property = contract.resolve(input);
      const values =
        typeof property.additionalProperties === 'object' ? property.additionalProperties : undefined;
      if (takesAnything(property)) places.push({ variant, at: [name] });
      else if (property.type === 'object' && !property.properties && values && takesAnything(values)) {
        places.push({ variant, at: [name, 'nested'] });
      } else if (property.type === 'array' && property.items) {
        for (const [field, item] of Object.entries(contract.resolve(property.items).properties ?? {})) {
          if (takesAnything(contract.resolve(item))) places.push({ variant, at: [name, 0, field] });
        }
      }
    }
  }
  return places.length > 0 ? places : [{ variant: variants[0]!, at: [] }];
}

function requestFor(contract: Contract, op: Operation, mode: 'valid' | 'mutated'): fc.Arbitrary<RequestCase> {
  const targets = targetsOf(op);
  const targetArb: fc.Arbitrary<Target | undefined> =
    mode === 'valid'
      ? fc.constant(undefined)
      : weighted([40, fc.constantFrom(...targets)], [1, fc.constant<Target>('huge')]);
  return targetArb.chain((target) =>
    fc
      .record({
        path: pathSegments(contract, op, target === 'path'),
        query: queryPairs(contract, op, target),
        headers: headerPairs(op, target),
        body: bodyOf(contract, op, target),
        auth: mode === 'valid' ? auth : fc.constant<AuthChoice>('all'),
        transport,
        holdMs,
        refSeed: fc.nat(),
      })
      .map((parts): RequestCase => ({
        kind: 'request',
        label: op.id,
        mode,
        mutation: [parts.path.what, parts.query.what, parts.headers.what, parts.body.what]
          .filter(Boolean)
          .join('; '),
        method: op.method,
        segments: parts.path.segments,
        query: parts.query.query,
        headers: parts.headers.headers,
        auth: parts.auth,
        body: parts.body.body,
        transport: parts.transport,
        holdMs: parts.holdMs,
        refSeed: parts.refSeed,
      })),
  );
}

/** Requests outside the API: unknown paths, methods no route has, malformed HTTP. */
function junk(contract: Contract): fc.Arbitrary<RequestCase> {
  const paths = [...new Set(contract.operations.map((op) => op.path.replace(/\{[^}]+\}/g, 'fz.q0')))];
  const path = weighted(
    [3, fc.constantFrom(...paths)],
    [
      2,
      fc.constantFrom(
        '/',
        '/v1',
        '/v1/',
        '/v2/queues',
        '/v1/queues/',
        '/v1/queues//messages',
        '/v1/jobs/',
        '/openapi.json/x',
        '/healthz/',
        '/HEALTHZ',
        '/v1/Queues',
        '/favicon.ico',
        '/dashboard',
        '/dashboard/../openapi.json',
        '/%2e%2e/%2e%2e/etc/passwd',
        '/v1/queues/fz.q0/messages/extra',
        '/v1/topics/fz.t0/partitions/-1/events',
        '/v1/topics/fz.t0/partitions/99999999999999999999/events',
        '/v1/topics/fz.t0/partitions/1e3/events',
        '/v1/topics/fz.t0/partitions/0x1/events',
        '/v1/topics/fz.t0/partitions/%20/events',
        '/v1/jobs/%00',
        '/v1/jobs/%ZZ/events',
        '/*',
        '/v1/queues?' + 'a=1&'.repeat(2000),
        '/' + 'x'.repeat(10_000),
        '/v1/events?from=-1',
        '/v1/events?from=99999999999999999999999',
      ),
    ],
  );
  return fc
    .record({
      path,
      method: fc.constantFrom(
        'GET',
        'POST',
        'PUT',
        'DELETE',
        'PATCH',
        'HEAD',
        'OPTIONS',
        'TRACE',
        'PROPFIND',
        'get',
        'G E T',
      ),
      body: weighted<Body>(
        [3, fc.constant<Body>({ kind: 'none' })],
        [
          1,
          fc
            .constantFrom(...nonJsonBodies)
            .map((text): Body => ({ kind: 'text', text, contentType: 'application/json' })),
        ],
      ),
      auth,
      transport: weighted<'http' | 'raw'>([2, fc.constant('http')], [1, fc.constant('raw')]),
      refSeed: fc.nat(),
    })
    .map((parts): RequestCase => ({
      kind: 'request',
      label: 'junk',
      mode: 'junk',
      mutation: `${parts.method} ${parts.path.slice(0, 60)}`,
      method: parts.method,
      segments: [{ text: parts.path.slice(1), raw: true }],
      query: [],
      headers: [],
      auth: parts.auth,
      body: parts.body,
      transport: parts.method.includes(' ') || /[^\x21-\x7e]/.test(parts.path) ? 'raw' : parts.transport,
      holdMs: 100,
      refSeed: parts.refSeed,
    }));
}

const scenario: fc.Arbitrary<ScenarioCase> = fc
  .record({
    name: fc.constantFrom<ScenarioName>('queue', 'queue', 'job', 'job-fail', 'topic', 'schedule'),
    variant: fc.nat({ max: 1000 }),
  })
  .map(({ name, variant }) => ({ kind: 'scenario', label: `scenario:${name}`, name, variant }));

/** One fuzz case: mostly single requests to each operation, valid or mutated; some junk and scenarios. */
export function fuzzCase(contract: Contract): fc.Arbitrary<FuzzCase> {
  const ops = contract.operations;
  return weighted<FuzzCase>(
    [35, fc.oneof(...ops.map((op) => requestFor(contract, op, 'valid')))],
    [50, fc.oneof(...ops.map((op) => requestFor(contract, op, 'mutated')))],
    [6, junk(contract)],
    [4, scenario],
  );
}
