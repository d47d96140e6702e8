import { InvalidArgumentError } from './errors.js';

/**
 * Queue, topic and group names: 1–200 characters of letters, digits, `.`, `_`, `-` and `:`.
 * They appear in URLs, metric labels and file names, so nothing that needs escaping is allowed.
 */
const namePattern = /^[A-Za-z0-9._:-]{1,200}$/;

export function validateName(
  kind: 'queue' | 'topic' | 'group' | 'consumer' | 'job type',
  name: unknown,
): string {
  if (typeof name !== 'string' || !namePattern.test(name)) {
    throw new InvalidArgumentError(
      `${kind} name ${JSON.stringify(name)} is invalid: use 1-200 characters of letters, digits, '.', '_', '-' or ':'`,
      { field: kind === 'job type' ? 'type' : kind },
    );
  }
  return name;
}
