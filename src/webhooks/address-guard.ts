/**
 * The SSRF guard for outbound webhook requests. Checking a URL's host name before sending is not
 * enough: DNS can answer differently when the connection is made (DNS rebinding). So the check
 * runs inside the socket's `lookup` hook — the resolution whose answer the socket actually
 * connects to — and every address of the answer must pass. Node skips `lookup` for IP-literal
 * hosts, so those are checked by {@link AddressGuard.checkUrl} before the request; a literal
 * cannot change between check and connect.
 *
 * By default only public addresses pass. `allowPrivateNetworks` opens every special-purpose
 * range except the cloud metadata endpoints (they hand out credentials); `allow` opens chosen
 * CIDRs, addresses or host names — the only way to reach a metadata address.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, type LookupFunction } from 'node:net';
import { InvalidArgumentError, SpoolError, errorCatalogue } from '../core/errors.js';
import { addCidr, classifyAddress, ipFamily, type AddressCategory } from './address-ranges.js';

/** Resolves a host name to all its addresses (the shape of `dns.lookup` with `all: true`). */
export type Resolver = (hostname: string, family: 0 | 4 | 6) => Promise<LookupAddress[]>;

export interface AddressGuardOptions {
  /**
   * Allow loopback, private, link-local, shared (CGNAT), unspecified, multicast and reserved
   * addresses — for development, tests and receivers inside your own network. Cloud metadata
   * addresses stay refused unless listed in `allow`.
   * @defaultValue false
   */
  allowPrivateNetworks?: boolean;
  /**
   * Destinations allowed whatever their address: CIDRs (`10.1.0.0/16`, `fd00::/8`), single
   * addresses, host names (`hooks.internal`) or host-name suffixes (`*.corp.example`). A host
   * name entry trusts every address its name resolves to.
   * @defaultValue []
   */
  allow?: readonly string[];
  /** How host names are resolved. @defaultValue `dns.lookup` (the system resolver, as `http` uses) */
  resolve?: Resolver;
}

/** An outbound request was refused because of where it would connect. */
export class BlockedAddressError extends SpoolError {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly category: AddressCategory,
  ) {
    const resolved = host === address ? '' : ` (resolved to ${address})`;
    super(
      errorCatalogue.INVALID_ARGUMENT,
      `refusing to connect to ${host}${resolved}: ${category} addresses are not allowed for webhooks; allow them with allowPrivateNetworks or an allow-list entry`,
      { field: 'url', host, address, category },
    );
  }
}

/** Decides which addresses outbound webhook requests may connect to; see the file header. */
export class AddressGuard {
  readonly #allowPrivateNetworks: boolean;
  readonly #allowedAddresses = new BlockList();
  readonly #allowedHosts = new Set<string>();
  readonly #allowedSuffixes: string[] = [];
  readonly #resolve: Resolver;

  constructor(options: AddressGuardOptions = {}) {
    this.#allowPrivateNetworks = options.allowPrivateNetworks ?? false;
    this.#resolve = options.resolve ?? systemResolve;
    for (const entry of options.allow ?? []) this.#addAllowed(entry);
  }

  /** Throws {@link BlockedAddressError} unless connecting to `address` (for `host`) is allowed. */
  check(host: string, address: string): void {
    const category = classifyAddress(address);
    if (category === 'public') return;
    if (this.#allowPrivateNetworks && category !== 'metadata') return;
    if (this.#allowedAddresses.check(address, ipFamily(address)!)) return;
    if (this.#hostAllowed(host)) return;
    throw new BlockedAddressError(host, address, category);
  }

  /**
   * Parses a webhook URL and checks what can be checked before connecting: the scheme (http or
   * https) and an IP-literal host. Host names are checked at connect time by {@link lookup}.
   * Throws `InvalidArgumentError` for a bad URL, {@link BlockedAddressError} for a refused literal.
   */
  checkUrl(url: string | URL): URL {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new InvalidArgumentError(`webhook url is not a valid URL: ${String(url)}`, { field: 'url' });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new InvalidArgumentError(`webhook url must be http or https, not ${parsed.protocol}`, {
        field: 'url',
      });
    }
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    if (ipFamily(host)) this.check(host, host);
    return parsed;
  }

  /**
   * A `lookup` for `http.Agent`/`net.connect`: resolves the host, refuses the connection with
   * {@link BlockedAddressError} if any address is not allowed, and otherwise answers as
   * `dns.lookup` would (one address, or all of them when asked, as `autoSelectFamily` does).
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const family = options.family === 4 || options.family === 6 ? options.family : 0;
    this.#resolve(hostname, family).then(
      (addresses) => {
        const refusal = this.#refusal(hostname, addresses);
        if (refusal) callback(refusal, '', 0);
        else if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };

  /** Why connecting to `hostname` at `addresses` must not happen; null when it may. */
  #refusal(hostname: string, addresses: readonly LookupAddress[]): NodeJS.ErrnoException | null {
    if (addresses.length === 0) {
      return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    }
    try {
      for (const { address } of addresses) this.check(hostname, address);
      return null;
    } catch (error) {
      return error as BlockedAddressError;
    }
  }

  #hostAllowed(host: string): boolean {
    const name = host.toLowerCase().replace(/\.$/, '');
    return this.#allowedHosts.has(name) || this.#allowedSuffixes.some((suffix) => name.endsWith(suffix));
  }

  #addAllowed(entry: string): void {
    const invalid = () =>
      new InvalidArgumentError(
        `allow-list entry "${String(entry)}" is not a CIDR, an IP address, a host name or *.suffix`,
        { field: 'allow' },
      );
    if (typeof entry !== 'string') throw invalid();
    if (ipFamily(entry.split('/')[0]!)) {
      if (!addCidr(this.#allowedAddresses, entry)) throw invalid();
      return;
    }
    const match = /^(\*\.)?((?:[a-z0-9_-]+\.)*[a-z0-9_-]+)\.?$/.exec(entry.toLowerCase());
    if (!match) throw invalid();
    if (match[1]) this.#allowedSuffixes.push(`.${match[2]!}`);
    else this.#allowedHosts.add(match[2]!);
  }
}

function systemResolve(hostname: string, family: 0 | 4 | 6): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(hostname, { family, all: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });
}
