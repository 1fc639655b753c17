// HTTP/2 framing (RFC 9113 §4.1: 9-byte frame header; §6 frame types), one parser per
// direction. Only header blocks are buffered (HEADERS §6.2 / PUSH_PROMISE §6.6 + CONTINUATION
// §6.10, with padding and priority fields stripped); DATA and every other frame is skipped by
// counting, so a long-lived gRPC stream costs O(1) per chunk. Header blocks go through HPACK
// (hpack.ts); each client block that opens a stream is one request, each server block with a
// final :status one response. A block we cannot decode (mid-stream join, bomb, truncation) is
// still reported as an http2 request with method/path '' — never a crash.
import type { AppSink } from './contract.js';
import { hasCredentialParamText } from './credentials.js';
import { type HeaderListener, HpackDecoder, MAX_TABLE_SIZE } from './hpack.js';
import { ByteAccumulator, MAX_HOST, MAX_PATH, safeText } from './text.js';

/** RFC 9113 §3.4 */
export const CLIENT_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const PREFACE_BYTES = Uint8Array.from(CLIENT_PREFACE, (c) => c.charCodeAt(0));

const T_HEADERS = 1;
const T_SETTINGS = 4;
const T_PUSH_PROMISE = 5;
const T_CONTINUATION = 9;

const F_END_HEADERS = 0x4;
const F_PADDED = 0x8;
const F_PRIORITY = 0x20;

/** Header blocks (compressed) larger than this are not decoded. */
const MAX_BLOCK = 64 * 1024;
const SETTINGS_HEADER_TABLE_SIZE = 1;

/** State shared by both directions of one HTTP/2 connection. */
export class Http2Connection {
  readonly client: Http2Direction;
  readonly server: Http2Direction;
  isGrpc = false;
  requests = 0;
  responses = 0;
  /** The "client" sent a :status: the roles were guessed the wrong way round. */
  isReversed = false;

  constructor(readonly sink: AppSink) {
    this.client = new Http2Direction(this, true);
    this.client.prefaceLeft = -1;
    this.server = new Http2Direction(this, false);
  }

  get isStopped(): boolean {
    return this.client.isStopped && this.server.isStopped;
  }
}

/** Collects the few fields we need from one header block (reused, no allocation per block). */
class BlockFields implements HeaderListener {
  method = '';
  path = '';
  authority = '';
  host = '';
  contentType = '';
  status = '';
  hasCredentials = false;
  isIncomplete = false;
  reset(): void {
    this.method = this.path = this.authority = this.host = this.contentType = this.status = '';
    this.hasCredentials = false;
    this.isIncomplete = false;
  }
  header(name: string, value: string, isCredential: boolean): void {
    if (isCredential) this.hasCredentials = true;
    switch (name) {
      case ':method':
        this.method = value;
        break;
      case ':path':
        this.path = value;
        break;
      case ':authority':
        this.authority = value;
        break;
      case 'host':
        this.host = value;
        break;
      case 'content-type':
        this.contentType = value;
        break;
      case ':status':
        this.status = value;
        break;
      case '':
        this.isIncomplete = true;
        break;
      default:
    }
  }
}

// A gRPC path is /Service/Method or /package.Service/Method (gRPC over HTTP/2 spec, "Path").
const GRPC_PATH = /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/;

export class Http2Direction {
  /**
   * Bytes of the client preface still expected (24 at the start, 6 after an HTTP/1 PRI line);
   * -1 on the client side means "decide from the first byte": a frame cannot start with 'P'
   * (0x50 would be a length above the default 16 KiB maximum frame size, RFC 9113 §4.2).
   */
  prefaceLeft = 0;
  private readonly hdr = new Uint8Array(9);
  private hdrLen = 0;
  private left = 0;
  private type = 0;
  private flags = 0;
  private streamId = 0;
  /** Where the current frame's payload started inside `block` (buffered frame types only). */
  private frameStart = 0;
  private isBuffering = false;
  /** Inside a header block that has not seen END_HEADERS yet. */
  private inBlock = false;
  private blockStream = 0;
  private blockIsPush = false;
  private isBlockTooLarge = false;
  private readonly block = new ByteAccumulator(512, MAX_BLOCK);
  readonly hpack = new HpackDecoder();
  private readonly fields = new BlockFields();
  private maxStreamId = 0;
  isStopped = false;
  frames = 0;

