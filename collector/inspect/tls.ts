// TLS handshake observation, passive and without keys. Record layer: RFC 8446 §5.1 / RFC 5246
// §6.2.1 (5-byte header, type 22 carries handshake messages, which may span records and TCP
// segments, so we reassemble them in a bounded buffer). Handshake messages read: ClientHello
// (RFC 8446 §4.1.2), ServerHello (§4.1.3, incl. HelloRetryRequest), and for TLS <= 1.2
// Certificate (RFC 5246 §7.4.2) and CertificateRequest (§7.4.4), which travel in clear.
// Extensions: server_name (RFC 6066 §3), ALPN (RFC 7301 §3.1), supported_versions
// (RFC 8446 §4.2.1). TLS 1.3 encrypts everything after ServerHello, so client certificates are
// invisible; there we fall back to the service-mesh markers documented in docs/inspection.md.
import type { AppSink, ConnectionVerdict } from './contract.js';
import { parseCertificate } from './x509.js';
import { ByteAccumulator, MAX_HOST, safeString } from './text.js';

/** Handshake messages larger than this (certificate chains included) are not reassembled. */
export const MAX_HANDSHAKE = 64 * 1024;
/** RFC 8446 §5.2: a record is at most 2^14 + 256 bytes of ciphertext; we allow 2^14 + 2048 (TLS 1.2 §6.2.3). */
const MAX_RECORD = 16384 + 2048;
const MAX_ALPN_IDS = 16;

const CT_CCS = 20;
const CT_HANDSHAKE = 22;
const CT_APPDATA = 23;
const CT_HEARTBEAT = 24;

const HS_CLIENT_HELLO = 1;
const HS_SERVER_HELLO = 2;
const HS_CERTIFICATE = 11;
const HS_CERTIFICATE_REQUEST = 13;

const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;

// RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
const HRR_RANDOM = Uint8Array.from([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a,
  0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
]);

