/**
 * Bearer API tokens with scopes. Each route declares who may call it (`config.access`):
 *
 * | access    | needs                                   | used by                                    |
 * | --------- | --------------------------------------- | ------------------------------------------ |
 * | `produce` | a token with the `produce` scope        | send, publish                              |
 * | `consume` | a token with the `consume` scope        | receive, ack/nack/extend, poll, commit     |
 * | `admin`   | a token with the `admin` scope          | create/update/delete, purge, redrive, seek |
 * | `read`    | any valid token                         | GET routes (config, stats, browse, replay) |
 * | `public`  | nothing                                 | /healthz, /readyz, /openapi.json           |
 *
 * Scopes do not imply one another: a token has exactly the scopes listed for it. With no tokens
 * configured the server is open — which `startServer` allows only on a loopback address.
 *
 * Presented tokens are compared by their SHA-256 digest, so lookup time says nothing about how
 * much of a token an attacker guessed right.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { InvalidArgumentError } from '../core/errors.js';
import { HttpError, httpErrorCatalogue } from './problems.js';

/** The scopes a token can carry. */
export const scopes = ['produce', 'consume', 'admin'] as const;
export type Scope = (typeof scopes)[number];

/** Who may call a route: a token with a scope, any valid token (`read`), or anyone (`public`). */
export type RouteAccess = Scope | 'read' | 'public';

/** One API token and what it may do. */
export interface ApiToken {
  readonly token: string;
  readonly scopes: readonly Scope[];
}

export interface AuthOptions {
  /** Accepted tokens; an empty list leaves the server open (loopback only, see `startServer`). */
  readonly tokens: readonly ApiToken[];
}

/**
 * Parses the `SPOOL_TOKENS` / `--tokens` format: `token:scope,scope;token:scope`, e.g.
 * `tok1:produce,consume;tok2:admin`. Throws `InvalidArgumentError` saying which entry is wrong.
 */
export function parseTokenList(text: string): ApiToken[] {
  return text
    .split(';')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry, index) => {
      const separator = entry.lastIndexOf(':');
      const token = entry.slice(0, separator).trim();
      const listed = entry
        .slice(separator + 1)
        .split(',')
        .map((scope) => scope.trim());
      const unknown = listed.filter((scope) => !(scopes as readonly string[]).includes(scope));
      if (separator <= 0 || token === '' || listed.length === 0 || unknown.length > 0) {
        throw new InvalidArgumentError(
          `token entry ${index + 1} is invalid: write token:scope[,scope…] with scopes from ${scopes.join(', ')}, entries separated by ';'`,
          { field: 'tokens' },
        );
      }
      return { token, scopes: listed as Scope[] };
    });
}

/** Checks requests against the tokens; null when no tokens are configured (the server is open). */
export function createAuthenticator(
  options: AuthOptions | undefined,
): ((request: FastifyRequest) => void) | null {
  if (!options || options.tokens.length === 0) return null;
  const byDigest = new Map(options.tokens.map((entry) => [digest(entry.token), new Set(entry.scopes)]));
  return (request) => {
    const access = request.routeOptions.config.access ?? 'public';
    if (access === 'public') return;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    if (!match) {
      throw new HttpError(
        httpErrorCatalogue.UNAUTHORIZED,
        'send an API token as "Authorization: Bearer <token>"',
        { 'www-authenticate': 'Bearer realm="spool"' },
      );
    }
    const granted = byDigest.get(digest(match[1]!));
    if (!granted) {
      throw new HttpError(httpErrorCatalogue.UNAUTHORIZED, 'the API token is not valid', {
        'www-authenticate': 'Bearer realm="spool", error="invalid_token"',
      });
    }
    if (access !== 'read' && !granted.has(access)) {
      throw new HttpError(
        httpErrorCatalogue.FORBIDDEN,
        `this route needs a token with the "${access}" scope; this token has: ${[...granted].join(', ')}`,
        { 'www-authenticate': `Bearer realm="spool", error="insufficient_scope", scope="${access}"` },
        { requiredScope: access },
      );
    }
  };
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}
