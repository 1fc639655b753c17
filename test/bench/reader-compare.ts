// Record readers alone, no decoding: the npm package pcap-parser (the reference reader) against
// trustmap's own classic-pcap reader, both handing out every packet of the same synthetic
// capture to a callback that only counts. Evidence for docs/decisions/001-own-pcap-reader.md.
//
//   tsx test/bench/reader-compare.ts [--size 1G] [--runs 3]
// Each run is its own process (so peak RSS is the reader's); the time is taken inside it, around
// the read alone, so process start-up and module loading are not counted.
import { closeSync, openSync, readSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pcapp from 'pcap-parser';
import { detectReader, MAGIC_BYTES } from '../../collector/sources/pcap/magic.js';
import type { MalformedReason, PacketSink, RecordReader } from '../../collector/sources/pcap/sink.js';
import { capture, say } from './collector.js';
import { measure, median, table } from './measure.js';

const READERS = ['pcap-parser', 'trustmap'] as const;
type ReaderName = (typeof READERS)[number];
/** The same read size and window rule as collector/ingest.ts pump(). */
const CHUNK = 8 * 1024 * 1024;

interface Count { packets: number; malformed: number; seconds: number }

function withPcapParser(file: string): Promise<Count> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let packets = 0;
    const p = pcapp.parse(file);
    p.on('packet', () => { packets++; });
    p.on('error', reject);
    p.on('end', () => resolve({ packets, malformed: 0, seconds: (performance.now() - t0) / 1000 }));
  });
}

/** The ingest's window loop (collector/ingest.ts pump()) with a sink that only counts. */
function withTrustmap(file: string): Count {
  const t0 = performance.now();
  let packets = 0;
  let malformed = 0;
  const sink: PacketSink = {
    packet() { packets++; },
    malformed(_reason: MalformedReason) { malformed++; },
  };
  const fd = openSync(file, 'r');
  let buf = Buffer.allocUnsafe(CHUNK);
  let start = 0;
  let end = 0;
  let reader: RecordReader | null = null;
  try {
    for (;;) {
      if (buf.length - end < CHUNK / 2) {
        // Compact, or grow when one record fills the window.
        buf.copyWithin(0, start, end);
        end -= start;
        start = 0;
        if (buf.length - end < CHUNK / 2) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, end);
          buf = bigger;
        }
      }
      const n = readSync(fd, buf, end, buf.length - end, null);
      end += n;
      if (reader === null) {
        if (n > 0 && end - start < MAGIC_BYTES) continue;
        reader = detectReader(buf.subarray(start, end));
      }
      start += reader.feed(buf, start, end, sink);
      if (n === 0) {
        reader.finish(end - start, sink);
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return { packets, malformed, seconds: (performance.now() - t0) / 1000 };
}

async function child(reader: ReaderName, file: string): Promise<void> {
  const r = reader === 'pcap-parser' ? await withPcapParser(file) : withTrustmap(file);
  process.stdout.write(JSON.stringify(r) + '\n');
}

async function compare(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { size: { type: 'string', default: '1G' }, runs: { type: 'string', default: '3' }, seed: { type: 'string', default: '1' } },
  });
  const runs = Number(values.runs);
  const { file, truth } = capture({ size: values.size!, format: 'pcap', link: 'ether', seed: Number(values.seed) });
  await measure({ cmd: 'cat', args: [file] }); // page cache warm
  const results = new Map<ReaderName, Array<Count & { rssMiB: number | null }>>(READERS.map((r) => [r, []]));
  let bad = 0;
  for (let k = 0; k < runs; k++) {
    for (const reader of READERS) {
      const s = await measure({ cmd: process.execPath, args: ['--import', 'tsx', 'test/bench/reader-compare.ts', '--child', reader, file], stdout: 'capture' });
      if (s.exitCode !== 0) throw new Error(`${reader} failed: ${s.stderr.trim()}`);
      const c = JSON.parse(s.stdout.trim().split('\n').pop()!) as Count;
      results.get(reader)!.push({ ...c, rssMiB: s.peakRssKiB === null ? null : s.peakRssKiB / 1024 });
      if (c.packets !== truth.packets) { bad++; say(`!!! ${reader} counted ${c.packets} packets, the generator wrote ${truth.packets}`); }
      say(`run ${k + 1}: ${reader.padEnd(11)} ${c.seconds.toFixed(2)} s, ${c.packets} packets (load ${s.load.toFixed(2)})`);
    }
  }
  const mb = truth.bytes / 1e6;
  const ref = median(results.get('trustmap')!.map((c) => c.seconds));
  say('');
  say(`${file}: ${truth.bytes} bytes, ${truth.packets} packets`);
  say(table(
    ['reader', 'runs', 'median s', 'min–max s', 'packets/s', 'MB/s', 'peak RSS MiB', 'time / trustmap'],
    READERS.map((r) => {
      const xs = results.get(r)!;
      const secs = xs.map((c) => c.seconds);
      const med = median(secs);
      const rss = xs.map((c) => c.rssMiB ?? 0);
      return [r, String(xs.length), med.toFixed(2), `${Math.min(...secs).toFixed(2)}–${Math.max(...secs).toFixed(2)}`,
        Math.round(truth.packets / med).toLocaleString('en-US'), (mb / med).toFixed(0), Math.max(...rss).toFixed(1), `${(med / ref).toFixed(2)}×`];
    }),
  ));
  return bad > 0 ? 1 : 0;
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  child(argv[1] as ReaderName, argv[2]).catch((err: Error) => { process.stderr.write(`${err.message}\n`); process.exitCode = 1; });
} else {
  compare(argv).then((code) => { process.exitCode = code; }, (err: Error) => { process.stderr.write(`error: ${err.message}\n`); process.exitCode = 2; });
}
