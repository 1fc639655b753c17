// TCP header (RFC 9293 §3.1). Options are skipped by the data offset.
import { u16be, u32be } from '../sources/pcap/bytes.js';
import { MALFORMED, OK, type DecodedPacket, type Verdict } from './packet.js';

export function decodeTcp(p: DecodedPacket, b: Uint8Array, i: number, end: number, segLen: number): Verdict {
  if (end - i < 20) { p.reason = 'tcp-bad-header'; return MALFORMED; }
  const dataOffset = (b[i + 12] >> 4) * 4;
  if (dataOffset < 20 || dataOffset > segLen) { p.reason = 'tcp-bad-header'; return MALFORMED; }
  if (end - i < dataOffset) { p.reason = 'tcp-bad-header'; return MALFORMED; }
  p.transport = 6;
  p.srcPort = u16be(b, i);
  p.dstPort = u16be(b, i + 2);
  p.seq = u32be(b, i + 4);
  p.ack = u32be(b, i + 8);
  p.flags = b[i + 13];
  p.payload = i + dataOffset;
  p.payloadEnd = end;
  p.payloadLen = segLen - dataOffset;
  return OK;
}
