// Test helper: builds raw IPv4 TCP/UDP packets (LINKTYPE_RAW) and classic pcap files from them,
// so tracker tests can state exactly which packets a capture holds. Checksums are left zero:
// nothing in trustmap verifies them (captures taken on the sending host carry offloaded ones).

export interface TcpSpec {
  src: string; dst: string; sport: number; dport: number;
  seq: number; ack?: number; flags: string; payload?: string | Uint8Array; ipId?: number;
}

const FLAG_BITS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10 };

function ipv4Header(src: string, dst: string, proto: number, payloadLen: number, ipId: number): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payloadLen, 2);
  h.writeUInt16BE(ipId & 0xffff, 4);
  h[8] = 64;
  h[9] = proto;
  src.split('.').forEach((o, i) => { h[12 + i] = Number(o); });
  dst.split('.').forEach((o, i) => { h[16 + i] = Number(o); });
  return h;
}

export function tcp(s: TcpSpec): Buffer {
  const payload = typeof s.payload === 'string' ? Buffer.from(s.payload, 'latin1') : Buffer.from(s.payload ?? []);
  const t = Buffer.alloc(20);
  t.writeUInt16BE(s.sport, 0);
  t.writeUInt16BE(s.dport, 2);
  t.writeUInt32BE(s.seq >>> 0, 4);
  t.writeUInt32BE((s.ack ?? 0) >>> 0, 8);
  t[12] = 5 << 4;
  t[13] = [...s.flags].reduce((n, f) => n | (FLAG_BITS[f] ?? 0), 0);
  t.writeUInt16BE(65535, 14);
  return Buffer.concat([ipv4Header(s.src, s.dst, 6, 20 + payload.length, s.ipId ?? 0), t, payload]);
}

export function udp(src: string, dst: string, sport: number, dport: number, payload: Uint8Array, ipId = 0): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([ipv4Header(src, dst, 17, 8 + payload.length, ipId), u, Buffer.from(payload)]);
}

/** A classic little-endian microsecond pcap of LINKTYPE_RAW packets. */
export function pcapFile(packets: Array<{ tsMs: number; bytes: Uint8Array }>, linkType = 101): Buffer {
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(262144, 16);
  gh.writeUInt32LE(linkType, 20);
  const parts: Buffer[] = [gh];
  for (const p of packets) {
    const rh = Buffer.alloc(16);
    const sec = Math.floor(p.tsMs / 1000);
    rh.writeUInt32LE(sec, 0);
    rh.writeUInt32LE(Math.round((p.tsMs - sec * 1000) * 1000), 4);
    rh.writeUInt32LE(p.bytes.length, 8);
    rh.writeUInt32LE(p.bytes.length, 12);
    parts.push(rh, Buffer.from(p.bytes));
  }
  return Buffer.concat(parts);
}

/** A whole HTTP/1.1 exchange on one connection: handshake, requests/responses, FIN teardown. */
export function httpConnection(o: {
  client: string; server: string; cport: number; sport: number; t0: number;
  requests: Array<{ req: string; resp: string }>; isn?: number; serverIsn?: number;
}): Array<{ tsMs: number; bytes: Buffer }> {
  let c = o.isn ?? 1000, s = o.serverIsn ?? 5000, t = o.t0;
  const out: Array<{ tsMs: number; bytes: Buffer }> = [];
  const push = (b: Buffer) => out.push({ tsMs: (t += 1), bytes: b });
  const base = { src: o.client, dst: o.server, sport: o.cport, dport: o.sport };
  const back = { src: o.server, dst: o.client, sport: o.sport, dport: o.cport };
  push(tcp({ ...base, seq: c, flags: 'S' }));
  push(tcp({ ...back, seq: s, ack: c + 1, flags: 'SA' }));
  c++; s++;
  push(tcp({ ...base, seq: c, ack: s, flags: 'A' }));
  for (const { req, resp } of o.requests) {
    push(tcp({ ...base, seq: c, ack: s, flags: 'PA', payload: req }));
    c += req.length;
    push(tcp({ ...back, seq: s, ack: c, flags: 'PA', payload: resp }));
    s += resp.length;
  }
  push(tcp({ ...base, seq: c, ack: s, flags: 'FA' }));
  push(tcp({ ...back, seq: s, ack: c + 1, flags: 'FA' }));
  push(tcp({ ...base, seq: c + 1, ack: s + 1, flags: 'A' }));
  return out;
}
