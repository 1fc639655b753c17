// Test-only: the peer comparison of issue 3. tshark's per-packet fields become the calls trustmap
// should have recorded — by the documented rules only (docs/path-templates.md for paths,
// docs/inspection.md for grpc detection, the ALPN field and the TLS verdict table) — and trustmap's
// `calls --json` rows are keyed the same way, so two multisets can be compared.
import assert from 'node:assert/strict';
import { templatePath } from '../../collector/inspect/path-template.js';
import { tsharkFields } from './tshark.js';

export const PEER_FIELDS = [
  'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'udp.dstport', 'tcp.stream',
  'http.request.method', 'http.request.uri', 'http.host', 'http.response.code',
  'http2.headers.method', 'http2.headers.path', 'http2.headers.authority', 'http2.headers.content_type', 'http2.headers.status',
  'tls.handshake.type', 'tls.handshake.extensions_server_name', 'tls.handshake.extensions_alpn_str',
  'tls.handshake.extensions.supported_version', 'tls.handshake.certificates_length',
  'dns.flags.response',
] as const;
type Field = (typeof PEER_FIELDS)[number];
export type PeerRow = Record<Field, string>;

/** The fields of `trustmap calls --json` the comparison reads. */
export interface Call {
  src_ip: string; dst_ip: string; dst_port: number; transport: string; protocol: string; method: string | null; path: string | null;
  host: string | null; sni: string | null; alpn: string | null; security: string; security_reason: string | null; count: number;
  status: Record<'2xx' | '3xx' | '4xx' | '5xx', number>;
}

/** What one capture holds, as comparable multisets: key → count. */
export interface Seen { requests: Map<string, number>; tls: Map<string, number>; dns: Map<string, number>; status: Map<string, number> }

const list = (s: string): string[] => (s === '' ? [] : s.split(','));
/** The innermost address wins: a VXLAN frame carries the overlay's header last. */
const last = (s: string): string => list(s).at(-1) ?? '';
const src = (r: PeerRow): string => last(r['ipv6.src']) || last(r['ip.src']);
const dst = (r: PeerRow): string => last(r['ipv6.dst']) || last(r['ip.dst']);
const statusClass = (code: string): string | null => (/^[2-5]\d\d$/.test(code) ? `${code[0]}xx` : null);
const bump = (m: Map<string, number>, k: string, n = 1): void => { m.set(k, (m.get(k) ?? 0) + n); };
const GRPC_PATH = /^\/[^/]+\/[^/]+$/;

/** The calls tshark's decode implies, keyed like `trustmapSeen` keys trustmap's calls. */
export function tsharkSeen(rows: PeerRow[]): Seen {
  const seen: Seen = { requests: new Map(), tls: new Map(), dns: new Map(), status: new Map() };
  const streams = new Map<string, PeerRow[]>();
  for (const r of rows) {
    const edge = `${src(r)} -> ${dst(r)}:${r['tcp.dstport'] || r['udp.dstport']}`;
    const methods = list(r['http.request.method']);
    // A URI may itself hold a comma; one request per packet is the case in every fixture.
    const uris = methods.length === 1 ? [r['http.request.uri']] : list(r['http.request.uri']);
    assert.equal(uris.length, methods.length, `pipelined requests with commas in URIs: ${JSON.stringify(r)}`);
    methods.forEach((m, i) => bump(seen.requests, `http ${edge} ${m} ${templatePath(uris[i])} host=${r['http.host'] || null}`));
    const h2 = list(r['http2.headers.method']);
    const paths = h2.length === 1 ? [r['http2.headers.path']] : list(r['http2.headers.path']);
    const authorities = list(r['http2.headers.authority']);
    const types = list(r['http2.headers.content_type']);
    assert.ok(h2.length <= 1 || (paths.length === h2.length && authorities.length === h2.length && types.length === h2.length), `several HTTP/2 requests in one packet, fields do not line up: ${JSON.stringify(r)}`);
    h2.forEach((m, i) => {
      // docs/inspection.md: grpc when content-type starts with application/grpc and the path is /Service/Method.
      const protocol = (types[i] ?? '').startsWith('application/grpc') && GRPC_PATH.test(paths[i]) ? 'grpc' : 'http2';
      bump(seen.requests, `${protocol} ${edge} ${m} ${templatePath(paths[i])} host=${authorities[i] || null}`);
    });
    for (const code of [...list(r['http.response.code']), ...list(r['http2.headers.status'])]) {
      const c = statusClass(code); // 1xx interim responses are not reported (docs/inspection.md)
      if (c) bump(seen.status, c);
    }
    // Several DNS messages can share one TCP segment: count each query (QR = 0).
    const queries = list(r['dns.flags.response']).filter((f) => f === '0' || f === 'False').length;
    if (queries > 0) bump(seen.dns, `dns ${edge}`, queries);
    if (r['tls.handshake.type'] !== '') {
      const s = streams.get(r['tcp.stream']) ?? [];
      s.push(r);
      streams.set(r['tcp.stream'], s);
    }
  }
  for (const flight of streams.values()) {
    const hello = flight.find((r) => list(r['tls.handshake.type']).includes('1'));
    if (!hello) continue; // no ClientHello: nothing to attribute the connection to
    const fromClient = (r: PeerRow): boolean => src(r) === src(hello) && r['tcp.srcport'] === hello['tcp.srcport'];
    const serverHello = flight.find((r) => !fromClient(r) && list(r['tls.handshake.type']).includes('2'));
    const offers = hello['tls.handshake.extensions_alpn_str'];
    const sni = hello['tls.handshake.extensions_server_name'];
    const isTls13 = serverHello?.['tls.handshake.extensions.supported_version'] === '0x0304';
    const certRequested = flight.some((r) => !fromClient(r) && list(r['tls.handshake.type']).includes('13'));
    const clientCert = flight.find((r) => fromClient(r) && list(r['tls.handshake.type']).includes('11'));
    const clientCertBytes = clientCert ? Number(list(clientCert['tls.handshake.certificates_length'])[0] ?? 0) : null;
    // docs/inspection.md: the negotiated ALPN when a TLS ≤ 1.2 ServerHello shows it, else the offers.
    const selected = serverHello && !isTls13 ? serverHello['tls.handshake.extensions_alpn_str'] : '';
    const alpn = selected || offers || null;
    const verdict = tlsVerdict({ serverHello: serverHello !== undefined, isTls13, certRequested, clientCertBytes, offers: list(offers), sni });
    bump(seen.tls, `tls ${src(hello)} -> ${dst(hello)}:${hello['tcp.dstport']} sni=${sni || null} alpn=${alpn} ${verdict}`);
  }
  return seen;
}

