// kube-system/coredns: answers A queries for NAME.NS.svc.cluster.local (and the shorter
// search-path forms) with the ClusterIP, and api.bank.example with the external host.
// RFC 1035 §4.1 message format; UDP, and TCP with the two-byte length prefix (§4.2.2).
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { dnsAnswerFor, PODS } from '../definitions.js';
import type { Pod } from './runtime.js';
import { listen, log } from './runtime.js';

const TTL_SECONDS = 5;
const TYPE_A = 1;

interface Question { id: number; flags: number; name: string; qtype: number; end: number }

const parseQuestion = (msg: Buffer): Question | null => {
  if (msg.length < 17) return null;
  const labels: string[] = [];
  let off = 12;
  while (off < msg.length) {
    const len = msg[off] ?? 0;
    if (len === 0) { off += 1; break; }
    if (len > 63 || off + 1 + len > msg.length) return null;
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return null;
  return { id: msg.readUInt16BE(0), flags: msg.readUInt16BE(2), name: labels.join('.').toLowerCase(), qtype: msg.readUInt16BE(off), end: off + 4 };
};

const answer = (msg: Buffer, q: Question, ip: string | null): Buffer => {
  const isA = q.qtype === TYPE_A && ip !== null;
  const rcode = ip === null ? 3 : 0; // NXDOMAIN for names we do not serve
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  header.writeUInt16BE(0x8400 | (q.flags & 0x0100) | 0x0080 | rcode, 2); // QR AA RD(copied) RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(isA ? 1 : 0, 6);
  const question = msg.subarray(12, q.end);
  if (!isA) return Buffer.concat([header, question]);
  const rr = Buffer.alloc(16);
  rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
  rr.writeUInt16BE(TYPE_A, 2);
  rr.writeUInt16BE(1, 4);
  rr.writeUInt32BE(TTL_SECONDS, 6);
  rr.writeUInt16BE(4, 10);
  ip.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
  return Buffer.concat([header, question, rr]);
};

export const startCoreDns = async (pod: Pod): Promise<void> => {
  const respond = (msg: Buffer, srcIp: string, transport: 'udp' | 'tcp'): Buffer | null => {
    const q = parseQuestion(msg);
    if (!q) return null;
    const client = PODS.find((p) => p.ip === srcIp);
    const ip = dnsAnswerFor(q.name, client?.namespace ?? '');
    pod.ledger.add({
      kind: 'dns-query', srcIp, dstIp: pod.def.ip, port: 53, transport, protocol: 'dns', security: 'plaintext',
      method: null, path: q.name, host: null, sni: null, tlsVersion: null, qtype: q.qtype, answer: q.qtype === TYPE_A ? ip : null,
      hasCredentials: false,
    });
    return answer(msg, q, ip);
  };

  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    const out = respond(msg, rinfo.address, 'udp');
    if (out) udp.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => udp.bind(53, pod.def.ip, resolve));

  const tcp = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const out = respond(msg, (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), 'tcp');
        if (out) {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          socket.write(Buffer.concat([len, out]));
        }
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await listen(tcp, 53, pod.def.ip);
  log.info({ ip: pod.def.ip }, 'coredns listening on 53/udp and 53/tcp');
};
