// The soak's stand-in for tcpdump: put first in PATH as `tcpdump`, it behaves like
// `tcpdump -U -w -` as `collect live` uses it — "listening on" on stderr, a pcap stream on stdout
// for as long as it runs, its statistics on SIGUSR1 (one line) and on SIGINT/SIGTERM (three
// lines, then exit 0) — but the traffic is synthetic and never repeats: HTTP/1.1 connections
// from a /16 of client pods (ports from the whole ephemeral range) to 2,000 servers, with paths
// that template to a few shapes per edge and, one request in four, a path segment never seen
// before (folded by the per-edge path cap). Timestamps are the wall clock, so hour buckets,
// idle sweeps and flushes happen as in a real capture. Seeded (mulberry32), so runs compare.
import { writeFileSync, writeSync } from 'node:fs';
import { mulberry32 } from './synth-capture.js';
import { httpConnection, pcapFile } from '../helpers/packets.js';

const CONNECTIONS_PER_BATCH = 200;
const SERVERS = 2000;
const WORDS = ['orders', 'items', 'users', 'carts', 'payments', 'stock', 'reviews', 'search', 'quotes', 'shipments'];

const rand = mulberry32(Number(process.env.SOAK_SEED ?? 1));
const int = (n: number) => Math.floor(rand() * n);
let packets = 0;
let isStopping = false;

function stats(oneLine: boolean): string {
  const parts = [`${packets} packets captured`, `${packets} packets received by filter`, '0 packets dropped by kernel'];
  return oneLine ? `tcpdump: ${parts.join(', ')}\n` : parts.join('\n') + '\n';
}

process.on('SIGUSR1', () => process.stderr.write(stats(true)));
const stop = () => { isStopping = true; };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

/** Writes all of `b` to standard output (a blocking pipe: it waits for the collector). */
function out(b: Buffer): void {
  for (let off = 0; off < b.length; ) {
    try {
      off += writeSync(1, b, off, b.length - off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // The collector went away: die as tcpdump does, of SIGPIPE, without a stack trace.
      if (code === 'EPIPE') process.exit(141);
      if (code !== 'EAGAIN') throw err;
    }
  }
}

function path(): string {
  const res = WORDS[int(WORDS.length)];
  const roll = rand();
  if (roll < 0.25) return `/api/v1/${res}/${int(1e6)}`;
  if (roll < 0.5) return `/api/v1/${res}/${int(1e6)}/history?page=${int(40)}`;
  if (roll < 0.75) return `/api/v2/${res}`;
  // A segment never seen before: without the per-edge cap, paths would grow without bound.
  return `/api/v1/${res}/x${int(1e9).toString(36)}/detail`;
}

function batch(): Buffer {
  const parts: Buffer[] = [];
  const t0 = Date.now();
  for (let i = 0; i < CONNECTIONS_PER_BATCH; i++) {
    const server = `10.96.${int(SERVERS) >> 8}.${int(SERVERS) & 0xff}`;
    const requests = Array.from({ length: 1 + int(3) }, () => ({
      req: `GET ${path()} HTTP/1.1\r\nHost: svc-${int(SERVERS)}\r\n\r\n`,
      resp: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    }));
    const conn = httpConnection({
      client: `10.244.${int(256)}.${int(256)}`, server, cport: 32768 + int(28000), sport: 8080, t0: t0 + i / 100,
      requests, isn: int(2 ** 31), serverIsn: int(2 ** 31),
    });
    // The records only: pcapFile's 24-byte global header was written once, at the start.
    parts.push(pcapFile(conn).subarray(24));
    packets += conn.length;
  }
  return Buffer.concat(parts);
}

function main(): void {
  // LINKTYPE_RAW, like the records; the header of an empty capture.
  out(pcapFile([]));
  process.stderr.write('tcpdump: listening on soak, link-type RAW (Raw IPv4), snapshot length 262144 bytes\n');
  const loop = () => {
    if (isStopping) {
      if (process.env.SOAK_COUNT_FILE) writeFileSync(process.env.SOAK_COUNT_FILE, String(packets));
      process.stderr.write(stats(false));
      process.exit(0);
    }
    out(batch());
    // Let signals in between batches.
    setImmediate(loop);
  };
  loop();
}

main();
