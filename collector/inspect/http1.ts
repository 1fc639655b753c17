// HTTP/1.x message framing, one parser per direction (RFC 9112). Header sections are copied into
// a small per-direction buffer (bounded at 16 KiB, RFC 9112 §2.3 leaves the limit to us); bodies
// are never copied: Content-Length bodies are counted down, chunked bodies are walked with a
// byte-at-a-time state machine over the chunk-size lines only (RFC 9112 §7.1), so skipping a body
// is O(1) per chunk of input plus O(size line) per HTTP chunk.
import type { AppSink } from './contract.js';
import { hasCredentialParam, isCredentialHeader } from './credentials.js';
import { ByteAccumulator, MAX_HOST, MAX_PATH, equalsLower, latin1, safeString } from './text.js';

export const MAX_HEADER_SECTION = 16 * 1024;
const NO_BYTES = new Uint8Array(0);

// Parser states: small integers, see feed().
const HEAD = 0;
const BODY = 1;
const CHUNK_SIZE = 2;
const CHUNK_EXT = 3;
const CHUNK_DATA = 4;
const CHUNK_DATA_END = 5;
const TRAILER_LINE_START = 6;
const TRAILER_LINE = 7;
const UNTIL_CLOSE = 8;
const DONE = 9;

/** What feed() tells the caller beyond "consumed everything". */
export const H1_CONTINUE = 0;
/** The rest of the input, from `switchOffset`, is HTTP/2 (PRI preface or 101 to h2c). */
export const H1_SWITCH_H2 = 1;
/** Nothing more to learn from this direction (tunnel, opaque upgrade, malformed). */
export const H1_STOP = 2;

// Flags of a request waiting for its response, RFC 9112 §6.3 needs the method to frame it.
const F_HEAD = 1;
const F_UPGRADE_H2C = 2;
const F_CONNECT = 4;

/** The per-connection state both directions share: requests waiting for their response. */
export class Http1Shared {
  private readonly flags = new Uint8Array(16);
  private head = 0;
  private count = 0;
  push(f: number): void {
    // Beyond 16 outstanding pipelined requests we forget the oldest (framed as a plain GET).
    if (this.count === this.flags.length) {
      this.head = (this.head + 1) & 15;
      this.count--;
    }
    this.flags[(this.head + this.count) & 15] = f;
    this.count++;
  }
  shift(): number {
    if (this.count === 0) return 0;
    const f = this.flags[this.head];
    this.head = (this.head + 1) & 15;
    this.count--;
    return f;
  }
}

export class Http1Parser {
  private state = HEAD;
  private readonly acc = new ByteAccumulator(512, MAX_HEADER_SECTION);
  /** The head being parsed: buf[hs, he), either the caller's chunk or `acc`. */
  private hb: Uint8Array = NO_BYTES;
  private hs = 0;
  private he = 0;
  /** End-of-header-section matcher: 0 in a line, 1 after LF, 2 after LF CR. */
  private eol = 0;
  private remaining = 0;
  private chunkDigits = 0;
  /** Set by the client parser after an Upgrade: h2c request, so PRI is expected. */
  switchOffset = 0;
  requests = 0;
  responses = 0;
  isMalformed = false;

  constructor(
    private readonly isRequest: boolean,
    private readonly shared: Http1Shared,
    private readonly sink: AppSink,
  ) {}

