// pcapng (draft-ietf-opsawg-pcapng): a sequence of blocks {type, total length, body, total
// length}. One function per block type we use; every other block is skipped by its length.
// Each Section Header Block sets the byte order and starts a new interface list (§4.1).
import { u16, u32 } from './bytes.js';
import { UnsupportedInputError } from './errors.js';
import type { PacketSink, RecordReader } from './sink.js';

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const OPB = 0x00000002; // obsolete Packet Block, still written by old tools
const SPB = 0x00000003;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Larger blocks are treated as corrupt; nothing a capture tool writes comes close. */
export const MAX_BLOCK = 16 * 1024 * 1024;

interface Interface {
  linkType: number;
  snapLen: number;
  /** Timestamp units per millisecond (if_tsresol). */
  unitsPerMs: number;
  /** Seconds added to every timestamp (if_tsoffset). */
  offsetMs: number;
}

export class PcapngReader implements RecordReader {
  readonly format = 'pcapng';
  private le = true;
  private inSection = false;
  private interfaces: Interface[] = [];

  feed(buf: Uint8Array, start: number, end: number, sink: PacketSink): number {
    let i = start;
    while (end - i >= 12) {
      // The SHB's own length is in the section's byte order, which its magic tells (§4.1).
      const isShb = buf[i] === 0x0a && buf[i + 1] === 0x0d && buf[i + 2] === 0x0d && buf[i + 3] === 0x0a;
      if (isShb) this.le = u32(buf, i + 8, true) === BYTE_ORDER_MAGIC;
      else if (!this.inSection) throw new UnsupportedInputError('pcapng: first block is not a Section Header Block');
      const type = u32(buf, i, this.le);
      const len = u32(buf, i + 4, this.le);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) {
        if (isShb || !this.inSection) throw new UnsupportedInputError(`pcapng: damaged section header (block length ${len})`);
        // Framing is lost; without a trustworthy length there is no next block to find.
        sink.malformed('block-bad-length');
        return end - start;
      }
      if (end - i < len) break;
      const body = i + 8;
      const bodyEnd = i + len - 4;
      switch (type) {
        case SHB: this.sectionHeader(buf, body, bodyEnd); break;
        case IDB: this.interfaceDescription(buf, body, bodyEnd); break;
        case EPB: this.timestampedPacket(buf, body, bodyEnd, sink, bodyEnd - body >= 4 ? u32(buf, body, this.le) : -1); break;
        case SPB: this.simplePacket(buf, body, bodyEnd, sink); break;
        case OPB: this.timestampedPacket(buf, body, bodyEnd, sink, bodyEnd - body >= 2 ? u16(buf, body, this.le) : -1); break;
        default: break; // NRB, ISB, DSB, custom blocks: nothing we need
      }
      i += len;
    }
    return i - start;
  }

  finish(leftover: number, sink: PacketSink): void {
    if (!this.inSection) throw new UnsupportedInputError('truncated pcapng section header');
    if (leftover > 0) sink.malformed('record-truncated');
  }

  private sectionHeader(b: Uint8Array, i: number, end: number): void {
    if (end - i < 16) throw new UnsupportedInputError('pcapng: truncated Section Header Block');
    const major = u16(b, i + 4, this.le);
    const minor = u16(b, i + 6, this.le);
    if (major !== 1) throw new UnsupportedInputError(`pcapng: unsupported section version ${major}.${minor}`);
    this.walkOptions(b, i + 16, end, null, 'Section Header Block');
    this.interfaces = [];
    this.inSection = true;
  }

  private interfaceDescription(b: Uint8Array, i: number, end: number): void {
    if (end - i < 8) throw new UnsupportedInputError('pcapng: truncated Interface Description Block');
    const iface: Interface = {
      linkType: u16(b, i, this.le),
      snapLen: u32(b, i + 4, this.le),
      unitsPerMs: 1e3, // default resolution: microseconds
      offsetMs: 0,
    };
    this.walkOptions(b, i + 8, end, iface, 'Interface Description Block');
    this.interfaces.push(iface);
  }

  /** Options are {code, length, value padded to 4}; code 0 ends the list (§3.5). */
  private walkOptions(b: Uint8Array, i: number, end: number, iface: Interface | null, where: string): void {
    while (end - i >= 4) {
      const code = u16(b, i, this.le);
      const len = u16(b, i + 2, this.le);
      if (code === 0) return;
      const value = i + 4;
      if (value + len > end) throw new UnsupportedInputError(`pcapng: damaged ${where} (option ${code} of length ${len} runs past the block)`);
      if (iface !== null && code === 9 && len >= 1) {
        // if_tsresol: MSB clear → 10^-v seconds, set → 2^-v seconds.
        const v = b[value];
        const perSec = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
        iface.unitsPerMs = perSec / 1000;
      } else if (iface !== null && code === 14 && len >= 8) {
        // if_tsoffset: a signed 64-bit number of seconds.
        const lo = u32(b, value + (this.le ? 0 : 4), this.le);
        const hi = u32(b, value + (this.le ? 4 : 0), this.le) | 0;
        iface.offsetMs = (hi * 4294967296 + lo) * 1000;
      }
      i = value + ((len + 3) & ~3);
    }
  }

  /** EPB (§4.3) and the obsolete Packet Block share a layout but for the interface id's width. */
  private timestampedPacket(b: Uint8Array, i: number, end: number, sink: PacketSink, ifaceId: number): void {
    if (end - i < 20) { sink.malformed('block-bad-length'); return; }
    const iface = this.interfaces[ifaceId];
    if (iface === undefined) { sink.malformed('block-unknown-interface'); return; }
    const ts = u32(b, i + 4, this.le) * 4294967296 + u32(b, i + 8, this.le);
    const capLen = u32(b, i + 12, this.le);
    const origLen = u32(b, i + 16, this.le);
    if (i + 20 + capLen > end) { sink.malformed('record-impossible-length'); return; }
    sink.packet(iface.linkType, ts / iface.unitsPerMs + iface.offsetMs, b, i + 20, capLen, origLen);
  }

  /** SPB: no timestamp and no captured length; the data is the rest of the block (§4.4). */
  private simplePacket(b: Uint8Array, i: number, end: number, sink: PacketSink): void {
    const iface = this.interfaces[0];
    if (iface === undefined) { sink.malformed('block-unknown-interface'); return; }
    if (end - i < 4) { sink.malformed('block-bad-length'); return; }
    const origLen = u32(b, i, this.le);
    let capLen = Math.min(origLen, end - i - 4);
    if (iface.snapLen > 0) capLen = Math.min(capLen, iface.snapLen);
    sink.packet(iface.linkType, Number.NaN, b, i + 4, capLen, origLen);
  }

}
