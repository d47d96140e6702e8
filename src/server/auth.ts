/**
 * Bearer API tokens with scopes. Each route declares who may call it (`config.access`), and the
 * scope table in src/server/README.md is generated from those declarations
 * (`npm run docs:scopes`; test/e2e/scopes.test.ts fails when it is out of date):
 *
 * | access      | needs                                   | for                                          |
 * | ----------- | --------------------------------------- | -------------------------------------------- |
 * | `'public'`  | nothing                                 | health, readiness, the API description       |
 * | `'token'`   | any valid token, even one with no scope | configuration, counts, lag, metrics, alerts  |
 * | `'read'`    | a token with the `read` scope           | contents: message bodies, dead letters,      |
 * |             |                                         | partition events, event streams, jobs        |
 * | `'produce'` | a token with the `produce` scope        | send, publish, add a job                     |
 * | `'consume'` | a token with the `consume` scope        | receive and settle, group poll, job claim    |
 * | `'admin'`   | a token with the `admin` scope          | configure, delete, purge, redrive, seek,     |
 * |             |                                         | cancel and retry jobs, schedules             |
 *
 * A route open to several scopes lists them, e.g. `['read', 'admin']`: contents are for readers
 * and for the operators who redrive or purge them.
 *
 * Scopes do not imply one another: a token has exactly the scopes listed for it, possibly none (a
 * token that sees configuration and counts but no content, e.g. for Prometheus scraping
 * `/metrics`). With no tokens configured the server is open — which `startServer` allows only on
 * a loopback address.
 *
 * A presented token is hashed (SHA-256) and compared with the hash of every configured token with
 * `timingSafeEqual`, all of them, whether or not one matched earlier: how long the check takes
 * says nothing about which token, or how much of one, an attacker guessed right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { errorCatalogue, InvalidArgumentError } from '../core/errors.js';
import { HttpError } from './problems.js';

/** The scopes a token can carry, from the narrowest. */
export const scopes = ['read', 'produce', 'consume', 'admin'] as const;
export type Scope = (typeof scopes)[number];

/**
 * Who may call a route: anyone (`public`), any valid token even one without scopes (`token`), or
 * a token with the scope given (or with any one of the scopes listed).
 */
export type RouteAccess = 'public' | 'token' | Scope | readonly [Scope, ...Scope[]];

/** The scopes of the token each request presented, once the authenticator let it through. */
const grantedScopes = new WeakMap<FastifyRequest, ReadonlySet<Scope>>();

/**
 * The scopes `request` may use: those of its token, or every scope on a server without tokens
 * (it is open). Only meaningful on a route that needs a token (`'token'` or a scope).
 */
export function requestScopes(request: FastifyRequest): Scope[] {
  const granted = grantedScopes.get(request);
  return granted ? scopes.filter((scope) => granted.has(scope)) : [...scopes];
}

/** The scopes that open a route, or what else opens it. */
export function accessScopes(access: RouteAccess): 'public' | 'token' | readonly Scope[] {
  return access === 'public' || access === 'token' ? access : typeof access === 'string' ? [access] : access;
}

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
 * `tok1:produce,consume;tok2:read;tok3:admin;prom:`. A token with nothing after its `:` has no
 * scope: it sees configuration, counts and `/metrics` (the `token` routes) but no content, which is
 * what a Prometheus scraper needs. Throws `InvalidArgumentError` saying which entry is wrong and
 * how to fix it; the message never repeats a token.
 */
export function parseTokenList(text: string): ApiToken[] {
  const syntax = `write token:scope[,scope…] with scopes from ${scopes.join(', ')}, or "token:" for a token that may only see configuration, counts and metrics; separate entries with ';'`;
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
  const known = options.tokens.map((entry) => ({
    digest: digest(entry.token),
    scopes: new Set(entry.scopes),
  }));
  /** The scopes of the token with this digest; every known digest is compared, match or not. */
  const lookUp = (presented: Buffer): ReadonlySet<Scope> | undefined => {
    let found: ReadonlySet<Scope> | undefined;
    for (const entry of known) {
      if (timingSafeEqual(entry.digest, presented) && found === undefined) found = entry.scopes;
    }
    return found;
  };
  return (request) => {
    const access = accessScopes(request.routeOptions.config.access ?? 'public');
    if (access === 'public') return;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    if (!match) {
      throw new HttpError(
        errorCatalogue.UNAUTHORIZED,
        'send an API token as "Authorization: Bearer <token>"',
        { 'www-authenticate': 'Bearer realm="spool"' },
      );
    }
    const granted = lookUp(digest(match[1]!));
    if (!granted) {
      throw new HttpError(errorCatalogue.UNAUTHORIZED, 'the API token is not valid', {
        'www-authenticate': 'Bearer realm="spool", error="invalid_token"',
      });
    }
    grantedScopes.set(request, granted);
    if (access === 'token' || access.some((scope) => granted.has(scope))) return;
    const needed = access.map((scope) => `"${scope}"`).join(' or ');
    throw new HttpError(
      errorCatalogue.FORBIDDEN,
      granted.size === 0
        ? `this route needs a token with the ${needed} scope; this token has no scope, so it may only see configuration, counts and metrics`
        : `this route needs a token with the ${needed} scope; this token has: ${[...granted].join(', ')}`,
      { 'www-authenticate': `Bearer realm="spool", error="insufficient_scope", scope="${access[0]}"` },
      // `requiredScope`: the narrowest scope that opens the route; `acceptedScopes`: all of them.
      { requiredScope: access[0], acceptedScopes: access },
    );
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

/** A token's SHA-256: 32 bytes whatever the token's length, as `timingSafeEqual` needs. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
