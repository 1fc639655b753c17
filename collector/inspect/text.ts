// Turning traffic bytes into strings we can store. Everything here is hostile input: a Host
// header, an :authority, an SNI or a path may carry HTML, YAML, control characters or be 64 KiB
// long. We store it as data (escaping is the UI's and the YAML writer's job), but we cap its
// length and make sure nothing downstream ever sees a raw control byte or invalid UTF-8.

/** Hosts, :authority and SNI: a DNS name is at most 255 bytes (RFC 1035 §2.3.4). */
export const MAX_HOST = 255;
/** Request targets and paths. */
export const MAX_PATH = 2048;
/** Appended to a capped string; the result including the marker stays within the cap. */
export const TRUNCATION_MARKER = '\u2026';
export const REPLACEMENT = '\uFFFD';

// Buffer's native slicers accept any Uint8Array as `this`, so we decode sub-ranges of the
// tracker's reused buffer without wrapping it in a Buffer object first.
const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;
const utf8Slice = Buffer.prototype.utf8Slice as (this: Uint8Array, start: number, end: number) => string;

// C0 controls, DEL and C1 controls (which is what a stray latin1 byte would become).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Decode buf[start, end) as UTF-8 into a safe string of at most `cap` UTF-16 code units:
 * invalid UTF-8 and control characters become U+FFFD; longer input is cut and ends in U+2026.
 * One string per call; the common all-printable-ASCII case is a single latin1 slice.
 */
export function safeString(buf: Uint8Array, start: number, end: number, cap: number): string {
  let stop = end;
  let isTruncated = false;
  if (stop - start > cap) {
    stop = start + cap - 1;
    isTruncated = true;
  }
  let isPlain = true;
  for (let i = start; i < stop; i++) {
    const b = buf[i];
    if (b < 0x20 || b > 0x7e) {
      isPlain = false;
      break;
    }
  }
  let s: string;
  if (isPlain) {
    s = latin1Slice.call(buf, start, stop);
  } else {
    // Each byte decodes to at most one UTF-16 unit (4-byte sequences give a surrogate pair), so
    // the cap still holds after decoding.
    s = utf8Slice.call(buf, start, stop).replace(CONTROL, REPLACEMENT);
  }
  return isTruncated ? s + TRUNCATION_MARKER : s;
}

/** The same rules for a string that is already decoded (HPACK output, DNS names). */
export function safeText(s: string, cap: number): string {
  let out = s;
  if (out.length > cap) out = out.slice(0, cap - 1) + TRUNCATION_MARKER;
  return out.replace(CONTROL, REPLACEMENT);
}

/** Latin1 decode of a short, already validated range: method tokens, ALPN ids, labels. */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  return latin1Slice.call(buf, start, end);
}

/** ASCII case-insensitive comparison of buf[start, end) with a lower-case literal. */
export function equalsLower(buf: Uint8Array, start: number, end: number, lit: string): boolean {
  if (end - start !== lit.length) return false;
  for (let i = 0; i < lit.length; i++) {
    let b = buf[start + i];
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== lit.charCodeAt(i)) return false;
  }
  return true;
}

/** ASCII case-insensitive "ends with" against a lower-case literal. */
export function endsWithLower(buf: Uint8Array, start: number, end: number, lit: string): boolean {
  const from = end - lit.length;
  return from >= start && equalsLower(buf, from, end, lit);
}

/**
 * A growable byte buffer with a hard cap: preallocated small, doubled on demand, never past
 * `cap`. Used for the few things that must survive a chunk boundary (a header section, a TLS
 * handshake message, an HTTP/2 header block).
 */
const EMPTY = new Uint8Array(0);

export class ByteAccumulator {
  // Allocated on first use: most connections never need it (measured: eager 2 KiB per TLS
  // connection held first-segment throughput at 0.2 M connections/s).
  bytes: Uint8Array = EMPTY;
  length = 0;
  constructor(
    private readonly initial: number,
    readonly cap: number,
  ) {}
  /** Append buf[start, end); false (and nothing appended) when the cap would be exceeded. */
  append(buf: Uint8Array, start: number, end: number): boolean {
    const n = end - start;
    const need = this.length + n;
    if (need > this.cap) return false;
    if (need > this.bytes.length) {
      let size = Math.max(this.initial, this.bytes.length * 2);
      while (size < need) size *= 2;
      const grown = new Uint8Array(Math.min(size, this.cap));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    // A plain loop for short ranges avoids allocating a subarray view per chunk.
    if (n <= 256) {
      const dst = this.bytes;
      let j = this.length;
      for (let i = start; i < end; i++) dst[j++] = buf[i];
    } else {
      this.bytes.set(buf.subarray(start, end), this.length);
    }
    this.length = need;
    return true;
  }
  /** Drop the first n bytes (a consumed message) and keep the rest. */
  consume(n: number): void {
    if (n >= this.length) {
      this.length = 0;
      return;
    }
    this.bytes.copyWithin(0, n, this.length);
    this.length -= n;
  }
  clear(): void {
    this.length = 0;
  }
}
