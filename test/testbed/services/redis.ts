// shop/redis: a key-value store speaking a RESP2 subset (arrays of bulk strings in; simple
// strings, integers and bulk strings out) — enough for HINCRBY, EXPIRE, GET, SET, PING, QUIT.
// Also the RESP client the cart uses: one connection per cart update.
import * as net from 'node:net';
import type { Pod } from './runtime.js';
import { listen, log } from './runtime.js';

/** Parses complete RESP arrays from buf; returns the commands and how many bytes they used. */
export const parseCommands = (buf: Buffer): { commands: string[][]; used: number } => {
  const commands: string[][] = [];
  let off = 0;
  const line = (from: number): { text: string; next: number } | null => {
    const end = buf.indexOf('\r\n', from, 'latin1');
    return end < 0 ? null : { text: buf.toString('latin1', from, end), next: end + 2 };
  };
  for (;;) {
    const head = line(off);
    if (!head || !head.text.startsWith('*')) break;
    const n = Number(head.text.slice(1));
    let pos = head.next;
    const args: string[] = [];
    for (let i = 0; i < n; i++) {
      const len = line(pos);
      if (!len || !len.text.startsWith('$')) return { commands, used: off };
      const size = Number(len.text.slice(1));
      if (len.next + size + 2 > buf.length) return { commands, used: off };
      args.push(buf.toString('utf8', len.next, len.next + size));
      pos = len.next + size + 2;
    }
    commands.push(args);
    off = pos;
  }
  return { commands, used: off };
};

export const encodeCommand = (args: string[]): string =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

export const startRedis = async (pod: Pod): Promise<void> => {
  const store = new Map<string, Map<string, number> | string>();
  const server = net.createServer((socket) => {
    const srcIp = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    pod.ledger.add({
      kind: 'tcp-connection', srcIp, dstIp: pod.def.ip, port: 6379, transport: 'tcp', protocol: 'tcp',
      security: 'plaintext', method: null, path: null, host: null, sni: null, tlsVersion: null, qtype: null,
      answer: null, hasCredentials: false,
    });
    let buf = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const { commands, used } = parseCommands(buf);
      buf = buf.subarray(used);
      for (const [cmd = '', ...args] of commands) {
        const name = cmd.toUpperCase();
        if (name === 'HINCRBY') {
          const hash = store.get(args[0] ?? '');
          const h = hash instanceof Map ? hash : new Map<string, number>();
          const next = (h.get(args[1] ?? '') ?? 0) + Number(args[2] ?? 1);
          h.set(args[1] ?? '', next);
          store.set(args[0] ?? '', h);
          socket.write(`:${next}\r\n`);
        } else if (name === 'EXPIRE') socket.write(':1\r\n');
        else if (name === 'SET') { store.set(args[0] ?? '', args[1] ?? ''); socket.write('+OK\r\n'); }
        else if (name === 'GET') {
          const v = store.get(args[0] ?? '');
          socket.write(typeof v === 'string' ? `$${Buffer.byteLength(v)}\r\n${v}\r\n` : '$-1\r\n');
        } else if (name === 'PING') socket.write('+PONG\r\n');
        else if (name === 'QUIT') { socket.end('+OK\r\n'); return; }
        else socket.write(`-ERR unknown command '${cmd}'\r\n`);
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await listen(server, 6379, pod.def.ip);
  log.info('redis listening on 6379');
};

/** Sends the commands on a fresh connection, waits for one reply line each, then QUITs. */
export const redisSession = (address: string, port: number, commands: string[][]): Promise<string[]> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port });
    const replies: string[] = [];
    let pending = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('redis: timeout')));
    socket.on('connect', () => socket.write(commands.map(encodeCommand).join('') + encodeCommand(['QUIT'])));
    socket.on('data', (c: Buffer) => {
      pending += c.toString('latin1');
      const lines = pending.split('\r\n');
      pending = lines.pop() ?? '';
      replies.push(...lines);
    });
    socket.on('close', () => (replies.length > commands.length ? resolve(replies) : reject(new Error('redis: short reply'))));
    socket.on('error', reject);
  });
