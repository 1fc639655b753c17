// The entry point of application-layer inspection: sniff a connection's first bytes, pick one
// decoder, feed it, and say when nothing more can be learned (wantsMore) so the tracker's hot
// path stops paying. Detection rules and the security verdict table: docs/inspection.md.
import type { Protocol } from '../model.js';
import type { AppSink, ConnectionInspector, ConnectionVerdict, InspectorFactory } from './contract.js';
import { DnsTcpStream, parseDnsMessage } from './dns.js';
import { H1_CONTINUE, H1_SWITCH_H2, Http1Parser, Http1Shared, SNIFF_METHODS } from './http1.js';
import { CLIENT_PREFACE, Http2Connection, looksLikeH2Frame } from './http2.js';
import { TlsAnalyzer } from './tls.js';

// Modes, small integers.
const SNIFF = 0;
const HTTP1 = 1;
const HTTP2 = 2;
const TLS = 3;
const DNS = 4;
const RESP = 5;
const OPAQUE = 6;

// What the first bytes look like. NEED_MORE: undecided yet.
const NEED_MORE = 0;
const K_HTTP1_REQUEST = 1;
const K_HTTP1_RESPONSE = 2;
const K_H2_PREFACE = 3;
const K_H2_FRAME = 4;
const K_TLS_CLIENT = 5;
const K_TLS_SERVER = 6;
const K_DNS = 7;
const K_RESP = 8;
const K_UNKNOWN = 9;

/** Enough bytes to decide every rule below (the HTTP/2 preface is the longest). */
const SNIFF_BYTES = 24;
const DNS_PORTS = new Set([53, 5353]);

const METHOD_PREFIXES = SNIFF_METHODS.map((m) => Uint8Array.from(m + ' ', (c) => c.charCodeAt(0)));
const PREFACE = Uint8Array.from(CLIENT_PREFACE, (c) => c.charCodeAt(0));
const STATUS_PREFIX = Uint8Array.from('HTTP/1.', (c) => c.charCodeAt(0));

/** 1 match, 0 still a possible prefix, -1 mismatch. */
function prefixMatch(b: Uint8Array, start: number, end: number, lit: Uint8Array): number {
  const n = Math.min(end - start, lit.length);
  for (let i = 0; i < n; i++) if (b[start + i] !== lit[i]) return -1;
  return n === lit.length ? 1 : 0;
}

/** Classify the first bytes of one direction (see docs/inspection.md, "Detection"). */
export function sniff(b: Uint8Array, start: number, end: number, serverPort: number): number {
  const n = end - start;
  if (n === 0) return NEED_MORE;
  if (DNS_PORTS.has(serverPort)) return K_DNS;
  const b0 = b[start];
  if (b0 === 0x16) {
    // TLS handshake record: 0x16 0x03 0x0X, then the handshake type at offset 5.
    if (n < 3) return n < 2 || b[start + 1] === 3 ? NEED_MORE : K_UNKNOWN;
    if (b[start + 1] !== 3 || b[start + 2] > 4) return K_UNKNOWN;
    if (n < 6) return NEED_MORE;
    return b[start + 5] === 1 ? K_TLS_CLIENT : K_TLS_SERVER;
  }
  let isPossible = false;
  const pre = prefixMatch(b, start, end, PREFACE);
  if (pre === 1) return K_H2_PREFACE;
  if (pre === 0) isPossible = true;
  for (const m of METHOD_PREFIXES) {
    const r = prefixMatch(b, start, end, m);
    if (r === 1) return K_HTTP1_REQUEST;
    if (r === 0) isPossible = true;
  }
  const st = prefixMatch(b, start, end, STATUS_PREFIX);
  if (st === 1) return K_HTTP1_RESPONSE;
  if (st === 0) isPossible = true;
  if (b0 === 0x2a /* * */ && isResp(b, start, end)) return K_RESP;
  if (n < 9) return isPossible || b0 === 0x2a || b0 === 0 ? NEED_MORE : K_UNKNOWN;
  if (looksLikeH2Frame(b, start, end)) return K_H2_FRAME;
  if (isPossible && n < SNIFF_BYTES) return NEED_MORE;
  return K_UNKNOWN;
}

/** RESP (redis) array of bulk strings: "*<digits>\r\n$". */
function isResp(b: Uint8Array, start: number, end: number): boolean {
  let i = start + 1;
  while (i < end && i - start < 6 && b[i] >= 0x30 && b[i] <= 0x39) i++;
  return i > start + 1 && i + 2 < end && b[i] === 0x0d && b[i + 1] === 0x0a && b[i + 2] === 0x24;
}

