// Connection tracking: turns decoded packets into connections and application events, and hands
// finished connections to the aggregator. This is the hot loop's second half (decode is the
// first); per-connection state lives in typed arrays indexed by a slot number, so a packet of a
// known connection costs a few table lookups and no allocation.
//
// Node captures (`tcpdump -i any`) see each packet several times (client veth, bridge, server
// veth) and see Service traffic both before and after kube-proxy's DNAT. Copies of one packet
// share the 5-tuple and the sequence number, so sequence accounting counts their bytes and
// requests once; the two NAT views are linked by the endpoint they share and the sequence number
// of their first packet. docs/tracking.md explains the rules.
import { bucketOf, edgePart, restKey, type AggRow, type Aggregator, type EdgeRows } from '../aggregate.js';
import type { AppRequest, AppSink, CertificateInfo, ConnectionInspector, ConnectionVerdict, DnsMessage, InspectorFactory } from '../inspect/contract.js';
import type { CallKey, CallSource, Direction, Protocol, Security } from '../model.js';
import { u32be } from '../sources/pcap/bytes.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from '../decode/packet.js';
import { AddressTable } from './addresses.js';
import { KeyTable } from './key-table.js';
import { dstLooksLikeServer } from './roles.js';

// Bits of the per-connection state byte.
const SYN_CLIENT = 1 << 0;
const FIN_CLIENT = 1 << 1;
const FIN_SERVER = 1 << 2;
const CLOSED = 1 << 3;
const INFERRED = 1 << 4;
const ROLES_CHECKED = 1 << 5;
const HI_CLIENT = 1 << 6; // highest sequence number of the client direction known
const HI_SERVER = 1 << 7;
/** The connection's call was already handed to the aggregator (at close); the slot lingers only
 *  to absorb late copies of its packets. */
const EMITTED = 1 << 8;

const TCP = 6;
const UDP = 17;

/** Keys of the link index: the endpoint both NAT views share, as sender (1) or receiver (2). */
const LINK_FROM = 1;
const LINK_TO = 2;
/** Two views of one connection are seen within microseconds; allow scheduling slack. */
const LINK_WINDOW_MS = 2000;

/** Out-of-order segments kept per connection while inspection waits for the gap to fill. */
const MAX_STASHED_SEGMENTS = 8;
const MAX_STASHED_BYTES = 64 * 1024;
/** UDP copies of one datagram on several interfaces arrive within this window. */
const UDP_DUP_WINDOW_MS = 50;

export interface TrackerOptions {
  source: CallSource;
  node: string;
  /** Live connections kept at once; beyond this the oldest are finalised early (and counted). */
  maxFlows: number;
  tcpIdleMs: number;
  closedLingerMs: number;
  udpIdleMs: number;
  inspector: InspectorFactory | null;
  datagram: ((buf: Uint8Array, start: number, end: number, srcPort: number, dstPort: number, sink: AppSink) => Protocol) | null;
  /** Turns a raw request target into the stored path template for an edge. */
  templatePath: (edge: string, target: string) => string;
  /** A DNS response (queries are only counted: the sinks implement AppSink.dnsQuery). */
  onDns?: (msg: DnsMessage, tsMs: number) => void;
  /** A certificate sent in clear; `presenterIp` is the address that sent it. */
  onCertificate?: (cert: CertificateInfo, fromClient: boolean, presenterIp: string, tsMs: number) => void;
}

export const DEFAULT_TRACKER_OPTIONS = {
  maxFlows: 262_144,
  tcpIdleMs: 300_000,
  closedLingerMs: 10_000,
  udpIdleMs: 30_000,
};

export interface TrackerStats {
  connections: number;
  evictedEarly: number;
  appMalformed: number;
  addressTableFull: number;
}

interface Segment { fromClient: boolean; seq: number; bytes: Uint8Array }

/** Per-connection state that only inspected connections need; allocated once per connection. */
class ConnExtra implements AppSink {
  /** The row of the connection's first request: the connection and its bytes are added there. */
  first: AggRow | null = null;
  /** Rows of requests awaiting a response, oldest first (pipelining, HTTP/2 streams). */
  awaiting: AggRow[] = [];
  /** The path folder's edge id, built at the first request; reset when the endpoints change. */
  pathEdge: string | null = null;
  verdict: ConnectionVerdict | null = null;
  dnsQueries = 0;
  dnsResponses = 0;
  stash: Segment[] | null = null;
  stashedBytes = 0;
  gapClient = false;
  gapServer = false;

