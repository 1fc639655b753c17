// DNS messages (RFC 1035 §4.1) over UDP and over TCP (§4.2.2: each message prefixed by a
// two-byte length; a stream may carry several, split anywhere). Only what the map needs is read:
// the first question and the A (§3.4.1), AAAA (RFC 3596 §2.2) and CNAME (§3.3.1) answers.
// Hostile input: compression pointers (§4.1.4) must point strictly backwards and are followed at
// most MAX_HOPS times, names are at most 255 bytes (§2.3.4), and counts that could not fit in the
// message are malformed before any work is done.
import type { AppSink, DnsMessage } from './contract.js';
import { ByteAccumulator, REPLACEMENT } from './text.js';

const MAX_HOPS = 32;
const MAX_NAME = 255;
/** More answers than this are not reported (the message still counts). */
const MAX_ANSWERS = 64;

/** A query that is not built keeps no answers: this stays empty. */
const NO_ANSWERS: DnsMessage['answers'] = [];

const T_A = 1;
const T_CNAME = 5;
const T_AAAA = 28;

/** Scratch for name decoding: 255 bytes of name, shared (single-threaded, not re-entrant). */
let nameEnd = 0;

/**
 * Parse one DNS message at buf[start, end) and report it; false (counted as malformed) when it
 * is not a valid DNS message. `quiet` skips the malformed count (used when merely sniffing).
 */
export function parseDnsMessage(buf: Uint8Array, start: number, end: number, sink: AppSink, quiet = false): boolean {
  const msg = decode(buf, start, end, sink.dnsQuery !== undefined);
  if (typeof msg === 'string') {
    if (!quiet) sink.malformed(msg);
    return false;
  }
  if (msg === null) sink.dnsQuery?.();
  else sink.dns(msg);
  return true;
}

/** null: a valid query, not built because `isQueryCounted` (the sink only counts queries). */
function decode(b: Uint8Array, start: number, end: number, isQueryCounted: boolean): DnsMessage | string | null {
  const len = end - start;
  if (len < 12) return 'dns short header';
  const flags = (b[start + 2] << 8) | b[start + 3];
  const qd = (b[start + 4] << 8) | b[start + 5];
  const an = (b[start + 6] << 8) | b[start + 7];
  const ns = (b[start + 8] << 8) | b[start + 9];
  const ar = (b[start + 10] << 8) | b[start + 11];
  const opcode = (flags >> 11) & 0xf;
  // A question takes at least 5 bytes and a resource record at least 11.
  if (qd === 0 || qd * 5 + (an + ns + ar) * 11 > len - 12) return 'dns counts';
  if (opcode > 6) return 'dns opcode';
  // Most messages are queries, and nothing reads a query's names: validate without building them.
  const isBuilt = (flags & 0x8000) !== 0 || !isQueryCounted;
  let p = start + 12;
  const qname = readName(b, start, p, end, isBuilt);
  if (qname === null) return 'dns name';
  p = nameEnd;
  if (p + 4 > end) return 'dns question';
  const qtype = (b[p] << 8) | b[p + 1];
  p += 4;
  // Further questions (rare) are skipped.
  for (let q = 1; q < qd; q++) {
    if (readName(b, start, p, end) === null) return 'dns name';
    p = nameEnd + 4;
    if (p > end) return 'dns question';
  }
  const answers: DnsMessage['answers'] = isBuilt ? [] : NO_ANSWERS;
  // Answer, authority and additional sections share one record format (§4.1.3). A/AAAA records
  // from the additional section are reported too: a SRV or NS answer carries the target's
  // address there, and the tracker only needs "address → name". CNAMEs only from answers.
  for (let r = 0; r < an + ns + ar; r++) {
    // Validate first; a string is made only for the records reported below.
    const recordAt = p;
    if (readName(b, start, p, end, false) === null) return 'dns name';
    p = nameEnd;
    if (p + 10 > end) return 'dns record';
    const type = (b[p] << 8) | b[p + 1];
    const ttl = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
    const rdlen = (b[p + 8] << 8) | b[p + 9];
    const rd = p + 10;
    p = rd + rdlen;
    if (p > end) return 'dns record';
    if (!isBuilt || answers.length >= MAX_ANSWERS) continue;
    const isReported = (type === T_A && rdlen === 4) || (type === T_AAAA && rdlen === 16) || (type === T_CNAME && r < an);
    if (!isReported) continue;
    const name = readName(b, start, recordAt, end) as string; // validated above
    if (type === T_A) {
      answers.push({ name, type: 'A', value: `${b[rd]}.${b[rd + 1]}.${b[rd + 2]}.${b[rd + 3]}`, ttl });
    } else if (type === T_AAAA) {
      answers.push({ name, type: 'AAAA', value: ipv6(b, rd), ttl });
    } else {
      const target = readName(b, start, rd, p);
      if (target === null) return 'dns name';
      answers.push({ name, type: 'CNAME', value: target, ttl });
    }
  }
  if (!isBuilt) return null;
  return { isResponse: (flags & 0x8000) !== 0, qname, qtype, answers };
}

