// Request targets → path templates with bounded cardinality. Rules (docs/path-templates.md):
// drop query and fragment; percent-decode only unreserved characters (RFC 3986 §6.2.2.2) and
// upper-case the hex of the remaining escapes (§6.2.2.1), so '/a%2Fb' stays one segment; replace
// ID-like segments with '{id}'; cap the result at MAX_PATH. PathFolder then keeps at most N
// templates per edge, folding the rest into their longest common segment prefix + '/*'.
import { MAX_PATH, TRUNCATION_MARKER, safeText } from './text.js';

export const ID = '{id}';

const NUMERIC = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LONG_HEX = /^[0-9a-f]{16,}$/i;
const TOKENISH = /^[A-Za-z0-9+/=_-]{20,}$/;
const HAS_DIGIT = /\d/;

/** True for a path segment that looks like an identifier rather than a route name. */
export function isIdSegment(seg: string): boolean {
  if (seg.length === 0 || seg.length > 512) return seg.length > 512;
  return NUMERIC.test(seg) || UUID.test(seg) || LONG_HEX.test(seg) || (TOKENISH.test(seg) && HAS_DIGIT.test(seg));
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
  const segs = t.split('/');
  for (let i = 1; i < segs.length; i++) {
    const seg = normalizeEscapes(segs[i]);
    segs[i] = isIdSegment(seg) ? ID : seg;
  }
  const out = segs.join('/');
  return out.length > MAX_PATH ? out.slice(0, MAX_PATH - 1) + TRUNCATION_MARKER : safeText(out, MAX_PATH);
}

const UNRESERVED = /[A-Za-z0-9._~-]/;
function normalizeEscapes(seg: string): string {
  if (seg.indexOf('%') < 0) return seg;
  return seg.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : '%' + hex.toUpperCase();
  });
}

/**
 * Keeps per-edge template sets bounded. The first `maxTemplates` distinct templates of an edge
 * are kept as they are; any later new one is folded into the longest common segment prefix it
 * shares with a kept template, plus '/*' ('/*' alone when nothing is shared). At most `maxEdges`
 * edges are remembered; the least recently used edge is forgotten first (its templates start
 * afresh if it comes back), so memory is O(maxEdges × maxTemplates).
 */
export class PathFolder {
  private readonly edges = new Map<string, Set<string>>();
  evictedEdges = 0;

  constructor(
    readonly maxTemplates = 50,
    readonly maxEdges = 20_000,
  ) {}

  fold(edgeKey: string, template: string): string {
    let set = this.edges.get(edgeKey);
    if (set) {
      // Refresh recency: Map iteration order is insertion order.
      this.edges.delete(edgeKey);
      this.edges.set(edgeKey, set);
    } else {
      set = new Set();
      this.edges.set(edgeKey, set);
      if (this.edges.size > this.maxEdges) {
        const oldest = this.edges.keys().next().value as string;
        this.edges.delete(oldest);
        this.evictedEdges++;
      }
    }
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
}