  constructor(private readonly t: Tracker, readonly slot: number) {}

  request(req: AppRequest): void { this.t.onRequest(this, req); }
  response(status: number): void { this.t.onResponse(this, status); }
  dns(msg: DnsMessage): void {
    if (msg.isResponse) this.dnsResponses++;
    else this.dnsQueries++;
    this.t.onDns(msg);
  }
  dnsQuery(): void { this.dnsQueries++; }
  certificate(cert: CertificateInfo, fromClient: boolean): void { this.t.onCertificate(this, cert, fromClient); }
  malformed(): void { this.t.stats.appMalformed++; }
}

/** The sink for datagrams: one object for all UDP flows, pointed at the flow being inspected. */
class DatagramSink implements AppSink {
  slot = 0;
  constructor(private readonly t: Tracker) {}
  request(): void { /* no HTTP over UDP */ }
  response(): void { /* no HTTP over UDP */ }
  dns(msg: DnsMessage): void { this.t.onDatagramDns(this.slot, msg); }
  dnsQuery(): void { this.t.onDatagramQuery(this.slot); }
  certificate(): void { /* no TLS over UDP (DTLS is not inspected) */ }
  malformed(): void { this.t.stats.appMalformed++; }
}

export class Tracker {
  readonly stats: TrackerStats = { connections: 0, evictedEarly: 0, appMalformed: 0, addressTableFull: 0 };
  readonly addrs = new AddressTable();
  private readonly flows = new KeyTable(4096);
  private readonly links = new KeyTable(4096);
  private readonly udpSink = new DatagramSink(this);
  /** The aggregator's EdgeRows by connection endpoints in integers (client, server, port and
   *  protocol and direction, alternate server), so a connection's edge string is built once per
   *  batch and edge, not per call. Cleared when the aggregator starts a new batch. */
  private readonly edgeIndex = new KeyTable(1024);
  private readonly edgeList: EdgeRows[] = [];
  private edgeBatch = 0;

  // Per-slot connection state.
  private cap = 0;
  private used!: Uint8Array;
  private proto!: Uint8Array;
  private state!: Uint16Array;
  private cliAddr!: Int32Array;
  private cliPort!: Int32Array;
  private srvAddr!: Int32Array;
  private srvPort!: Int32Array;
  /** The other NAT view's server endpoint (a Service ClusterIP), -1 when none. */
  private altAddr!: Int32Array;
  private altPort!: Int32Array;
  private isnClient!: Int32Array;
  private hiClient!: Int32Array;
  private hiServer!: Int32Array;
  private nextClient!: Int32Array;
  private nextServer!: Int32Array;
  private feedState!: Uint8Array; // bit 0: client position known, bit 1: server position known
  private linkSeq!: Int32Array;
  private linkFromAddr!: Int32Array;
  private linkFromPort!: Int32Array;
  private linkToAddr!: Int32Array;
  private linkToPort!: Int32Array;
  private bytes!: Float64Array;
  private firstTs!: Float64Array;
  private lastTs!: Float64Array;
  private udpSig!: Int32Array; // 4 recent datagram signatures per slot
  /** UDP flows: DNS queries and answers seen, and whether the flow is DNS. No object per flow. */
  private dnsQueries!: Int32Array;
  private dnsAnswers!: Int32Array;
  private isDns!: Uint8Array;
  private udpSigTs!: Float64Array;
  private inspectors: Array<ConnectionInspector | null> = [];
  private extras: Array<ConnExtra | null> = [];
  private free: number[] = [];
  private highWater = 0;
  private live = 0;

  /** Capture time of the packet being processed, for events raised while inspecting it. */
  private now = 0;
  private nextSweep = 0;

  constructor(private readonly agg: Aggregator, private readonly opts: TrackerOptions) {
    this.resize(1024);
  }

