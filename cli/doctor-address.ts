// Where an IP address lives: the Management API can only call a webhook on a public address.
import net from 'node:net';

export type AddressScope = 'loopback' | 'private' | 'link-local' | 'unspecified' | 'public';

/** IPv4 ranges as [first octets prefix, bits, scope]; data, not branches. */
const v4Ranges: ReadonlyArray<readonly [string, number, AddressScope]> = [
  ['127.0.0.0', 8, 'loopback'],
  ['10.0.0.0', 8, 'private'],
  ['172.16.0.0', 12, 'private'],
  ['192.168.0.0', 16, 'private'],
  ['100.64.0.0', 10, 'private'], // carrier-grade NAT
  ['169.254.0.0', 16, 'link-local'],
  ['0.0.0.0', 8, 'unspecified'],
];

const v4Number = (address: string) => address.split('.').reduce((n, part) => n * 256 + Number(part), 0);

export function addressScope(address: string): AddressScope {
  const kind = net.isIP(address);
  if (kind === 4) {
    const n = v4Number(address);
    for (const [base, bits, scope] of v4Ranges) {
      const size = 2 ** (32 - bits);
      if (Math.floor(n / size) === Math.floor(v4Number(base) / size)) return scope;
    }
    return 'public';
  }
  if (kind === 6) {
    const a = address.toLowerCase();
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    if (mapped) return addressScope(mapped[1]!);
    if (a === '::1') return 'loopback';
    if (a === '::') return 'unspecified';
    if (/^fe[89ab]/.test(a)) return 'link-local';
    if (/^f[cd]/.test(a)) return 'private'; // unique local fc00::/7
    return 'public';
  }
  throw new Error(`not an IP address: ${address}`);
}
