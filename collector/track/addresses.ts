// Interns IP addresses into small integer ids: the packet path compares ids, and the printable
// form is built once per address, not per packet. IPv4 is stored as its IPv4-mapped IPv6 form so
// both families share one table.
import { KeyTable } from './key-table.js';
import { u32be } from '../sources/pcap/bytes.js';

export class AddressTable {
  private readonly ids = new KeyTable(4096);
  private readonly printable: string[] = [];
  /** Hard cap: a capture of random garbage must not grow this without bound. */
  constructor(private readonly maxAddresses = 1 << 21) {}

  /** The id of the address at b[i..i+4|16), or -1 when the table is full. */
  intern(b: Uint8Array, i: number, ipVersion: number): number {
    let w0 = 0, w1 = 0, w2 = 0xffff, w3: number;
    if (ipVersion === 4) {
      w3 = u32be(b, i) | 0;
    } else {
      w0 = u32be(b, i) | 0; w1 = u32be(b, i + 4) | 0; w2 = u32be(b, i + 8) | 0; w3 = u32be(b, i + 12) | 0;
    }
    const id = this.ids.get(w0, w1, w2, w3);
    if (id >= 0) return id;
    if (this.printable.length >= this.maxAddresses) return -1;
    const next = this.printable.length;
    this.printable.push(ipVersion === 4 ? formatIpv4(b, i) : formatIpv6(b, i));
    this.ids.set(w0, w1, w2, w3, next);
    return next;
  }

  text(id: number): string {
    return this.printable[id];
  }

  get size(): number {
    return this.printable.length;
  }
}

export function formatIpv4(b: Uint8Array, i: number): string {
  return `${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}`;
}

/** RFC 5952 text form: lower case, longest run of zero groups (>= 2) as "::", IPv4-mapped dotted. */
export function formatIpv6(b: Uint8Array, i: number): string {
  const groups: number[] = [];
  for (let g = 0; g < 8; g++) groups.push((b[i + 2 * g] << 8) | b[i + 2 * g + 1]);
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4(b, i + 12)}`;
  }
  let bestStart = -1, bestLen = 0;
  for (let g = 0; g < 8; ) {
    if (groups[g] !== 0) { g++; continue; }
    let e = g;
    while (e < 8 && groups[e] === 0) e++;
    if (e - g > bestLen && e - g >= 2) { bestStart = g; bestLen = e - g; }
    g = e;
  }
  const hex = groups.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