  private resize(n: number): void {
    const grow = <T extends Uint8Array | Uint16Array | Int32Array | Float64Array>(old: T | undefined, make: (n: number) => T): T => {
      const a = make(n);
      if (old) a.set(old as never);
      return a;
    };
    this.used = grow(this.used, (k) => new Uint8Array(k));
    this.proto = grow(this.proto, (k) => new Uint8Array(k));
    this.state = grow(this.state, (k) => new Uint16Array(k));
    this.feedState = grow(this.feedState, (k) => new Uint8Array(k));
    for (const f of ['cliAddr', 'cliPort', 'srvAddr', 'srvPort', 'altAddr', 'altPort', 'isnClient', 'hiClient', 'hiServer',
      'nextClient', 'nextServer', 'linkSeq', 'linkFromAddr', 'linkFromPort', 'linkToAddr', 'linkToPort'] as const) {
      this[f] = grow(this[f], (k) => new Int32Array(k));
    }
    this.udpSig = grow(this.udpSig, (k) => new Int32Array(k * 4));
    this.dnsQueries = grow(this.dnsQueries, (k) => new Int32Array(k));
    this.dnsAnswers = grow(this.dnsAnswers, (k) => new Int32Array(k));
    this.isDns = grow(this.isDns, (k) => new Uint8Array(k));
    this.udpSigTs = grow(this.udpSigTs, (k) => new Float64Array(k * 4));
    this.bytes = grow(this.bytes, (k) => new Float64Array(k));
    this.firstTs = grow(this.firstTs, (k) => new Float64Array(k));
    this.lastTs = grow(this.lastTs, (k) => new Float64Array(k));
    for (let i = this.cap; i < n; i++) { this.inspectors.push(null); this.extras.push(null); }
    this.cap = n;
  }

  get liveConnections(): number {
    return this.live;
  }

  /** One decoded TCP or UDP packet. */
  packet(p: DecodedPacket, tsMs: number): void {
    this.now = tsMs;
    if (tsMs >= this.nextSweep) {
      this.sweep(tsMs);
      this.nextSweep = tsMs + 1000;
    }
    const s = this.addrs.intern(p.buf, p.srcAddr, p.ipVersion);
    const d = this.addrs.intern(p.buf, p.dstAddr, p.ipVersion);
    if (s < 0 || d < 0) { this.stats.addressTableFull++; return; }
    if (p.transport === TCP) this.tcp(p, s, d, tsMs);
    else this.udp(p, s, d, tsMs);
  }

  // ---- flow keys -------------------------------------------------------------------------

  private lookup(a: number, ap: number, b: number, bp: number, proto: number): number {
    return a < b || (a === b && ap <= bp)
      ? this.flows.get(a, b, (ap << 16) | bp, proto)
      : this.flows.get(b, a, (bp << 16) | ap, proto);
  }

  private bind(a: number, ap: number, b: number, bp: number, proto: number, slot: number): void {
    if (a < b || (a === b && ap <= bp)) this.flows.set(a, b, (ap << 16) | bp, proto, slot);
    else this.flows.set(b, a, (bp << 16) | ap, proto, slot);
  }

  private unbind(a: number, ap: number, b: number, bp: number, proto: number): void {
    if (a < b || (a === b && ap <= bp)) this.flows.delete(a, b, (ap << 16) | bp, proto);
    else this.flows.delete(b, a, (bp << 16) | ap, proto);
  }

  // ---- TCP --------------------------------------------------------------------------------

