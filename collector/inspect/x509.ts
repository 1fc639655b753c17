// A minimal DER walker (ITU-T X.690) for the certificates TLS <= 1.2 sends in clear
// (RFC 5246 §7.4.2). It reads just enough of RFC 5280 §4.1 to name a certificate: serial, issuer,
// validity, subject and the subjectAltName URIs (SPIFFE IDs) and DNS names (§4.2.1.6). There is
// no generic recursion: the walk follows the fixed shape of a certificate, so depth is bounded
// by construction. Anything unexpected returns null after counting it as malformed.
import { createHash } from 'node:crypto';
import type { AppSink, CertificateInfo } from './contract.js';
import { MAX_HOST, MAX_PATH, safeString, safeText } from './text.js';

/** A certificate larger than this is not one we want to hash and keep. */
export const MAX_CERT = 64 * 1024;
/** At most this many SAN entries of each kind are kept per certificate. */
const MAX_SANS = 32;
const MAX_DN = 1024;

// One element: tag at `tag`, content [start, end). Fields reused across calls (no allocation).
class Tlv {
  tag = 0;
  start = 0;
  end = 0;
}

/** Read the TLV at `at` within [at, limit); its tag, or -1 when malformed (long-form tags unsupported). */
function readTlv(b: Uint8Array, at: number, limit: number, out: Tlv): number {
  if (at + 2 > limit) return -1;
  const tag = b[at];
  if ((tag & 0x1f) === 0x1f) return -1;
  let len = b[at + 1];
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    // Indefinite length (0x80) is BER, not DER; more than 4 length bytes is absurd here.
    if (n === 0 || n > 4 || p + n > limit) return -1;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i];
    p += n;
  }
  if (p + len > limit) return -1;
  out.tag = tag;
  out.start = p;
  out.end = p + len;
  return tag;
}

const SEQ = 0x30;
const SET = 0x31;

/** Parse one DER certificate at buf[start, end). */
export function parseCertificate(buf: Uint8Array, start: number, end: number, sink: AppSink): CertificateInfo | null {
  const info = walk(buf, start, end);
  if (!info) sink.malformed('x509 certificate');
  return info;
}

function walk(b: Uint8Array, start: number, end: number): CertificateInfo | null {
  if (end - start > MAX_CERT) return null;
  const t = new Tlv();
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
  if (readTlv(b, start, end, t) !== SEQ) return null;
  const derEnd = t.end;
  if (readTlv(b, t.start, t.end, t) !== SEQ) return null;
  const tbsEnd = t.end;
  let p = t.start;
  // version [0] EXPLICIT, optional (v1 certificates omit it)
  let tag = readTlv(b, p, tbsEnd, t);
  if (tag === 0xa0) {
    p = t.end;
    tag = readTlv(b, p, tbsEnd, t);
  }
  if (tag !== 0x02) return null;
  const serialHex = hex(b, t.start, Math.min(t.end, t.start + 64));
  p = t.end;
  if (readTlv(b, p, tbsEnd, t) !== SEQ) return null; // signature AlgorithmIdentifier
  p = t.end;
  if (readTlv(b, p, tbsEnd, t) !== SEQ) return null;
  const issuer = distinguishedName(b, t.start, t.end);
  if (issuer === null) return null;
  p = t.end;
  if (readTlv(b, p, tbsEnd, t) !== SEQ) return null; // Validity
  const validityEnd = t.end;
  if (readTlv(b, t.start, validityEnd, t) < 0) return null;
  const notBeforeMs = parseTime(b, t);
  if (readTlv(b, t.end, validityEnd, t) < 0) return null;
  const notAfterMs = parseTime(b, t);
  if (Number.isNaN(notBeforeMs) || Number.isNaN(notAfterMs)) return null;
  p = validityEnd;
  if (readTlv(b, p, tbsEnd, t) !== SEQ) return null;
  const subject = distinguishedName(b, t.start, t.end);
  if (subject === null) return null;
  p = t.end;
  if (readTlv(b, p, tbsEnd, t) !== SEQ) return null; // SubjectPublicKeyInfo
  p = t.end;
  const uris: string[] = [];
  const dnsNames: string[] = [];
  // issuerUniqueID [1], subjectUniqueID [2], extensions [3]
  while (p < tbsEnd) {
    const ext = readTlv(b, p, tbsEnd, t);
    if (ext < 0) return null;
    p = t.end;
    if (ext !== 0xa3) continue;
    if (readTlv(b, t.start, t.end, t) !== SEQ) return null;
    if (!extensions(b, t.start, t.end, uris, dnsNames)) return null;
  }
  return {
    subject,
    issuer,
    uris,
    dnsNames,
    notBeforeMs,
    notAfterMs,
    serialHex,
    fingerprint: createHash('sha256').update(b.subarray(start, derEnd)).digest('hex'),
  };
}

// id-ce-subjectAltName 2.5.29.17
const SAN_OID = [0x55, 0x1d, 0x11];

