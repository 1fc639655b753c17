// The collector's data model, in one place. Every enum has one source of truth (a const tuple);
// the zod schemas at the boundaries and the TypeScript types both derive from it.

export const TRANSPORTS = ['tcp', 'udp'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export const PROTOCOLS = ['http', 'http2', 'grpc', 'tls', 'dns', 'tcp', 'udp'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export const SECURITIES = ['plaintext', 'tls', 'mtls', 'unknown'] as const;
export type Security = (typeof SECURITIES)[number];

/** How the client/server roles of a connection were decided. */
export const DIRECTIONS = ['observed', 'inferred'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** Where a call record came from. */
export const CALL_SOURCES = ['pcap', 'envoy', 'hubble'] as const;
export type CallSource = (typeof CALL_SOURCES)[number];

export const CAPTURE_STATUSES = ['running', 'complete', 'failed'] as const;
export type CaptureStatus = (typeof CAPTURE_STATUSES)[number];

/**
 * One aggregated call row: everything in the aggregation key plus counters.
 * Text key fields use '' for "not applicable" inside the collector and the store (SQLite UNIQUE
 * treats NULLs as distinct, which would break upserts); the CLI and API map '' to null.
 */
export interface CallKey {
  /** Start of the hour bucket, epoch milliseconds. */
  bucketMs: number;
  source: CallSource;
  node: string;
  srcIp: string;
  dstIp: string;
  /** The address the client dialled when it differs from dstIp (a Service ClusterIP before DNAT). */
  serviceIp: string;
  dstPort: number;
  transport: Transport;
  protocol: Protocol;
  method: string;
  path: string;
  host: string;
  sni: string;
  alpn: string;
  security: Security;
  securityReason: string;
  direction: Direction;
}

export interface CallCounters {
  /** Requests for HTTP and gRPC, queries for DNS, connections otherwise. */
  count: number;
  /** Connections that started under this key. */
  connections: number;
  /** TCP/UDP payload bytes, both directions, each byte once. */
  bytes: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** 1 when a credential-bearing header or parameter travelled in plaintext. */
  credentialsInPlaintext: number;
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
}

export interface CallRow extends CallKey, CallCounters {}

/** One packet as every capture format hands it to the decoders. */
export interface PacketRecord {
  linkType: number;
  /** Capture timestamp, epoch milliseconds (fractional). */
  tsMs: number;
  /** The bytes live in buf[offset, offset + capLen); the buffer is reused after the callback. */
  buf: Uint8Array;
  offset: number;
  capLen: number;
  origLen: number;
}

/** What one ingest of one input tallied; stored with the capture and printed in the summary. */
export interface IngestStats {
  bytesRead: number;
  packets: number;
  malformed: number;
  /** Packets we could decode but that carry nothing we track (ARP, ICMP, non-IP). */
  skipped: number;
  connections: number;
  /** Connections evicted before they ended because the flow table was full. */
  evictedEarly: number;
  callsWritten: number;
  firstTsMs: number | null;
  lastTsMs: number | null;
}