  feed(buf: Uint8Array, start: number, end: number): number {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case HEAD: {
          // Skip empty lines before a message (RFC 9112 §2.2).
          if (this.acc.length === 0) {
            while (i < end && (buf[i] === 0x0d || buf[i] === 0x0a)) i++;
            if (i === end) return H1_CONTINUE;
          }
          const from = i;
          let eol = this.eol;
          let found = -1;
          for (; i < end; i++) {
            const b = buf[i];
            if (b === 0x0a) {
              if (eol !== 0) {
                found = i + 1;
                break;
              }
              eol = 1;
            } else if (b === 0x0d) {
              eol = eol === 1 ? 2 : 0;
            } else {
              eol = 0;
            }
          }
          if (found >= 0 && this.acc.length === 0) {
            // The whole head is in this chunk (the common case): parse it in place, no copy.
            if (found - from > MAX_HEADER_SECTION) return this.malformed('http1 header section too large');
            this.hb = buf; this.hs = from; this.he = found;
          } else {
            const stop = found < 0 ? end : found;
            if (!this.acc.append(buf, from, stop)) return this.malformed('http1 header section too large');
            if (found < 0) {
              this.eol = eol;
              return H1_CONTINUE;
            }
            this.hb = this.acc.bytes; this.hs = 0; this.he = this.acc.length;
          }
          this.eol = 0;
          i = found;
          const verdict = this.isRequest ? this.onRequestHead() : this.onResponseHead();
          this.hb = NO_BYTES; // never keep the caller's buffer
          this.acc.clear();
          if (verdict !== H1_CONTINUE) {
            this.switchOffset = i;
            return verdict;
          }
          break;
        }
        case BODY: {
          const n = Math.min(this.remaining, end - i);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = HEAD;
          break;
        }
        case CHUNK_SIZE: {
          const b = buf[i++];
          const d = hexValue(b);
          if (d >= 0) {
            // 13 hex digits already exceed any real body; more would lose precision.
            if (++this.chunkDigits > 13) return this.malformed('http1 chunk size');
            this.remaining = this.remaining * 16 + d;
          } else if (b === 0x0a) {
            if (this.chunkDigits === 0) return this.malformed('http1 chunk size');
            this.state = this.remaining === 0 ? TRAILER_LINE_START : CHUNK_DATA;
          } else if (b === 0x3b /* ; */ || b === 0x20 || b === 0x09) {
            this.state = CHUNK_EXT;
          } else if (b !== 0x0d) {
            return this.malformed('http1 chunk size');
          }
          break;
        }
        case CHUNK_EXT: {
          while (i < end && buf[i] !== 0x0a) i++;
          if (i < end) {
            i++;
            if (this.chunkDigits === 0) return this.malformed('http1 chunk size');
            this.state = this.remaining === 0 ? TRAILER_LINE_START : CHUNK_DATA;
          }
          break;
        }
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, end - i);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = CHUNK_DATA_END;
          break;
        }
        case CHUNK_DATA_END: {
          // The CRLF after chunk data (tolerating a bare LF).
          const b = buf[i++];
          if (b === 0x0a) this.beginChunk();
          else if (b !== 0x0d) return this.malformed('http1 chunk data');
          break;
        }
        case TRAILER_LINE_START: {
          const b = buf[i++];
          if (b === 0x0a) this.state = HEAD;
          else if (b !== 0x0d) this.state = TRAILER_LINE;
          break;
        }
        case TRAILER_LINE: {
          while (i < end && buf[i] !== 0x0a) i++;
          if (i < end) {
            i++;
            this.state = TRAILER_LINE_START;
          }
          break;
        }
        case UNTIL_CLOSE:
          return H1_CONTINUE;
        default:
          return H1_STOP;
      }
    }
    return H1_CONTINUE;
  }

  /** True while this direction still frames messages (false after a tunnel or an error). */
  get isActive(): boolean {
    return this.state !== DONE && this.state !== UNTIL_CLOSE;
  }

  private beginChunk(): void {
    this.state = CHUNK_SIZE;
    this.remaining = 0;
    this.chunkDigits = 0;
  }

  private stop(): number {
    this.state = DONE;
    return H1_STOP;
  }

  private malformed(reason: string): number {
    this.sink.malformed(reason);
    this.isMalformed = true;
    return this.stop();
  }

  private onRequestHead(): number {
    const b = this.hb, base = this.hs, len = this.he;
    // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
    let i = base;
    while (i < len && isTchar(b[i])) i++;
    const methodEnd = i;
    if (methodEnd === base || methodEnd - base > 32 || b[i] !== 0x20) return this.malformed('http1 request line');
    const targetStart = ++i;
    while (i < len && b[i] !== 0x20 && b[i] !== 0x0d && b[i] !== 0x0a) i++;
    const targetEnd = i;
    if (targetEnd === targetStart || b[i] !== 0x20) return this.malformed('http1 request line');
    const versionStart = ++i;
    while (i < len && b[i] !== 0x0d && b[i] !== 0x0a) i++;
    if (i - versionStart !== 8 || !startsWith(b, versionStart, 'HTTP/')) return this.malformed('http1 request line');
    if (equalsLower(b, base, methodEnd, 'pri') && startsWith(b, versionStart, 'HTTP/2.0')) {
      // The HTTP/2 connection preface (RFC 9113 §3.4); "SM\r\n\r\n" follows.
      this.state = DONE;
      return H1_SWITCH_H2;
    }
    const h = this.scanHeaders(i);
    if (h < 0) return H1_STOP;
    const method = latin1(b, base, methodEnd);
    const hasCredentials = this.sawCredential || hasCredentialParam(b, targetStart, targetEnd);
    this.requests++;
    this.sink.request({
      protocol: 'http',
      method,
      target: safeString(b, targetStart, targetEnd, MAX_PATH),
      host: this.hostEnd > this.hostStart ? safeString(b, this.hostStart, this.hostEnd, MAX_HOST) : '',
      hasCredentials,
    });
    let f = 0;
    if (method === 'HEAD') f |= F_HEAD;
    if (method === 'CONNECT') f |= F_CONNECT;
    if (this.upgradeH2c) f |= F_UPGRADE_H2C;
    this.shared.push(f);
    if (f & F_CONNECT) {
      // Whatever follows is the tunnelled stream.
      this.state = DONE;
      return H1_STOP;
    }
    return this.startBody(false);
  }

  private onResponseHead(): number {
    const b = this.hb, base = this.hs, len = this.he;
    // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4)
    if (len - base < 12 || !startsWith(b, base, 'HTTP/1.') || b[base + 8] !== 0x20) return this.malformed('http1 status line');
    const d0 = b[base + 9], d1 = b[base + 10], d2 = b[base + 11];
    const status = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30);
    if (!isDigit(d0) || !isDigit(d1) || !isDigit(d2) || status < 100) return this.malformed('http1 status line');
    let i = base + 12;
    while (i < len && b[i] !== 0x0a) i++;
    if (this.scanHeaders(i) < 0) return H1_STOP;
    if (status < 200) {
      if (status === 101) {
        const f = this.shared.shift();
        this.state = DONE;
        return (f & F_UPGRADE_H2C) !== 0 || this.upgradeH2c ? H1_SWITCH_H2 : H1_STOP;
      }
      // Interim responses (100 Continue, 103) do not answer the request and are not reported.
      this.state = HEAD;
      return H1_CONTINUE;
    }
    const f = this.shared.shift();
    this.responses++;
    this.sink.response(status);
    if ((f & F_CONNECT) !== 0 && status < 300) {
      this.state = DONE;
      return H1_STOP;
    }
    if ((f & F_HEAD) !== 0 || status === 204 || status === 304) {
      this.state = HEAD;
      return H1_CONTINUE;
    }
    return this.startBody(true);
  }

  private startBody(isResponse: boolean): number {
    if (this.isChunked) {
      this.beginChunk();
    } else if (this.contentLength > 0) {
      this.state = BODY;
      this.remaining = this.contentLength;
    } else if (isResponse && this.contentLength < 0) {
      // No framing: the body runs until the connection closes (RFC 9112 §6.3 rule 8).
      this.state = UNTIL_CLOSE;
    } else {
      this.state = HEAD;
    }
    return H1_CONTINUE;
  }

  // Results of scanHeaders, kept as fields so a message costs no allocation.
  private hostStart = 0;
  private hostEnd = 0;
  private contentLength = -1;
  private isChunked = false;
  private upgradeH2c = false;
  private sawCredential = false;

  /** Walk header lines from the end of the start line; -1 when malformed. */
  private scanHeaders(lineEnd: number): number {
    const b = this.hb, len = this.he;
    this.hostStart = this.hostEnd = 0;
    this.contentLength = -1;
    this.isChunked = false;
    this.upgradeH2c = false;
    this.sawCredential = false;
    let i = lineEnd;
    while (i < len && b[i] !== 0x0a) i++;
    i++;
    while (i < len) {
      const lineStart = i;
      while (i < len && b[i] !== 0x0a) i++;
      let lineEndX = i;
      i++;
      if (lineEndX > lineStart && b[lineEndX - 1] === 0x0d) lineEndX--;
      if (lineEndX === lineStart) break; // the empty line
      if (b[lineStart] === 0x20 || b[lineStart] === 0x09) continue; // obs-fold: ignored
      let c = lineStart;
      while (c < lineEndX && b[c] !== 0x3a) c++;
      if (c === lineEndX || c === lineStart) {
        this.malformed('http1 header line');
        return -1;
      }
      const nameEnd = c;
      let vs = c + 1;
      while (vs < lineEndX && (b[vs] === 0x20 || b[vs] === 0x09)) vs++;
      let ve = lineEndX;
      while (ve > vs && (b[ve - 1] === 0x20 || b[ve - 1] === 0x09)) ve--;
      const first = b[lineStart] | 0x20;
      if (first === 0x68 /* h */ && equalsLower(b, lineStart, nameEnd, 'host')) {
        if (this.hostEnd === 0) {
          this.hostStart = vs;
          this.hostEnd = ve;
        }
      } else if (first === 0x63 /* c */ && equalsLower(b, lineStart, nameEnd, 'content-length')) {
        const n = parseDecimal(b, vs, ve);
        // Differing repeated lengths are a smuggling vector (RFC 9112 §6.3 rule 5).
        if (n < 0 || (this.contentLength >= 0 && n !== this.contentLength)) {
          this.malformed('http1 content-length');
          return -1;
        }
        this.contentLength = n;
      } else if (first === 0x74 /* t */ && equalsLower(b, lineStart, nameEnd, 'transfer-encoding')) {
        // chunked must be the final coding (RFC 9112 §6.1); it overrides Content-Length.
        this.isChunked = ve - vs >= 7 && equalsLower(b, ve - 7, ve, 'chunked');
      } else if (first === 0x75 /* u */ && equalsLower(b, lineStart, nameEnd, 'upgrade')) {
        this.upgradeH2c = containsLower(b, vs, ve, 'h2c');
      } else if (!this.sawCredential && isCredentialHeader(b, lineStart, nameEnd)) {
        this.sawCredential = true;
      }
    }
    return 0;
  }
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

function parseDecimal(b: Uint8Array, start: number, end: number): number {
  if (end === start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    if (!isDigit(b[i])) return -1;
    n = n * 10 + (b[i] - 0x30);
  }
  return n;
}

function startsWith(b: Uint8Array, at: number, lit: string): boolean {
  for (let i = 0; i < lit.length; i++) if (b[at + i] !== lit.charCodeAt(i)) return false;
  return true;
}

function containsLower(b: Uint8Array, start: number, end: number, lit: string): boolean {
  for (let i = start; i + lit.length <= end; i++) if (equalsLower(b, i, i + lit.length, lit)) return true;
  return false;
}

// tchar (RFC 9110 §5.6.2): the characters a method token may contain.
const TCHAR = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) TCHAR[c] = '"(),/:;<=>?@[\\]{}'.includes(String.fromCharCode(c)) ? 0 : 1;
export function isTchar(b: number): boolean {
  return TCHAR[b] === 1;
}

/** HTTP/1 methods we accept as the first bytes of a connection (sniffing). */
export const SNIFF_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
