// Address arithmetic the attribution needs: CIDR membership and "is this a private address".
// Addresses are compared as bigints so IPv4 and IPv6 share one code path; this runs once per
// distinct unknown address, never per call (the index caches its answers).

/** Parses an IPv4 or IPv6 literal to [bigint, bits], or null. */
export function parseIp(s: string): [bigint, 32 | 128] | null {
  if (s.includes(':')) return parseV6(s);
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = (v << 8n) | BigInt(n);
  }
  return [v, 32];
}

function parseV6(s: string): [bigint, 128] | null {
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  // An embedded IPv4 tail (::ffff:10.0.0.1) is two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const p = parseIp(v4[1]);
    if (p === null) return null;
    s = s.slice(0, -v4[1].length) + ((p[0] >> 16n) & 0xffffn).toString(16) + ':' + (p[0] & 0xffffn).toString(16);
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1].split(':')) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return [v, 128];
}

export interface Cidr { base: bigint; bits: 32 | 128; prefix: number }

export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIp(s.slice(0, slash));
  const prefix = Number(s.slice(slash + 1));
  if (ip === null || !Number.isInteger(prefix) || prefix < 0 || prefix > ip[1]) return null;
  const shift = BigInt(ip[1] - prefix);
  return { base: (ip[0] >> shift) << shift, bits: ip[1], prefix };
}

export function inCidr(ip: [bigint, 32 | 128], c: Cidr): boolean {
  if (ip[1] !== c.bits) return false;
  const shift = BigInt(c.bits - c.prefix);
  return (ip[0] >> shift) << shift === c.base;
}

// RFC 1918, RFC 6598 (CGNAT, used by some CNIs), loopback, link-local, RFC 4193 ULA.
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16',
  'fc00::/7', 'fe80::/10', '::1/128'].map((c) => parseCidr(c) as Cidr);

export function isPrivate(ip: string): boolean {
  const p = parseIp(ip);
  return p !== null && PRIVATE.some((c) => inCidr(p, c));
}
