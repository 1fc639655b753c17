// Request targets → path templates with bounded cardinality. Rules (docs/path-templates.md):
// drop query and fragment; percent-decode only unreserved characters (RFC 3986 §6.2.2.2) and
// upper-case the hex of the remaining escapes (§6.2.2.1), so '/a%2Fb' stays one segment; replace
// ID-like segments with '{id}'; cap the result at MAX_PATH. PathFolder then keeps at most N
// templates per edge, folding the rest into their longest common segment prefix + '/*'.
import { MAX_PATH, TRUNCATION_MARKER, safeText } from './text.js';

export const ID = '{id}';

/** True for a path segment that looks like an identifier rather than a route name. */
export function isIdSegment(seg: string): boolean {
  return isIdRange(seg, 0, seg.length);
}

/**
 * isIdSegment() on s[start, end), by character classes rather than regular expressions on a
 * substring, so a path is templated without splitting it into strings. A segment is an
 * identifier when it is all digits, a UUID (8-4-4-4-12 hex digits), at least 16 hex digits, or
 * at least 20 characters of [A-Za-z0-9+/=_-] with a digit among them; or longer than 512.
 */
function isIdRange(s: string, start: number, end: number): boolean {
  const n = end - start;
  if (n === 0 || n > 512) return n > 512;
  let digits = 0, hex = 0, token = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    const lower = c | 0x20;
    if (c >= 0x30 && c <= 0x39) digits++;
    else if (lower >= 0x61 && lower <= 0x66) hex++;
    else if (!(lower >= 0x61 && lower <= 0x7a) && c !== 0x2b && c !== 0x2f && c !== 0x3d && c !== 0x5f && c !== 0x2d) continue;
    token++;
  }
  if (digits === n) return true;
  if (digits + hex === n && n >= 16) return true;
  if (n === 36 && isUuid(s, start)) return true;
  return n >= 20 && token === n && digits > 0;
}

function isUuid(s: string, start: number): boolean {
  for (let k = 0; k < 36; k++) {
    const c = s.charCodeAt(start + k);
    if (k === 8 || k === 13 || k === 18 || k === 23) {
      if (c !== 0x2d) return false;
    } else {
      const lower = c | 0x20;
      if (!(c >= 0x30 && c <= 0x39) && !(lower >= 0x61 && lower <= 0x66)) return false;
    }
  }
  return true;
}

/** A request target (origin-form, absolute-form, '*' or authority-form) → its template. */
export function templatePath(target: string): string {
  let t = target;
  // absolute-form (RFC 9112 §3.2.2): keep the path only.
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(t);
  if (scheme) {
    const slash = t.indexOf('/', scheme[0].length);
    t = slash < 0 ? '/' : t.slice(slash);
  }
  if (!t.startsWith('/')) return safeText(t === '*' ? '*' : t.split(/[?#]/)[0], MAX_PATH);
  const q = t.search(/[?#]/);
  if (q >= 0) t = t.slice(0, q);
  if (t.length > MAX_PATH * 2) t = t.slice(0, MAX_PATH * 2);
  const out = t.indexOf('%') < 0 ? templateSegments(t) : templateEscapedSegments(t);
  return out.length > MAX_PATH ? out.slice(0, MAX_PATH - 1) + TRUNCATION_MARKER : safeText(out, MAX_PATH);
}

/** A path without escapes: its identifier segments replaced in place; `t` itself when it has none. */
function templateSegments(t: string): string {
  let out = '';
  let copied = 0; // t[0, copied) is in `out`
  for (let start = 1; start <= t.length; ) {
    let end = t.indexOf('/', start);
    if (end < 0) end = t.length;
    if (isIdRange(t, start, end)) {
      out += t.slice(copied, start) + ID;
      copied = end;
    }
    start = end + 1;
  }
  return copied === 0 ? t : out + t.slice(copied);
}

function templateEscapedSegments(t: string): string {
  const segs = t.split('/');
  for (let i = 1; i < segs.length; i++) {
    const seg = normalizeEscapes(segs[i]);
    segs[i] = isIdSegment(seg) ? ID : seg;
  }
  return segs.join('/');
}

const UNRESERVED = /[A-Za-z0-9._~-]/;
function normalizeEscapes(seg: string): string {
  if (seg.indexOf('%') < 0) return seg;
  return seg.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : '%' + hex.toUpperCase();
  });
}

/** One edge's kept templates; a link in PathFolder's least-recently-used list. */
class EdgeTemplates {
  readonly templates = new Set<string>();
  older: EdgeTemplates | null = null;
  newer: EdgeTemplates | null = null;
  constructor(readonly edge: string) {}
}

/**
 * Keeps per-edge template sets bounded. The first `maxTemplates` distinct templates of an edge
 * are kept as they are; any later new one is folded into the longest common segment prefix it
 * shares with a kept template, plus '/*' ('/*' alone when nothing is shared). At most `maxEdges`
 * edges are remembered; the least recently used edge is forgotten first (its templates start
 * afresh if it comes back), so memory is O(maxEdges × maxTemplates).
 */
export class PathFolder {
  private readonly edges = new Map<string, EdgeTemplates>();
  // Recency is a linked list: moving an edge to the newest end at every request is a few pointer
  // writes, where deleting and re-inserting its map entry hashed the key twice more.
  private oldest: EdgeTemplates | null = null;
  private newest: EdgeTemplates | null = null;
  evictedEdges = 0;

  constructor(
    readonly maxTemplates = 50,
    readonly maxEdges = 20_000,
  ) {}

  fold(edgeKey: string, template: string): string {
    let e = this.edges.get(edgeKey);
    if (e !== undefined) {
      if (e !== this.newest) {
        this.unlink(e);
        this.append(e);
      }
    } else {
      e = new EdgeTemplates(edgeKey);
      this.edges.set(edgeKey, e);
      this.append(e);
      if (this.edges.size > this.maxEdges) {
        const oldest = this.oldest!;
        this.unlink(oldest);
        this.edges.delete(oldest.edge);
        this.evictedEdges++;
      }
    }
    const set = e.templates;
    if (set.has(template)) return template;
    if (set.size < this.maxTemplates) {
      set.add(template);
      return template;
    }
    const segs = template.split('/');
    let best = 0;
    for (const kept of set) {
      const k = kept.split('/');
      let n = 0;
      while (n < segs.length - 1 && n < k.length && k[n] === segs[n] && k[n] !== '*') n++;
      if (n > best) best = n;
    }
    const prefix = segs.slice(0, best).join('/');
    return prefix === '' ? '/*' : `${prefix}/*`;
  }

  private unlink(e: EdgeTemplates): void {
    if (e.older !== null) e.older.newer = e.newer; else this.oldest = e.newer;
    if (e.newer !== null) e.newer.older = e.older; else this.newest = e.older;
    e.older = e.newer = null;
  }

  private append(e: EdgeTemplates): void {
    e.older = this.newest;
    if (this.newest !== null) this.newest.newer = e; else this.oldest = e;
    this.newest = e;
  }
}