  private tcp(p: DecodedPacket, s: number, d: number, ts: number): void {
    const sp = p.srcPort, dp = p.dstPort, flags = p.flags, seq = p.seq | 0;
    const isSyn = (flags & TCP_SYN) !== 0, isAck = (flags & TCP_ACK) !== 0;
    let c = this.lookup(s, sp, d, dp, TCP);
    if (c >= 0 && isSyn && !isAck) {
      // A new SYN from the client with another initial sequence number is a new connection on
      // a reused port (RFC 9293 §3.6.1 TIME-WAIT reuse): finish the old one first.
      const fromClient = s === this.cliAddr[c] && sp === this.cliPort[c];
      if (!fromClient || (this.state[c] & SYN_CLIENT) === 0 || this.isnClient[c] !== seq) {
        if (!fromClient || (this.state[c] & SYN_CLIENT) !== 0 || (this.state[c] & CLOSED) !== 0 || this.bytes[c] > 0) {
          this.finalize(c);
          c = -1;
        }
      }
    }
    if (c < 0) {
      c = this.linkOrCreate(p, s, sp, d, dp, TCP, seq, ts, isSyn, isAck);
      if (c < 0) return;
    }
    this.lastTs[c] = ts;
    const fromClient = s === this.cliAddr[c] && sp === this.cliPort[c];
    let st = this.state[c];
    if (isSyn) {
      const next = (seq + 1) | 0;
      if (fromClient) {
        this.isnClient[c] = seq;
        if ((st & HI_CLIENT) === 0) { this.hiClient[c] = next; st |= HI_CLIENT; }
        if ((this.feedState[c] & 1) === 0) { this.nextClient[c] = next; this.feedState[c] |= 1; }
        if (!isAck) st |= SYN_CLIENT;
      } else {
        if ((st & HI_SERVER) === 0) { this.hiServer[c] = next; st |= HI_SERVER; }
        if ((this.feedState[c] & 2) === 0) { this.nextServer[c] = next; this.feedState[c] |= 2; }
      }
    }
    if ((flags & TCP_RST) !== 0) st |= CLOSED;
    if ((flags & TCP_FIN) !== 0) {
      st |= fromClient ? FIN_CLIENT : FIN_SERVER;
      if ((st & (FIN_CLIENT | FIN_SERVER)) === (FIN_CLIENT | FIN_SERVER)) st |= CLOSED;
    }
    this.state[c] = st;
    if ((st & EMITTED) !== 0) return; // a late copy of a closed connection's packet
    const len = p.payloadLen;
    if (len <= 0) {
      if ((st & CLOSED) !== 0) this.emit(c);
      return;
    }
    const start = isSyn ? (seq + 1) | 0 : seq;
    const end = (start + len) | 0;
    // Bytes: advance the highest sequence number seen; copies and retransmissions add nothing.
    if (fromClient) {
      if ((st & HI_CLIENT) === 0) { this.hiClient[c] = start; this.state[c] = st |= HI_CLIENT; }
      const adv = (end - this.hiClient[c]) | 0;
      if (adv > 0) { this.bytes[c] += adv; this.hiClient[c] = end; }
    } else {
      if ((st & HI_SERVER) === 0) { this.hiServer[c] = start; this.state[c] = st |= HI_SERVER; }
      const adv = (end - this.hiServer[c]) | 0;
      if (adv > 0) { this.bytes[c] += adv; this.hiServer[c] = end; }
    }
    if (this.opts.inspector !== null && (this.extras[c] === null || this.inspectors[c] !== null)) {
      this.inspect(c, fromClient, start, len, p.buf, p.payload, p.payloadEnd);
    }
    if ((st & CLOSED) !== 0) this.emit(c);
  }

  /** Links a new 5-tuple to the other NAT view of the same connection, or starts a connection. */
  private linkOrCreate(p: DecodedPacket, s: number, sp: number, d: number, dp: number, proto: number, sig: number, ts: number, isSyn: boolean, isAck: boolean): number {
    let other = this.links.get(s, sp, sig, LINK_FROM);
    if (other >= 0 && this.proto[other] === proto && this.cliAddr[other] === s && this.cliPort[other] === sp && this.altAddr[other] < 0 && ts - this.firstTs[other] < LINK_WINDOW_MS) {
      // The client's packet seen again after DNAT: the first view's server was the Service.
      this.forgetEdge(other);
      this.altAddr[other] = this.srvAddr[other];
      this.altPort[other] = this.srvPort[other];
      this.srvAddr[other] = d;
      this.srvPort[other] = dp;
      this.bind(s, sp, d, dp, proto, other);
      return other;
    }
    other = this.links.get(d, dp, sig, LINK_TO);
    if (other >= 0 && this.proto[other] === proto && this.cliAddr[other] === d && this.cliPort[other] === dp && this.altAddr[other] < 0 && ts - this.firstTs[other] < LINK_WINDOW_MS) {
      // A server packet seen again after reverse NAT: the first view (the pod's) stays the server.
      this.forgetEdge(other);
      this.altAddr[other] = s;
      this.altPort[other] = sp;
      this.bind(s, sp, d, dp, proto, other);
      return other;
    }
    const c = this.allocate();
    if (c < 0) return -1;
    let clientIsSrc: boolean;
    let inferred = false;
    if (proto === TCP && isSyn) {
      clientIsSrc = !isAck;
    } else if (proto === UDP) {
      // The first datagram is normally the request; trust port numbers only when they disagree.
      clientIsSrc = dstLooksLikeServer(sp, dp) || !dstLooksLikeServer(dp, sp);
      inferred = !clientIsSrc;
    } else {
      clientIsSrc = dstLooksLikeServer(sp, dp);
      inferred = true;
    }
    this.used[c] = 1;
    this.proto[c] = proto;
    this.state[c] = inferred ? INFERRED : 0;
    this.feedState[c] = 0;
    if (clientIsSrc) {
      this.cliAddr[c] = s; this.cliPort[c] = sp; this.srvAddr[c] = d; this.srvPort[c] = dp;
    } else {
      this.cliAddr[c] = d; this.cliPort[c] = dp; this.srvAddr[c] = s; this.srvPort[c] = sp;
    }
    this.altAddr[c] = -1;
    this.altPort[c] = 0;
    this.bytes[c] = 0;
    this.firstTs[c] = ts;
    this.lastTs[c] = ts;
    this.linkSeq[c] = sig;
    this.linkFromAddr[c] = s; this.linkFromPort[c] = sp;
    this.linkToAddr[c] = d; this.linkToPort[c] = dp;
    this.links.set(s, sp, sig, LINK_FROM, c);
    this.links.set(d, dp, sig, LINK_TO, c);
    this.bind(s, sp, d, dp, proto, c);
    return c;
  }

