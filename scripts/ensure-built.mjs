// Builds dist/ (`npm run build`) when it is missing or older than its sources: src/, web/, the
// tsconfig files or the dashboard build script newer than dist/cli/main.js or
// dist/dashboard/index.html. `npm start`, `npm test` and the benchmarks run the compiled package,
// as a user's `npx spool` does, and each gets what was last edited without a step to remember.
//
//   node scripts/ensure-built.mjs      (exits 1 if the build fails)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/**
 * Runs the build if dist/ is missing or older than a source; returns false if the build failed.
 * Progress goes to stderr, prefixed with `label`.
 */
export function ensureBuilt(label = 'spool') {
  const sources = Math.max(...inputs.map((path) => newest(join(root, path))));
  const built = Math.min(
    ...outputs.map((path) => statSync(join(root, path), { throwIfNoEntry: false })?.mtimeMs ?? 0),
  );
  if (sources <= built) return true;
  process.stderr.write(
    built === 0
      ? `${label}: building (no build yet)…\n`
      : `${label}: building (sources changed since the last build)…\n`,
  );
  const started = new Date();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`${label}: the build failed (exit ${result.status ?? result.signal})\n`);
    return false;
  }
  // The build is as new as its sources when it started: a file saved during the build is seen
  // as newer next time.
  for (const path of outputs) utimesSync(join(root, path), started, started);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exit(ensureBuilt() ? 0 : 1);
}
