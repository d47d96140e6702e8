/**
 * The durability tests start a child process per cycle (a worker, a client, `spool serve`), dozens
 * of times. Through tsx each start transforms the sources again (about 2 s of CPU on the CI
 * machine); one esbuild bundle per test run (packages left external, so node_modules and
 * better-sqlite3's addon are the installed ones) starts in a quarter of that.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '../..');

const made = new Set<string>();
process.once('exit', () => {
  for (const file of made) rmSync(file, { force: true });
});

/**
 * Bundles `entry` (relative to the repository) into `.tmp/durability/<name>-<pid>.mjs` (removed
 * when this process exits) and returns its path. The bundle sits two folders below the
 * repository, like src/cli/main.ts and dist/cli/main.js, so their `../../package.json` still
 * resolves.
 */
export async function bundle(entry: string, name: string): Promise<string> {
  const outDir = join(root, '.tmp/durability');
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${name}-${process.pid}.mjs`);
  made.add(outfile);
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  return outfile;
}
