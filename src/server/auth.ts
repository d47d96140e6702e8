/**
 * Bearer API tokens with scopes. Each route declares who may call it (`config.access`):
 *
 * | access    | needs                                   | used by                                    |
 * | --------- | --------------------------------------- | ------------------------------------------ |
 * | `produce` | a token with the `produce` scope        | send, publish                              |
 * | `consume` | a token with the `consume` scope        | receive, ack/nack/extend, poll, commit     |
 * | `admin`   | a token with the `admin` scope          | create/update/delete, purge, redrive, seek |
 * | `read`    | any valid token, even one with no scope | GET routes (config, stats, browse, replay, |
 * |           |                                         | events) and `/metrics`                     |
 * | `public`  | nothing                                 | /healthz, /readyz, /openapi.json           |
 *
 * Scopes do not imply one another: a token has exactly the scopes listed for it, possibly none (a
 * read-only token, e.g. for Prometheus scraping `/metrics`). With no tokens configured the server
 * is open — which `startServer` allows only on a loopback address.
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
 * `tok1:produce,consume;tok2:admin;prom:`. A token with nothing after its `:` has no scope: it may
 * only read (`read` routes: every GET under `/v1`, and `/metrics`), which is what a Prometheus
 * scraper needs. Throws `InvalidArgumentError` saying which entry is wrong and how to fix it; the
 * message never repeats a token.
 */
export function parseTokenList(text: string): ApiToken[] {
  const syntax = `write token:scope[,scope…] with scopes from ${scopes.join(', ')}, or "token:" for a token that may only read; separate entries with ';'`;
  const seen = new Map<string, number>();
  return text
    .split(';')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry, index) => {
      const invalid = (problem: string) =>
        new InvalidArgumentError(`--tokens / SPOOL_TOKENS: token entry ${index + 1} ${problem}: ${syntax}`, {
          field: 'tokens',
        });
      const separator = entry.lastIndexOf(':');
      if (separator < 0) throw invalid('has no ":" after the token');
      const token = entry.slice(0, separator).trim();
      if (token === '') {
        throw invalid('has no token before its ":" (is the variable that should hold it empty?)');
      }
      if (/\s/.test(token)) {
        throw invalid('contains whitespace, which a token sent as "Authorization: Bearer <token>" cannot');
      }
      const scopeText = entry.slice(separator + 1).trim();
      const listed = scopeText === '' ? [] : scopeText.split(',').map((scope) => scope.trim());
      if (listed.includes('')) throw invalid('has an empty scope between commas');
      // Named by position, not repeated: a token and its scopes written the wrong way round would
      // otherwise put the token in the message.
      const unknown = listed.findIndex((scope) => !(scopes as readonly string[]).includes(scope));
      if (unknown >= 0) throw invalid(`has an unknown scope (the ${ordinal(unknown + 1)} after its ":")`);
      const earlier = seen.get(token);
      if (earlier !== undefined) {
        throw invalid(`repeats the token of entry ${earlier}; list each token once, with all its scopes`);
      }
      seen.set(token, index + 1);
      return { token, scopes: [...new Set(listed)] as Scope[] };
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
        granted.size === 0
          ? `this route needs a token with the "${access}" scope; this token has no scope, so it may only read (GET routes and /metrics)`
          : `this route needs a token with the "${access}" scope; this token has: ${[...granted].join(', ')}`,
        { 'www-authenticate': `Bearer realm="spool", error="insufficient_scope", scope="${access}"` },
        { requiredScope: access },
      );
    }
  };
}

function ordinal(n: number): string {
  const suffix =
    n % 10 === 1 && n % 100 !== 11
      ? 'st'
      : n % 10 === 2 && n % 100 !== 12
        ? 'nd'
        : n % 10 === 3 && n % 100 !== 13
          ? 'rd'
          : 'th';
  return `${n}${suffix}`;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}
