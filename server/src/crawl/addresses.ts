/**
 * Which addresses a crawl may connect to. A page on the web can link to 169.254.169.254 (a cloud's
 * metadata service), to 127.0.0.1 or to a printer at 192.168.1.1, or name a host that resolves to
 * one; a crawl of public sites must not reach them. A crawl of the site its user is building on
 * localhost must. So each crawl has a policy, by default the kind of its own seeds:
 *
 * - `public`: globally routable addresses only;
 * - `private`: loopback, private, link-local and other non-public addresses only;
 * - `any`: both.
 *
 * The policy is checked on the address actually connected to (a resolved name's, at connect time,
 * so a name that resolves differently the second time gains nothing), for every spelling of an
 * address: the URL parser already turns `0x7f000001`, `2130706433` and `127.1` into `127.0.0.1`, and
 * IPv4 inside IPv6 (`::ffff:127.0.0.1`, NAT64, 6to4) is judged by the IPv4 address it carries.
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import type { buildConnector } from 'undici';
import type { AddressPolicy } from '../protocol';

export type AddressKind = 'public' | 'private';

/** Non-public IPv4 ranges (IANA special-purpose registry), each with the word a refusal uses. */
const V4: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared (carrier-grade NAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const V6: [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'IPv4-compatible (deprecated)'],
  ['64:ff9b:1::', 48, 'local-use NAT64'],
  ['100::', 64, 'discard'],
  ['2001::', 23, 'IETF protocol'],
  ['2001:db8::', 32, 'documentation'],
  ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

const ranges = [...V4.map(([a, p, word]) => ({ list: subnet(a, p, 'ipv4'), word })), ...V6.map(([a, p, word]) => ({ list: subnet(a, p, 'ipv6'), word }))];

function subnet(address: string, prefix: number, type: 'ipv4' | 'ipv6'): net.BlockList {
  const list = new net.BlockList();
  list.addSubnet(address, prefix, type);
  return list;
}

/** The IPv4 address an IPv6 one carries: mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) or 6to4 (2002::/16). */
function embeddedV4(v6: string): string | null {
  const words = expandV6(v6);
  if (words === null) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number) => words.slice(from, to).every((w) => w === 0);
  if (zeros(0, 5) && words[5] === 0xffff) return v4(words[6], words[7]);
  if (words[0] === 0x64 && words[1] === 0xff9b && zeros(2, 6)) return v4(words[6], words[7]);
  if (words[0] === 0x2002) return v4(words[1], words[2]);
  return null;
}

function expandV6(v6: string): number[] | null {
  let text = v6;
  // A dotted IPv4 tail (::ffff:127.0.0.1) is two words.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const part = (s: string | undefined) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const h = part(head);
  const t = part(tail);
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const words = [...h, ...new Array<number>(Math.max(0, fill)).fill(0), ...t];
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : null;
}

/** An IPv6 literal as URLs write it (`[::1]`) without its brackets; anything else as it is. */
function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** What an IP address is: public, or the kind of non-public address it is (`loopback`, `private`…). */
export function classifyAddress(ip: string): { kind: AddressKind; word: string } {
  const bare = unbracket(ip);
  const family = net.isIP(bare);
  if (family === 0) throw new TypeError(`${ip} is not an IP address`);
  const v4 = family === 6 ? embeddedV4(bare) : bare;
  const [address, type] = v4 !== null ? [v4, 'ipv4' as const] : [bare, 'ipv6' as const];
  for (const r of ranges) if (r.list.check(address, type)) return { kind: 'private', word: r.word };
  return { kind: 'public', word: 'public' };
}

function allows(ip: string, policy: AddressPolicy): boolean {
  return policy === 'any' || classifyAddress(ip).kind === policy;
}

function policyText(policy: AddressPolicy): string {
  const only = policy === 'public' ? 'public addresses only' : 'loopback, private and link-local addresses only';
  return `this crawl connects to ${only} (addresses: ${policy})`;
}

/** Why `policy` refuses a connection to `ip`, or null when it allows it. */
export function refusal(ip: string, policy: AddressPolicy): string | null {
  if (allows(ip, policy)) return null;
  const { word } = classifyAddress(ip);
  return `${ip} is ${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word} address; ${policyText(policy)}`;
}

/** Why `policy` refuses `host`, every one of whose addresses is refused. */
function nameRefusal(host: string, addresses: readonly string[], policy: AddressPolicy): string {
  const each = addresses.map((a) => `${a} (${classifyAddress(a).word})`).join(', ');
  return `${host} resolves to ${each}; ${policyText(policy)}`;
}