class Inspector implements ConnectionInspector {
  private mode = SNIFF;
  rolesReversed = false;
  private readonly sniffBufs: Array<Uint8Array | null> = [null, null];
  private readonly sniffLens = [0, 0];
  private h1Client: Http1Parser | null = null;
  private h1Server: Http1Parser | null = null;
  /** Per role: still HTTP/1 (false once switched to HTTP/2 or stopped). */
  private isH1Client = false;
  private isH1Server = false;
  private h2: Http2Connection | null = null;
  private tls: TlsAnalyzer | null = null;
  private dnsClient: DnsTcpStream | null = null;
  private dnsServer: DnsTcpStream | null = null;

  constructor(
    private readonly sink: AppSink,
    private readonly serverPort: number,
  ) {}

  client(buf: Uint8Array, start: number, end: number): void {
    this.input(false, buf, start, end);
  }

  server(buf: Uint8Array, start: number, end: number): void {
    this.input(true, buf, start, end);
  }

  get wantsMore(): boolean {
    switch (this.mode) {
      case SNIFF:
        return true;
      case HTTP1:
        return (
          (this.isH1Client && this.h1Client!.isActive) ||
          (this.isH1Server && this.h1Server!.isActive) ||
          (this.h2 !== null && !this.h2.isStopped)
        );
      case HTTP2:
        return !this.h2!.isStopped;
      case TLS:
        return !this.tls!.isDone;
      case DNS:
        return !(this.dnsClient!.isMalformed && this.dnsServer!.isMalformed);
      default:
        return false;
    }
  }

  private input(isServer: boolean, buf: Uint8Array, start: number, end: number): void {
    if (start >= end) return;
    if (this.mode === SNIFF) {
      this.sniffInput(isServer, buf, start, end);
      return;
    }
    this.route(isServer !== this.rolesReversed, buf, start, end);
  }

  private sniffInput(isServer: boolean, buf: Uint8Array, start: number, end: number): void {
    const side = isServer ? 1 : 0;
    // Common case: the first chunk decides; no copy.
    if (this.sniffLens[side] === 0) {
      const kind = sniff(buf, start, end, this.serverPort);
      if (kind !== NEED_MORE) {
        this.decide(kind, isServer);
        this.flushOther(side);
        this.input(isServer, buf, start, end);
        return;
      }
    }
    // Undecided: keep up to SNIFF_BYTES per direction (the other side's bytes are kept too, and
    // replayed once the mode is known, so no byte is lost).
    const sb = (this.sniffBufs[side] ??= new Uint8Array(SNIFF_BYTES));
    const have = this.sniffLens[side];
    const take = Math.min(SNIFF_BYTES - have, end - start);
    for (let i = 0; i < take; i++) sb[have + i] = buf[start + i];
    const len = have + take;
    this.sniffLens[side] = len;
    let kind = sniff(sb, 0, len, this.serverPort);
    if (kind === NEED_MORE && len === SNIFF_BYTES) kind = K_UNKNOWN;
    if (kind === NEED_MORE) return;
    this.decide(kind, isServer);
    this.sniffLens[side] = 0;
    this.flushOther(side);
    this.input(isServer, sb, 0, len);
    if (start + take < end) this.input(isServer, buf, start + take, end);
  }

  /** Replay what the other direction sent while we were still sniffing. */
  private flushOther(side: number): void {
    const other = 1 - side;
    const len = this.sniffLens[other];
    if (len === 0) return;
    this.sniffLens[other] = 0;
    this.input(other === 1, this.sniffBufs[other]!, 0, len);
  }

  private decide(kind: number, isServerSide: boolean): void {
    const looksServer = kind === K_HTTP1_RESPONSE || kind === K_TLS_SERVER;
    switch (kind) {
      case K_HTTP1_RESPONSE:
      case K_HTTP1_REQUEST: {
        this.mode = HTTP1;
        const shared = new Http1Shared();
        this.h1Client = new Http1Parser(true, shared, this.sink);
        this.h1Server = new Http1Parser(false, shared, this.sink);
        this.isH1Client = this.isH1Server = true;
        break;
      }
      case K_H2_PREFACE:
      case K_H2_FRAME:
        this.mode = HTTP2;
        this.h2 = new Http2Connection(this.sink);
        break;
      case K_TLS_SERVER:
      case K_TLS_CLIENT:
        this.mode = TLS;
        this.tls = new TlsAnalyzer(this.sink);
        break;
      case K_DNS:
        this.mode = DNS;
        this.dnsClient = new DnsTcpStream(this.sink);
        this.dnsServer = new DnsTcpStream(this.sink);
        break;
      case K_RESP:
        this.mode = RESP;
        break;
      default:
        this.mode = OPAQUE;
    }
    // A server-side first byte that looks like a client's (or the reverse) means the tracker
    // guessed the roles of a mid-stream connection the wrong way round.
    this.rolesReversed = looksServer !== isServerSide && (kind !== K_UNKNOWN && kind !== K_H2_FRAME && kind !== K_DNS && kind !== K_RESP);
  }

