// TCP header (RFC 9293 §3.1). Options are skipped by the data offset.
import { u16be } from '../sources/pcap/bytes.js';
import { MALFORMED, OK, type DecodedPacket, type Verdict } from './packet.js';

export function decodeTcp(p: DecodedPacket, b: Uint8Array, i: number, end: number, segLen: number): Verdict {
  if (end - i < 20) { p.reason = 'tcp-bad-header'; return MALFORMED; }
  const dataOffset = (b[i + 12] >> 4) * 4;
  if (dataOffset < 20 || dataOffset > segLen) { p.reason = 'tcp-bad-header'; return MALFORMED; }
  if (end - i < dataOffset) { p.reason = 'tcp-bad-header'; return MALFORMED; }
  p.transport = 6;
  p.srcPort = u16be(b, i);
  p.dstPort = u16be(b, i + 2);
  // Read in place rather than through u32be(): a call's return above 2^31 is a heap number, i.e.
  // an allocation per packet; stored straight into the field it is not.
  p.seq = ((b[i + 4] << 24) | (b[i + 5] << 16) | (b[i + 6] << 8) | b[i + 7]) >>> 0;
  p.ack = ((b[i + 8] << 24) | (b[i + 9] << 16) | (b[i + 10] << 8) | b[i + 11]) >>> 0;
  p.flags = b[i + 13];
  p.payload = i + dataOffset;
  p.payloadEnd = end;
  p.payloadLen = segLen - dataOffset;
  return OK;
}
