/**
 * The client's address, as the per-address limits key it.
 *
 * The address is the socket's peer or, behind a trusted reverse proxy, the one `X-Forwarded-For`
 * names, with the semantics of fastify's `trustProxy` (the `proxy-addr` package), which the web
 * host uses for the same `TRUST_PROXY`: the chain is the socket's peer, then the header's entries
 * from right to left; walking it, each address that is trusted gives way to the one before it.
 * So `true` takes the leftmost entry (whatever the client wrote there: only for a proxy that
 * overwrites the header), a hop count `n` trusts the `n` nearest hops, and a list of addresses
 * and CIDRs trusts exactly those proxies. One deviation: an entry that is not an IP address ends
 * the walk at the address before it, so the key is always an address.
 *
 * The key groups what one party easily owns: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is its IPv4
 * address, and an IPv6 address counts as its /64, since a single host is commonly given a whole
 * /64 and could otherwise present 2^64 "different" addresses.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** `TRUST_PROXY` as the configuration holds it. */
export type TrustProxy = boolean | number | string;

/** Whether `address`, `hop` steps from this server (0: the socket's peer), is a trusted proxy. */
export type ProxyTrust = (address: string, hop: number) => boolean;

/** The key of a connection whose socket had no address (it closed during the upgrade). */
export const UNKNOWN_ADDRESS = 'unknown';

/** The eight 16-bit groups of an IPv6 address, or undefined when `text` is not one. */
function ipv6Groups(text: string): number[] | undefined {
  if (isIP(text) !== 6) return undefined;
  let hex = text;
  const lastColon = hex.lastIndexOf(':');
  if (hex.includes('.', lastColon)) {
    // An embedded IPv4 tail (`::ffff:1.2.3.4`) is two groups.
    const [a, b, c, d] = hex
      .slice(lastColon + 1)
      .split('.')
      .map(Number) as [number, number, number, number];
    hex = `${hex.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const gap = hex.indexOf('::');
  if (gap < 0) return parse(hex);
  const head = parse(hex.slice(0, gap));
  const tail = parse(hex.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/**
 * `text` as a plain IP address: the zone (`%eth0`) dropped and an IPv4-mapped IPv6 address as
 * its IPv4 address; undefined when it is not an IP address.
 */
export function plainAddress(text: string): string | undefined {
  const address = text.trim().replace(/%.*$/, '');
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  const groups = ipv6Groups(address);
  if (groups === undefined) return undefined;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6]!, groups[7]!];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return address.toLowerCase();
}

/**
 * The limits' key of an address from {@link clientAddress}: an IPv4 address itself, an IPv6
 * address its /64 (`2001:db8:0:1::/64`).
 */
export function addressKey(address: string): string {
  const plain = plainAddress(address);
  if (plain === undefined) return UNKNOWN_ADDRESS;
  if (isIP(plain) === 4) return plain;
  const groups = ipv6Groups(plain)!;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/**
 * The trust function of a `TRUST_PROXY` value.
 * @throws RangeError naming an entry of a list that is not an IP address or CIDR.
 */
export function compileTrust(value: TrustProxy): ProxyTrust {
  if (typeof value === 'boolean') return () => value;
  if (typeof value === 'number') return (_address, hop) => hop < value;
  const trusted = new BlockList();
  for (const item of value.split(',').map((s) => s.trim())) {
    if (item !== '') trustEntry(trusted, item);
  }
  return (address) => trusted.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/** Adds one address or CIDR of a `TRUST_PROXY` list to `trusted`. */
function trustEntry(trusted: BlockList, item: string): void {
  const invalid = () => new RangeError(`"${item}" is not an IP address or CIDR`);
  const [text = '', prefixText, extra] = item.split('/');
  const address = plainAddress(text);
  if (address === undefined || extra !== undefined) throw invalid();
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  if (prefixText === undefined) {
    trusted.addAddress(address, family);
    return;
  }
  let prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  // Addresses are compared with IPv4-mapped ones as IPv4, so a mapped subnet is its IPv4 one.
  if (family === 'ipv4' && isIP(text) === 6) prefix -= 96;
  if (!(prefix >= 0 && prefix <= (family === 'ipv4' ? 32 : 128))) throw invalid();
  trusted.addSubnet(address, prefix, family);
}

/**
 * The client's plain address: the socket's peer `remoteAddress`, or with trusted proxies the
 * `forwardedFor` entry the walk described above stops at.
 */
export function clientAddress(
  remoteAddress: string | undefined,
  forwardedFor: string | undefined,
  trust: ProxyTrust,
): string {
  let address = plainAddress(remoteAddress ?? '');
  if (address === undefined) return UNKNOWN_ADDRESS;
  if (forwardedFor === undefined || forwardedFor === '') return address;
  const chain = forwardedFor.split(',');
  for (let hop = 0; hop < chain.length && trust(address, hop); hop++) {
    const next = plainAddress(chain[chain.length - 1 - hop]!);
    if (next === undefined) break;
    address = next;
  }
  return address;
}

/** {@link addressKey} of the {@link clientAddress} of an upgrade request. */
export function requestAddressKey(req: IncomingMessage, trust: ProxyTrust): string {
  const header = req.headers['x-forwarded-for'];
  const forwardedFor = Array.isArray(header) ? header.join(',') : header;
  return addressKey(clientAddress(req.socket.remoteAddress, forwardedFor, trust));
}