  /** Bytes of one role (after any reversal). */
  private route(isServerRole: boolean, buf: Uint8Array, start: number, end: number): void {
    switch (this.mode) {
      case HTTP1:
        this.http1(isServerRole, buf, start, end);
        break;
      case HTTP2:
        (isServerRole ? this.h2!.server : this.h2!.client).feed(buf, start, end);
        break;
      case TLS:
        if (isServerRole) this.tls!.server(buf, start, end);
        else this.tls!.client(buf, start, end);
        break;
      case DNS:
        (isServerRole ? this.dnsServer! : this.dnsClient!).feed(buf, start, end);
        break;
      default:
    }
  }

  private http1(isServerRole: boolean, buf: Uint8Array, start: number, end: number): void {
    const isH1 = isServerRole ? this.isH1Server : this.isH1Client;
    if (!isH1) {
      if (this.h2) (isServerRole ? this.h2.server : this.h2.client).feed(buf, start, end);
      return;
    }
    const parser = isServerRole ? this.h1Server! : this.h1Client!;
    const r = parser.feed(buf, start, end);
    if (r === H1_CONTINUE) return;
    if (isServerRole) this.isH1Server = false;
    else this.isH1Client = false;
    // Malformed framing on either side: we have lost message boundaries, stop both.
    if (parser.isMalformed) this.isH1Client = this.isH1Server = false;
    if (r === H1_SWITCH_H2) {
      // Prior-knowledge preface on an HTTP/1-looking start, or h2c upgrade (RFC 7540 §3.2).
      this.h2 ??= new Http2Connection(this.sink);
      // The client's request line "PRI * HTTP/2.0" was consumed; "SM\r\n\r\n" remains.
      if (!isServerRole) this.h2.client.prefaceLeft = 6;
      const from = parser.switchOffset;
      if (from < end) this.http1(isServerRole, buf, from, end);
    }
  }

  verdict(): ConnectionVerdict {
    switch (this.mode) {
      case HTTP1:
        if (this.h2 !== null && this.h2.requests + this.h2.responses > 0) return this.h2.isGrpc ? GRPC_H2C_UPGRADE : HTTP2_H2C_UPGRADE;
        return HTTP1_PLAIN;
      case HTTP2:
        return this.h2!.isGrpc ? GRPC_H2C : HTTP2_H2C;
      case TLS:
        return this.tls!.verdict();
      case DNS:
        return DNS_PLAIN;
      case RESP:
        return RESP_PLAIN;
      case OPAQUE:
        return OPAQUE_UNKNOWN;
      default:
        return NOT_CLASSIFIED;
    }
  }
}

// The verdicts that depend on the mode alone, made once: the tracker asks for the verdict at
// every HTTP request (its security reason), not only at the end of a connection.
const plain = (protocol: Protocol, reason: string): ConnectionVerdict =>
  Object.freeze({ protocol, security: 'plaintext', securityReason: reason, sni: '', alpn: '' });
const HTTP1_PLAIN = plain('http', 'cleartext http/1');
const HTTP2_H2C_UPGRADE = plain('http2', 'cleartext h2c upgrade');
const GRPC_H2C_UPGRADE = plain('grpc', 'cleartext h2c upgrade');
const HTTP2_H2C = plain('http2', 'cleartext h2c');
const GRPC_H2C = plain('grpc', 'cleartext h2c');
const DNS_PLAIN = plain('dns', 'cleartext dns');
const RESP_PLAIN = plain('tcp', 'cleartext redis resp');
const OPAQUE_UNKNOWN: ConnectionVerdict = Object.freeze({ protocol: 'tcp', security: 'unknown', securityReason: 'unrecognised protocol', sni: '', alpn: '' });
const NOT_CLASSIFIED: ConnectionVerdict = Object.freeze({ protocol: 'tcp', security: 'unknown', securityReason: 'no payload classified', sni: '', alpn: '' });

export const createInspector: InspectorFactory = (sink, serverPort) => new Inspector(sink, serverPort);

/**
 * One UDP datagram: DNS when one port is 53 or 5353 and the payload parses as DNS (then it is
 * reported to sink.dns, a query to sink.dnsQuery when the sink has one), otherwise plain 'udp'.
 * A datagram on a DNS port that does not parse is counted as malformed.
 */
export function inspectDatagram(
  buf: Uint8Array,
  start: number,
  end: number,
  srcPort: number,
  dstPort: number,
  sink: AppSink,
): Protocol {
  if (!DNS_PORTS.has(srcPort) && !DNS_PORTS.has(dstPort)) return 'udp';
  return parseDnsMessage(buf, start, end, sink) ? 'dns' : 'udp';
}
