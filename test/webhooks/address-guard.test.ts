import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { AddressGuard, BlockedAddressError, type Resolver } from '../../src/webhooks/address-guard.js';
import { type AddressCategory, classifyAddress } from '../../src/webhooks/address-ranges.js';
import { WebhookHttpClient } from '../../src/webhooks/http-client.js';
import { startReceiver, type Receiver } from './receiver.js';

const refused = [
  ['127.0.0.1', 'loopback'],
  ['127.255.0.9', 'loopback'],
  ['::1', 'loopback'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['10.1.2.3', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['fd12:3456::1', 'private'],
  ['::ffff:10.0.0.1', 'private'],
  ['169.254.169.254', 'metadata'],
  ['::ffff:169.254.169.254', 'metadata'],
  ['fd00:ec2::254', 'metadata'],
  ['169.254.1.1', 'link-local'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['100.64.0.1', 'shared'],
  ['0.0.0.0', 'unspecified'],
  ['::', 'unspecified'],
  ['224.0.0.1', 'multicast'],
  ['ff02::1', 'multicast'],
  ['255.255.255.255', 'reserved'],
] as const;

const publicAddresses = ['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111'];

function lookup(guard: AddressGuard, hostname: string, all: boolean) {
  return new Promise<string | LookupAddress[]>((resolve, reject) => {
    guard.lookup(hostname, { all }, (error, address) => (error ? reject(error) : resolve(address)));
  });
}

function resolverOf(table: Record<string, string[]>): Resolver {
  return (hostname) =>
    Promise.resolve(
      (table[hostname] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
}

describe('address classification', () => {
  it('classifies special-purpose addresses, IPv4-mapped IPv6 included', () => {
    for (const [address, category] of refused) assert.equal(classifyAddress(address), category, address);
    for (const address of publicAddresses) assert.equal(classifyAddress(address), 'public', address);
  });
});

describe('IPv6 forms that carry an IPv4 address', () => {
  // Each carries 127.0.0.1, 10.0.0.1 or 169.254.169.254 to a translator or tunnel that connects to it.
  const carried: readonly (readonly [string, AddressCategory])[] = [
    ['64:ff9b::7f00:1', 'loopback'], // NAT64 well-known prefix
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b:1::a00:1', 'private'], // NAT64 local-use prefix
    ['2002:7f00:1::', 'loopback'], // 6to4
    ['2002:a9fe:a9fe::1', 'metadata'],
    ['2001:0:7f00:1::', 'loopback'], // Teredo server
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback'], // Teredo client 127.0.0.1, bits inverted
    ['::127.0.0.1', 'loopback'], // IPv4-compatible
    ['::a00:1', 'private'],
    ['::ffff:0:7f00:1', 'loopback'], // SIIT IPv4-translated
    ['::ffff:0:10.0.0.1', 'private'],
  ];

  it('judges the IPv4 address they carry', () => {
    for (const [address, category] of carried) assert.equal(classifyAddress(address), category, address);
  });

  it('the guard refuses them before any connection', () => {
    const guard = new AddressGuard();
    for (const [address] of carried) {
      assert.throws(() => guard.check(address, address), BlockedAddressError, address);
      assert.throws(() => guard.checkUrl(`http://[${address}]:8080/hook`), BlockedAddressError, address);
    }
  });

  it('passes the same forms carrying a public IPv4 address, and local-use NAT64 stays private', () => {
    for (const address of [
      '64:ff9b::808:808',
      '2002:808:808::1',
      '2001:0:808:808::f7f7:f7f7',
      '::ffff:0:8.8.8.8',
    ]) {
      assert.equal(classifyAddress(address), 'public', address);
    }
    assert.equal(classifyAddress('64:ff9b:1::808:808'), 'private');
  });
});

describe('AddressGuard', () => {
  it('refuses every special-purpose address by default and allows public ones', () => {
    const guard = new AddressGuard();
    for (const [address, category] of refused) {
      assert.throws(
        () => guard.check(address, address),
        (error) => error instanceof BlockedAddressError && error.category === category,
        address,
      );
    }
    for (const address of publicAddresses) guard.check(address, address);
  });

  it('allowPrivateNetworks opens private ranges but not the metadata endpoints', () => {
    const guard = new AddressGuard({ allowPrivateNetworks: true });
    for (const address of ['127.0.0.1', '::1', '10.0.0.1', '192.168.0.10', 'fe80::1', '100.64.1.1']) {
      guard.check(address, address);
    }
    assert.throws(() => guard.check('169.254.169.254', '169.254.169.254'), BlockedAddressError);
    assert.throws(() => guard.check('fd00:ec2::254', 'fd00:ec2::254'), BlockedAddressError);
  });

  it('an allow-list opens CIDRs, addresses, host names and suffixes', () => {
    const guard = new AddressGuard({
      allow: ['10.20.0.0/16', 'fd00:1::/32', '169.254.169.254', 'hooks.internal', '*.corp.example'],
    });
    guard.check('10.20.3.4', '10.20.3.4');
    guard.check('fd00:1:2::3', 'fd00:1:2::3');
    guard.check('169.254.169.254', '169.254.169.254');
    guard.check('hooks.internal', '10.9.9.9');
    guard.check('HOOKS.internal.', '10.9.9.9');
    guard.check('a.b.corp.example', '192.168.7.7');
    assert.throws(() => guard.check('10.21.0.1', '10.21.0.1'), BlockedAddressError);
    assert.throws(() => guard.check('corp.example', '192.168.7.7'), BlockedAddressError);
    assert.throws(() => guard.check('other.internal', '10.9.9.9'), BlockedAddressError);
  });

  it('refuses malformed allow-list entries', () => {
    for (const entry of ['10.0.0.0/33', '10.0.0.0/8/1', 'fd00::/129', 'not a host', 'http://x']) {
      assert.throws(() => new AddressGuard({ allow: [entry] }), InvalidArgumentError, entry);
    }
  });

  it('checks URLs: scheme and IP-literal hosts', () => {
    const guard = new AddressGuard();
    assert.equal(guard.checkUrl('https://93.184.216.34/x').hostname, '93.184.216.34');
    assert.throws(() => guard.checkUrl('ftp://example.com/'), InvalidArgumentError);
    assert.throws(() => guard.checkUrl('not a url'), InvalidArgumentError);
    for (const url of [
      'http://127.0.0.1/',
      'http://[::1]:8080/',
      'http://[::ffff:127.0.0.1]/',
      'http://10.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://2130706433/', // 127.0.0.1 as one number
      'http://0x7f.1/',
    ]) {
      assert.throws(() => guard.checkUrl(url), BlockedAddressError, url);
    }
    // Host names pass here: they are checked when the socket resolves them.
    guard.checkUrl('http://localhost/');
  });

  it('lookup refuses a host name resolving to loopback (localhost) and answers like dns.lookup otherwise', async () => {
    await assert.rejects(lookup(new AddressGuard(), 'localhost', true), BlockedAddressError);
    await assert.rejects(lookup(new AddressGuard(), 'localhost', false), BlockedAddressError);
    const open = new AddressGuard({ allowPrivateNetworks: true });
    const all = (await lookup(open, 'localhost', true)) as LookupAddress[];
    assert.ok(all.length > 0 && all.every((entry) => classifyAddress(entry.address) === 'loopback'));
    assert.equal(typeof (await lookup(open, 'localhost', false)), 'string');
  });

  it('lookup refuses an answer when any of its addresses is refused', async () => {
    const guard = new AddressGuard({
      resolve: resolverOf({ 'mixed.test': ['93.184.216.34', '10.0.0.5'], 'public.test': ['93.184.216.34'] }),
    });
    await assert.rejects(lookup(guard, 'mixed.test', true), (error) => {
      assert.ok(error instanceof BlockedAddressError);
      assert.equal(error.host, 'mixed.test');
      assert.equal(error.address, '10.0.0.5');
      return true;
    });
    assert.deepEqual(await lookup(guard, 'public.test', true), [{ address: '93.184.216.34', family: 4 }]);
    assert.equal(await lookup(guard, 'public.test', false), '93.184.216.34');
    await assert.rejects(lookup(guard, 'nothing.test', true), { code: 'ENOTFOUND' });
  });
});

describe('guarded HTTP client (check at connect time)', () => {
  let receiver: Receiver;
  before(async () => (receiver = await startReceiver()));
  after(() => receiver.close());

  function client(options: ConstructorParameters<typeof AddressGuard>[0]) {
    return new WebhookHttpClient(new AddressGuard(options), { timeoutMs: 5000, userAgent: 'test' });
  }

  it('never reaches a loopback receiver unless private networks are allowed', async () => {
    const closed = client({});
    const count = receiver.requests.length;
    for (const url of [
      `http://127.0.0.1:${receiver.port}/`,
      `http://localhost:${receiver.port}/`,
      `http://[::1]:${receiver.port}/`,
    ]) {
      await assert.rejects(closed.post(url, '{}', {}), BlockedAddressError, url);
    }
    assert.equal(receiver.requests.length, count);
    closed.close();

    const open = client({ allowPrivateNetworks: true });
    assert.equal((await open.post(`http://localhost:${receiver.port}/`, '{}', {})).status, 204);
    assert.equal(receiver.requests.length, count + 1);
    open.close();
  });

  it('connects to the address the guard checked, whatever the name (DNS rebinding)', async () => {
    // "rebind.test" is public-looking by name; its answer is loopback at connect time.
    const resolve = resolverOf({ 'rebind.test': ['127.0.0.1'] });
    const closed = client({ resolve });
    await assert.rejects(closed.post(`http://rebind.test:${receiver.port}/`, '{}', {}), BlockedAddressError);
    closed.close();
    const allowed = client({ resolve, allow: ['rebind.test'] });
    const response = await allowed.post(`http://rebind.test:${receiver.port}/`, '{}', {});
    assert.equal(response.status, 204);
    assert.equal(receiver.requests.at(-1)?.headers.host, `rebind.test:${receiver.port}`);
    allowed.close();
  });
});
