/** Versions of the installed client packages, for the report. */
import { readFileSync } from 'node:fs';

/** The version in `node_modules/<name>/package.json` of this checkout. */
export function packageVersion(name: string): string {
  const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}
