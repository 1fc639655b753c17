// Transport dispatch by IP protocol number.
import { SKIP, type DecodedPacket, type Verdict } from './packet.js';
import { decodeTcp } from './tcp.js';
import { decodeUdp } from './udp.js';

export function decodeTransport(p: DecodedPacket, proto: number, b: Uint8Array, i: number, end: number, ipPayloadLen: number): Verdict {
  if (proto === 6) return decodeTcp(p, b, i, end, ipPayloadLen);
  if (proto === 17) return decodeUdp(p, b, i, end, ipPayloadLen);
  return SKIP; // ICMP, SCTP, GRE, ESP, ...
}
