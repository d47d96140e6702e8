/**
 * Which IP addresses are special-purpose, by category. Webhook URLs come from users, so an
 * unguarded sender could be pointed at the machine itself, the private network behind it or the
 * cloud metadata service that hands out credentials (SSRF). The tables follow the IANA IPv4 and
 * IPv6 special-purpose address registries (RFC 6890 and successors), plus the metadata endpoints
 * of the large clouds. IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) match the IPv4 ranges:
 * `net.BlockList` compares them as the IPv4 address they carry. IPv6 forms that carry an IPv4
 * address some translator or tunnel will connect to — NAT64 (`64:ff9b::/96`, and the local-use
 * `64:ff9b:1::/48`), 6to4 (`2002::/16`), Teredo (`2001::/32`), IPv4-compatible (`::/96`) and
 * SIIT IPv4-translated (`::ffff:0:0/96`) — are judged by the IPv4 address they carry
 * ({@link embeddedIpv4}): `64:ff9b::7f00:1` is loopback, not a public IPv6 address.
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
  const own = listedCategory(address, family);
  if (own !== 'public' || family === 'ipv4') return own;
  for (const ipv4 of embeddedIpv4(address)) {
    const carried = listedCategory(ipv4, 'ipv4');
    if (carried !== 'public') return carried;
  }
  // A local-use NAT64 prefix (RFC 8215) translates into a network of its operator's own.
  return isLocalNat64(address) ? 'private' : 'public';
}

function listedCategory(address: string, family: 'ipv4' | 'ipv6'): AddressCategory {
  for (const [category, list] of CATEGORY_LISTS) {
    if (list.check(address, family)) return category;
  }
  return 'public';
}

/**
 * The IPv4 addresses an IPv6 address carries for a translator or tunnel to connect to (none for
 * a plain IPv6 address). Teredo carries two: its server's, and its client's (bits inverted).
 */
export function embeddedIpv4(address: string): string[] {
  const groups = ipv6Groups(address);
  if (!groups) return [];
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ipv4 = (high: number, low: number): string =>
    [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  const zeros = (...values: number[]): boolean => values.every((value) => value === 0);
  // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48 in its /96 form (RFC 6052).
  if (g0 === 0x64 && g1 === 0xff9b && (zeros(g2, g3, g4, g5) || g2 === 1)) return [ipv4(g6, g7)];
  if (g0 === 0x2002) return [ipv4(g1, g2)]; // 6to4: 2002:AABB:CCDD::/48
  if (g0 === 0x2001 && g1 === 0) return [ipv4(g2, g3), ipv4(~g6 & 0xffff, ~g7 & 0xffff)]; // Teredo
  if (zeros(g0, g1, g2, g3, g4, g5)) return [ipv4(g6, g7)]; // IPv4-compatible ::a.b.c.d
  if (zeros(g0, g1, g2, g3) && g4 === 0xffff && g5 === 0) return [ipv4(g6, g7)]; // SIIT ::ffff:0:a.b.c.d
  return [];
}

function isLocalNat64(address: string): boolean {
  const groups = ipv6Groups(address);
  return groups !== null && groups[0] === 0x64 && groups[1] === 0xff9b && groups[2] === 1;
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped), or null for anything else. */
function ipv6Groups(address: string): number[] | null {
  const bare = address.split('%')[0]!;
  if (isIP(bare) !== 6) return null;
  let text = bare;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  const groups =
    tail === undefined
      ? front
      : [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
  return groups.length === 8 ? groups : null;
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
