// Sniffs the first bytes of an input and picks the reader. The magic numbers are written as they
// appear on disk; see https://www.tcpdump.org/manpages/pcap-savefile.5.html and the pcapng draft
// (draft-ietf-opsawg-pcapng §4.1).
import { UnsupportedInputError } from './errors.js';
import { ClassicPcapReader } from './classic.js';
import { PcapngReader } from './pcapng.js';
import type { RecordReader } from './sink.js';

/** Bytes needed to tell the formats apart. */
export const MAGIC_BYTES = 4;

export function detectReader(head: Uint8Array): RecordReader {
  if (head.length < MAGIC_BYTES) {
    throw new UnsupportedInputError(head.length === 0 ? 'empty input: not a capture file' : 'truncated global header: not a capture file');
  }
  const b0 = head[0], b1 = head[1], b2 = head[2], b3 = head[3];
  if (b0 === 0x0a && b1 === 0x0d && b2 === 0x0d && b3 === 0x0a) return new PcapngReader();
  const le = (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0;
  const be = ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
  for (const [value, littleEndian] of [[le, true], [be, false]] as const) {
    if (value === 0xa1b2c3d4) return new ClassicPcapReader(littleEndian, 'usec');
    if (value === 0xa1b23c4d) return new ClassicPcapReader(littleEndian, 'nsec');
    if (value === 0xa1b2cd34) return new ClassicPcapReader(littleEndian, 'modified');
  }
  throw new UnsupportedInputError(describeUnknown(head));
}

function describeUnknown(head: Uint8Array): string {
  const hex = Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip-compressed stream (magic 1f 8b): give the file itself, or decompress it (zcat FILE | trustmap collect pcap -)';
  return `not a pcap or pcapng capture (magic ${hex})`;
}