  constructor(
    private readonly conn: Http2Connection,
    private readonly isClient: boolean,
  ) {}

  feed(buf: Uint8Array, start: number, end: number): void {
    let i = start;
    if (this.prefaceLeft < 0 && i < end) this.prefaceLeft = buf[i] === 0x50 ? PREFACE_BYTES.length : 0;
    while (this.prefaceLeft > 0 && i < end) {
      if (buf[i] !== PREFACE_BYTES[PREFACE_BYTES.length - this.prefaceLeft]) return this.stop('http2 preface');
      this.prefaceLeft--;
      i++;
    }
    while (i < end && !this.isStopped) {
      if (this.left === 0 && !this.isBuffering) {
        while (this.hdrLen < 9 && i < end) this.hdr[this.hdrLen++] = buf[i++];
        if (this.hdrLen < 9) return;
        this.hdrLen = 0;
        if (!this.frameHeader()) return;
        if (this.left === 0 && !this.isBuffering) continue;
        if (this.left === 0) {
          this.frameDone();
          continue;
        }
      }
      const n = Math.min(this.left, end - i);
      if (this.isBuffering && !this.isBlockTooLarge && !this.block.append(buf, i, i + n)) {
        this.conn.sink.malformed('http2 header block too large');
        this.isBlockTooLarge = true;
      }
      i += n;
      this.left -= n;
      if (this.left === 0 && this.isBuffering) this.frameDone();
    }
  }

  private frameHeader(): boolean {
    const h = this.hdr;
    this.left = (h[0] << 16) | (h[1] << 8) | h[2];
    this.type = h[3];
    this.flags = h[4];
    this.streamId = ((h[5] & 0x7f) << 24) | (h[6] << 16) | (h[7] << 8) | h[8];
    this.frames++;
    // §6.10: only CONTINUATION for the same stream may follow an unfinished header block.
    if (this.inBlock && (this.type !== T_CONTINUATION || this.streamId !== this.blockStream)) {
      this.stop('http2 continuation expected');
      return false;
    }
    switch (this.type) {
      case T_HEADERS:
      case T_PUSH_PROMISE:
        if (this.streamId === 0) {
          this.stop('http2 headers on stream 0');
          return false;
        }
        this.inBlock = true;
        this.blockStream = this.streamId;
        this.blockIsPush = this.type === T_PUSH_PROMISE;
        this.isBlockTooLarge = false;
        this.block.clear();
        this.frameStart = 0;
        this.isBuffering = true;
        break;
      case T_CONTINUATION:
        if (!this.inBlock) {
          this.stop('http2 unexpected continuation');
          return false;
        }
        this.frameStart = this.block.length;
        this.isBuffering = true;
        break;
      case T_SETTINGS:
        if (this.streamId !== 0 || this.left % 6 !== 0) {
          this.stop('http2 settings');
          return false;
        }
        // Small: 6 bytes per setting; a huge SETTINGS frame is skipped unread.
        this.isBuffering = this.left <= 1024;
        this.frameStart = 0;
        this.block.clear();
        break;
      default:
        // DATA, PRIORITY, RST_STREAM, PING, GOAWAY, WINDOW_UPDATE and unknown types (§5.5): skip.
        this.isBuffering = false;
    }
    return true;
  }

  private frameDone(): void {
    this.isBuffering = false;
    if (this.type === T_SETTINGS) {
      this.settings();
      return;
    }
    if (this.isBlockTooLarge) {
      if (this.flags & F_END_HEADERS) this.blockDone();
      return;
    }
    if (this.type !== T_CONTINUATION) {
      // Strip Pad Length, the promised stream id / priority fields and the padding (§6.2, §6.6).
      const b = this.block.bytes;
      let from = this.frameStart;
      let padLen = 0;
      if (this.flags & F_PADDED) padLen = b[from++];
      if (this.type === T_PUSH_PROMISE) from += 4;
      else if (this.flags & F_PRIORITY) from += 5;
      const to = this.block.length - padLen;
      if (to < from) {
        this.stop('http2 padding');
        return;
      }
      b.copyWithin(this.frameStart, from, to);
      this.block.length = this.frameStart + (to - from);
    }
    if (this.flags & F_END_HEADERS) this.blockDone();
  }

