/** Output helpers: human tables, JSON, compact previews of bodies. */

/** Writes a line to stdout. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a line to stderr (notes and hints that scripts reading stdout should not see). */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Writes `value` as indented JSON on stdout. */
export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/**
 * A plain-text table: upper-case headers, columns padded to their widest cell, two spaces
 * between columns. Cells are flattened to one line and cut at `maxCell` characters.
 */
export function table(
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
  maxCell = 60,
): string {
  const cells = [
    headers.map((h) => h.toUpperCase()),
    ...rows.map((row) => row.map((cell) => fit(cell, maxCell))),
  ];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Aligned `key: value` lines. */
export function fields(entries: ReadonlyArray<readonly [string, unknown]>): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return entries.map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${text(value)}`).join('\n');
}

/** A one-line preview of a message or event body. */
export function preview(item: { body?: unknown; bodyBase64?: string | undefined }): string {
  if (item.bodyBase64 !== undefined) return `<${Buffer.from(item.bodyBase64, 'base64').length} bytes>`;
  return item.body === undefined ? '-' : JSON.stringify(item.body);
}

/** A value as text: strings as they are, null/undefined as '-', the rest as JSON. */
export function text(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** A duration in ms as a short human string (850ms, 12s, 3m 4s, 2h 5m, 7d, 1d 6h). */
export function duration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  const hours = Math.floor((s % 86_400) / 3600);
  return `${Math.floor(s / 86_400)}d${hours === 0 ? '' : ` ${hours}h`}`;
}

function fit(value: unknown, max: number): string {
  const line = text(value).replace(/\s*\n\s*/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
