import { InvalidArgumentError } from './errors.js';

/**
 * Queue, topic and group names: 1–200 characters of letters, digits, `.`, `_`, `-` and `:`.
 * They appear in URLs, metric labels and file names, so nothing that needs escaping is allowed —
 * and `.` and `..` alone are refused: in a URL path they are the current and parent directory,
 * which every HTTP client and proxy rewrites, so such a queue could never be reached over HTTP.
 */
export const namePatternSource = '^(?!\\.{1,2}$)[A-Za-z0-9._:-]+$';
const namePattern = new RegExp(namePatternSource);
const nameRule = "use 1-200 characters of letters, digits, '.', '_', '-' or ':' (not '.' or '..' alone)";

export function validateName(
  kind: 'queue' | 'topic' | 'group' | 'consumer' | 'job type',
  name: unknown,
): string {
  if (typeof name !== 'string' || name.length > 200 || !namePattern.test(name)) {
    throw new InvalidArgumentError(`${kind} name ${JSON.stringify(name)} is invalid: ${nameRule}`, {
      field: kind === 'job type' ? 'type' : kind,
    });
  }
  return name;
}