/** A refused connection: the fetcher turns it into a failure that is not retried. */
export class AddressRefusedError extends Error {
  readonly code = 'ERR_ADDRESS_REFUSED';
}

/** Names that are loopback by definition (RFC 6761), whatever a resolver would say. */
function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

type LookupAll = (host: string) => Promise<string[]>;

const lookupAll: LookupAll = async (host) => (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * The policy a crawl gets from its seeds: `private` when every seed is on a non-public address,
 * `public` when every one is public, `any` for a mix. A name that does not resolve counts as
 * public, the stricter guess: its pages would not load anyway.
 */
export async function policyOfSeeds(hosts: readonly string[], lookup: LookupAll = lookupAll): Promise<AddressPolicy> {
  const kinds = new Set<AddressKind>();
  await Promise.all(
    [...new Set(hosts)].map(async (host) => {
      const bare = unbracket(host);
      if (net.isIP(bare)) kinds.add(classifyAddress(bare).kind);
      else if (isLocalhostName(bare)) kinds.add('private');
      else {
        const addresses = await lookup(bare).catch(() => []);
        if (addresses.length === 0) kinds.add('public');
        for (const a of addresses) kinds.add(classifyAddress(a).kind);
      }
    }),
  );
  return kinds.size === 1 ? [...kinds][0] : 'any';
}

/** How long a host's resolved addresses are trusted for the early check; connects check again anyway. */
const CHECK_TTL_MS = 60_000;
const CHECK_CACHE_HOSTS = 10_000;

/**
 * The early check a page makes before anything is sent to a host (robots.txt included): refused
 * when every address the host has is refused. Lookups are cached briefly per host, so a crawl does
 * not resolve a name for every page; the connect-time check in `guardConnect` is the one that holds.
 */
export class AddressCheck {
  private readonly cache = new Map<string, { at: number; addresses: string[] }>();
  private readonly literals = new Map<string, string | null>();

  constructor(
    private readonly lookup: LookupAll = lookupAll,
    private readonly now: () => number = Date.now,
  ) {}

  /** Why `host` is refused under `policy`, or null (also when it does not resolve: the fetch will say so). */
  async refusal(host: string, policy: AddressPolicy): Promise<string | null> {
    if (policy === 'any') return null;
    const bare = unbracket(host);
    if (net.isIP(bare)) {
      // Asked once per page: remembered, since judging an address takes some twenty range checks.
      const key = `${policy} ${bare}`;
      let why = this.literals.get(key);
      if (why === undefined) {
        why = refusal(bare, policy);
        if (this.literals.size >= CHECK_CACHE_HOSTS) this.literals.clear();
        this.literals.set(key, why);
      }
      return why;
    }
    const addresses = await this.addresses(bare);
    if (addresses.length === 0 || addresses.some((a) => allows(a, policy))) return null;
    return nameRefusal(bare, addresses, policy);
  }

  private async addresses(host: string): Promise<string[]> {
    const hit = this.cache.get(host);
    if (hit && this.now() - hit.at < CHECK_TTL_MS) return hit.addresses;
    const addresses = await this.lookup(host).catch(() => []);
    if (this.cache.size >= CHECK_CACHE_HOSTS) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.delete(host);
    this.cache.set(host, { at: this.now(), addresses });
    return addresses;
  }
}

type Connector = buildConnector.connector;

/**
 * Connection options and a connector wrapper for an undici Agent that holds to `policy`: names are
 * resolved by a lookup that keeps only allowed addresses (so a name with both kinds connects to an
 * allowed one), and IP literals, which never reach a lookup, are checked before connecting.
 */
export function guardConnect(policy: AddressPolicy): { lookup?: net.LookupFunction; wrap(connect: Connector): Connector } {
  if (policy === 'any') return { wrap: (connect) => connect };
  const lookup = ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      const allowed = addresses.filter((a) => allows(a.address, policy));
      if (allowed.length === 0)
        return callback(
          new AddressRefusedError(
            nameRefusal(
              hostname,
              addresses.map((a) => a.address),
              policy,
            ),
          ),
        );
      if (options.all) callback(null, allowed);
      else callback(null, allowed[0].address, allowed[0].family);
    });
  }) as net.LookupFunction;
  return {
    lookup,
    wrap: (connect) => (options, callback) => {
      const bare = unbracket(options.hostname);
      const why = net.isIP(bare) ? refusal(bare, policy) : null;
      if (why !== null) {
        queueMicrotask(() => callback(new AddressRefusedError(why), null));
        return;
      }
      connect(options, callback);
    },
  };
}
