// An edge as if only some of its calls had been seen: what a view narrowed to certain calls (the
// UI's filters) or a proposal that leaves some calls out (refused ones) works on. Its lists, counts,
// security mix and times are re-summed from those calls.
import type { EdgeCall, GraphEdge, SecurityMix } from './model.js';

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];

/** `e` with only `calls` (a non-empty subset of its calls). */
export function edgeWithCalls(e: GraphEdge, calls: EdgeCall[]): GraphEdge {
  const counts: SecurityMix = { mtls: 0, tls: 0, plaintext: 0, unknown: 0 };
  let count = 0;
  for (const c of calls) { counts[c.security] += c.count; count += c.count; }
  const share = (n: number) => (count > 0 ? n / count : 0);
  const byTime = (pick: (c: EdgeCall) => string, better: (a: string, b: string) => boolean) =>
    calls.reduce((t, c) => (better(pick(c), t) ? pick(c) : t), pick(calls[0]));
  // Bytes and connections are per edge, not per call: scale them by the share of calls kept.
  const kept = e.count > 0 ? count / e.count : 1;
  return {
    ...e,
    ports: uniq(calls.map((c) => c.port)).sort((a, b) => a - b),
    protocols: uniq(calls.map((c) => c.protocol)).sort(),
    methods: uniq(calls.flatMap((c) => (c.method === null ? [] : [c.method]))).sort(),
    paths: uniq(calls.flatMap((c) => (c.path === null ? [] : [c.path]))).sort(),
    security: { mtls: share(counts.mtls), tls: share(counts.tls), plaintext: share(counts.plaintext), unknown: share(counts.unknown) },
    security_counts: counts,
    count,
    connections: Math.round(e.connections * kept),
    bytes: Math.round(e.bytes * kept),
    first_seen: byTime((c) => c.first_seen, (a, b) => a < b),
    last_seen: byTime((c) => c.last_seen, (a, b) => a > b),
    credentials_in_plaintext: calls.some((c) => c.credentials_in_plaintext),
    calls,
  };
}
