/**
 * Where the CLI's store lives: `--store <url>` when given (a PostgreSQL URL, `sqlite:<path>` or a
 * file path), else `<--data dir>/spool.db`. Other URLs are refused with a message that says so.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../core/errors.js';

/** A store to open: an embedded SQLite file, or a PostgreSQL database. */
export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** Where `--store` / `--data` point. */
export function resolveStore(options: { data: string; store?: string | undefined }): StoreLocation {
  const { store } = options;
  if (store !== undefined && /^postgres(ql)?:\/\//i.test(store)) return { kind: 'postgres', url: store };
  return { kind: 'sqlite', path: resolveStorePath(options) };
}

/** The SQLite file (or `:memory:`) for `--store` / `--data`. */
export function resolveStorePath(options: { data: string; store?: string | undefined }): string {
  const { store } = options;
  if (store === undefined) return join(options.data, 'spool.db');
  if (/^sqlite:/i.test(store)) {
    // sqlite:relative/path.db, sqlite:///absolute/path.db, sqlite::memory:
    const rest = store.slice('sqlite:'.length);
    return rest.startsWith('//') ? rest.slice(2) : rest;
  }
  if (/^file:/i.test(store)) return fileURLToPath(store);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(store)) {
    throw new InvalidArgumentError(
      `unsupported store "${store}": use postgres://…, sqlite:<path> or a file path`,
      { field: 'store' },
    );
  }
  return store;
}