  private allocate(): number {
    if (this.live >= this.opts.maxFlows) this.evictOldest();
    let c: number;
    if (this.free.length > 0) c = this.free.pop()!;
    else {
      if (this.highWater === this.cap) this.resize(this.cap * 2);
      c = this.highWater++;
    }
    this.live++;
    return c;
  }

  // ---- inspection -------------------------------------------------------------------------

  private inspect(c: number, fromClient: boolean, seq: number, len: number, buf: Uint8Array, from: number, to: number): void {
    let ex = this.extras[c];
    let ins = this.inspectors[c];
    if (ex === null) {
      ex = new ConnExtra(this, c);
      this.extras[c] = ex;
      if (this.opts.inspector !== null) {
        ins = this.opts.inspector(ex, this.srvPort[c]);
        this.inspectors[c] = ins;
      }
    }
    if (ins === null) return;
    if (fromClient ? ex.gapClient : ex.gapServer) return;
    const bit = fromClient ? 1 : 2;
    if ((this.feedState[c] & bit) === 0) {
      if (fromClient) this.nextClient[c] = seq; else this.nextServer[c] = seq;
      this.feedState[c] |= bit;
    }
    const next = fromClient ? this.nextClient[c] : this.nextServer[c];
    const rel = (seq - next) | 0;
    if (rel > 0) {
      this.stashSegment(ex, fromClient, seq, buf, from, to);
      return;
    }
    const skip = -rel;
    if (skip >= len) return; // a copy or retransmission of bytes already fed
    const captured = to - from;
    if (skip < captured) {
      this.feed(c, ins, ex, fromClient, buf, from + skip, to);
    }
    if (captured < len) {
      // Cut by snaplen: the rest of this direction cannot be parsed in order.
      if (fromClient) ex.gapClient = true; else ex.gapServer = true;
      return;
    }
    const newNext = (seq + len) | 0;
    if (fromClient) this.nextClient[c] = newNext; else this.nextServer[c] = newNext;
    if (ex.stash !== null) this.drainStash(c, ex);
  }

  private feed(c: number, ins: ConnectionInspector, ex: ConnExtra, fromClient: boolean, buf: Uint8Array, from: number, to: number): void {
    if (fromClient) ins.client(buf, from, to); else ins.server(buf, from, to);
    if ((this.state[c] & (INFERRED | ROLES_CHECKED)) === INFERRED) {
      this.state[c] |= ROLES_CHECKED;
      if (ins.rolesReversed) {
        this.swapRoles(c);
        const fresh = this.opts.inspector!(ex, this.srvPort[c]);
        this.inspectors[c] = fresh;
        if (fromClient) fresh.server(buf, from, to); else fresh.client(buf, from, to);
        ins = fresh;
      }
    }
    if (!ins.wantsMore) this.endInspection(c, ex);
  }

  private stashSegment(ex: ConnExtra, fromClient: boolean, seq: number, buf: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (ex.stash === null) ex.stash = [];
    if (ex.stash.length >= MAX_STASHED_SEGMENTS || ex.stashedBytes + n > MAX_STASHED_BYTES) {
      // The gap is not filling within bounds; give up on this direction rather than buffer more.
      if (fromClient) ex.gapClient = true; else ex.gapServer = true;
      return;
    }
    // A copy, because the packet buffer is reused; only out-of-order segments pay for it.
    ex.stash.push({ fromClient, seq, bytes: buf.slice(from, to) });
    ex.stashedBytes += n;
  }

