/**
 * The route → scope table of src/server/README.md, generated from the routes themselves: builds
 * the server (on an in-memory store), takes every route's `config.access` as declared, and
 * writes the table between its markers in the README.
 *
 *   npm run docs:scopes            rewrite the table (after changing a route's access)
 *   npm run docs:scopes -- --check exit 1 when the README's table differs from the routes
 *
 * test/e2e/scope-table.test.ts makes the same check in the suite.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openSpool } from '../src/open-spool.js';
import { buildServer } from '../src/server/app.js';
import {
  extractScopeTable,
  renderScopeTable,
  replaceScopeTable,
  routeAccessList,
} from '../src/server/scope-table.js';

const readme = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'server', 'README.md');

/** The table the routes declare now. */
async function generatedScopeTable(): Promise<string> {
  const spool = await openSpool({ path: ':memory:' });
  try {
    const app = await buildServer({ spool });
    try {
      await app.ready();
      return renderScopeTable(routeAccessList(app));
    } finally {
      await app.close();
    }
  } finally {
    await spool.close();
  }
}

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
const table = await generatedScopeTable();
const markdown = readFileSync(readme, 'utf8');
if (values.check) {
  if (extractScopeTable(markdown) !== table) {
    console.error('src/server/README.md: the scope table differs from the routes; run npm run docs:scopes');
    process.exit(1);
  }
  console.log('src/server/README.md: the scope table matches the routes');
} else {
  const updated = replaceScopeTable(markdown, table);
  if (updated !== markdown) writeFileSync(readme, updated);
  console.log(
    `src/server/README.md: scope table ${updated === markdown ? 'already up to date' : 'rewritten'}`,
  );
}
