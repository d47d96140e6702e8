/**
 * `spool/server`: the HTTP server `spool serve` runs, for an application that starts it in its
 * own process (with its own `Jobs`, `Webhooks` and workflow definitions beside it).
 */
export { startServer, defaultPort, type StartServerOptions, type RunningServer } from './serve.js';
export { buildServer, type BuildServerOptions } from './app.js';