  private drainStash(c: number, ex: ConnExtra): void {
    for (let progressed = true; progressed && ex.stash !== null && ex.stash.length > 0; ) {
      progressed = false;
      for (let k = 0; k < ex.stash.length; k++) {
        const seg = ex.stash[k];
        const next = seg.fromClient ? this.nextClient[c] : this.nextServer[c];
        if (((seg.seq - next) | 0) > 0) continue;
        ex.stash.splice(k, 1);
        ex.stashedBytes -= seg.bytes.length;
        if (this.inspectors[c] === null) return;
        this.inspect(c, seg.fromClient, seg.seq, seg.bytes.length, seg.bytes, 0, seg.bytes.length);
        progressed = true;
        break;
      }
    }
  }

  private endInspection(c: number, ex: ConnExtra): void {
    const ins = this.inspectors[c];
    if (ins === null) return;
    ex.verdict = ins.verdict();
    this.inspectors[c] = null;
    ex.stash = null;
  }

  /** The endpoints of a connection changed: cached key parts must be rebuilt. */
  private forgetEdge(c: number): void {
    const ex = this.extras[c];
    if (ex !== null) ex.pathEdge = null;
  }

  private swapRoles(c: number): void {
    this.forgetEdge(c);
    const a = this.cliAddr[c], ap = this.cliPort[c];
    this.cliAddr[c] = this.srvAddr[c]; this.cliPort[c] = this.srvPort[c];
    this.srvAddr[c] = a; this.srvPort[c] = ap;
    const h = this.hiClient[c]; this.hiClient[c] = this.hiServer[c]; this.hiServer[c] = h;
    const n = this.nextClient[c]; this.nextClient[c] = this.nextServer[c]; this.nextServer[c] = n;
    const fs = this.feedState[c];
    this.feedState[c] = ((fs & 1) << 1) | ((fs & 2) >> 1);
    const st = this.state[c];
    this.state[c] = (st & ~(HI_CLIENT | HI_SERVER | FIN_CLIENT | FIN_SERVER))
      | (st & HI_CLIENT ? HI_SERVER : 0) | (st & HI_SERVER ? HI_CLIENT : 0)
      | (st & FIN_CLIENT ? FIN_SERVER : 0) | (st & FIN_SERVER ? FIN_CLIENT : 0);
  }

  // ---- UDP --------------------------------------------------------------------------------

  private udp(p: DecodedPacket, s: number, d: number, ts: number): void {
    const sp = p.srcPort, dp = p.dstPort;
    const n = p.payloadEnd - p.payload;
    // A datagram's signature: its first four payload bytes (a DNS id and flags) and its length.
    const sig = ((n >= 4 ? u32be(p.buf, p.payload) : 0) ^ (p.payloadLen << 8)) | 0;
    let c = this.lookup(s, sp, d, dp, UDP);
    if (c < 0) {
      c = this.linkOrCreate(p, s, sp, d, dp, UDP, sig, ts, false, false);
      if (c < 0) return;
    }
    // The same datagram on another interface, or on the other side of a NAT, within a moment.
    for (let k = c * 4; k < c * 4 + 4; k++) {
      if (this.udpSig[k] === sig && ts - this.udpSigTs[k] < UDP_DUP_WINDOW_MS) {
        this.lastTs[c] = ts;
        return;
      }
    }
    // feedState doubles as the UDP signature ring's write position (UDP has no stream to feed).
    const base = c * 4 + (this.feedState[c] & 3);
    this.udpSig[base] = sig;
    this.udpSigTs[base] = ts;
    this.feedState[c] = (this.feedState[c] + 1) & 3;
    this.lastTs[c] = ts;
    this.bytes[c] += p.payloadLen;
    if (this.opts.datagram === null) return;
    const fromClient = s === this.cliAddr[c] && sp === this.cliPort[c];
    this.udpSink.slot = c;
    if (this.opts.datagram(p.buf, p.payload, p.payloadEnd, fromClient ? sp : dp, fromClient ? dp : sp, this.udpSink) === 'dns') this.isDns[c] = 1;
  }

  // ---- events from inspectors --------------------------------------------------------------