  private settings(): void {
    const b = this.block.bytes;
    for (let p = 0; p + 6 <= this.block.length; p += 6) {
      const id = (b[p] << 8) | b[p + 1];
      const value = ((b[p + 2] << 24) | (b[p + 3] << 16) | (b[p + 4] << 8) | b[p + 5]) >>> 0;
      // Our peer's setting bounds the *other* direction's encoder (RFC 7541 §4.2).
      if (id === SETTINGS_HEADER_TABLE_SIZE) {
        const other = this.isClient ? this.conn.server : this.conn.client;
        other.hpack.allowedMaxSize = Math.min(MAX_TABLE_SIZE, Math.max(value, 4096));
      }
    }
    this.block.clear();
  }

  private blockDone(): void {
    this.inBlock = false;
    const f = this.fields;
    f.reset();
    let isDecoded = !this.isBlockTooLarge;
    if (isDecoded && !this.hpack.decode(this.block.bytes, 0, this.block.length, f)) {
      this.conn.sink.malformed(this.hpack.error);
      isDecoded = false;
    }
    // An undecodable block may have changed the peer's table: later dynamic refs are unknown.
    if (!isDecoded) this.hpack.isDesynced = true;
    this.block.clear();
    if (this.blockIsPush) return;
    const sid = this.blockStream;
    const isNewStream = sid > this.maxStreamId;
    if (isNewStream) this.maxStreamId = sid;
    if (this.isClient) {
      if (f.status !== '' && f.method === '') this.conn.isReversed = true;
      // A later block on a known stream is a trailer section (§8.1).
      if (!isNewStream || (isDecoded && f.method === '' && !f.isIncomplete)) return;
      const path = safeText(f.path, MAX_PATH);
      const isGrpc = f.contentType.startsWith('application/grpc') && GRPC_PATH.test(path);
      if (isGrpc) this.conn.isGrpc = true;
      this.conn.requests++;
      this.conn.sink.request({
        protocol: isGrpc ? 'grpc' : 'http2',
        method: safeText(f.method, 32),
        target: path,
        host: safeText(f.authority !== '' ? f.authority : f.host, MAX_HOST),
        hasCredentials: f.hasCredentials || hasCredentialParamText(f.path),
      });
    } else if (f.status.length === 3) {
      const status = Number(f.status);
      // Informational (1xx) responses are interim (§8.1); trailers carry no :status.
      if (status >= 200 && status <= 599) {
        this.conn.responses++;
        this.conn.sink.response(status);
      }
    }
  }

  private stop(reason: string): void {
    this.conn.sink.malformed(reason);
    this.isStopped = true;
  }
}

/**
 * Sniffing a connection joined mid-stream: does buf[start..] begin with a plausible HTTP/2
 * HEADERS or SETTINGS frame header? Deliberately strict (known flags only, odd stream id for
 * HEADERS, default max frame size), because a false positive turns some binary protocol into
 * "http2". Needs 9 bytes.
 */
export function looksLikeH2Frame(b: Uint8Array, start: number, end: number): boolean {
  if (end - start < 9) return false;
  const len = (b[start] << 16) | (b[start + 1] << 8) | b[start + 2];
  const type = b[start + 3];
  const flags = b[start + 4];
  const sid = ((b[start + 5] & 0x7f) << 24) | (b[start + 6] << 16) | (b[start + 7] << 8) | b[start + 8];
  if (b[start + 5] & 0x80 || len > 16384) return false;
  if (type === T_HEADERS) return sid > 0 && (flags & ~(0x1 | F_END_HEADERS | F_PADDED | F_PRIORITY)) === 0 && len > 0;
  if (type === T_SETTINGS) return sid === 0 && len % 6 === 0 && (flags & ~0x1) === 0 && (flags === 0 || len === 0);
  return false;
}
