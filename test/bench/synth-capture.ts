// Deterministic synthetic captures for the benchmarks: what a Kubernetes node sees, to any size.
// ~300 pods in 10.244.0.0/16 call ~40 services over short HTTP/1.1 keep-alive connections and
// TLS connections (ClientHello with SNI and ALPN, ServerHello, opaque records), and resolve
// service names at kube-dns over UDP. Every stream is in order with correct IPv4 lengths and
// checksums, TCP sequence/ack numbers and timestamps, so a tracker sees what a real capture shows.
// Same arguments, same bytes (a seeded mulberry32); memory stays bounded (the file is written in
// 4 MiB buffers while ~48 connections are interleaved). A JSON sidecar holds the ground truth.
//
//   tsx test/bench/synth-capture.ts --size 200M --out test/bench/out/x.pcap [--format pcapng] [--link sll2] [--seed N]
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const FORMATS = ['pcap', 'pcapng'] as const;
export type CaptureFormat = (typeof FORMATS)[number];
export const LINKS = ['ether', 'sll2'] as const;
export type LinkLayer = (typeof LINKS)[number];

/** Bumped whenever the bytes for given arguments change, so cached captures are regenerated. */
export const GENERATOR_VERSION = 1;

export interface SynthOptions {
  out: string;
  sizeBytes: number;
  format: CaptureFormat;
  link: LinkLayer;
  seed: number;
}

/** What the generator wrote, counted as it wrote it: the bench compares the collector to this. */
export interface SynthTruth {
  generatorVersion: number;
  format: CaptureFormat;
  link: LinkLayer;
  seed: number;
  requestedBytes: number;
  bytes: number;
  packets: number;
  /** TCP connections (every one complete: SYN to the last ACK of the teardown). */
  tcpConnections: number;
  httpConnections: number;
  /** HTTP/1.1 requests; each got one response. */
  httpRequests: number;
  /** TCP connections starting with a ClientHello (exactly one each). */
  tlsConnections: number;
  /** UDP flows to kube-dns: one per lookup, each from its own source port. */
  dnsFlows: number;
  dnsQueries: number;
  dnsResponses: number;
  firstTsUs: number;
  lastTsUs: number;
}

/** `200M`, `1G`, `5M`, `64K` or plain bytes; binary units (1M = 1 MiB). */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?$/i.exec(s.trim());
  if (m === null) throw new Error(`not a size: ${JSON.stringify(s)} (try 200M or 1G)`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Math.round(Number(m[1]) * unit);
}

// ---- randomness ------------------------------------------------------------------------------

