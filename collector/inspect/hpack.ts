// HPACK header-block decoding (RFC 7541), one decoder per direction. Defences against
// decompression bombs: the decoded header list of one block is capped (MAX_HEADER_LIST, counted
// as RFC 7541 §4.1 entry sizes), the dynamic table can never exceed MAX_TABLE_SIZE whatever size
// update the peer sends, integers are capped before they overflow, and every representation
// consumes at least one input byte, so work per block is bounded by the (capped) block length.
//
// We keep only the header values the map needs (:method, :path, :authority, host, :status,
// content-type) — the dynamic table stores other values as '' with their true size, so table
// arithmetic stays exact without retaining anyone's cookies.
import { isCredentialHeaderName } from './credentials.js';
import { EOS, HUFFMAN_TRIE, STATIC_TABLE } from './hpack-tables.js';
import { latin1 } from './text.js';

export const MAX_HEADER_LIST = 64 * 1024;
/** The largest dynamic table we track, whatever SETTINGS_HEADER_TABLE_SIZE says. */
export const MAX_TABLE_SIZE = 64 * 1024;
const DEFAULT_TABLE_SIZE = 4096;

/** Header names whose values we keep. */
const KEEP = new Set([':method', ':path', ':authority', 'host', ':status', 'content-type']);
const STATIC_CREDENTIAL = STATIC_TABLE.map(([name]) => name !== '' && isCredentialHeaderName(name));

export interface HeaderListener {
  /**
   * One decoded header. `name` is '' when it referenced dynamic-table state we do not have (a
   * connection joined mid-stream); `value` is '' unless the name is one we keep.
   */
  header(name: string, value: string, isCredential: boolean): void;
}

export class HpackDecoder {
  // Dynamic table as a ring, newest at `head` (RFC 7541 §2.3.2: index 62 is the newest).
  private names: string[] = [];
  private values: string[] = [];
  private sizes: number[] = [];
  private creds: boolean[] = [];
  private head = 0;
  private count = 0;
  private size = 0;
  private maxSize = DEFAULT_TABLE_SIZE;
  /** What the peer's SETTINGS allow (bounded by MAX_TABLE_SIZE). */
  allowedMaxSize = MAX_TABLE_SIZE;
  /** We missed table state (mid-stream start or an undecodable block): dynamic refs are unknown. */
  isDesynced = false;
  private scratch = new Uint8Array(256);
  private scratchLen = 0;
  private pos = 0;
  /** Short constant describing why the last decode() failed. */
  error = '';

  /** Decode a complete header block; false on a decoding error (the table is then desynced). */
  decode(b: Uint8Array, start: number, end: number, listener: HeaderListener): boolean {
    let p = start;
    let listSize = 0;
    while (p < end) {
      const first = b[p];
      if (first & 0x80) {
        // Indexed header field (§6.1)
        const index = this.integer(b, p, end, 7);
        if (index <= 0) return this.fail(index === 0 ? 'hpack index 0' : 'hpack integer');
        p = this.pos;
        listSize += this.emitIndexed(index, listener);
      } else if ((first & 0xe0) === 0x20) {
        // Dynamic table size update (§6.3)
        const n = this.integer(b, p, end, 5);
        if (n < 0 || n > this.allowedMaxSize) return this.fail('hpack table size update');
        p = this.pos;
        this.maxSize = n;
        this.evict(0);
      } else {
        // Literal header field: with incremental indexing (§6.2.1, 6-bit prefix), without
        // indexing (§6.2.2) or never indexed (§6.2.3), both 4-bit prefixes.
        const isIndexing = (first & 0xc0) === 0x40;
        const index = this.integer(b, p, end, isIndexing ? 6 : 4);
        if (index < 0) return this.fail('hpack integer');
        p = this.pos;
        let name: string;
        let nameLen: number;
        let isCredential: boolean;
        if (index === 0) {
          if (!this.string(b, p, end)) return false;
          p = this.pos;
          name = latin1(this.scratch, 0, this.scratchLen);
          nameLen = this.scratchLen;
          isCredential = isCredentialHeaderName(name);
        } else if (index <= 61) {
          name = STATIC_TABLE[index][0];
          nameLen = name.length;
          isCredential = STATIC_CREDENTIAL[index];
        } else if (index - 62 < this.count && !this.isDesynced) {
          const slot = this.slot(index - 62);
          name = this.names[slot];
          nameLen = name.length;
          isCredential = this.creds[slot];
        } else {
          this.isDesynced = true;
          name = '';
          nameLen = -1;
          isCredential = false;
        }
        if (!this.string(b, p, end)) return false;
        p = this.pos;
        const isKept = KEEP.has(name);
        const value = isKept ? latin1(this.scratch, 0, this.scratchLen) : '';
        listSize += Math.max(nameLen, 0) + this.scratchLen + 32;
        if (isIndexing) {
          if (nameLen < 0) this.isDesynced = true;
          else this.insert(name, value, nameLen + this.scratchLen + 32, isCredential);
        }
        listener.header(name, value, isCredential);
      }
      if (listSize > MAX_HEADER_LIST) return this.fail('hpack header list too large');
    }
    return true;
  }