/** The security verdict table of docs/inspection.md, first match wins, applied to tshark's facts. */
function tlsVerdict(f: { serverHello: boolean; isTls13: boolean; certRequested: boolean; clientCertBytes: number | null; offers: string[]; sni: string }): string {
  if (f.serverHello && !f.isTls13 && (f.clientCertBytes ?? 0) > 0) return 'mtls/tls1.2 client certificate';
  if (f.offers.some((a) => ['istio-peer-exchange', 'istio', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'].includes(a))) return 'mtls/istio mtls alpn';
  if (/^outbound_\.\d+_\.[^.]*_\..+/.test(f.sni)) return 'mtls/istio mtls sni';
  if (f.offers.includes('transport.l5d.io/v1')) return 'mtls/linkerd mtls alpn';
  if (f.sni.includes('.serviceaccount.identity.linkerd.')) return 'mtls/linkerd mtls sni';
  if (!f.serverHello) return 'tls/tls, server hello not seen';
  if (f.isTls13) return 'tls/tls1.3, no client cert visible';
  if (f.certRequested) return f.clientCertBytes === null ? 'tls/tls1.2 certificate requested, reply not seen' : 'tls/tls1.2 certificate requested, none sent';
  return 'tls/tls1.2 no client certificate';
}

export function trustmapSeen(calls: Call[]): Seen {
  const seen: Seen = { requests: new Map(), tls: new Map(), dns: new Map(), status: new Map() };
  for (const c of calls) {
    const edge = `${c.src_ip} -> ${c.dst_ip}:${c.dst_port}`;
    if (c.protocol === 'http' || c.protocol === 'http2' || c.protocol === 'grpc') bump(seen.requests, `${c.protocol} ${edge} ${c.method} ${c.path} host=${c.host}`, c.count);
    if (c.protocol === 'tls') bump(seen.tls, `tls ${edge} sni=${c.sni} alpn=${c.alpn} ${c.security}/${c.security_reason}`, c.count);
    if (c.protocol === 'dns') bump(seen.dns, `dns ${edge}`, c.count);
    for (const [cls, n] of Object.entries(c.status)) if (n > 0) bump(seen.status, cls, n);
  }
  return seen;
}

export const sortedEntries = (m: Map<string, number>): Array<[string, number]> => [...m].sort(([a], [b]) => a.localeCompare(b));

/** tshark's rows for a capture, one object per packet, every field present ('' when absent). */
export function peerRows(file: string, extra: string[] = []): PeerRow[] {
  return tsharkFields(file, [...PEER_FIELDS], extra)
    .map((cols) => Object.fromEntries(PEER_FIELDS.map((f, i) => [f, cols[i] ?? ''])) as PeerRow);
}
