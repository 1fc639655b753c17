// Classic libpcap savefiles (pcap-savefile(5)): a 24-byte global header, then records of a
// 16-byte header (ts_sec, ts_usec|ts_nsec, incl_len, orig_len) and incl_len bytes. The
// "modified" format (Alexey Kuznetzov's patches, magic a1b2cd34) adds 8 bytes per record header.
// Walks records in place; never copies packet bytes.
import { u16, u32 } from './bytes.js';
import { UnsupportedInputError } from './errors.js';
import type { PacketSink, RecordReader } from './sink.js';

/** libpcap's MAXIMUM_SNAPLEN: no record can legitimately be longer. */
export const MAX_RECORD = 262144;
const GLOBAL_HEADER = 24;

export type ClassicVariant = 'usec' | 'nsec' | 'modified';

export class ClassicPcapReader implements RecordReader {
  readonly format: string;
  linkType = -1;
  snapLen = 0;
  private readonly recHeader: number;
  private readonly fracPerMs: number;
  private lastSec = -1;
  private resyncing = false;

  constructor(private readonly le: boolean, variant: ClassicVariant) {
    this.format = `pcap (${variant === 'nsec' ? 'nanosecond' : 'microsecond'}${variant === 'modified' ? ', modified' : ''}, ${le ? 'little' : 'big'}-endian)`;
    this.recHeader = variant === 'modified' ? 24 : 16;
    this.fracPerMs = variant === 'nsec' ? 1e6 : 1e3;
  }

  feed(buf: Uint8Array, start: number, end: number, sink: PacketSink): number {
    let i = start;
    if (this.linkType < 0) {
      if (end - i < GLOBAL_HEADER) return 0;
      this.readGlobalHeader(buf, i);
      i += GLOBAL_HEADER;
    }
    const le = this.le, hdr = this.recHeader, fracPerMs = this.fracPerMs, link = this.linkType;
    while (end - i >= hdr) {
      if (this.resyncing) {
        const found = this.resync(buf, i, end);
        if (found < 0) return -found - 1 - start;
        i = found;
        this.resyncing = false;
        continue;
      }
      const sec = u32(buf, i, le);
      const frac = u32(buf, i + 4, le);
      const inclLen = u32(buf, i + 8, le);
      const origLen = u32(buf, i + 12, le);
      if (inclLen > MAX_RECORD) {
        // Framing is lost: the length cannot be trusted, so neither can the next header's place.
        sink.malformed('record-impossible-length');
        this.resyncing = true;
        i += 1;
        continue;
      }
      const recEnd = i + hdr + inclLen;
      if (recEnd > end) break;
      this.lastSec = sec;
      if (inclLen > origLen && origLen !== 0) {
        sink.malformed('record-impossible-length');
      } else {
        sink.packet(link, sec * 1000 + frac / fracPerMs, buf, i + hdr, inclLen, origLen);
      }
      i = recEnd;
    }
    return i - start;
  }

  finish(leftover: number, sink: PacketSink): void {
    if (this.linkType < 0) throw new UnsupportedInputError('truncated global header: the capture ends before its 24-byte header');
    if (leftover > 0) sink.malformed('record-truncated');
  }

  private readGlobalHeader(b: Uint8Array, i: number): void {
    const major = u16(b, i + 4, this.le);
    const minor = u16(b, i + 6, this.le);
    if (major !== 2) throw new UnsupportedInputError(`unsupported pcap version ${major}.${minor} (only 2.x exists)`);
    this.snapLen = u32(b, i + 16, this.le);
    // The top bits of the link-type field carry FCS information (pcap-savefile(5)).
    this.linkType = u32(b, i + 20, this.le) & 0x03ffffff;
  }

  /**
   * Looks for the next offset where a plausible record header is followed by another one.
   * Returns that offset, or -(k + 1) where k is the first offset still worth looking at once
   * more bytes arrive.
   */
  private resync(b: Uint8Array, from: number, end: number): number {
    const hdr = this.recHeader;
    let j = from;
    for (; end - j >= hdr; j++) {
      if (!this.plausible(b, j)) continue;
      const next = j + hdr + u32(b, j + 8, this.le);
      if (next === end || (end - next >= hdr && this.plausible(b, next))) return j;
      if (next + hdr > end) return -(j + 1); // a candidate: decide once more bytes arrive
    }
    return -(j + 1);
  }

  private plausible(b: Uint8Array, j: number): boolean {
    const sec = u32(b, j, this.le);
    const frac = u32(b, j + 4, this.le);
    const incl = u32(b, j + 8, this.le);
    const orig = u32(b, j + 12, this.le);
    if (incl > MAX_RECORD || orig < incl || frac >= this.fracPerMs * 1000) return false;
    return this.lastSec < 0 || Math.abs(sec - this.lastSec) < 86400;
  }
}
