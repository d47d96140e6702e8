/**
 * The error tables of the docs, generated from the error catalogue (`errorCatalogue` in
 * src/core/errors.ts): README.md's table of codes and its table of the CLI's exit codes, and the
 * status table of src/server/README.md. Each sits between a pair of marker comments;
 * `npm run docs:errors` (scripts/error-table.ts) rewrites them, and test/docs/error-tables.test.ts
 * fails while a README differs from the catalogue, so the two cannot drift apart.
 */
import { httpErrorClassFor, SpoolHttpError } from '../src/client/errors.js';
import { type ErrorSpec, errorCatalogue, type ExitCode, exitCodeMeanings } from '../src/core/errors.js';

/** A generated block of a Markdown file: where it lives and what it should say. */
export interface GeneratedTable {
  /** The file, relative to the repository root. */
  readonly file: string;
  /** The name in its markers: `<!-- name: … -->` and `<!-- /name -->`. */
  readonly name: string;
  /** The table, as the catalogue says it now. */
  readonly render: () => string;
}

const specs: readonly ErrorSpec[] = Object.values(errorCatalogue);
const code = (text: string) => `\`${text}\``;

/**
 * The class a reader catches for `spec`: its own, or for a code only the server raises, the
 * spool/client class it arrives as.
 */
export function errorClassOf(spec: ErrorSpec): string {
  if (spec.className) return code(spec.className);
  if (spec.answeredByServer) {
    const client = httpErrorClassFor(spec.code);
    return `${code(client === SpoolHttpError ? 'SpoolHttpError' : client.name)} (client)`;
  }
  return code('SpoolError');
}

/** README.md's table: code, class, HTTP status, retryable, exit code and when it happens. */
export function renderErrorTable(): string {
  return markdownTable([
    ['code', 'class', 'HTTP', 'retryable', 'exit', 'when'],
    ...specs.map((spec) => [
      code(spec.code),
      errorClassOf(spec),
      spec.answeredByServer ? String(spec.httpStatus) : '—',
      spec.retryable ? 'yes' : 'no',
      String(spec.exitCode),
      spec.description,
    ]),
  ]);
}

/** README.md's table of the CLI's exit codes, with the error codes that lead to each. */
export function renderExitCodeTable(): string {
  const exits = Object.keys(exitCodeMeanings).map(Number) as ExitCode[];
  return markdownTable([
    ['exit', 'meaning', 'codes'],
    ...exits.map((exit) => [
      String(exit),
      exitCodeMeanings[exit],
      specs
        .filter((spec) => spec.exitCode === exit)
        .map((spec) => code(spec.code))
        .join(', '),
    ]),
  ]);
}

/** src/server/README.md's table: each status the server answers with and its codes. */
export function renderStatusTable(): string {
  const served = specs.filter((spec) => spec.answeredByServer);
  const statuses = [...new Set(served.map((spec) => spec.httpStatus))].sort((a, b) => a - b);
  return markdownTable([
    ['status', 'codes'],
    ...statuses.map((status) => [
      String(status),
      served
        .filter((spec) => spec.httpStatus === status)
        .map((spec) => (spec.httpNote ? `${code(spec.code)} (${spec.httpNote})` : code(spec.code)))
        .join(', '),
    ]),
  ]);
}

/** Every generated table, with the file it belongs in. */
export const errorTables: readonly GeneratedTable[] = [
  { file: 'README.md', name: 'error-table', render: renderErrorTable },
  { file: 'README.md', name: 'exit-code-table', render: renderExitCodeTable },
  { file: 'src/server/README.md', name: 'error-status-table', render: renderStatusTable },
];

/** The opening marker of the table `name`. */
export function startMarker(name: string): string {
  return `<!-- ${name}: generated from errorCatalogue in src/core/errors.ts by \`npm run docs:errors\`; do not edit by hand -->`;
}

/** The closing marker of the table `name`. */
export function endMarker(name: string): string {
  return `<!-- /${name} -->`;
}

function bounds(markdown: string, name: string): { start: number; end: number } {
  const start = markdown.indexOf(startMarker(name));
  const end = markdown.indexOf(endMarker(name));
  if (start < 0 || end < start) {
    throw new Error(`the ${name} markers (${startMarker(name)} … ${endMarker(name)}) are missing`);
  }
  return { start: start + startMarker(name).length, end };
}

/** The table between the markers `name` of `markdown`; throws when the markers are missing. */
export function extractTable(markdown: string, name: string): string {
  const { start, end } = bounds(markdown, name);
  return markdown.slice(start, end).trim();
}

/** `markdown` with `table` between its markers `name`. */
export function replaceTable(markdown: string, name: string, table: string): string {
  const { start, end } = bounds(markdown, name);
  return `${markdown.slice(0, start)}\n\n${table}\n\n${markdown.slice(end)}`;
}

/** A Markdown table laid out as Prettier lays tables out (columns padded to their widest cell). */
function markdownTable(rows: ReadonlyArray<readonly string[]>): string {
  const columns = rows[0]!.length;
  const widths = Array.from({ length: columns }, (_, column) =>
    Math.max(3, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  const [header, ...body] = rows;
  return [line(header!), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)].join('\n');
}
