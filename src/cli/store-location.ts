/**
 * Where the CLI's store lives: `--store <url>` when given, else `<--data dir>/spool.db`. Only the
 * embedded SQLite store exists so far; other URLs are refused with a message that says so.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../core/errors.js';

/** The SQLite file (or `:memory:`) for `--store` / `--data`. */
export function resolveStorePath(options: { data: string; store?: string | undefined }): string {
  const { store } = options;
  if (store === undefined) return join(options.data, 'spool.db');
  if (/^postgres(ql)?:\/\//i.test(store)) {
    throw new InvalidArgumentError(
      'the PostgreSQL store is not supported by the CLI yet; use the embedded store (--data <dir>) for now',
      { field: 'store' },
    );
  }
  if (/^sqlite:/i.test(store)) {
    // sqlite:relative/path.db, sqlite:///absolute/path.db, sqlite::memory:
    const rest = store.slice('sqlite:'.length);
    return rest.startsWith('//') ? rest.slice(2) : rest;
  }
  if (/^file:/i.test(store)) return fileURLToPath(store);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(store)) {
    throw new InvalidArgumentError(
      `unsupported store "${store}": use sqlite:<path> or a file path (PostgreSQL support is coming)`,
      { field: 'store' },
    );
  }
  return store;
}
