/**
 * Listening and stopping. `startServer` refuses to expose an open server: binding anything but a
 * loopback address requires API tokens. `close()` stops accepting connections, ends long polls at
 * once (they answer with what they have), lets in-flight requests finish for up to
 * `shutdownTimeoutMs`, then cuts the connections that remain. Closing the Spool is the caller's
 * job, after `close()` resolves, so no request is left using it.
 */
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../core/errors.js';
import { type BuildServerOptions, buildServer } from './app.js';
import type { AuthOptions } from './auth.js';
import type { SpoolApp } from './context.js';
import { defaultPort } from './default-port.js';

export interface StartServerOptions extends BuildServerOptions {
  /** The address to bind; anything but loopback needs `auth.tokens`. @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @defaultValue 7460 */
  port?: number;
  /** How long `close()` lets in-flight requests run before cutting connections. @defaultValue 10000 */
  shutdownTimeoutMs?: number;
}

export interface RunningServer {
  /** Where the server answers, e.g. `http://127.0.0.1:7460`. */
  readonly url: string;
  readonly app: SpoolApp;
  /** Stops the server (see the module notes); safe to call more than once. */
  close(): Promise<void>;
}

export { defaultPort };

/** Builds the server and listens. Rejects when the address is taken or the bind is refused. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  assertMayListen(host, options.auth);
  const app = await buildServer(options);
  // Fastify logs "Server listening at …" at info; the caller says where it listens (spool serve
  // prints one start line), so that line is skipped. Only the server's own logger is quietened.
  const level = app.log.level;
  app.log.level = levelAbove(level, 'info');
  try {
    await app.listen({ host, port: options.port ?? defaultPort });
  } catch (error) {
    await app.close();
    throw error;
  } finally {
    app.log.level = level;
  }
  const { port } = app.server.address() as AddressInfo;
  const url = `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  let closed: Promise<void> | undefined;
  return { url, app, close: () => (closed ??= closeWithin(app, shutdownTimeoutMs)) };
}

/** `level`, or `floor`'s next level up when `level` would let `floor` lines through. */
function levelAbove(level: string, floor: string): string {
  const order = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
  const at = order.indexOf(level);
  return at !== -1 && at <= order.indexOf(floor) ? order[order.indexOf(floor) + 1]! : level;
}

/** Throws `InvalidArgumentError` unless `host` is loopback or API tokens are configured. */
export function assertMayListen(host: string, auth: AuthOptions | undefined): void {
  if (isLoopback(host) || (auth?.tokens.length ?? 0) > 0) return;
  throw new InvalidArgumentError(
    `refusing to listen on ${host} without API tokens: anyone who can reach that address could read, send and delete messages. Configure tokens (--tokens or SPOOL_TOKENS, e.g. "secret1:produce,consume;secret2:admin"), or listen on 127.0.0.1 for local use.`,
    { field: 'host' },
  );
}

async function closeWithin(app: SpoolApp, timeoutMs: number): Promise<void> {
  const deadline = setTimeout(() => app.server.closeAllConnections(), timeoutMs);
  deadline.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(deadline);
  }
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  switch (isIP(host)) {
    case 4:
      return host.startsWith('127.');
    case 6:
      return host === '::1' || /^::ffff:127\./i.test(host);
    default:
      return false;
  }
}
