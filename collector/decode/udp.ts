// UDP (RFC 768). VXLAN (RFC 7348, UDP 4789) is unwrapped once so overlay CNIs' node captures
// show the pods' own traffic rather than one tunnel between nodes.
import { u16be } from '../sources/pcap/bytes.js';
import { decodeEthernet } from './link.js';
import { MALFORMED, OK, type DecodedPacket, type Verdict } from './packet.js';

const VXLAN_PORT = 4789;

export function decodeUdp(p: DecodedPacket, b: Uint8Array, i: number, end: number, ipPayloadLen: number): Verdict {
  if (end - i < 8) { p.reason = 'udp-bad-header'; return MALFORMED; }
  const len = u16be(b, i + 4);
  if (len < 8 || len > ipPayloadLen) { p.reason = 'udp-bad-header'; return MALFORMED; }
  const dstPort = u16be(b, i + 2);
  const payloadEnd = Math.min(i + len, end);
  if (dstPort === VXLAN_PORT && p.depth === 0 && payloadEnd - i >= 16 && (b[i + 8] & 0x08) !== 0) {
    p.depth = 1;
    return decodeEthernet(p, b, i + 16, payloadEnd);
  }
  p.transport = 17;
  p.srcPort = u16be(b, i);
  p.dstPort = dstPort;
  p.payload = i + 8;
  p.payloadEnd = payloadEnd;
  p.payloadLen = len - 8;
  return OK;
}
