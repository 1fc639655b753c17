// IPv4 (RFC 791). Only the first fragment of a fragmented datagram carries the transport header,
// so later fragments are skipped; the first one is decoded as far as it goes.
import { u16be } from '../sources/pcap/bytes.js';
import { MALFORMED, SKIP, type DecodedPacket, type Verdict } from './packet.js';
import { decodeTransport } from './transport.js';

export function decodeIpv4(p: DecodedPacket, b: Uint8Array, i: number, end: number): Verdict {
  if (end - i < 20) { p.reason = 'ip-truncated'; return MALFORMED; }
  const ihl = (b[i] & 0x0f) * 4;
  const totalLen = u16be(b, i + 2);
  if (ihl < 20 || totalLen < ihl) { p.reason = 'ip-bad-header'; return MALFORMED; }
  if (end - i < ihl) { p.reason = 'ip-truncated'; return MALFORMED; }
  const fragOffset = u16be(b, i + 6) & 0x1fff;
  if (fragOffset !== 0) return SKIP;
  p.ipVersion = 4;
  p.srcAddr = i + 12;
  p.dstAddr = i + 16;
  p.ipId = u16be(b, i + 4);
  // Trust the header's length over the frame's: Ethernet pads short frames with zeros. When the
  // capture is shorter than the header says (snaplen), decode what is there.
  const ipEnd = i + totalLen;
  return decodeTransport(p, b[i + 9], b, i + ihl, ipEnd < end ? ipEnd : end, totalLen - ihl);
}
