// Graph diff: two windows of the same store, edge by edge. An edge is new, gone, or its security
// changed: plaintext appearing or disappearing, the mTLS share moving by more than a point,
// credentials starting to travel in plaintext. Counts changing alone is traffic, not a change.
import type { Db } from '../collector/store/db.js';
import { buildGraph } from './graph.js';
import type { EdgeChange, EdgeSnapshot, Graph, GraphDiff, GraphEdge, GraphQuery } from './model.js';

/** mTLS share moves smaller than this are noise (one call in a hundred). */
const SHARE_EPSILON = 0.01;

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

function snapshot(e: GraphEdge): EdgeSnapshot {
  return {
    ports: e.ports, protocols: e.protocols, count: e.count, security: e.security, security_counts: e.security_counts,
    credentials_in_plaintext: e.credentials_in_plaintext, last_seen: e.last_seen,
  };
}

export function diffGraphs(baseline: Graph, current: Graph): GraphDiff {
  const key = (e: GraphEdge) => `${e.source}\u0000${e.target}`;
  const before = new Map(baseline.edges.map((e) => [key(e), e]));
  const after = new Map(current.edges.map((e) => [key(e), e]));
  const changes: EdgeChange[] = [];
  for (const [k, a] of after) {
    const b = before.get(k);
    if (b === undefined) {
      const reasons = ['new edge'];
      if (a.security.plaintext > 0) reasons.push(`carries plaintext (${pct(a.security.plaintext)})`);
      if (a.credentials_in_plaintext) reasons.push('credentials in plaintext');
      changes.push({ change: 'new', source: a.source, target: a.target, before: null, after: snapshot(a), reasons,
        is_worse: a.security.plaintext > 0 || a.credentials_in_plaintext });
      continue;
    }
    const reasons: string[] = [];
    let isWorse = false;
    if (b.security.plaintext === 0 && a.security.plaintext > 0) { reasons.push(`plaintext appeared (0% → ${pct(a.security.plaintext)})`); isWorse = true; }
    if (b.security.plaintext > 0 && a.security.plaintext === 0) reasons.push(`plaintext gone (${pct(b.security.plaintext)} → 0%)`);
    const dm = a.security.mtls - b.security.mtls;
    if (dm <= -SHARE_EPSILON) { reasons.push(`mtls share dropped (${pct(b.security.mtls)} → ${pct(a.security.mtls)})`); isWorse = true; }
    if (dm >= SHARE_EPSILON) reasons.push(`mtls share rose (${pct(b.security.mtls)} → ${pct(a.security.mtls)})`);
    if (!b.credentials_in_plaintext && a.credentials_in_plaintext) { reasons.push('credentials in plaintext appeared'); isWorse = true; }
    if (reasons.length > 0) {
      changes.push({ change: 'security-changed', source: a.source, target: a.target, before: snapshot(b), after: snapshot(a), reasons, is_worse: isWorse });
    }
  }
  for (const [k, b] of before) {
    if (!after.has(k)) changes.push({ change: 'gone', source: b.source, target: b.target, before: snapshot(b), after: null, reasons: ['no calls in the current window'], is_worse: false });
  }
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  changes.sort((x, y) => cmp(x.source, y.source) || cmp(x.target, y.target));
  return { level: current.level, baseline: baseline.window, current: current.window, changes };
}

export interface DiffWindows {
  baseline: { sinceMs?: number; untilMs: number };
  current: { sinceMs: number; untilMs?: number };
}

/** Builds both graphs from the store and compares them. */
export function diffWindows(db: Db, q: Omit<GraphQuery, 'sinceMs' | 'untilMs'>, w: DiffWindows): GraphDiff {
  const baseline = buildGraph(db, { ...q, sinceMs: w.baseline.sinceMs, untilMs: w.baseline.untilMs });
  const current = buildGraph(db, { ...q, sinceMs: w.current.sinceMs, untilMs: w.current.untilMs });
  return diffGraphs(baseline, current);
}
