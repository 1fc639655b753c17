// Pass 3, merge of sources (docs/identity.md, "The analyzer's rule"): pcap, Envoy and Hubble may
// all report the same request. Per (bucket, source node, target node, port, protocol, method,
// path) only the most trusted source's rows are counted, never a sum; security comes from the
// strongest evidence of any source (an observed mtls/tls/plaintext beats unknown); every source
// that saw the call is kept as evidence.
import type { CallSource, Security } from '../../collector/model.js';
import type { AttributedCall } from './types.js';

/** Lower is preferred: the server's Envoy view, then the wire, then Hubble, then client-side Envoy. */
function rank(c: AttributedCall): number {
  const r = c.row;
  if (r.source === 'envoy') return r.securityReason.startsWith('inbound:') ? 0 : 3;
  return r.source === 'pcap' ? 1 : 2;
}

const groupKey = (c: AttributedCall): string => {
  const r = c.row;
  return `${r.bucketMs}\u0000${c.source}\u0000${c.target}\u0000${r.dstPort}\u0000${r.protocol}\u0000${r.method}\u0000${r.path}`;
};

export function mergeSources(calls: AttributedCall[]): AttributedCall[] {
  // Fast path: a store with one source has nothing to merge (the common pcap-only case).
  const first = calls.length > 0 ? calls[0].row.source : null;
  if (calls.every((c) => c.row.source === first)) return calls;
  const groups = new Map<string, AttributedCall[]>();
  for (const c of calls) {
    const k = groupKey(c);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [c]);
    else g.push(c);
  }
  const out: AttributedCall[] = [];
  for (const g of groups.values()) {
    if (g.length === 1) { out.push(g[0]); continue; }
    let best = Infinity;
    for (const c of g) best = Math.min(best, rank(c));
    const evidence = [...new Set(g.map((c) => c.row.source))].sort() as CallSource[];
    const observed = strongestObserved(g);
    for (const c of g) {
      if (rank(c) !== best) continue;
      c.evidence = evidence;
      if (c.row.security === 'unknown' && observed !== null) c.row = { ...c.row, security: observed };
      out.push(c);
    }
  }
  return out;
}

/**
 * The observed security most calls of the group had; on a tie the weaker one (plaintext before
 * tls before mtls), since readiness must not call a plaintext path safe.
 */
function strongestObserved(g: AttributedCall[]): Security | null {
  const n = { plaintext: 0, tls: 0, mtls: 0 };
  for (const c of g) if (c.row.security !== 'unknown') n[c.row.security] += c.row.count;
  let pick: Security | null = null;
  let max = 0;
  for (const s of ['plaintext', 'tls', 'mtls'] as const) if (n[s] > max) { max = n[s]; pick = s; }
  return pick;
}
