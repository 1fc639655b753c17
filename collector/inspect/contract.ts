// The seam between connection tracking (collector/track) and application-layer inspection
// (collector/inspect). The tracker owns reassembly: it hands each direction's bytes to the
// inspector exactly once and in order, as sub-ranges of a buffer it reuses after the call
// returns. An inspector therefore copies whatever it must keep (a partial header line) and never
// holds on to `buf`.
import type { Protocol, Security } from '../model.js';

/** What an inspector reports for a connection; the tracker turns these into aggregated calls. */
export interface AppSink {
  /** One HTTP request (HTTP/1.x request line, or HTTP/2 HEADERS with :method/:path). */
  request(req: AppRequest): void;
  /** One response status code (HTTP/1.x status line or HTTP/2 :status). */
  response(status: number): void;
  /** A decoded DNS message; the tracker records answers as address → name. */
  dns(msg: DnsMessage): void;
  /**
   * A DNS query, for a sink that only counts them: when present, queries are validated as before
   * but reach this instead of dns(), and no message or name string is built for them.
   */
  dnsQuery?(): void;
  /** A TLS certificate that travelled in clear (TLS <= 1.2). */
  certificate(cert: CertificateInfo, fromClient: boolean): void;
  /** Something did not parse; counted, never thrown. `reason` is a short constant string. */
  malformed(reason: string): void;
}

export interface AppRequest {
  protocol: 'http' | 'http2' | 'grpc';
  method: string;
  /** Raw request target as sent (the tracker templates it). */
  target: string;
  /** Host header or :authority, '' when absent. */
  host: string;
  /** An Authorization/Cookie/API-key header or password-like parameter was present. */
  hasCredentials: boolean;
}

export interface DnsMessage {
  isResponse: boolean;
  /** Lower-cased query name without the trailing dot. */
  qname: string;
  qtype: number;
  /** A/AAAA answers as printable addresses; CNAME answers as names. */
  answers: Array<{ name: string; type: 'A' | 'AAAA' | 'CNAME'; value: string; ttl: number }>;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** URI SANs, e.g. SPIFFE IDs. */
  uris: string[];
  dnsNames: string[];
  notBeforeMs: number;
  notAfterMs: number;
  serialHex: string;
  /** sha256 of the DER, hex: the certificate's identity in the inventory. */
  fingerprint: string;
}

/** The connection-level verdict, read by the tracker when the connection is finalised. */
export interface ConnectionVerdict {
  protocol: Protocol;
  security: Security;
  /** Why `security` was chosen, e.g. "tls1.2 client certificate", "istio mtls alpn". */
  securityReason: string;
  sni: string;
  /** The negotiated ALPN when visible, else the client's offered list joined with ','. */
  alpn: string;
}

/** One per TCP connection, created when the first payload byte is seen. */
export interface ConnectionInspector {
  /** Bytes from client to server, in order, each byte once. */
  client(buf: Uint8Array, start: number, end: number): void;
  /** Bytes from server to client, in order, each byte once. */
  server(buf: Uint8Array, start: number, end: number): void;
  /** False once the inspector has learned all it can: the tracker then stops feeding it. */
  readonly wantsMore: boolean;
  /** True when the bytes fed as "client" look like a server's (an HTTP status line, a
   *  ServerHello). Only consulted for mid-stream connections whose roles were guessed. */
  readonly rolesReversed: boolean;
  verdict(): ConnectionVerdict;
}

export type InspectorFactory = (sink: AppSink, serverPort: number) => ConnectionInspector;
