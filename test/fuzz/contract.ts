/**
 * The contract the fuzzer works from: the server's own `/openapi.json`, read into one
 * {@link Operation} per route and method, and a small JSON Schema checker for the keywords the
 * document uses (enough to hold 2xx answers to their documented schemas and problems to
 * `Problem`). Nothing here knows a route by name: a route added to the server is fuzzed as soon
 * as it appears in the document.
 */

/** A JSON Schema as the OpenAPI document carries it (TypeBox output: plain JSON). */
export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly allOf?: readonly JsonSchema[];
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly format?: string;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minProperties?: number;
  readonly maxProperties?: number;
  readonly $ref?: string;
  readonly default?: unknown;
  readonly description?: string;
}

export interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly required: boolean;
  readonly schema: JsonSchema;
}

export interface Operation {
  /** The operationId, or `METHOD path` when the route has none. */
  readonly id: string;
  readonly method: string;
  /** The OpenAPI path template, e.g. `/v1/queues/{name}/messages`. */
  readonly path: string;
  readonly params: readonly Parameter[];
  readonly body: JsonSchema | undefined;
  readonly bodyRequired: boolean;
  /** The documented answers by status (`200`, `4XX`, …): the JSON schema of each, if any. */
  readonly responses: ReadonlyMap<string, JsonSchema | undefined>;
  /** The scope the operation needs: `public` (no security), `read` (any token) or a scope. */
  readonly access: string;
  /** True for Server-Sent Events routes: the fuzzer reads them briefly, then hangs up. */
  readonly streaming: boolean;
}

export interface Contract {
  readonly operations: readonly Operation[];
  /** Resolves a `$ref` of the document, e.g. `#/components/schemas/Problem`. */
  resolve(schema: JsonSchema): JsonSchema;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, RawOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

interface RawOperation {
  operationId?: string;
  summary?: string;
  description?: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: JsonSchema }[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
  security?: { bearerAuth?: string[] }[];
}

const methods = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

/** Reads the operations of an OpenAPI 3.1 document. */
export function readContract(document: unknown): Contract {
  const doc = document as OpenApiDocument;
  const components = doc.components?.schemas ?? {};
  const resolve = (schema: JsonSchema): JsonSchema => {
    if (schema.$ref === undefined) return schema;
    const name = schema.$ref.replace(/^#\/components\/schemas\//, '');
    const target = components[name];
    if (!target) throw new Error(`unresolvable $ref ${schema.$ref} in /openapi.json`);
    return target;
  };
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      if (!methods.has(method)) continue;
      const text = `${raw.summary ?? ''} ${raw.description ?? ''}`;
      const security = raw.security ?? [];
      const scopes = security.flatMap((entry) => entry.bearerAuth ?? []);
      const responses = new Map<string, JsonSchema | undefined>();
      for (const [status, answer] of Object.entries(raw.responses ?? {})) {
        const content = answer.content ?? {};
        const media = content['application/json'] ?? content['application/problem+json'];
        responses.set(status.toUpperCase(), media?.schema);
      }
      operations.push({
        id: raw.operationId ?? `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        params: (raw.parameters ?? [])
          .filter((p) => p.in === 'path' || p.in === 'query' || p.in === 'header')
          .map((p) => ({
            name: p.name,
            in: p.in as Parameter['in'],
            required: p.required === true || p.in === 'path',
            schema: p.schema ?? {},
          })),
        body: raw.requestBody?.content?.['application/json']?.schema,
        bodyRequired: raw.requestBody?.required === true,
        responses,
        access: security.length === 0 ? 'public' : (scopes[0] ?? 'read'),
        streaming: /text\/event-stream|server-sent events/i.test(text),
      });
    }
  }
  return { operations, resolve };
}

/**
 * The places where `value` breaks `schema` (empty when it conforms), as `path: message`. Covers
 * the keywords of the document: type, properties/required/additionalProperties, items,
 * anyOf/oneOf/allOf, enum/const, numeric and length bounds, pattern, date-time and $ref.
 */
export function schemaErrors(
  contract: Contract,
  schema: JsonSchema | undefined,
  value: unknown,
  path = '',
): string[] {
  if (schema === undefined) return [];
  const s = contract.resolve(schema);
  const at = path || '(root)';
  if (s.anyOf || s.oneOf) {
    const variants = (s.anyOf ?? s.oneOf)!;
    const results = variants.map((variant) => schemaErrors(contract, variant, value, path));
    const passing = results.filter((errors) => errors.length === 0).length;
    if (passing === 0) {
      const best = results.reduce((a, b) => (b.length < a.length ? b : a));
      return [`${at}: matches no variant (closest: ${best.slice(0, 3).join('; ')})`];
    }
    if (s.oneOf && passing > 1) return [`${at}: matches ${passing} oneOf variants`];
  }
  for (const part of s.allOf ?? []) {
    const errors = schemaErrors(contract, part, value, path);
    if (errors.length > 0) return errors;
  }
  if (s.const !== undefined && JSON.stringify(s.const) !== JSON.stringify(value)) {
    return [`${at}: must be ${JSON.stringify(s.const)}`];
  }
  if (s.enum && !s.enum.some((item) => JSON.stringify(item) === JSON.stringify(value))) {
    return [`${at}: must be one of ${JSON.stringify(s.enum)}`];
  }
  if (s.type !== undefined) {
    const types = [s.type].flat();
    if (!types.some((type) => hasType(value, type))) {
      return [`${at}: must be ${types.join(' or ')}, is ${kindOf(value)}`];
    }
  }
  const errors: string[] = [];
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) errors.push(`${at}: below minimum ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum) errors.push(`${at}: above maximum ${s.maximum}`);
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (s.minLength !== undefined && length < s.minLength) errors.push(`${at}: shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && length > s.maxLength) errors.push(`${at}: longer than ${s.maxLength}`);
    if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(value)) {
      errors.push(`${at}: does not match ${s.pattern}`);
    }
    if (s.format === 'date-time' && !/^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)$/.test(value)) {
      errors.push(`${at}: not an RFC 3339 date-time`);
    }
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) errors.push(`${at}: fewer than ${s.minItems}`);
    if (s.maxItems !== undefined && value.length > s.maxItems) errors.push(`${at}: more than ${s.maxItems}`);
    if (s.items) {
      value.forEach((item, index) =>
        errors.push(...schemaErrors(contract, s.items, item, `${path}/${index}`)),
      );
    }
  }
  if (isObject(value)) {
    for (const name of s.required ?? []) {
      if (!(name in value)) errors.push(`${path}/${name}: is required`);
    }
    for (const [name, item] of Object.entries(value)) {
      const known = s.properties?.[name];
      if (known) errors.push(...schemaErrors(contract, known, item, `${path}/${name}`));
      else if (s.additionalProperties === false) errors.push(`${path}/${name}: is not documented`);
      else if (typeof s.additionalProperties === 'object') {
        errors.push(...schemaErrors(contract, s.additionalProperties, item, `${path}/${name}`));
      }
    }
  }
  return errors;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    default:
      return typeof value === type;
  }
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The problem `type` URI the server promises for a code (see src/server/problems.ts). */
export function problemTypeOf(code: string): string {
  return `https://spool.dev/problems/${code
    .replace(/^SPOOL_/, '')
    .toLowerCase()
    .replaceAll('_', '-')}`;
}
