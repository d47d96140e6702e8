/** Versions of the installed client packages, for the report. */
import { existsSync, readFileSync } from 'node:fs';

/** Where the harness's packages are installed: the anchors' own (bench/anchors), then Spool's. */
const installs = ['../anchors/node_modules/', '../../node_modules/'];

/** The version in `node_modules/<name>/package.json` of this checkout. */
export function packageVersion(name: string): string {
  for (const install of installs) {
    const url = new URL(`${install}${name}/package.json`, import.meta.url);
    if (existsSync(url)) return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  }
  throw new Error(`package ${name} is not installed (for the anchors: npm run bench:setup)`);
}