/** mulberry32: tiny, fast, good enough for traffic shapes; never used for anything secret. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  constructor(readonly next: () => number) {}
  int(n: number): number { return Math.floor(this.next() * n); }
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  u32(): number { return Math.floor(this.next() * 4294967296) >>> 0; }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]; }
  /** Log-uniform in [lo, hi]: many small values, a tail of large ones. */
  logRange(lo: number, hi: number): number { return Math.round(lo * Math.pow(hi / lo, this.next())); }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }
  uuid(): string { return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${'89ab'[this.int(4)]}${this.hex(3)}-${this.hex(12)}`; }
}

// ---- the cluster -------------------------------------------------------------------------------

const POD_COUNT = 300;
const KUBE_DNS = ip(10, 96, 0, 10);
const SERVICE_NAMES = [
  'frontend', 'gateway', 'cart', 'checkout', 'payments', 'users', 'orders', 'catalog', 'search',
  'recommendations', 'reviews', 'ratings', 'inventory', 'shipping', 'email', 'notifications', 'auth',
  'sessions', 'profile', 'billing', 'invoices', 'ledger', 'pricing', 'promotions', 'ads', 'images',
  'media', 'uploads', 'reports', 'analytics', 'audit', 'config', 'feature-flags', 'geo', 'tax',
  'currency', 'fraud', 'loyalty', 'wishlist', 'accounts',
] as const;
const NAMESPACES = ['shop', 'payments', 'platform', 'identity', 'data'] as const;
const RESOURCES = ['items', 'orders', 'users', 'accounts', 'sessions', 'products', 'carts', 'invoices', 'events', 'tokens'] as const;
const AGENTS = ['Go-http-client/1.1', 'okhttp/4.12.0', 'python-requests/2.32.3', 'axios/1.7.7', 'Java-http-client/21', 'Envoy/1.31'] as const;
const ALPN_ISTIO = ['istio-peer-exchange', 'istio', 'h2'];
const ALPN_PLAIN = ['h2', 'http/1.1'];

type Route = (r: Rng) => string;

interface Service {
  name: string;
  ns: string;
  clusterIp: number;
  port: number;
  isTls: boolean;
  alpn: string[];
  backends: number[];
  routes: Route[];
}

function ip(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function podIp(i: number): number {
  // Ten nodes' /24 pod ranges, the way flannel or kindnet hand them out.
  return ip(10, 244, i % 10, 2 + Math.floor(i / 10));
}

function makeRoutes(r: Rng): Route[] {
  const res = r.pick(RESOURCES);
  const sub = r.pick(RESOURCES);
  const all: Route[] = [
    () => `/api/v1/${res}`,
    (q) => `/api/v1/${res}/${q.range(1, 999_999)}`,
    (q) => `/api/v1/${res}/${q.uuid()}`,
    (q) => `/api/v2/${res}/${q.range(1, 99_999)}/${sub}`,
    (q) => `/v1/${res}/${q.uuid()}/status`,
    (q) => `/api/v1/${res}?page=${q.range(1, 40)}&limit=50`,
    () => '/healthz',
  ];
  const n = r.range(3, 6);
  const out: Route[] = [];
  for (let i = 0; i < n; i++) out.push(all[r.int(all.length)]);
  return out;
}

function makeServices(r: Rng): Service[] {
  return SERVICE_NAMES.map((name, i) => {
    const isTls = i % 3 === 2;
    const backends: number[] = [];
    const n = r.range(1, 4);
    for (let k = 0; k < n; k++) backends.push(r.int(POD_COUNT));
    return {
      name,
      ns: NAMESPACES[i % NAMESPACES.length],
      clusterIp: ip(10, 96, 1 + (i >> 4), 10 + i),
      port: isTls ? 443 : r.chance(0.5) ? 80 : 8080,
      isTls,
      alpn: r.chance(0.6) ? ALPN_ISTIO : ALPN_PLAIN,
      backends,
      routes: makeRoutes(r),
    };
  });
}

// ---- bytes on the wire ---------------------------------------------------------------------

const TH_FIN = 0x01, TH_SYN = 0x02, TH_PSH = 0x08, TH_ACK = 0x10;
const MSS = 1448;
const LINKTYPE_ETHERNET = 1;
const LINKTYPE_LINUX_SLL2 = 276;
const OUT_BUFFER = 4 * 1024 * 1024;
const MAX_FRAME = 2048;

/** Streams records to a file in large writes; classic pcap (µs) or pcapng, one interface. */
class CaptureWriter {
  private readonly out = Buffer.allocUnsafe(OUT_BUFFER);
  private pos = 0;
  bytes = 0;
  packets = 0;
  firstTsUs = -1;
  lastTsUs = -1;

  constructor(private readonly fd: number, private readonly format: CaptureFormat, linkType: number) {
    const o = this.out;
    if (format === 'pcap') {
      // pcap-savefile(5): magic, version 2.4, thiszone, sigfigs, snaplen, linktype.
      o.writeUInt32LE(0xa1b2c3d4, 0); o.writeUInt16LE(2, 4); o.writeUInt16LE(4, 6);
      o.writeInt32LE(0, 8); o.writeUInt32LE(0, 12); o.writeUInt32LE(262144, 16); o.writeUInt32LE(linkType, 20);
      this.pos = 24;
    } else {
      // draft-ietf-opsawg-pcapng §4.1 SHB (no options, section length unknown), §4.2 IDB
      // (no if_tsresol option: microseconds).
      o.writeUInt32LE(0x0a0d0d0a, 0); o.writeUInt32LE(28, 4); o.writeUInt32LE(0x1a2b3c4d, 8);
      o.writeUInt16LE(1, 12); o.writeUInt16LE(0, 14); o.writeInt32LE(-1, 16); o.writeInt32LE(-1, 20); o.writeUInt32LE(28, 24);
      o.writeUInt32LE(1, 28); o.writeUInt32LE(20, 32); o.writeUInt16LE(linkType, 36); o.writeUInt16LE(0, 38);
      o.writeUInt32LE(262144, 40); o.writeUInt32LE(20, 44);
      this.pos = 48;
    }
  }

  packet(tsUs: number, frame: Buffer, len: number): void {
    if (this.pos + len + 64 > OUT_BUFFER) this.flush();
    const o = this.out;
    let p = this.pos;
    const sec = Math.floor(tsUs / 1e6);
    if (this.format === 'pcap') {
      o.writeUInt32LE(sec, p); o.writeUInt32LE(tsUs - sec * 1e6, p + 4);
      o.writeUInt32LE(len, p + 8); o.writeUInt32LE(len, p + 12);
      frame.copy(o, p + 16, 0, len);
      p += 16 + len;
    } else {
      // §4.3 Enhanced Packet Block, data padded to 32 bits.
      const padded = (len + 3) & ~3;
      const total = 32 + padded;
      o.writeUInt32LE(6, p); o.writeUInt32LE(total, p + 4); o.writeUInt32LE(0, p + 8);
      o.writeUInt32LE(Math.floor(tsUs / 4294967296), p + 12); o.writeUInt32LE(tsUs % 4294967296, p + 16);
      o.writeUInt32LE(len, p + 20); o.writeUInt32LE(len, p + 24);
      frame.copy(o, p + 28, 0, len);
      o.fill(0, p + 28 + len, p + 28 + padded);
      o.writeUInt32LE(total, p + 28 + padded);
      p += total;
    }
    this.pos = p;
    this.packets++;
    if (this.firstTsUs < 0) this.firstTsUs = tsUs;
    this.lastTsUs = tsUs;
  }

  flush(): void {
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.out, off, this.pos - off);
    this.bytes += this.pos;
    this.pos = 0;
  }

  /** Bytes written so far, including what is still buffered. */
  get size(): number {
    return this.bytes + this.pos;
  }
}

/** RFC 1071 ones'-complement sum of b[start, end), folded to 16 bits. */
function sum16(b: Buffer, start: number, end: number, acc: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (i < end) acc += b[i] << 8;
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

/** One endpoint pair's frames: builds link + IPv4 + TCP/UDP headers around a payload. */
class Wire {
  private readonly frame = Buffer.alloc(MAX_FRAME);
  private ipId = 0;

  constructor(private readonly w: CaptureWriter, private readonly link: LinkLayer, private readonly clock: Clock) {}

  private linkHeader(src: number, dst: number, isOutgoing: boolean): number {
    const f = this.frame;
    if (this.link === 'ether') {
      // Pod MACs as the bridge CNI plugin makes them: 0a:58 and the IPv4 address.
      f[0] = 0x0a; f[1] = 0x58; f.writeUInt32BE(dst, 2);
      f[6] = 0x0a; f[7] = 0x58; f.writeUInt32BE(src, 8);
      f.writeUInt16BE(0x0800, 12);
      return 14;
    }
    // LINKTYPE_LINUX_SLL2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, addr len, addr.
    f.writeUInt16BE(0x0800, 0); f.writeUInt16BE(0, 2);
    f.writeUInt32BE(3 + (((isOutgoing ? src : dst) & 0xffff) % 300), 4);
    f.writeUInt16BE(1, 8); f[10] = isOutgoing ? 4 : 0; f[11] = 6;
    f[12] = 0x0a; f[13] = 0x58; f.writeUInt32BE(src, 14); f[18] = 0; f[19] = 0;
    return 20;
  }

  private ipv4(at: number, src: number, dst: number, proto: number, l4Len: number): void {
    const f = this.frame;
    f[at] = 0x45; f[at + 1] = 0; f.writeUInt16BE(20 + l4Len, at + 2);
    this.ipId = (this.ipId + 1) & 0xffff;
    f.writeUInt16BE(this.ipId, at + 4); f.writeUInt16BE(0x4000, at + 6);
    f[at + 8] = 64; f[at + 9] = proto; f.writeUInt16BE(0, at + 10);
    f.writeUInt32BE(src, at + 12); f.writeUInt32BE(dst, at + 16);
    f.writeUInt16BE(~sum16(f, at, at + 20, 0) & 0xffff, at + 10);
  }

  private pseudo(src: number, dst: number, proto: number, len: number): number {
    return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
  }

  tcp(c: TcpConn, fromClient: boolean, flags: number, payload: Buffer | null, pStart = 0, pEnd = 0): void {
    const src = fromClient ? c.cli : c.srv, dst = fromClient ? c.srv : c.cli;
    const f = this.frame;
    const l2 = this.linkHeader(src, dst, fromClient);
    const t = l2 + 20;
    const isSyn = (flags & TH_SYN) !== 0;
    const optLen = isSyn ? 20 : 12;
    const hdr = 20 + optLen;
    const n = payload === null ? 0 : pEnd - pStart;
    this.ipv4(l2, src, dst, 6, hdr + n);
    f.writeUInt16BE(fromClient ? c.cliPort : c.srvPort, t);
    f.writeUInt16BE(fromClient ? c.srvPort : c.cliPort, t + 2);
    f.writeUInt32BE(fromClient ? c.seqC : c.seqS, t + 4);
    f.writeUInt32BE((flags & TH_ACK) !== 0 ? (fromClient ? c.seqS : c.seqC) : 0, t + 8);
    f[t + 12] = (hdr / 4) << 4; f[t + 13] = flags;
    f.writeUInt16BE(isSyn ? 64240 : 502, t + 14); f.writeUInt16BE(0, t + 16); f.writeUInt16BE(0, t + 18);
    const tsval = (Math.floor(this.clock.us / 1000) + (fromClient ? c.tsOffC : c.tsOffS)) >>> 0;
    const tsecr = (flags & TH_ACK) !== 0 ? (Math.floor(this.clock.us / 1000) + (fromClient ? c.tsOffS : c.tsOffC) - 1) >>> 0 : 0;
    let o = t + 20;
    if (isSyn) {
      // MSS, SACK permitted, timestamps, NOP, window scale 7: what Linux sends.
      f[o] = 2; f[o + 1] = 4; f.writeUInt16BE(MSS + 12, o + 2);
      f[o + 4] = 4; f[o + 5] = 2; f[o + 6] = 8; f[o + 7] = 10;
      f.writeUInt32BE(tsval, o + 8); f.writeUInt32BE(tsecr, o + 12);
      f[o + 16] = 1; f[o + 17] = 3; f[o + 18] = 3; f[o + 19] = 7;
    } else {
      f[o] = 1; f[o + 1] = 1; f[o + 2] = 8; f[o + 3] = 10;
      f.writeUInt32BE(tsval, o + 4); f.writeUInt32BE(tsecr, o + 8);
    }
    o = t + hdr;
    if (payload !== null) payload.copy(f, o, pStart, pEnd);
    const sum = sum16(f, t, o + n, this.pseudo(src, dst, 6, hdr + n));
    f.writeUInt16BE(~sum & 0xffff, t + 16);
    this.w.packet(this.clock.us, f, o + n);
    // SYN and FIN take one sequence number each (RFC 9293 §3.4).
    const adv = n + (isSyn ? 1 : 0) + ((flags & TH_FIN) !== 0 ? 1 : 0);
    if (fromClient) c.seqC = (c.seqC + adv) >>> 0; else c.seqS = (c.seqS + adv) >>> 0;
  }

  udp(src: number, sport: number, dst: number, dport: number, payload: Buffer): void {
    const f = this.frame;
    const l2 = this.linkHeader(src, dst, dst === KUBE_DNS);
    const u = l2 + 20;
    const len = 8 + payload.length;
    this.ipv4(l2, src, dst, 17, len);
    f.writeUInt16BE(sport, u); f.writeUInt16BE(dport, u + 2); f.writeUInt16BE(len, u + 4); f.writeUInt16BE(0, u + 6);
    payload.copy(f, u + 8);
    const sum = ~sum16(f, u, u + len, this.pseudo(src, dst, 17, len)) & 0xffff;
    f.writeUInt16BE(sum === 0 ? 0xffff : sum, u + 6);
    this.w.packet(this.clock.us, f, u + len);
  }
}

interface Clock { us: number }

interface TcpConn {
  cli: number; cliPort: number; srv: number; srvPort: number;
  seqC: number; seqS: number; tsOffC: number; tsOffS: number;
}

// ---- application payloads ------------------------------------------------------------------

/** Text that looks like JSON API bodies, sliced for response bodies. */
function bodyText(r: Rng): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < 96 * 1024) {
    const s = `{"id":${r.range(1, 9_999_999)},"uid":"${r.uuid()}","name":"${r.pick(RESOURCES)}-${r.hex(6)}","price":${r.range(1, 99_999) / 100},"tags":["${r.pick(NAMESPACES)}","${r.pick(SERVICE_NAMES)}"],"active":${r.chance(0.5)}},`;
    parts.push(s);
    n += s.length;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

function randomBytes(r: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe((n + 3) & ~3);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(r.u32(), i);
  return b.subarray(0, n);
}

const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
const vec8 = (b: number[]): number[] => [b.length, ...b];
const vec16 = (b: number[]): number[] => [...u16(b.length), ...b];
const ascii = (s: string): number[] => Array.from(s, (ch) => ch.charCodeAt(0));

/** RFC 8446 §4.1.2 ClientHello in one TLS record, the way a modern client or Envoy writes it. */
function clientHello(r: Rng, sni: string, alpn: string[]): Buffer {
  const ext = (type: number, body: number[]): number[] => [...u16(type), ...vec16(body)];
  const random = Array.from(randomBytes(r, 32));
  const session = Array.from(randomBytes(r, 32));
  const suites = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8].flatMap(u16);
  const exts = [
    ...ext(0, vec16([0, ...vec16(ascii(sni))])), // server_name: host_name
    ...ext(11, vec8([0])), // ec_point_formats
    ...ext(10, vec16([0x001d, 0x0017, 0x0018].flatMap(u16))), // supported_groups
    ...ext(35, []), // session_ticket
    ...ext(16, vec16(alpn.flatMap((p) => vec8(ascii(p))))), // ALPN
    ...ext(23, []), // extended_master_secret
    ...ext(13, vec16([0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601].flatMap(u16))),
    ...ext(43, vec8([0x0304, 0x0303].flatMap(u16))), // supported_versions
    ...ext(45, vec8([1])), // psk_key_exchange_modes: psk_dhe_ke
    ...ext(51, vec16([...u16(0x001d), ...vec16(Array.from(randomBytes(r, 32)))])), // key_share x25519
  ];
  const body = [0x03, 0x03, ...random, ...vec8(session), ...vec16(suites), ...vec8([0]), ...vec16(exts)];
  const hs = [1, 0, ...u16(body.length), ...body];
  return Buffer.from([0x16, 0x03, 0x01, ...u16(hs.length), ...hs]);
}

/** ServerHello (TLS 1.3), ChangeCipherSpec, then the encrypted rest of the server's flight. */
function serverFlight(r: Rng, encryptedLen: number): Buffer {
  const ext = (type: number, body: number[]): number[] => [...u16(type), ...vec16(body)];
  const exts = [...ext(43, u16(0x0304)), ...ext(51, [...u16(0x001d), ...vec16(Array.from(randomBytes(r, 32)))])];
  const body = [0x03, 0x03, ...Array.from(randomBytes(r, 32)), ...vec8(Array.from(randomBytes(r, 32))), ...u16(0x1301), 0, ...vec16(exts)];
  const hs = [2, 0, ...u16(body.length), ...body];
  return Buffer.concat([
    Buffer.from([0x16, 0x03, 0x03, ...u16(hs.length), ...hs, 0x14, 0x03, 0x03, 0x00, 0x01, 0x01]),
    appData(r, encryptedLen),
  ]);
}

/** One TLS application_data record of `len` opaque bytes (RFC 8446 §5.2). */
function appData(r: Rng, len: number): Buffer {
  const b = randomBytes(r, 5 + len);
  b[0] = 0x17; b[1] = 0x03; b[2] = 0x03; b.writeUInt16BE(len, 3);
  return b;
}

function dnsName(name: string): number[] {
  return [...name.split('.').flatMap((l) => vec8(ascii(l))), 0];
}

/** RFC 1035 §4.1 query, or its answer: one A record pointing at the ClusterIP (kube-dns TTL 30). */
function dnsMessage(id: number, name: string, qtype: number, answer: number | null, isResponse: boolean): Buffer {
  const q = [...dnsName(name), ...u16(qtype), 0, 1];
  const flags = isResponse ? 0x8580 : 0x0100;
  const an = answer === null ? [] : [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, answer >>> 24, (answer >> 16) & 0xff, (answer >> 8) & 0xff, answer & 0xff];
  return Buffer.from([...u16(id), ...u16(flags), 0, 1, ...u16(answer === null ? 0 : 1), 0, 0, 0, 0, ...q, ...an]);
}

// ---- traffic ---------------------------------------------------------------------------------

const CONCURRENT = 48;
/** Mean gap between packets: ~8,000 packets/s, so 1 GiB spans about ten minutes. */
const MEAN_GAP_US = 120;
const START_US = Date.UTC(2025, 0, 15, 10, 0, 0) * 1000;
const HTTP_METHODS = ['GET', 'GET', 'GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;
const STATUS_LINES = ['200 OK', '200 OK', '200 OK', '200 OK', '200 OK', '200 OK', '201 Created', '204 No Content', '304 Not Modified', '404 Not Found', '503 Service Unavailable'] as const;

class Traffic {
  readonly truth: SynthTruth;
  private readonly r: Rng;
  private readonly services: Service[];
  private readonly httpServices: Service[];
  private readonly tlsServices: Service[];
  private readonly nextPort = new Int32Array(POD_COUNT);
  private readonly body: Buffer;
  private readonly clock: Clock = { us: START_US };
  private readonly wire: Wire;

  constructor(private readonly w: CaptureWriter, opts: SynthOptions) {
    this.r = new Rng(mulberry32(opts.seed));
    this.services = makeServices(this.r);
    this.httpServices = this.services.filter((s) => !s.isTls);
    this.tlsServices = this.services.filter((s) => s.isTls);
    for (let i = 0; i < POD_COUNT; i++) this.nextPort[i] = this.r.range(32768, 50000);
    this.body = bodyText(this.r);
    this.wire = new Wire(w, opts.link, this.clock);
    this.truth = {
      generatorVersion: GENERATOR_VERSION, format: opts.format, link: opts.link, seed: opts.seed,
      requestedBytes: opts.sizeBytes, bytes: 0, packets: 0, tcpConnections: 0, httpConnections: 0,
      httpRequests: 0, tlsConnections: 0, dnsFlows: 0, dnsQueries: 0, dnsResponses: 0,
      firstTsUs: START_US, lastTsUs: START_US,
    };
  }

  /** Interleaves connections until `size` bytes are written, then lets the open ones finish. */
  run(size: number): void {
    const r = this.r;
    const active: Array<Generator<void>> = [];
    for (let i = 0; i < CONCURRENT; i++) active.push(this.newConnection());
    while (active.length > 0) {
      const i = r.int(active.length);
      // Exponential gaps: bursty like real arrivals.
      this.clock.us += Math.max(1, Math.round(-Math.log(1 - r.next()) * MEAN_GAP_US));
      if (!active[i].next().done) continue;
      if (this.w.size < size) active[i] = this.newConnection();
      else { active[i] = active[active.length - 1]; active.pop(); }
    }
  }

  private ephemeral(pod: number): number {
    const p = this.nextPort[pod];
    this.nextPort[pod] = p >= 60999 ? 32768 : p + 1;
    return p;
  }

  private newConnection(): Generator<void> {
    const r = this.r;
    const roll = r.next();
    if (roll < 0.5) return this.dns();
    const svc = r.pick(roll < 0.8 ? this.httpServices : this.tlsServices);
    let client = r.int(POD_COUNT);
    const backend = r.pick(svc.backends);
    if (client === backend) client = (client + 1) % POD_COUNT;
    const c: TcpConn = {
      cli: podIp(client), cliPort: this.ephemeral(client), srv: podIp(backend), srvPort: svc.port,
      seqC: r.u32(), seqS: r.u32(), tsOffC: r.u32(), tsOffS: r.u32(),
    };
    return svc.isTls ? this.tls(c, svc) : this.http(c, svc);
  }

  /** Sends `data` as segments of at most `seg` bytes, PSH on the last; the peer ACKs every second one. */
  private *send(c: TcpConn, fromClient: boolean, data: Buffer, seg: number): Generator<void> {
    let sent = 0;
    for (let off = 0; off < data.length; ) {
      const end = Math.min(data.length, off + seg);
      this.wire.tcp(c, fromClient, TH_ACK | (end === data.length ? TH_PSH : 0), data, off, end);
      yield;
      off = end;
      if (++sent % 2 === 0 && off < data.length) { this.wire.tcp(c, !fromClient, TH_ACK, null); yield; }
    }
  }

  private *handshake(c: TcpConn): Generator<void> {
    this.truth.tcpConnections++;
    this.wire.tcp(c, true, TH_SYN, null); yield;
    this.wire.tcp(c, false, TH_SYN | TH_ACK, null); yield;
    this.wire.tcp(c, true, TH_ACK, null); yield;
  }

  private *teardown(c: TcpConn): Generator<void> {
    const first = this.r.chance(0.7);
    this.wire.tcp(c, first, TH_FIN | TH_ACK, null); yield;
    this.wire.tcp(c, !first, TH_FIN | TH_ACK, null); yield;
    this.wire.tcp(c, first, TH_ACK, null); yield;
  }

  private *http(c: TcpConn, svc: Service): Generator<void> {
    const r = this.r;
    this.truth.httpConnections++;
    yield* this.handshake(c);
    const agent = r.pick(AGENTS);
    const host = r.pick([svc.name, `${svc.name}.${svc.ns}`, `${svc.name}.${svc.ns}.svc.cluster.local`]) + (svc.port === 80 ? '' : `:${svc.port}`);
    const token = r.chance(0.3) ? `Bearer eyJhbGciOiJSUzI1NiJ9.${r.hex(48)}.${r.hex(40)}` : '';
    const requests = r.chance(0.5) ? 1 : r.range(2, 4);
    for (let k = 0; k < requests; k++) {
      const path = r.pick(svc.routes)(r);
      const method = path === '/healthz' ? 'GET' : r.pick(HTTP_METHODS);
      const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
      const reqBody = hasBody ? this.slice(r.logRange(40, 900)) : null;
      let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${agent}\r\nAccept: application/json\r\n`;
      if (token !== '') head += `Authorization: ${token}\r\n`;
      if (reqBody !== null) head += `Content-Type: application/json\r\nContent-Length: ${reqBody.length}\r\n`;
      head += `X-Request-Id: ${r.uuid()}\r\n\r\n`;
      const req = reqBody === null ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), reqBody]);
      this.truth.httpRequests++;
      yield* this.send(c, true, req, MSS);
      if (r.chance(0.6)) { this.wire.tcp(c, false, TH_ACK, null); yield; }
      const status = r.pick(STATUS_LINES);
      const body = status.startsWith('204') || status.startsWith('304') ? Buffer.alloc(0) : this.slice(r.logRange(80, 3000));
      const respHead = Buffer.from(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nDate: ${new Date(this.clock.us / 1000).toUTCString()}\r\nServer: envoy\r\nX-Envoy-Upstream-Service-Time: ${r.range(1, 90)}\r\n\r\n`, 'latin1');
      // Envoy and most servers write headers and body separately; bodies leave in small writes.
      if (body.length === 0) yield* this.send(c, false, respHead, MSS);
      else {
        this.wire.tcp(c, false, TH_ACK, respHead, 0, respHead.length); yield;
        yield* this.send(c, false, body, r.pick([256, 512, 1024, MSS]));
      }
      this.wire.tcp(c, true, TH_ACK, null); yield;
    }
    yield* this.teardown(c);
  }

  private *tls(c: TcpConn, svc: Service): Generator<void> {
    const r = this.r;
    this.truth.tlsConnections++;
    yield* this.handshake(c);
    const fqdn = `${svc.name}.${svc.ns}.svc.cluster.local`;
    const sni = svc.alpn === ALPN_ISTIO ? `outbound_.${svc.port}_._.${fqdn}` : fqdn;
    const ch = clientHello(r, sni, svc.alpn);
    this.wire.tcp(c, true, TH_ACK | TH_PSH, ch, 0, ch.length); yield;
    this.wire.tcp(c, false, TH_ACK, null); yield;
    yield* this.send(c, false, serverFlight(r, r.range(1200, 3200)), MSS);
    this.wire.tcp(c, true, TH_ACK, null); yield;
    const fin = Buffer.concat([Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]), appData(r, 53)]);
    this.wire.tcp(c, true, TH_ACK | TH_PSH, fin, 0, fin.length); yield;
    // Session tickets, then request/response records.
    const ticket = appData(r, r.range(200, 280));
    this.wire.tcp(c, false, TH_ACK | TH_PSH, ticket, 0, ticket.length); yield;
    const exchanges = r.range(1, 5);
    for (let k = 0; k < exchanges; k++) {
      yield* this.send(c, true, appData(r, r.logRange(60, 900)), MSS);
      yield* this.send(c, false, appData(r, r.logRange(40, 2500)), r.pick([512, 1024, MSS]));
      this.wire.tcp(c, true, TH_ACK, null); yield;
    }
    const alert = appData(r, 19); // close_notify, encrypted
    this.wire.tcp(c, true, TH_ACK | TH_PSH, alert, 0, alert.length); yield;
    yield* this.teardown(c);
  }

  /** One lookup from a fresh port: A (and usually AAAA, in parallel as glibc does), then answers. */
  private *dns(): Generator<void> {
    const r = this.r;
    const pod = r.int(POD_COUNT);
    const cli = podIp(pod), port = this.ephemeral(pod);
    const svc = r.pick(this.services);
    const name = `${svc.name}.${svc.ns}.svc.cluster.local`;
    const t = this.truth;
    t.dnsFlows++;
    const idA = r.int(65536), idAAAA = (idA + 1 + r.int(65535)) & 0xffff;
    const both = r.chance(0.7);
    this.wire.udp(cli, port, KUBE_DNS, 53, dnsMessage(idA, name, 1, null, false)); t.dnsQueries++; yield;
    if (both) { this.wire.udp(cli, port, KUBE_DNS, 53, dnsMessage(idAAAA, name, 28, null, false)); t.dnsQueries++; yield; }
    this.wire.udp(KUBE_DNS, 53, cli, port, dnsMessage(idA, name, 1, svc.clusterIp, true)); t.dnsResponses++; yield;
    if (both) { this.wire.udp(KUBE_DNS, 53, cli, port, dnsMessage(idAAAA, name, 28, null, true)); t.dnsResponses++; yield; }
  }

  private slice(n: number): Buffer {
    const off = this.r.int(this.body.length - n);
    return this.body.subarray(off, off + n);
  }
}

/** Writes the capture and its `.truth.json` sidecar; returns the truth. */
export function synthCapture(opts: SynthOptions): SynthTruth {
  const fd = openSync(opts.out, 'w');
  let truth: SynthTruth;
  try {
    const w = new CaptureWriter(fd, opts.format, opts.link === 'ether' ? LINKTYPE_ETHERNET : LINKTYPE_LINUX_SLL2);
    const traffic = new Traffic(w, opts);
    traffic.run(opts.sizeBytes);
    w.flush();
    truth = { ...traffic.truth, bytes: w.bytes, packets: w.packets, firstTsUs: w.firstTsUs, lastTsUs: w.lastTsUs };
  } finally {
    closeSync(fd);
  }
  writeFileSync(truthPath(opts.out), JSON.stringify(truth, null, 2) + '\n');
  return truth;
}

export function truthPath(capture: string): string {
  return `${capture}.truth.json`;
}

function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string', default: '200M' }, out: { type: 'string' },
      format: { type: 'string', default: 'pcap' }, link: { type: 'string', default: 'ether' },
      seed: { type: 'string', default: '1' },
    },
  });
  const format = values.format as CaptureFormat;
  const link = values.link as LinkLayer;
  if (!FORMATS.includes(format)) throw new Error(`--format must be one of ${FORMATS.join(', ')}`);
  if (!LINKS.includes(link)) throw new Error(`--link must be one of ${LINKS.join(', ')}`);
  if (values.out === undefined) throw new Error('--out FILE is required');
  const t0 = performance.now();
  const truth = synthCapture({ out: values.out, sizeBytes: parseSize(values.size!), format, link, seed: Number(values.seed) });
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(`${values.out}: ${truth.bytes} bytes, ${truth.packets} packets (avg ${(truth.bytes / truth.packets).toFixed(0)} B), `
    + `${truth.tcpConnections} TCP connections, ${truth.httpRequests} HTTP requests, ${truth.tlsConnections} TLS, `
    + `${truth.dnsQueries} DNS queries, ${((truth.lastTsUs - truth.firstTsUs) / 60e6).toFixed(1)} min of traffic, written in ${secs.toFixed(1)} s\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exitCode = 2;
  }
}
