/**
 * Request validation with TypeBox: the route schemas that feed the OpenAPI document are the ones
 * that check requests, compiled once per route.
 *
 * Bodies are checked as sent (no type coercion: `"5"` is not a number, and unknown fields are
 * refused rather than silently dropped, so a misspelt option cannot fall back to its default).
 * Query strings, path parameters and headers are text by nature and are converted to the
 * schema's types first. A missing body is checked as `{}`, so POSTs whose fields are all optional
 * (purge, redrive) need no body at all.
 *
 * Errors are reported per field. For a union (one message or a batch; a seek position) the
 * complaints come from the variant the value most resembles, not from every variant at once.
 */
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';

// TypeBox checks formats only when registered; these are the ones our schemas use.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set(
    'date-time',
    (value) => /^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(Date.parse(value)),
  );
}

/** Fastify's validator compiler for TypeBox route schemas. */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  const convert = httpPart !== 'body';
  return (input: unknown) => {
    const value = convert ? Value.Convert(schema, input) : (input ?? {});
    if (check.Check(value)) return { value };
    return { error: describeErrors([...check.Errors(value)]) };
  };
};

/** Errors as Fastify carries them; `instancePath` is a JSON pointer into the checked part. */
function describeErrors(errors: readonly ValueError[]): FastifySchemaValidationError[] {
  const byPath = new Map<string, FastifySchemaValidationError>();
  for (const error of flatten(errors)) {
    // TypeBox reports a missing property twice (required, then its type): keep the first.
    if (!byPath.has(error.path)) {
      byPath.set(error.path, {
        keyword: ValueErrorType[error.type],
        instancePath: error.path,
        schemaPath: '',
        params: {},
        message: messageFor(error),
      });
    }
  }
  return [...byPath.values()];
}

function* flatten(errors: readonly ValueError[]): Generator<ValueError> {
  for (const error of errors) {
    if (error.type !== ValueErrorType.Union || error.errors.length === 0) {
      yield error;
      continue;
    }
    const variants = error.errors.map((iterator) => [...iterator]);
    const best = closestVariant(error.path, variants);
    if (best === undefined) yield { ...error, message: unionMessage(error.schema) };
    else yield* flatten(best);
  }
}

const kindErrors = new Set<ValueErrorType>([
  ValueErrorType.Array,
  ValueErrorType.Boolean,
  ValueErrorType.Integer,
  ValueErrorType.Literal,
  ValueErrorType.Null,
  ValueErrorType.Number,
  ValueErrorType.Object,
  ValueErrorType.String,
  ValueErrorType.Undefined,
]);
const shapeErrors = new Set<ValueErrorType>([
  ValueErrorType.ObjectRequiredProperty,
  ValueErrorType.ObjectAdditionalProperties,
]);

/**
 * The variant whose errors suggest the caller meant it: the value has its kind (an object for an
 * object variant), then the fewest missing or unknown properties at its top level, then the fewest
 * errors overall. Undefined when the value has the kind of no variant: the union's own message
 * (what kinds are accepted) says more than any variant's.
 */
function closestVariant(path: string, variants: ValueError[][]): ValueError[] | undefined {
  const fieldDepth = path.split('/').length + 1;
  const score = (errors: ValueError[]) => [
    errors.filter((error) => error.path === path && kindErrors.has(error.type)).length,
    errors.filter((error) => shapeErrors.has(error.type) && error.path.split('/').length === fieldDepth)
      .length,
    errors.length,
  ];
  let best: { errors: ValueError[]; score: number[] } | undefined;
  for (const errors of variants) {
    const candidate = { errors, score: score(errors) };
    if (!best || compare(candidate.score, best.score) < 0) best = candidate;
  }
  return best && best.score[0] === 0 ? best.errors : undefined;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function unionMessage(schema: TSchema): string {
  const variants = (schema.anyOf as TSchema[] | undefined) ?? [];
  const kinds = variants.map((variant) =>
    'const' in variant ? JSON.stringify(variant.const) : String(variant.type ?? 'value'),
  );
  return `must be one of: ${[...new Set(kinds)].join(', ')}`;
}

function messageFor(error: ValueError): string {
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'is not a known field';
    default:
      return error.message;
  }
}
