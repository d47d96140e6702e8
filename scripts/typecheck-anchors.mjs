// Typechecks bench/anchors, the benchmark's adapters for the systems Spool is measured against.
// Their client libraries are a package of their own (npm run bench:setup): without them the
// check is skipped with a note on a developer's machine, and fails in CI, which installs them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync('bench/anchors/node_modules')) {
  if (process.env.CI) {
    console.error('bench/anchors is not installed: CI must run npm run bench:setup before the typecheck');
    process.exit(1);
  }
  console.error('typecheck: bench/anchors skipped (run npm run bench:setup to check it too)');
  process.exit(0);
}
const result = spawnSync('npx', ['tsc', '-p', 'bench/anchors/tsconfig.json'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
