// Builds the web dashboard (web/) into dist/dashboard/: one JS and one CSS file named by their
// content hash (so the server can let browsers cache them forever) and index.html, written last.
// Every file is written to a temporary name and renamed into place, so a server reading the
// folder while a build runs (or two builds running at once, as parallel test files may) never
// sees a half-written file. Works offline: everything the page needs is in the bundle.
//
// Usage: node scripts/build-dashboard.mjs [--dev]   (--dev: no minification, inline source maps)
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the bundle goes unless told otherwise. */
export const defaultDashboardDir = join(root, 'dist', 'dashboard');

/**
 * Bundles the dashboard.
 * @param {{ outDir?: string, dev?: boolean }} [options]
 * @returns {Promise<{ outDir: string, files: string[] }>} the folder and the file names written
 */
export async function buildDashboard(options = {}) {
  const outDir = options.outDir ?? defaultDashboardDir;
  const dev = options.dev ?? false;
  const result = await build({
    absWorkingDir: root,
    entryPoints: { app: 'web/src/main.tsx' },
    bundle: true,
    write: false,
    outdir: outDir,
    entryNames: '[name]-[hash]',
    format: 'esm',
    platform: 'browser',
    // Browsers from 2022 on (Array.prototype.at and findLast are used as is).
    target: ['es2022', 'chrome105', 'firefox104', 'safari15.4'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: !dev,
    sourcemap: dev ? 'inline' : false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': JSON.stringify(dev ? 'development' : 'production') },
  });
  await mkdir(outDir, { recursive: true });

  const written = [];
  let script = '';
  let stylesheet = '';
  for (const file of result.outputFiles) {
    const name = basename(file.path);
    if (name.endsWith('.js')) script = name;
    else if (name.endsWith('.css')) stylesheet = name;
    await writeAtomically(join(outDir, name), file.contents);
    written.push(name);
  }
  if (script === '' || stylesheet === '') throw new Error('the dashboard bundle lacks its JS or CSS file');

  const template = await readFile(join(root, 'web', 'index.html'), 'utf8');
  const html = template
    .replace('%STYLESHEET%', `/${stylesheet}`)
    .replace('%SCRIPT%', `/${script}`)
    .replace(
      '%BUILD%',
      createHash('sha256')
        .update(script + stylesheet)
        .digest('hex')
        .slice(0, 12),
    );
  await writeAtomically(join(outDir, 'index.html'), html);
  written.push('index.html');

  // Bundles of earlier builds are no longer referenced; temporary files of a build running
  // concurrently are left alone.
  for (const name of await readdir(outDir)) {
    if (!written.includes(name) && !name.startsWith('.tmp-')) await rm(join(outDir, name), { force: true });
  }
  return { outDir, files: written };
}

async function writeAtomically(path, contents) {
  const temporary = join(dirname(path), `.tmp-${randomBytes(6).toString('hex')}-${basename(path)}`);
  await writeFile(temporary, contents);
  await rename(temporary, path);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const { outDir, files } = await buildDashboard({ dev: process.argv.includes('--dev') });
  const ms = Math.round(performance.now() - started);
  console.log(`dashboard built in ${ms} ms: ${files.join(', ')} → ${outDir}`);
}
