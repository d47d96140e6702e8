/**
 * The table of routes and the scopes they need, generated from the routes themselves: every
 * route's `config.access` is recorded as the route is declared, and {@link renderScopeTable}
 * writes the Markdown table that src/server/README.md carries between the
 * {@link scopeTableStart} and {@link scopeTableEnd} markers. `npm run docs:scopes` rewrites it
 * there (scripts/scope-table.ts); test/e2e/scopes.test.ts fails while the README differs
 * from what the routes say, so the two cannot drift apart.
 */
import { accessScopes, type RouteAccess } from './auth.js';
import type { SpoolApp } from './context.js';

/** One route (one method of one path) and who may call it. */
export interface RouteAccessEntry {
  readonly method: string;
  /** The path as OpenAPI writes it: `/v1/queues/{name}`. */
  readonly path: string;
  readonly access: RouteAccess;
  /** Whether the route refuses Spool's own queue and topic names (`config.refuseReserved`). */
  readonly refusesReserved: boolean;
}

const recorded = new WeakMap<object, RouteAccessEntry[]>();

/**
 * Starts recording the routes declared on `app` from now on (call it before any route). HEAD
 * routes are left out: Fastify adds one beside each GET, with the same access.
 */
export function recordRouteAccess(app: SpoolApp): void {
  const entries: RouteAccessEntry[] = [];
  recorded.set(app, entries);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      entries.push({
        method,
        path: route.url.replace(/:(\w+)/g, '{$1}'),
        access: route.config?.access ?? 'public',
        refusesReserved: route.config?.refuseReserved !== undefined,
      });
    }
  });
}

/** The routes of `app` (built with `buildServer`) in the order they were declared. */
export function routeAccessList(app: SpoolApp): readonly RouteAccessEntry[] {
  const entries = recorded.get(app);
  if (!entries) throw new Error('this app was not built by buildServer: its routes were not recorded');
  return entries;
}

/** What a route needs, in words: `nothing`, `any token`, `` `admin` ``, `` `read` or `admin` ``. */
export function describeAccess(access: RouteAccess): string {
  const scopes = accessScopes(access);
  if (scopes === 'public') return 'nothing';
  if (scopes === 'token') return 'any token';
  return scopes.map((scope) => `\`${scope}\``).join(' or ');
}

/**
 * The Markdown table of `routes`, laid out as Prettier lays out tables: the route, what it needs,
 * and whether it refuses Spool's own names (`spool.…`, `jobs.…`) with 403 `SPOOL_RESERVED_NAME`.
 */
export function renderScopeTable(routes: readonly RouteAccessEntry[]): string {
  const rows = [
    ['route', 'needs', 'on `spool.…` and `jobs.…`'],
    ...routes.map((route) => [
      `\`${route.method} ${route.path}\``,
      describeAccess(route.access),
      route.refusesReserved ? '403 `SPOOL_RESERVED_NAME`' : '',
    ]),
  ];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  const [header, ...body] = rows;
  return [line(header!), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)].join('\n');
}

/** The markers around the generated table in src/server/README.md. */
export const scopeTableStart =
  "<!-- scope-table: generated from each route's config.access by `npm run docs:scopes`; do not edit by hand -->";
export const scopeTableEnd = '<!-- /scope-table -->';

/** The table between the markers of `markdown`; throws when the markers are missing. */
export function extractScopeTable(markdown: string): string {
  const start = markdown.indexOf(scopeTableStart);
  const end = markdown.indexOf(scopeTableEnd);
  if (start < 0 || end < start) {
    throw new Error(`the scope table markers (${scopeTableStart} … ${scopeTableEnd}) are missing`);
  }
  return markdown.slice(start + scopeTableStart.length, end).trim();
}

/** `markdown` with `table` between its markers. */
export function replaceScopeTable(markdown: string, table: string): string {
  const start = markdown.indexOf(scopeTableStart);
  const end = markdown.indexOf(scopeTableEnd);
  if (start < 0 || end < start) {
    throw new Error(`the scope table markers (${scopeTableStart} … ${scopeTableEnd}) are missing`);
  }
  return `${markdown.slice(0, start + scopeTableStart.length)}\n\n${table}\n\n${markdown.slice(end)}`;
}
