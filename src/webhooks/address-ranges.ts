/**
 * Which IP addresses are special-purpose, by category. Webhook URLs come from users, so an
 * unguarded sender could be pointed at the machine itself, the private network behind it or the
 * cloud metadata service that hands out credentials (SSRF). The tables follow the IANA IPv4 and
 * IPv6 special-purpose address registries (RFC 6890 and successors), plus the metadata endpoints
 * of the large clouds. IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) match the IPv4 ranges:
 * `net.BlockList` compares them as the IPv4 address they carry.
 */
import { BlockList, isIP } from 'node:net';

/** What kind of address something is; everything not listed is `public`. */
export type AddressCategory =
  | 'public'
  | 'metadata'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'shared'
  | 'multicast'
  | 'reserved';

/** Most specific first: the metadata addresses sit inside link-local, shared and reserved ranges. */
const SPECIAL_RANGES: readonly (readonly [Exclude<AddressCategory, 'public'>, string])[] = [
  ['metadata', '169.254.169.254/32'], // AWS, GCP, Azure, OpenStack, DigitalOcean
  ['metadata', 'fd00:ec2::254/128'], // AWS over IPv6
  ['metadata', '100.100.100.200/32'], // Alibaba Cloud
  ['metadata', '192.0.0.192/32'], // Oracle Cloud
  ['unspecified', '0.0.0.0/8'],
  ['unspecified', '::/128'],
  ['loopback', '127.0.0.0/8'],
  ['loopback', '::1/128'],
  ['private', '10.0.0.0/8'],
  ['private', '172.16.0.0/12'],
  ['private', '192.168.0.0/16'],
  ['private', 'fc00::/7'],
  ['link-local', '169.254.0.0/16'],
  ['link-local', 'fe80::/10'],
  ['shared', '100.64.0.0/10'], // carrier-grade NAT
  ['multicast', '224.0.0.0/4'],
  ['multicast', 'ff00::/8'],
  ['reserved', '192.0.0.0/24'],
  ['reserved', '198.18.0.0/15'],
  ['reserved', '240.0.0.0/4'],
  ['reserved', '100::/64'],
  ['reserved', 'fec0::/10'],
];

const CATEGORY_LISTS: readonly (readonly [AddressCategory, BlockList])[] = (() => {
  const lists = new Map<AddressCategory, BlockList>();
  for (const [category, cidr] of SPECIAL_RANGES) {
    let list = lists.get(category);
    if (!list) lists.set(category, (list = new BlockList()));
    addCidr(list, cidr);
  }
  return [...lists];
})();

/** The category of an IP address (v4 or v6, with or without a zone id). */
export function classifyAddress(address: string): AddressCategory {
  const family = ipFamily(address);
  if (!family) throw new TypeError(`not an IP address: ${address}`);
  for (const [category, list] of CATEGORY_LISTS) {
    if (list.check(address, family)) return category;
  }
  return 'public';
}

/** `ipv4`, `ipv6`, or null for a string that is not an IP address. */
export function ipFamily(address: string): 'ipv4' | 'ipv6' | null {
  const version = isIP(address);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : null;
}

/**
 * Adds `cidr` (`10.0.0.0/8`, `fd00::/8`, or a single address) to `list`; returns false when it
 * is not a valid address or prefix.
 */
export function addCidr(list: BlockList, cidr: string): boolean {
  const [address = '', prefixText, extra] = cidr.split('/');
  const family = ipFamily(address);
  if (!family || extra !== undefined) return false;
  if (prefixText === undefined) {
    list.addAddress(address, family);
    return true;
  }
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= (family === 'ipv4' ? 32 : 128))) return false;
  list.addSubnet(address, prefix, family);
  return true;
}
