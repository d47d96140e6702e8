// `npm start`: runs `spool serve` from dist/, building first only when the sources changed since
// the last build — src/, web/, the tsconfig files or the dashboard build script are newer than
// dist/cli/main.js or dist/dashboard/index.html (or those are missing). Arguments are passed to
// `spool serve`: npm start -- --port 8080.
//
// The server runs in this process (the built CLI is imported, not spawned), so a signal sent to
// it — by npm, which forwards SIGTERM and SIGINT to its script, by a process manager or by Ctrl-C —
// reaches the server itself and nothing is left running. package.json runs this script as the
// only command, so the shell npm starts it with execs it instead of waiting on it.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const inputs = [
  'src',
  'web',
  'tsconfig.json',
  'tsconfig.build.json',
  'web/tsconfig.json',
  'scripts/build-dashboard.mjs',
];
const outputs = ['dist/cli/main.js', 'dist/dashboard/index.html'];

/** The newest modification time under `path` (0 if it does not exist). */
function newest(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules') continue;
    latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

const sources = Math.max(...inputs.map((path) => newest(join(root, path))));
const built = Math.min(
  ...outputs.map((path) => statSync(join(root, path), { throwIfNoEntry: false })?.mtimeMs ?? 0),
);

if (sources > built) {
  process.stderr.write(
    built === 0
      ? 'spool: building (no build yet)…\n'
      : 'spool: building (sources changed since the last build)…\n',
  );
  const started = new Date();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`spool: the build failed (exit ${result.status ?? result.signal}); not starting\n`);
    process.exit(1);
  }
  // The build is as new as its sources when it started: a file saved during the build is seen
  // as newer next time.
  for (const path of outputs) utimesSync(join(root, path), started, started);
}

const main = join(root, 'dist', 'cli', 'main.js');
process.argv = [process.argv[0], main, 'serve', ...process.argv.slice(2)];
await import(pathToFileURL(main).href);