  private makeKey(c: number, bucketMs: number, protocol: Protocol, method: string, path: string, host: string,
    sni: string, alpn: string, security: Security, securityReason: string): CallKey {
    const alt = this.altAddr[c];
    return {
      bucketMs,
      source: this.opts.source,
      node: this.opts.node,
      srcIp: this.addrs.text(this.cliAddr[c]),
      dstIp: this.addrs.text(this.srvAddr[c]),
      serviceIp: alt >= 0 ? this.addrs.text(alt) : '',
      dstPort: this.srvPort[c],
      transport: this.proto[c] === TCP ? 'tcp' : 'udp',
      protocol, method, path, host, sni, alpn, security, securityReason,
      direction: (this.state[c] & INFERRED) !== 0 ? 'inferred' : 'observed' satisfies Direction,
    };
  }

  /** The aggregator's rows for connection c's edge (the key part fixed for the connection). */
  private edgeOf(c: number): EdgeRows {
    if (this.edgeBatch !== this.agg.batch) {
      this.edgeIndex.clear();
      this.edgeList.length = 0;
      this.edgeBatch = this.agg.batch;
    }
    const cli = this.cliAddr[c], srv = this.srvAddr[c], alt = this.altAddr[c];
    const portProtoDir = this.srvPort[c] | (this.proto[c] << 16) | ((this.state[c] & INFERRED) !== 0 ? 1 << 24 : 0);
    const i = this.edgeIndex.get(cli, srv, portProtoDir, alt);
    if (i >= 0) return this.edgeList[i];
    const e = this.agg.edgeRows(edgePart(this.makeKey(c, 0, 'tcp', '', '', '', '', '', 'unknown', '')));
    this.edgeIndex.set(cli, srv, portProtoDir, alt, this.edgeList.length);
    this.edgeList.push(e);
    return e;
  }

  /** The live aggregation row for a call on connection c (its key string is aggregate.keyString()'s). */
  private rowFor(c: number, tsMs: number, protocol: Protocol, method: string, path: string,
    host: string, sni: string, alpn: string, security: Security, securityReason: string): AggRow {
    const e = this.edgeOf(c);
    const bucketMs = bucketOf(tsMs);
    const rest = restKey(bucketMs, protocol, method, path, host, sni, alpn, security, securityReason);
    return this.agg.find(e, rest)
      ?? this.agg.create(e, rest, this.makeKey(c, bucketMs, protocol, method, path, host, sni, alpn, security, securityReason));
  }

  onRequest(ex: ConnExtra, req: AppRequest): void {
    const c = ex.slot;
    const edgeId = ex.pathEdge ??= `${this.cliAddr[c]}>${this.srvAddr[c]}:${this.srvPort[c]}`;
    const path = this.opts.templatePath(edgeId, req.target);
    // The inspector's own reason ("cleartext http/1", "cleartext h2c", "cleartext h2c upgrade").
    const ins = this.inspectors[c];
    const reason = ins !== null ? ins.verdict().securityReason : req.protocol === 'http' ? 'cleartext http/1' : 'cleartext h2c';
    const row = this.rowFor(c, this.now, req.protocol, req.method, path, req.host, '', '', 'plaintext', reason);
    row.count++;
    row.seen(this.now, this.now);
    if (req.hasCredentials) row.credentialsInPlaintext = 1;
    if (ex.first === null) ex.first = row;
    if (ex.awaiting.length < 32) ex.awaiting.push(row);
  }

  onResponse(ex: ConnExtra, status: number): void {
    const asked = ex.awaiting.shift();
    if (asked === undefined) return;
    // The row may have been flushed since the request: live() returns its successor.
    this.agg.live(asked).status(status);
  }

  onDns(msg: DnsMessage): void {
    this.opts.onDns?.(msg, this.now);
  }

  onDatagramQuery(c: number): void {
    this.dnsQueries[c]++;
  }

  onDatagramDns(c: number, msg: DnsMessage): void {
    if (msg.isResponse) this.dnsAnswers[c]++;
    else this.dnsQueries[c]++;
    this.opts.onDns?.(msg, this.now);
  }