  private emitIndexed(index: number, listener: HeaderListener): number {
    if (index <= 61) {
      const [name, value] = STATIC_TABLE[index];
      listener.header(name, value, STATIC_CREDENTIAL[index]);
      return name.length + value.length + 32;
    }
    if (index - 62 >= this.count || this.isDesynced) {
      this.isDesynced = true;
      listener.header('', '', false);
      return 32;
    }
    const slot = this.slot(index - 62);
    listener.header(this.names[slot], this.values[slot], this.creds[slot]);
    return this.sizes[slot];
  }

  private slot(i: number): number {
    const cap = this.names.length;
    return (this.head - i + cap) % cap;
  }

  private insert(name: string, value: string, entrySize: number, isCredential: boolean): void {
    // §4.4: an entry larger than the table empties it and is not added.
    this.evict(entrySize);
    if (entrySize > this.maxSize) return;
    if (this.count === this.names.length) this.grow();
    this.head = (this.head + 1) % this.names.length;
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.sizes[this.head] = entrySize;
    this.creds[this.head] = isCredential;
    this.count++;
    this.size += entrySize;
  }

  private grow(): void {
    // Re-lay the ring oldest-first into arrays twice the size (at most MAX_TABLE_SIZE / 32 entries).
    const cap = Math.max(16, this.names.length * 2);
    const names: string[] = new Array<string>(cap);
    const values: string[] = new Array<string>(cap);
    const sizes: number[] = new Array<number>(cap);
    const creds: boolean[] = new Array<boolean>(cap);
    for (let i = 0; i < this.count; i++) {
      const from = this.slot(this.count - 1 - i);
      names[i] = this.names[from];
      values[i] = this.values[from];
      sizes[i] = this.sizes[from];
      creds[i] = this.creds[from];
    }
    this.names = names;
    this.values = values;
    this.sizes = sizes;
    this.creds = creds;
    this.head = this.count - 1;
    if (this.head < 0) this.head = cap - 1;
  }

  /** Evict oldest entries until `incoming` more bytes fit (§4.3, §4.4). */
  private evict(incoming: number): void {
    while (this.count > 0 && this.size + incoming > this.maxSize) {
      const oldest = this.slot(this.count - 1);
      this.size -= this.sizes[oldest];
      this.names[oldest] = '';
      this.values[oldest] = '';
      this.count--;
    }
  }

  /** §5.1 integer with an N-bit prefix; -1 when truncated or absurd. Sets this.pos. */
  private integer(b: Uint8Array, p: number, end: number, prefixBits: number): number {
    const max = (1 << prefixBits) - 1;
    let v = b[p] & max;
    p++;
    if (v === max) {
      let shift = 0;
      for (;;) {
        if (p >= end) return -1;
        const c = b[p++];
        v += (c & 0x7f) * 2 ** shift;
        shift += 7;
        if ((c & 0x80) === 0) break;
        // 2^28 is far beyond any length or index we could honour.
        if (shift > 21) return -1;
      }
    }
    this.pos = p;
    return v;
  }

  /** §5.2 string literal into scratch; sets this.pos and scratchLen. */
  private string(b: Uint8Array, p: number, end: number): boolean {
    if (p >= end) return this.fail('hpack truncated');
    const isHuffman = (b[p] & 0x80) !== 0;
    const len = this.integer(b, p, end, 7);
    if (len < 0) return this.fail('hpack integer');
    p = this.pos;
    if (p + len > end) return this.fail('hpack truncated');
    if (len > MAX_HEADER_LIST) return this.fail('hpack header list too large');
    // Huffman output is at most 8/5 of its input (shortest code is 5 bits).
    this.ensureScratch(isHuffman ? Math.ceil((len * 8) / 5) : len);
    if (isHuffman) {
      if (!this.huffman(b, p, p + len)) return this.fail('hpack huffman');
    } else {
      const s = this.scratch;
      for (let i = 0; i < len; i++) s[i] = b[p + i];
      this.scratchLen = len;
    }
    this.pos = p + len;
    return true;
  }

  private huffman(b: Uint8Array, start: number, end: number): boolean {
    const out = this.scratch;
    let n = 0;
    let node = 0;
    let depth = 0;
    let isAllOnes = true;
    for (let i = start; i < end; i++) {
      const byte = b[i];
      for (let bit = 7; bit >= 0; bit--) {
        const v = (byte >> bit) & 1;
        const next = HUFFMAN_TRIE[2 * node + v];
        depth++;
        if (v === 0) isAllOnes = false;
        if (next < 0) {
          const sym = -next - 1;
          // EOS inside a string is an error (§5.2).
          if (sym === EOS) return false;
          out[n++] = sym;
          node = 0;
          depth = 0;
          isAllOnes = true;
        } else {
          node = next;
        }
      }
    }
    // Padding: fewer than 8 bits, all ones (the EOS prefix), §5.2.
    if (depth > 7 || !isAllOnes) return false;
    this.scratchLen = n;
    return true;
  }

  private ensureScratch(n: number): void {
    if (n > this.scratch.length) this.scratch = new Uint8Array(Math.max(n, this.scratch.length * 2));
  }

  private fail(reason: string): false {
    this.error = reason;
    this.isDesynced = true;
    return false;
  }
}