/** Istio sidecars announce these ALPN tokens on mTLS between proxies. */
export const ISTIO_ALPN = ['istio-peer-exchange', 'istio', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'];
/** Istio's client sidecar sets SNI outbound_.PORT_.SUBSET_.HOST (e.g. outbound_.9080_._.reviews.ns.svc.cluster.local). */
const ISTIO_SNI = /^outbound_\.\d{1,5}_\.[^.]*_\.[^.]+/;
/** linkerd2-proxy's opaque-transport protocol (linkerd2-proxy transport-header crate). */
export const LINKERD_ALPN = 'transport.l5d.io/v1';
/** linkerd2-proxy dials with SNI = the server's identity, NAME.NS.serviceaccount.identity.linkerd.TRUST_DOMAIN. */
const LINKERD_SNI = '.serviceaccount.identity.linkerd.';

/** One direction's record layer. */
class TlsDirection {
  readonly hdr = new Uint8Array(5);
  hdrLen = 0;
  recType = 0;
  recLeft = 0;
  readonly hs = new ByteAccumulator(1024, MAX_HANDSHAKE);
  /** ChangeCipherSpec or application data seen: what follows is encrypted. */
  isEncrypted = false;
  records = 0;
}

export class TlsAnalyzer {
  private readonly c = new TlsDirection();
  private readonly s = new TlsDirection();
  sawClientHello = false;
  sawServerHello = false;
  /** 0x0303 for TLS 1.2, 0x0304 for TLS 1.3, from supported_versions when present. */
  version = 0;
  sni = '';
  offeredAlpn: string[] = [];
  selectedAlpn = '';
  certRequested = false;
  /** -1 unknown, else how many certificates the client sent. */
  clientCerts = -1;
  isDone = false;
  isMalformed = false;

  constructor(private readonly sink: AppSink) {}

  client(buf: Uint8Array, start: number, end: number): void {
    this.records(this.c, true, buf, start, end);
  }

  server(buf: Uint8Array, start: number, end: number): void {
    this.records(this.s, false, buf, start, end);
  }

  private records(d: TlsDirection, fromClient: boolean, buf: Uint8Array, start: number, end: number): void {
    let i = start;
    while (i < end && !this.isDone && !d.isEncrypted) {
      if (d.recLeft === 0) {
        while (d.hdrLen < 5 && i < end) d.hdr[d.hdrLen++] = buf[i++];
        if (d.hdrLen < 5) return;
        d.hdrLen = 0;
        const type = d.hdr[0];
        const len = (d.hdr[3] << 8) | d.hdr[4];
        if (type < CT_CCS || type > CT_HEARTBEAT || d.hdr[1] !== 3 || len > MAX_RECORD) {
          this.fail('tls record header');
          return;
        }
        d.recType = type;
        d.recLeft = len;
        d.records++;
        if (len === 0) continue;
      }
      const n = Math.min(d.recLeft, end - i);
      if (d.recType === CT_HANDSHAKE) {
        const from = i;
        d.recLeft -= n;
        i += n;
        if (d.hs.length === 0) {
          // The common case, whole messages in one record and chunk: read where they are, and
          // only an incomplete tail is copied (it fits: a record is far below MAX_HANDSHAKE).
          const used = this.messages(buf, from, i, fromClient);
          if (used < n) d.hs.append(buf, from + used, i);
        } else {
          if (!d.hs.append(buf, from, i)) {
            this.fail('tls handshake too large');
            return;
          }
          d.hs.consume(this.messages(d.hs.bytes, 0, d.hs.length, fromClient));
        }
      } else {
        d.recLeft -= n;
        i += n;
        if (d.recType === CT_CCS || d.recType === CT_APPDATA) this.encrypted(d);
      }
    }
  }

  private encrypted(d: TlsDirection): void {
    d.isEncrypted = true;
    // Once both sides encrypt, every clear-text handshake message has been sent (RFC 5246 §7.3:
    // the client's Certificate precedes its ChangeCipherSpec). Waiting for both, not just the
    // client, keeps the verdict independent of how the two directions' chunks interleave.
    if (this.c.isEncrypted && this.s.isEncrypted) this.isDone = true;
  }

  /** Reads the whole handshake messages in b[start, end); returns the bytes they took. */
  private messages(b: Uint8Array, start: number, end: number, fromClient: boolean): number {
    let p = start;
    while (end - p >= 4) {
      const type = b[p];
      const len = (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
      if (len > MAX_HANDSHAKE - 4) {
        this.fail('tls handshake too large');
        break;
      }
      if (end - p < 4 + len) break;
      this.message(type, b, p + 4, p + 4 + len, fromClient);
      p += 4 + len;
      if (this.isDone) break;
    }
    return p - start;
  }

  private message(type: number, b: Uint8Array, start: number, end: number, fromClient: boolean): void {
    if (fromClient && type === HS_CLIENT_HELLO) {
      if (!this.clientHello(b, start, end)) this.fail('tls client hello');
      else if (this.version === 0x0304) this.isDone = true;
    } else if (!fromClient && type === HS_SERVER_HELLO) {
      if (!this.serverHello(b, start, end)) this.fail('tls server hello');
    } else if (type === HS_CERTIFICATE && this.version !== 0x0304) {
      this.certificates(b, start, end, fromClient);
    } else if (!fromClient && type === HS_CERTIFICATE_REQUEST) {
      this.certRequested = true;
    }
  }

  private clientHello(b: Uint8Array, start: number, end: number): boolean {
    this.sawClientHello = true;
    // legacy_version(2) random(32) legacy_session_id<0..32>
    let p = start + 34;
    if (p + 1 > end) return false;
    p += 1 + b[p];
    if (p + 2 > end) return false;
    p += 2 + ((b[p] << 8) | b[p + 1]); // cipher_suites
    if (p + 1 > end) return false;
    p += 1 + b[p]; // legacy_compression_methods
    if (p > end) return false;
    if (p === end) return true; // no extensions (TLS <= 1.2 allows it)
    return this.extensions(b, p, end, true);
  }

  private serverHello(b: Uint8Array, start: number, end: number): boolean {
    if (start + 34 > end) return false;
    const legacy = (b[start] << 8) | b[start + 1];
    let isHrr = true;
    for (let i = 0; i < 32; i++) {
      if (b[start + 2 + i] !== HRR_RANDOM[i]) {
        isHrr = false;
        break;
      }
    }
    let p = start + 34;
    if (p + 1 > end) return false;
    p += 1 + b[p]; // legacy_session_id_echo
    p += 3; // cipher_suite, legacy_compression_method
    if (p > end) return false;
    // A HelloRetryRequest asks for a second ClientHello; the real ServerHello comes later.
    if (isHrr) return true;
    this.sawServerHello = true;
    this.version = legacy;
    if (p < end && !this.extensions(b, p, end, false)) return false;
    // TLS 1.3: the rest of the handshake is encrypted (RFC 8446 §2); nothing more to see once
    // we also have the ClientHello (it may be fed after the ServerHello on a mid-stream join).
    if (this.version === 0x0304 && this.sawClientHello) this.isDone = true;
    return true;
  }

  private extensions(b: Uint8Array, start: number, end: number, isClient: boolean): boolean {
    if (start + 2 > end) return false;
    const extEnd = start + 2 + ((b[start] << 8) | b[start + 1]);
    if (extEnd > end) return false;
    let p = start + 2;
    while (p + 4 <= extEnd) {
      const type = (b[p] << 8) | b[p + 1];
      const len = (b[p + 2] << 8) | b[p + 3];
      const ds = p + 4;
      const de = ds + len;
      if (de > extEnd) return false;
      if (type === EXT_SERVER_NAME && isClient) {
        // ServerNameList: list length(2), then name_type(1) length(2) name; host_name is type 0.
        let q = ds + 2;
        while (q + 3 <= de) {
          const nl = (b[q + 1] << 8) | b[q + 2];
          if (q + 3 + nl > de) return false;
          if (b[q] === 0 && this.sni === '') this.sni = safeString(b, q + 3, q + 3 + nl, MAX_HOST);
          q += 3 + nl;
        }
      } else if (type === EXT_ALPN) {
        // ProtocolNameList: list length(2), then length(1) name.
        let q = ds + 2;
        while (q < de) {
          const nl = b[q];
          if (nl === 0 || q + 1 + nl > de) return false;
          const id = safeString(b, q + 1, q + 1 + nl, MAX_HOST);
          if (isClient) {
            if (this.offeredAlpn.length < MAX_ALPN_IDS) this.offeredAlpn.push(id);
          } else {
            this.selectedAlpn = id;
          }
          q += 1 + nl;
        }
      } else if (type === EXT_SUPPORTED_VERSIONS && !isClient) {
        if (len !== 2) return false;
        this.version = (b[ds] << 8) | b[ds + 1];
      }
      p = de;
    }
    return true;
  }

  private certificates(b: Uint8Array, start: number, end: number, fromClient: boolean): void {
    // certificate_list<0..2^24-1>, each ASN.1Cert<1..2^24-1> (RFC 5246 §7.4.2)
    if (start + 3 > end) {
      this.fail('tls certificate');
      return;
    }
    const listEnd = start + 3 + ((b[start] << 16) | (b[start + 1] << 8) | b[start + 2]);
    if (listEnd > end) {
      this.fail('tls certificate');
      return;
    }
    let count = 0;
    let p = start + 3;
    while (p + 3 <= listEnd) {
      const len = (b[p] << 16) | (b[p + 1] << 8) | b[p + 2];
      if (p + 3 + len > listEnd) {
        this.fail('tls certificate');
        return;
      }
      count++;
      const cert = parseCertificate(b, p + 3, p + 3 + len, this.sink);
      if (cert) this.sink.certificate(cert, fromClient);
      p += 3 + len;
    }
    if (fromClient) this.clientCerts = count;
  }

  private fail(reason: string): void {
    this.sink.malformed(reason);
    this.isMalformed = true;
    this.isDone = true;
  }

  /** The security verdict, in the order of docs/inspection.md's table: its mTLS rows come first. */
  verdict(): ConnectionVerdict {
    const alpn = this.selectedAlpn !== '' ? this.selectedAlpn : this.offeredAlpn.join(',');
    const isTls12 = this.sawServerHello && this.version !== 0 && this.version <= 0x0303;
    const mtls = this.mtlsReason(isTls12);
    return mtls !== null
      ? { protocol: 'tls', security: 'mtls', securityReason: mtls, sni: this.sni, alpn }
      : { protocol: 'tls', security: 'tls', securityReason: this.tlsReason(isTls12), sni: this.sni, alpn };
  }

  /** The first of the table's mutual-TLS rows that matches, or null. */
  private mtlsReason(isTls12: boolean): string | null {
    if (isTls12 && this.clientCerts > 0) return 'tls1.2 client certificate';
    for (const id of this.offeredAlpn) {
      if (ISTIO_ALPN.includes(id)) return 'istio mtls alpn';
    }
    if (ISTIO_SNI.test(this.sni)) return 'istio mtls sni';
    if (this.offeredAlpn.includes(LINKERD_ALPN)) return 'linkerd mtls alpn';
    if (this.sni.includes(LINKERD_SNI)) return 'linkerd mtls sni';
    return null;
  }

  /** Why a connection that matched no mutual-TLS row is one-way TLS: the first row that matches. */
  private tlsReason(isTls12: boolean): string {
    if (isTls12) {
      return this.certRequested
        ? this.clientCerts === 0
          ? 'tls1.2 certificate requested, none sent'
          : 'tls1.2 certificate requested, reply not seen'
        : 'tls1.2 no client certificate';
    }
    if (this.version === 0x0304) return 'tls1.3, no client cert visible';
    if (this.sawServerHello) return `tls version 0x${this.version.toString(16)}`;
    return 'tls, server hello not seen';
  }
}

/** For sniffing: does buf[start..] begin with a handshake record holding a ServerHello? */
export function looksLikeServerHello(buf: Uint8Array, start: number, end: number): boolean {
  return end - start >= 6 && buf[start] === CT_HANDSHAKE && buf[start + 1] === 3 && buf[start + 5] === HS_SERVER_HELLO;
}
