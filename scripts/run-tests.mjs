// Runs every test/**/*.test.ts file with Node's own test runner (TypeScript through tsx), after
// building dist/ if it is missing or older than its sources.
// Node 20's `--test` does not expand globs itself, so the file list is built here.
// The timeout also bounds each file as a whole: the multi-process PostgreSQL files need minutes
// on a busy machine.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt } from './ensure-built.mjs';

function collect(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return collect(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = collect('test')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(2);
}
// The docs' examples, the CLI's tests and the benchmark harness's test run the compiled package.
if (!ensureBuilt('npm test')) process.exit(1);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
