// The result every layer decoder writes into. One instance per ingest, reused for every packet:
// decoders fill fields with offsets into the packet buffer instead of slicing it.

/** Decoders return one of these small integers (plain constants: they inline across modules). */
export const OK = 0;
/** Decodable but nothing we track (ARP, ICMP, later IP fragments, other ethertypes). */
export const SKIP = 1;
/** Broken or truncated headers: counted as malformed. */
export const MALFORMED = 2;
export type Verdict = typeof OK | typeof SKIP | typeof MALFORMED;

export class DecodedPacket {
  buf: Uint8Array = new Uint8Array(0);
  /** 4 or 6. */
  ipVersion = 0;
  /** Offsets of the source and destination address bytes (4 or 16 long). */
  srcAddr = 0;
  dstAddr = 0;
  /** IPv4 identification, -1 for IPv6. */
  ipId = -1;
  /** 6 (TCP) or 17 (UDP). */
  transport = 0;
  srcPort = 0;
  dstPort = 0;
  /** TCP only. */
  seq = 0;
  ack = 0;
  flags = 0;
  /** Captured payload bytes are buf[payload, payloadEnd). */
  payload = 0;
  payloadEnd = 0;
  /** Payload length per the IP/UDP headers; more than captured when snaplen cut the packet. */
  payloadLen = 0;
  /** Where the last malformed verdict came from, for the tallies. */
  reason: DecodeFailure = 'link-truncated';
  /** Encapsulation depth (VXLAN), bounded so a crafted packet cannot recurse forever. */
  depth = 0;
}

export type DecodeFailure = 'link-truncated' | 'ip-bad-header' | 'ip-truncated' | 'tcp-bad-header' | 'udp-bad-header';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;
