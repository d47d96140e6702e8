/**
 * The error tables of README.md and src/server/README.md, generated from the error catalogue
 * (`errorCatalogue` in src/core/errors.ts) and written between their markers.
 *
 *   npm run docs:errors            rewrite the tables (after changing the catalogue)
 *   npm run docs:errors -- --check exit 1 when a README's table differs from the catalogue
 *
 * test/docs/error-tables.test.ts makes the same check in the suite.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { errorTables, extractTable, replaceTable } from './error-table-markdown.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });

let stale = false;
for (const { file, name, render } of errorTables) {
  const path = join(root, file);
  const markdown = readFileSync(path, 'utf8');
  const table = render();
  if (values.check) {
    const matches = extractTable(markdown, name) === table;
    stale ||= !matches;
    if (matches) console.log(`${file}: the ${name} matches the catalogue`);
    else console.error(`${file}: the ${name} differs from the catalogue; run npm run docs:errors`);
  } else {
    const updated = replaceTable(markdown, name, table);
    if (updated !== markdown) writeFileSync(path, updated);
    console.log(`${file}: ${name} ${updated === markdown ? 'already up to date' : 'rewritten'}`);
  }
}
if (stale) process.exitCode = 1;
