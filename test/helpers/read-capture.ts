// Test helper: runs one of our capture readers over a byte array delivered in chunks of a given
// size (so records straddle chunk boundaries), collecting every record and malformed report.
import { detectReader } from '../../collector/sources/pcap/magic.js';
import type { MalformedReason, PacketSink } from '../../collector/sources/pcap/sink.js';

export interface Rec {
  linkType: number;
  tsMs: number;
  capLen: number;
  origLen: number;
  hex: string;
}

export interface ReadResult {
  format: string;
  records: Rec[];
  malformed: MalformedReason[];
}

export function readCapture(bytes: Uint8Array, chunk = 1 << 20): ReadResult {
  const records: Rec[] = [];
  const malformed: MalformedReason[] = [];
  const sink: PacketSink = {
    packet(linkType, tsMs, buf, offset, capLen, origLen) {
      records.push({ linkType, tsMs, capLen, origLen, hex: Buffer.from(buf.subarray(offset, offset + capLen)).toString('hex') });
    },
    malformed(reason) { malformed.push(reason); },
  };
  let window = new Uint8Array(0);
  let reader: ReturnType<typeof detectReader> | null = null;
  for (let pos = 0; ; pos += chunk) {
    const piece = bytes.subarray(pos, Math.min(bytes.length, pos + chunk));
    const next = new Uint8Array(window.length + piece.length);
    next.set(window);
    next.set(piece, window.length);
    window = next;
    if (reader === null) {
      if (window.length < 4 && pos + chunk < bytes.length) continue;
      reader = detectReader(window);
    }
    const used = reader.feed(window, 0, window.length, sink);
    window = window.slice(used);
    if (pos + chunk >= bytes.length) {
      reader.finish(window.length, sink);
      return { format: reader.format, records, malformed };
    }
  }
}