/** Name bytes are assembled here and turned into one string per name (not one per character). */
const SCRATCH = Buffer.allocUnsafe(MAX_NAME + 1);
const UNPRINTABLE = 0x00;

/**
 * Read a (possibly compressed) name at `at`; sets nameEnd to the offset after it in the
 * original position. Lower-cased, no trailing dot, bytes outside printable ASCII become U+FFFD.
 * With `build` false the name is only validated and '' is returned (no string is made).
 */
function readName(b: Uint8Array, msgStart: number, at: number, limit: number, build = true): string | null {
  let p = at;
  let hops = 0;
  let total = 0;
  let after = -1;
  let n = 0;
  let isDirty = false;
  // Pointers may only go backwards: a pointer at offset X must target < X, so a walk strictly
  // decreases and cannot loop; MAX_HOPS bounds the work anyway.
  let floor = p;
  for (;;) {
    if (p >= limit) return null;
    const l = b[p];
    if (l === 0) {
      if (after < 0) after = p + 1;
      break;
    }
    if ((l & 0xc0) === 0xc0) {
      if (p + 1 >= limit) return null;
      const target = msgStart + (((l & 0x3f) << 8) | b[p + 1]);
      if (after < 0) after = p + 2;
      if (target >= floor || ++hops > MAX_HOPS) return null;
      p = floor = target;
      continue;
    }
    if ((l & 0xc0) !== 0) return null; // 0x40/0x80 label types are obsolete (RFC 6891 §5)
    total += l + 1;
    if (total > MAX_NAME || p + 1 + l > limit) return null;
    if (build) {
      if (n > 0) SCRATCH[n++] = 0x2e;
      for (let i = p + 1; i <= p + l; i++) {
        let c = b[i];
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        else if (c <= 0x20 || c >= 0x7f) { c = UNPRINTABLE; isDirty = true; }
        SCRATCH[n++] = c;
      }
    }
    p += 1 + l;
  }
  nameEnd = after;
  if (!build) return '';
  const name = SCRATCH.toString('latin1', 0, n);
  return isDirty ? name.replaceAll('\u0000', REPLACEMENT) : name;
}

/** RFC 5952 text form: lower-case hex, leading zeros dropped, longest zero run (>= 2) as '::'. */
export function ipv6(b: Uint8Array, at: number): string {
  const words = new Array<number>(8);
  for (let i = 0; i < 8; i++) words[i] = (b[at + 2 * i] << 8) | b[at + 2 * i + 1];
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += words[i].toString(16);
  }
  return s;
}

/** DNS over TCP: a stream of length-prefixed messages, parsed per direction. */
export class DnsTcpStream {
  private readonly lenBytes = new Uint8Array(2);
  private lenHave = 0;
  private need = 0;
  private readonly acc = new ByteAccumulator(512, 65535);
  messages = 0;
  isMalformed = false;

  constructor(private readonly sink: AppSink) {}

  feed(buf: Uint8Array, start: number, end: number): void {
    let i = start;
    while (i < end && !this.isMalformed) {
      if (this.need === 0) {
        while (this.lenHave < 2 && i < end) this.lenBytes[this.lenHave++] = buf[i++];
        if (this.lenHave < 2) return;
        this.lenHave = 0;
        this.need = (this.lenBytes[0] << 8) | this.lenBytes[1];
        if (this.need < 12) {
          this.isMalformed = true;
          this.sink.malformed('dns tcp length');
          return;
        }
        // Common case: the whole message is in this chunk, parse it in place without copying.
        if (end - i >= this.need) {
          this.message(buf, i, i + this.need);
          i += this.need;
          this.need = 0;
          continue;
        }
      }
      const n = Math.min(this.need - this.acc.length, end - i);
      this.acc.append(buf, i, i + n);
      i += n;
      if (this.acc.length === this.need) {
        this.message(this.acc.bytes, 0, this.need);
        this.acc.clear();
        this.need = 0;
      }
    }
  }

  private message(b: Uint8Array, start: number, end: number): void {
    if (parseDnsMessage(b, start, end, this.sink)) this.messages++;
    else this.isMalformed = true;
  }
}
