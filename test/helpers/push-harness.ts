// Test helper for pushing: a real `trustmap serve --ingest-tokens` process on loopback (restartable
// on the same port and store), a TCP proxy the test can cut, the demo capture split into pieces,
// and totals of a store that do not depend on which node or batch a call came through.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { serve, type Served } from './serve.js';

export const DEMO_CAPTURE = new URL('../testbed/demo/capture.pcap', import.meta.url).pathname;

export const TOKENS = { 'node-a': 'token-a-0123456789abcdef', 'node-b': 'token-b-0123456789abcdef' } as const;
export type NodeName = keyof typeof TOKENS;

/** Writes the server's tokens file and one token file per node into `dir`. */
export function writeTokens(dir: string): { tokensFile: string; tokenFile: Record<NodeName, string> } {
  const tokensFile = join(dir, 'ingest-tokens');
  writeFileSync(tokensFile, Object.entries(TOKENS).map(([n, t]) => `${n} ${t}`).join('\n') + '\n');
  chmodSync(tokensFile, 0o600);
  const tokenFile = {} as Record<NodeName, string>;
  for (const [n, t] of Object.entries(TOKENS) as Array<[NodeName, string]>) {
    tokenFile[n] = join(dir, `${n}.token`);
    writeFileSync(tokenFile[n], `${t}\n`);
    chmodSync(tokenFile[n], 0o600);
  }
  return { tokensFile, tokenFile };
}

export interface Central extends Served {
  port: number;
}

/** Starts the central server with node tokens. Port 0 picks a free one; a restart passes the old one. */
export async function startCentral(db: string, tokensFile: string, port = 0): Promise<Central> {
  const s = await serve(['--db', db, '--port', String(port), '--ingest-tokens', tokensFile]);
  return { ...s, port: Number(new URL(s.url).port) };
}

/** A loopback port nothing listens on (bound, then closed). */
export async function deadPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

export async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/** A loopback TCP proxy to `port` that the test stops (every connection cut) and starts again. */
export class CutProxy {
  private server: Server | null = null;
  private sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: number) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); s.on('error', () => s.destroy()); }
      client.pipe(upstream).pipe(client);
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s === null) return;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** Splits a classic little-endian pcap into `n` files of consecutive packets. */
export function splitPcap(file: string, n: number, dir: string): string[] {
  const buf = readFileSync(file);
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${file}: not a little-endian classic pcap`);
  const header = buf.subarray(0, 24);
  const records: Buffer[] = [];
  for (let off = 24; off + 16 <= buf.length;) {
    const len = 16 + buf.readUInt32LE(off + 8);
    records.push(buf.subarray(off, off + len));
    off += len;
  }
  const per = Math.ceil(records.length / n);
  return Array.from({ length: n }, (_, i) => {
    const out = join(dir, `piece-${i}.pcap`);
    writeFileSync(out, Buffer.concat([header, ...records.slice(i * per, (i + 1) * per)]));
    return out;
  });
}

/** Everything a store counted, summed over nodes and hour buckets, in a stable order. */
export function totals(dbFile: string): { calls: unknown[]; dnsNames: unknown[] } {
  const db = new Database(dbFile, { readonly: true });
  try {
    const calls = db.prepare(
      `SELECT source, src_ip, dst_ip, service_ip, dst_port, transport, protocol, method, path, host, sni, alpn,
              security, security_reason, direction, sum(count) AS count, sum(connections) AS connections, sum(bytes) AS bytes,
              min(first_seen_ms) AS first, max(last_seen_ms) AS last, max(credentials_in_plaintext) AS creds,
              sum(status_2xx) AS s2, sum(status_3xx) AS s3, sum(status_4xx) AS s4, sum(status_5xx) AS s5
       FROM calls GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15`,
    ).all();
    const dnsNames = db.prepare('SELECT ip, name, first_seen_ms, last_seen_ms FROM dns_names ORDER BY ip, name').all();
    return { calls, dnsNames };
  } finally {
    db.close();
  }
}

/** One value from a store opened read-only (the central store while its server runs). */
export function scalar(dbFile: string, sql: string): number {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}
