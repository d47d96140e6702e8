/**
 * The web dashboard at `/`: the static bundle `scripts/build-dashboard.mjs` writes to
 * `dist/dashboard/` (`npm run build`). The page itself needs no token — it holds no data; it asks
 * the operator for one when the API answers 401 and sends it with its API calls.
 *
 * The dashboard routes with the History API (`/queues/orders/dlq`), so any other GET answers
 * `index.html` (the SPA fallback) — except a top-level file name (`/favicon.ico`: the bundle's
 * files are all top-level) and the API's own paths (`/v1`, `/metrics`, `/openapi.json`, …),
 * where an unknown route stays a problem+json 404.
 * Hashed bundle files are cached for good; `index.html` is revalidated on every load, so a new
 * build shows up at the next reload. None of these routes is in the OpenAPI document.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RouteModule } from '../context.js';
import { errorCatalogue } from '../../core/errors.js';
import { HttpError } from '../problems.js';

/**
 * Where the built dashboard is read from: `dist/dashboard/` of the package, whether this module
 * runs from `src/server/routes/` (tsx) or `dist/server/routes/` (built) — both are three levels
 * below the package root.
 */
export const dashboardDir = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'dist',
  'dashboard',
);

/** Paths of the server itself: never answered with the dashboard page. */
const serverPaths = ['/v1', '/metrics', '/openapi.json', '/asyncapi.json', '/healthz', '/readyz'];

/** Files named by their content hash (`app-4F2KQ7ZB.js`): their content never changes. */
const hashedFile = /-[A-Z0-9]{8}\.(?:js|css)$/;

/** The page is a script and a stylesheet of our own origin, calling our own API: nothing else. */
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const dashboardRoutes: RouteModule = (app) => {
  void app.register(async (scope) => {
    // Only the reply.sendFile decorator: which file answers which path is decided below.
    await scope.register(fastifyStatic, { serve: false });
    const route = { schema: { hide: true }, config: { access: 'public' as const } };

    scope.get('/', route, (request, reply) => sendPage(request, reply));

    scope.get('/*', route, (request, reply) => {
      const path = request.url.split('?')[0] ?? '/';
      if (serverPaths.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) {
        return reply.callNotFound();
      }
      const file = (request.params as { '*': string })['*'];
      // The bundle's files sit at the top level; screens are deeper or have no dot
      // (`/queues/orders.events`). A top-level name with a dot asks for a file: a 404 if absent.
      if (!file.includes('/') && file.includes('.') && file !== 'index.html') {
        reply.header('x-content-type-options', 'nosniff');
        // Dot files are a build's temporary files: never served.
        const cache = hashedFile.test(file) ? { maxAge: '365d', immutable: true } : { maxAge: 0 };
        return reply.sendFile(file, dashboardDir, { ...cache, dotfiles: 'ignore' });
      }
      return sendPage(request, reply);
    });
  });
};

function sendPage(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (!existsSync(join(dashboardDir, 'index.html'))) {
    throw new HttpError(
      errorCatalogue.ROUTE_NOT_FOUND,
      `the dashboard is not built: run "npm run build" (or "node scripts/build-dashboard.mjs"), then reload ${request.url}`,
    );
  }
  return reply
    .headers({
      'content-security-policy': contentSecurityPolicy,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cache-control': 'no-cache',
    })
    .sendFile('index.html', dashboardDir, { cacheControl: false });
}
