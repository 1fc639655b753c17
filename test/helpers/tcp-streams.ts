// Test-only: payload bytes of each TCP connection (and each UDP datagram) in a classic pcap,
// read with the reference reader `pcap-parser` plus minimal link/IP/TCP offset math. Streams are
// ordered by sequence number and de-duplicated (retransmissions and overlaps keep the first copy).
// Not the collector's decoder: an independent, deliberately simple path to the same bytes.
import pcapp from 'pcap-parser';

export interface TcpStream {
  client: string;
  server: string;
  serverPort: number;
  /** True when a SYN showed who the client is; false when guessed (lower port = server). */
  sawSyn: boolean;
  clientToServer: Buffer;
  serverToClient: Buffer;
}

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

interface Segment {
  seq: number;
  data: Buffer;
}

interface Flow {
  a: string;
  b: string;
  synFrom: string | null;
  segs: Map<string, Segment[]>;
  order: number;
}

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_LINUX_SLL2 = 276;

/** Offset of the IP header and its ethertype, or null for frames we do not follow. */
function ipOffset(linkType: number, d: Buffer): { off: number; ethertype: number } | null {
  if (linkType === LINKTYPE_ETHERNET) {
    let off = 12;
    let et = d.readUInt16BE(off);
    while (et === 0x8100 || et === 0x88a8) {
      off += 4;
      et = d.readUInt16BE(off);
    }
    return { off: off + 2, ethertype: et };
  }
  if (linkType === LINKTYPE_LINUX_SLL) return { off: 16, ethertype: d.readUInt16BE(14) };
  if (linkType === LINKTYPE_LINUX_SLL2) return { off: 20, ethertype: d.readUInt16BE(0) };
  if (linkType === LINKTYPE_RAW || linkType === 12) return { off: 0, ethertype: d[0] >> 4 === 6 ? 0x86dd : 0x0800 };
  return null;
}

export async function readPcap(path: string): Promise<{ tcp: TcpStream[]; udp: UdpDatagram[] }> {
  const flows = new Map<string, Flow>();
  const udp: UdpDatagram[] = [];
  let linkType = 0;
  await new Promise<void>((resolve, reject) => {
    const parser = pcapp.parse(path);
    parser.on('globalHeader', (h) => {
      linkType = h.linkLayerType;
    });
    parser.on('packet', (p) => {
      const d = p.data;
      const l2 = ipOffset(linkType, d);
      if (!l2) return;
      let off = l2.off;
      let proto: number;
      let src: string;
      let dst: string;
      let ipEnd: number;
      if (l2.ethertype === 0x0800) {
        const ihl = (d[off] & 0x0f) * 4;
        proto = d[off + 9];
        ipEnd = Math.min(d.length, off + d.readUInt16BE(off + 2));
        src = Array.from(d.subarray(off + 12, off + 16)).join('.');
        dst = Array.from(d.subarray(off + 16, off + 20)).join('.');
        off += ihl;
      } else if (l2.ethertype === 0x86dd) {
        proto = d[off + 6];
        ipEnd = Math.min(d.length, off + 40 + d.readUInt16BE(off + 4));
        src = d.subarray(off + 8, off + 24).toString('hex');
        dst = d.subarray(off + 24, off + 40).toString('hex');
        off += 40;
      } else {
        return;
      }
      if (proto === 17) {
        udp.push({ srcPort: d.readUInt16BE(off), dstPort: d.readUInt16BE(off + 2), payload: Buffer.from(d.subarray(off + 8, ipEnd)) });
        return;
      }
      if (proto !== 6 || off + 20 > d.length) return;
      const sport = d.readUInt16BE(off);
      const dport = d.readUInt16BE(off + 2);
      const seq = d.readUInt32BE(off + 4);
      const flags = d[off + 13];
      const payload = Buffer.from(d.subarray(off + (d[off + 12] >> 4) * 4, ipEnd));
      const from = `${src}:${sport}`;
      const to = `${dst}:${dport}`;
      const key = from < to ? `${from}|${to}` : `${to}|${from}`;
      let flow = flows.get(key);
      if (!flow) {
        flow = { a: from, b: to, synFrom: null, segs: new Map(), order: flows.size };
        flows.set(key, flow);
      }
      if (flags & 0x02 && !(flags & 0x10)) flow.synFrom = from;
      // SYN consumes one sequence number (RFC 9293 §3.4).
      const seg = { seq: flags & 0x02 ? seq + 1 : seq, data: payload };
      if (payload.length > 0 || flags & 0x02) {
        const list = flow.segs.get(from) ?? [];
        list.push(seg);
        flow.segs.set(from, list);
      }
    });
    parser.on('end', resolve);
    parser.on('error', reject);
  });
  const tcp: TcpStream[] = [];
  for (const flow of [...flows.values()].sort((x, y) => x.order - y.order)) {
    let client: string;
    if (flow.synFrom) client = flow.synFrom;
    else client = port(flow.a) > port(flow.b) ? flow.a : flow.b;
    const server = client === flow.a ? flow.b : flow.a;
    tcp.push({
      client,
      server,
      serverPort: port(server),
      sawSyn: flow.synFrom !== null,
      clientToServer: reassemble(flow.segs.get(client) ?? []),
      serverToClient: reassemble(flow.segs.get(server) ?? []),
    });
  }
  return { tcp, udp };
}

function port(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}

function reassemble(segs: Segment[]): Buffer {
  if (segs.length === 0) return Buffer.alloc(0);
  const base = segs.reduce((m, s) => (((s.seq - m) | 0) < 0 ? s.seq : m), segs[0].seq);
  const rel = segs.map((s) => ({ at: (s.seq - base) >>> 0, data: s.data })).sort((x, y) => x.at - y.at);
  const parts: Buffer[] = [];
  let next = 0;
  for (const s of rel) {
    const end = s.at + s.data.length;
    if (end <= next) continue;
    parts.push(s.data.subarray(Math.max(0, next - s.at)));
    next = end;
  }
  return Buffer.concat(parts);
}
