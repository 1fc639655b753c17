// IPv6 (RFC 8200) with its extension header chain (§4). Fragments other than the first are
// skipped; ESP and unknown next headers end decoding.
import { u16be } from '../sources/pcap/bytes.js';
import { MALFORMED, SKIP, type DecodedPacket, type Verdict } from './packet.js';
import { decodeTransport } from './transport.js';

const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const AUTH = 51;
const DEST_OPTS = 60;
const MOBILITY = 135;

export function decodeIpv6(p: DecodedPacket, b: Uint8Array, i: number, end: number): Verdict {
  if (end - i < 40) { p.reason = 'ip-truncated'; return MALFORMED; }
  const payloadLen = u16be(b, i + 4);
  let next = b[i + 6];
  p.ipVersion = 6;
  p.srcAddr = i + 8;
  p.dstAddr = i + 24;
  p.ipId = -1;
  let j = i + 40;
  const ipEnd = Math.min(j + payloadLen, end);
  let remaining = payloadLen;
  // Bounded: a crafted chain of options could otherwise loop for the whole packet.
  for (let hops = 0; hops < 8; hops++) {
    if (next === HOP_BY_HOP || next === ROUTING || next === DEST_OPTS || next === MOBILITY) {
      if (ipEnd - j < 8) { p.reason = 'ip-truncated'; return MALFORMED; }
      const len = (b[j + 1] + 1) * 8;
      next = b[j];
      j += len;
      remaining -= len;
    } else if (next === FRAGMENT) {
      if (ipEnd - j < 8) { p.reason = 'ip-truncated'; return MALFORMED; }
      if ((u16be(b, j + 2) & 0xfff8) !== 0) return SKIP; // not the first fragment
      next = b[j];
      j += 8;
      remaining -= 8;
    } else if (next === AUTH) {
      if (ipEnd - j < 8) { p.reason = 'ip-truncated'; return MALFORMED; }
      const len = (b[j + 1] + 2) * 4; // RFC 4302 §2.2: in 4-octet units, minus 2
      next = b[j];
      j += len;
      remaining -= len;
    } else {
      if (remaining < 0 || j > ipEnd) { p.reason = 'ip-bad-header'; return MALFORMED; }
      return decodeTransport(p, next, b, j, ipEnd, remaining);
    }
  }
  p.reason = 'ip-bad-header';
  return MALFORMED;
}