  onCertificate(ex: ConnExtra, cert: CertificateInfo, fromClient: boolean): void {
    const c = ex.slot;
    this.opts.onCertificate?.(cert, fromClient, this.addrs.text(fromClient ? this.cliAddr[c] : this.srvAddr[c]), this.now);
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /** Ends a connection: emits its call (unless already emitted at close) and frees its slot. */
  private finalize(c: number): void {
    if ((this.state[c] & EMITTED) === 0) this.emit(c);
    this.stats.connections++;
    this.release(c);
  }

  /**
   * Hands a connection's call to the aggregator and drops its objects (inspector, pending
   * requests). Called when a TCP connection closes, so those objects die young instead of
   * lingering into the old generation while the slot waits for late packet copies.
   */
  private emit(c: number): void {
    this.state[c] |= EMITTED;
    const ex = this.extras[c];
    if (ex !== null && this.inspectors[c] !== null) this.endInspection(c, ex);
    const first = this.firstTs[c], last = this.lastTs[c], bytes = this.bytes[c];
    let row: AggRow;
    if (ex !== null && ex.first !== null) {
      // HTTP: requests were counted as they came; the connection and its bytes join the first.
      row = this.agg.live(ex.first);
    } else if (this.proto[c] === UDP) {
      const isDns = this.isDns[c] === 1;
      row = isDns
        ? this.rowFor(c, first, 'dns', '', '', '', '', '', 'plaintext', 'cleartext dns')
        : this.rowFor(c, first, 'udp', '', '', '', '', '', 'unknown', 'unrecognised datagram');
      row.count += isDns ? (this.dnsQueries[c] > 0 ? this.dnsQueries[c] : this.dnsAnswers[c]) : 1;
    } else {
      const v = ex?.verdict;
      const protocol: Protocol = v?.protocol ?? 'tcp';
      row = v
        ? this.rowFor(c, first, protocol, '', '', '', v.sni, v.alpn, v.security, v.securityReason)
        : this.rowFor(c, first, protocol, '', '', '', '', '', 'unknown', 'no payload classified');
      row.count += protocol === 'dns' && ex ? (ex.dnsQueries > 0 ? ex.dnsQueries : ex.dnsResponses) : 1;
    }
    row.connections++;
    row.bytes += bytes;
    row.seen(first, last);
    this.inspectors[c] = null;
    this.extras[c] = null;
  }

  private release(c: number): void {
    const proto = this.proto[c];
    this.unbind(this.cliAddr[c], this.cliPort[c], this.srvAddr[c], this.srvPort[c], proto);
    if (this.altAddr[c] >= 0) this.unbind(this.cliAddr[c], this.cliPort[c], this.altAddr[c], this.altPort[c], proto);
    const sig = this.linkSeq[c];
    if (this.links.get(this.linkFromAddr[c], this.linkFromPort[c], sig, LINK_FROM) === c) {
      this.links.delete(this.linkFromAddr[c], this.linkFromPort[c], sig, LINK_FROM);
    }
    if (this.links.get(this.linkToAddr[c], this.linkToPort[c], sig, LINK_TO) === c) {
      this.links.delete(this.linkToAddr[c], this.linkToPort[c], sig, LINK_TO);
    }
    this.used[c] = 0;
    this.inspectors[c] = null;
    this.extras[c] = null;
    this.dnsQueries[c] = 0;
    this.dnsAnswers[c] = 0;
    this.isDns[c] = 0;
    this.udpSig.fill(0, c * 4, c * 4 + 4);
    this.udpSigTs.fill(0, c * 4, c * 4 + 4);
    this.free.push(c);
    this.live--;
  }

  /** Finalises connections that are closed (after a linger for late copies) or idle. */
  private sweep(now: number): void {
    const { closedLingerMs, tcpIdleMs, udpIdleMs } = this.opts;
    for (let c = 0; c < this.highWater; c++) {
      if (this.used[c] === 0) continue;
      const idle = now - this.lastTs[c];
      if (this.proto[c] === UDP ? idle > udpIdleMs : (this.state[c] & CLOSED) !== 0 ? idle > closedLingerMs : idle > tcpIdleMs) {
        this.finalize(c);
      }
    }
  }

  /** The table is full: finalise the least recently active eighth, counted as early evictions. */
  private evictOldest(): void {
    const times: number[] = [];
    for (let c = 0; c < this.highWater; c++) if (this.used[c] !== 0) times.push(this.lastTs[c]);
    times.sort((a, b) => a - b);
    const cutoff = times[Math.max(0, Math.floor(times.length / 8) - 1)];
    for (let c = 0; c < this.highWater; c++) {
      if (this.used[c] !== 0 && this.lastTs[c] <= cutoff) {
        const closed = (this.state[c] & CLOSED) !== 0;
        this.finalize(c);
        if (!closed) this.stats.evictedEarly++;
      }
    }
  }

  /** End of input: every connection still open is finalised. */
  finish(): void {
    for (let c = 0; c < this.highWater; c++) if (this.used[c] !== 0) this.finalize(c);
  }
}