function extensions(b: Uint8Array, start: number, end: number, uris: string[], dnsNames: string[]): boolean {
  const t = new Tlv();
  let p = start;
  while (p < end) {
    // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
    if (readTlv(b, p, end, t) !== SEQ) return false;
    p = t.end;
    const extEnd = t.end;
    if (readTlv(b, t.start, extEnd, t) !== 0x06) return false;
    const isSan = t.end - t.start === 3 && b[t.start] === SAN_OID[0] && b[t.start + 1] === SAN_OID[1] && b[t.start + 2] === SAN_OID[2];
    let tag = readTlv(b, t.end, extEnd, t);
    if (tag === 0x01) tag = readTlv(b, t.end, extEnd, t);
    if (tag !== 0x04) return false;
    if (!isSan) continue;
    // GeneralNames ::= SEQUENCE OF GeneralName; dNSName [2] IA5String, uniformResourceIdentifier [6]
    if (readTlv(b, t.start, t.end, t) !== SEQ) return false;
    const namesEnd = t.end;
    let q = t.start;
    while (q < namesEnd) {
      const gn = readTlv(b, q, namesEnd, t);
      if (gn < 0) return false;
      q = t.end;
      if (gn === 0x82 && dnsNames.length < MAX_SANS) dnsNames.push(safeString(b, t.start, t.end, MAX_HOST));
      else if (gn === 0x86 && uris.length < MAX_SANS) uris.push(safeString(b, t.start, t.end, MAX_PATH));
    }
  }
  return true;
}

// Short names for the attribute types RFC 4514 §3 lists (plus emailAddress, commonly seen).
const ATTR_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '2.5.4.5': 'serialNumber',
};

/**
 * Name ::= SEQUENCE OF RelativeDistinguishedName, printed RFC 4514-style: last RDN first,
 * RDNs joined by ',', multi-valued RDNs by '+', special characters backslash-escaped.
 */
function distinguishedName(b: Uint8Array, start: number, end: number): string | null {
  const t = new Tlv();
  const rdns: string[] = [];
  let p = start;
  while (p < end) {
    if (readTlv(b, p, end, t) !== SET) return null;
    p = t.end;
    const setEnd = t.end;
    let q = t.start;
    const parts: string[] = [];
    while (q < setEnd) {
      if (readTlv(b, q, setEnd, t) !== SEQ) return null;
      q = t.end;
      const atvEnd = t.end;
      if (readTlv(b, t.start, atvEnd, t) !== 0x06) return null;
      const oid = oidString(b, t.start, t.end);
      if (oid === null) return null;
      if (readTlv(b, t.end, atvEnd, t) < 0) return null;
      parts.push(`${ATTR_NAMES[oid] ?? oid}=${escapeDnValue(directoryString(b, t))}`);
    }
    rdns.push(parts.join('+'));
    if (rdns.length > 64) return null;
  }
  return safeText(rdns.reverse().join(','), MAX_DN);
}

function directoryString(b: Uint8Array, t: Tlv): string {
  switch (t.tag) {
    case 0x0c: // UTF8String
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString (treated as latin1/UTF-8, close enough for names)
      return safeString(b, t.start, t.end, MAX_HOST);
    case 0x1e: {
      // BMPString: UTF-16BE
      let s = '';
      for (let i = t.start; i + 1 < t.end && s.length < MAX_HOST; i += 2) s += String.fromCharCode((b[i] << 8) | b[i + 1]);
      return safeText(s, MAX_HOST);
    }
    default:
      // RFC 4514 §2.4: other encodings are shown as '#' + hex of the BER encoding.
      return '#' + hex(b, t.start, Math.min(t.end, t.start + 64));
  }
}

function escapeDnValue(v: string): string {
  let out = v.replace(/[\\,+"<>;=]/g, (c) => '\\' + c);
  if (out.startsWith('#') && !/^#[0-9a-f]+$/.test(out)) out = '\\' + out;
  if (out.startsWith(' ')) out = '\\' + out;
  if (out.endsWith(' ')) out = out.slice(0, -1) + '\\ ';
  return out;
}

function oidString(b: Uint8Array, start: number, end: number): string | null {
  if (end === start || end - start > 32) return null;
  const arcs: number[] = [];
  let v = 0;
  for (let i = start; i < end; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if ((b[i] & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        arcs.push(first, v - first * 40);
      } else {
        arcs.push(v);
      }
      v = 0;
    }
  }
  return arcs.join('.');
}

/** UTCTime (YYMMDDHHMMSSZ, RFC 5280 §4.1.2.5.1) or GeneralizedTime (YYYYMMDDHHMMSSZ). */
function parseTime(b: Uint8Array, t: Tlv): number {
  const n = t.end - t.start;
  let p = t.start;
  let year: number;
  if (t.tag === 0x17 && n === 13) {
    year = digits(b, p, 2);
    year += year >= 50 ? 1900 : 2000;
    p += 2;
  } else if (t.tag === 0x18 && n === 15) {
    year = digits(b, p, 4);
    p += 4;
  } else {
    return NaN;
  }
  if (b[t.end - 1] !== 0x5a /* Z */) return NaN;
  const month = digits(b, p, 2);
  const day = digits(b, p + 2, 2);
  const hour = digits(b, p + 4, 2);
  const min = digits(b, p + 6, 2);
  const sec = digits(b, p + 8, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return NaN;
  return Date.UTC(year, month - 1, day, hour, min, sec);
}

function digits(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = b[at + i] - 0x30;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

function hex(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s;
}
