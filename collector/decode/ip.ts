// Network layer dispatch by the version nibble (raw-IP link types carry no ethertype).
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { MALFORMED, type DecodedPacket, type Verdict } from './packet.js';

export function decodeIp(p: DecodedPacket, b: Uint8Array, i: number, end: number): Verdict {
  if (end - i < 1) {
    p.reason = 'ip-truncated';
    return MALFORMED;
  }
  const version = b[i] >> 4;
  if (version === 4) return decodeIpv4(p, b, i, end);
  if (version === 6) return decodeIpv6(p, b, i, end);
  p.reason = 'ip-bad-header';
  return MALFORMED;
}
