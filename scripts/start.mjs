// `npm start`: runs `spool serve` from dist/, building first only when the sources changed since
// the last build (scripts/ensure-built.mjs). Arguments are passed to
// `spool serve`: npm start -- --port 8080.
//
// The server runs in this process (the built CLI is imported, not spawned), so a signal sent to
// it — by npm, which forwards SIGTERM and SIGINT to its script, by a process manager or by Ctrl-C —
// reaches the server itself and nothing is left running. package.json runs this script as the
// only command, so the shell npm starts it with execs it instead of waiting on it.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureBuilt } from './ensure-built.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!ensureBuilt()) {
  process.stderr.write('spool: not starting\n');
  process.exit(1);
}

const main = join(root, 'dist', 'cli', 'main.js');
process.argv = [process.argv[0], main, 'serve', ...process.argv.slice(2)];
await import(pathToFileURL(main).href);
