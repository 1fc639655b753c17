// The dependency graph: calls in the window → attributed at their own time → named passes →
// one sorted, typed Graph (analyzer/model.ts, docs/graph.md). Like Kiali, nodes and edges are
// sorted so the same store always prints the same bytes ("for predictable testing").
import { z } from 'zod';
import { AttributionIndex, DEFAULT_TRUST_DOMAIN } from '../collector/identity/attribute.js';
import { CALL_SOURCES, type CallSource, type Protocol } from '../collector/model.js';
import { iterateBucketCalls } from '../collector/store/analysis.js';
import { contentVersion, type Db } from '../collector/store/db.js';
import { isoTime } from './iso-time.js';
import { LEVELS, type EdgeCall, type Graph, type GraphEdge, type GraphNode, type GraphQuery } from './model.js';
import { attributeCalls } from './passes/identity.js';
import { levelEnds, levelNode } from './passes/level.js';
import { mergeSources } from './passes/merge.js';
import { NodeTable, publicId } from './passes/nodes.js';
import { addToMix, emptyMix, shares } from './passes/security.js';
import { resolveServices } from './passes/services.js';
import type { AttributedCall } from './passes/types.js';

export const graphQuerySchema = z.object({
  level: z.enum(LEVELS),
  sinceMs: z.number().finite().optional(),
  untilMs: z.number().finite().optional(),
  namespaces: z.array(z.string().min(1)).optional(),
  trustDomain: z.string().min(1).optional(),
});

/**
 * The last index and graph built on each connection, reused while the store is unchanged
 * (contentVersion: other connections' commits and this one's own writes). The graph, the
 * readiness check and every policy format start from the same workload graph: on the
 * 5,000-workload benchmark store one build is about a second, and one of each asked for it seven
 * times (docs/benchmarks.md, "The analyzer suite"). One graph is kept, not a history: at that size
 * it is tens of MB.
 */
interface Analysis {
  version: string;
  trustDomain: string;
  index: AttributionIndex;
  graphKey: string | null;
  graph: Graph | null;
}

const analyses = new WeakMap<Db, Analysis>();

function analysisOf(db: Db, trustDomain: string | undefined): Analysis {
  const version = contentVersion(db);
  const domain = trustDomain ?? DEFAULT_TRUST_DOMAIN;
  let a = analyses.get(db);
  if (a === undefined || a.version !== version || a.trustDomain !== domain) {
    a = { version, trustDomain: domain, index: AttributionIndex.fromDb(db, { trustDomain: domain }), graphKey: null, graph: null };
    analyses.set(db, a);
  }
  return a;
}

/** Who every address was, from the store's inventory; shared with buildGraph until the store changes. */
export function attributionIndex(db: Db, trustDomain?: string): AttributionIndex {
  return analysisOf(db, trustDomain).index;
}

/**
 * The graph for `q`. Frozen, because it may be the one other callers on this connection get too:
 * whoever needs to change it works on a copy.
 */
export function buildGraph(db: Db, q: GraphQuery): Graph {
  const query = graphQuerySchema.parse(q);
  const a = analysisOf(db, query.trustDomain);
  const key = JSON.stringify([query.level, query.sinceMs ?? null, query.untilMs ?? null, query.namespaces ?? null]);
  if (a.graphKey !== key || a.graph === null) {
    a.graph = deepFreeze(graphWith(db, a.index, query));
    a.graphKey = key;
  }
  return a.graph;
}

/** Walks by index and for-in rather than Object.values: 2–4× faster on the 345,000 objects of
 *  the benchmark's graph (no array per object), docs/decisions/003. */
export function deepFreeze<T>(x: T): T {
  if (typeof x !== 'object' || x === null || Object.isFrozen(x)) return x;
  if (Array.isArray(x)) for (let i = 0; i < x.length; i++) deepFreeze(x[i]);
  else for (const k in x) deepFreeze(x[k]);
  return Object.freeze(x);
}

/** The graph over an index already built. */
function graphWith(db: Db, index: AttributionIndex, q: GraphQuery): Graph {
  const nodes = new NodeTable(index.workloads());
  const attributed = attributeCalls(iterateBucketCalls(db, q), index, nodes);
  resolveServices(attributed, index, nodes);
  const calls = mergeSources(attributed);
  const ends = levelEnds(calls, q.level, nodes);
  return assemble(calls, ends, nodes, q);
}

interface EdgeAcc {
  edge: GraphEdge;
  firstMs: number;
  lastMs: number;
  /** sources: a bit per CallSource (SOURCE_BIT), a Set per call was 51,000 Sets on the benchmark store. */
  calls: Map<string, { call: EdgeCall; firstMs: number; lastMs: number; sources: number }>;
  services: Set<string>;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const SOURCE_BIT = Object.fromEntries(CALL_SOURCES.map((s, i) => [s, 1 << i])) as Record<CallSource, number>;
const SOURCES_SORTED = [...CALL_SOURCES].sort(cmp);
const SOURCES_BY_BITS = new Map<number, CallSource[]>();
/** The sources a bit set names: one shared list per set (three sources: at most eight lists, not one per call). */
const sourcesOf = (bits: number): CallSource[] => {
  let list = SOURCES_BY_BITS.get(bits);
  if (list === undefined) SOURCES_BY_BITS.set(bits, (list = Object.freeze(SOURCES_SORTED.filter((s) => (bits & SOURCE_BIT[s]) !== 0)) as CallSource[]));
  return list;
};

/**
 * Small sorted lists that repeat across edges (an edge's ports, protocols, methods, Services), one
 * frozen list per distinct content for the graph being built: on the 5,000-workload bench store
 * 26,000 edges share a few hundred of them. The graph is frozen anyway, so sharing is invisible.
 */
class SharedLists {
  private readonly byKey = new Map<string, readonly unknown[]>();
  of<T extends string | number>(items: T[]): T[] {
    const key = items.join('\u0000');
    let list = this.byKey.get(key);
    if (list === undefined) this.byKey.set(key, (list = Object.freeze(items)));
    return list as T[];
  }
}

function assemble(calls: AttributedCall[], ends: Array<{ source: string; target: string }>, nodes: NodeTable, q: GraphQuery): Graph {
  // Level id → the workload-level node keys folded into it.
  const members = new Map<string, Set<string>>();
  const addMember = (id: string, key: string) => {
    let s = members.get(id);
    if (s === undefined) members.set(id, (s = new Set()));
    s.add(key);
  };
  for (let i = 0; i < calls.length; i++) {
    addMember(ends[i].source, calls[i].source);
    addMember(ends[i].target, q.level === 'service' ? (calls[i].service ?? calls[i].target) : calls[i].target);
  }
  const levelNodes = new Map<string, GraphNode>();
  for (const [id, keys] of members) {
    const n = levelNode(id, q.level, [...keys].map((k) => nodes.byKey.get(k)!));
    const addrs = new Set<string>();
    for (const k of keys) for (const a of nodes.addresses.get(k) ?? []) addrs.add(a);
    n.addresses = [...addrs].sort(cmp);
    levelNodes.set(id, n);
  }
  const wanted = q.namespaces !== undefined && q.namespaces.length > 0 ? new Set(q.namespaces) : null;
  const inScope = (id: string): boolean => {
    const ns = levelNodes.get(id)?.namespace;
    return ns != null && wanted!.has(ns);
  };

  const edges = new Map<string, EdgeAcc>();
  let firstMs = Infinity, lastMs = -Infinity;
  for (let i = 0; i < calls.length; i++) {
    const { source, target } = ends[i];
    if (wanted !== null && !inScope(source) && !inScope(target)) continue;
    const c = calls[i];
    const r = c.row;
    const ek = `${source}\u0000${target}`;
    let acc = edges.get(ek);
    if (acc === undefined) {
      acc = {
        edge: {
          source, target, ports: [], protocols: [], methods: [], paths: [], security: emptyMix(), security_counts: emptyMix(),
          count: 0, connections: 0, bytes: 0, first_seen: '', last_seen: '', credentials_in_plaintext: false, services: [], calls: [],
        },
        firstMs: Infinity, lastMs: -Infinity, calls: new Map(), services: new Set(),
      };
      edges.set(ek, acc);
    }
    const e = acc.edge;
    e.count += r.count;
    e.connections += r.connections;
    e.bytes += r.bytes;
    addToMix(e.security_counts, r.security, r.count);
    if (r.credentialsInPlaintext) e.credentials_in_plaintext = true;
    if (c.service !== null) acc.services.add(publicId(c.service));
    if (r.firstSeenMs < acc.firstMs) acc.firstMs = r.firstSeenMs;
    if (r.lastSeenMs > acc.lastMs) acc.lastMs = r.lastSeenMs;
    const ck = `${r.dstPort}\u0000${r.transport}\u0000${r.protocol}\u0000${r.method}\u0000${r.path}\u0000${r.host}\u0000${r.sni}\u0000${r.security}\u0000${c.isViaService ? 1 : 0}`;
    let call = acc.calls.get(ck);
    if (call === undefined) {
      call = {
        call: {
          port: r.dstPort, transport: r.transport, protocol: r.protocol, method: r.method || null, path: r.path || null,
          host: r.host || null, sni: r.sni || null, security: r.security, security_reason: r.securityReason || null,
          count: 0, first_seen: '', last_seen: '', credentials_in_plaintext: false, via_service: c.isViaService, sources: [],
        },
        firstMs: Infinity, lastMs: -Infinity, sources: 0,
      };
      acc.calls.set(ck, call);
    }
    const ec = call.call;
    ec.count += r.count;
    // Rows hand-built without verdicts (tests, older callers) have no dropped count.
    if (r.dropped > 0) ec.dropped = (ec.dropped ?? 0) + r.dropped;
    if (r.credentialsInPlaintext) ec.credentials_in_plaintext = true;
    // The first reason in code-unit order, so the output does not depend on row order.
    if (r.securityReason !== '' && (ec.security_reason === null || r.securityReason < ec.security_reason)) ec.security_reason = r.securityReason;
    if (r.firstSeenMs < call.firstMs) call.firstMs = r.firstSeenMs;
    if (r.lastSeenMs > call.lastMs) call.lastMs = r.lastSeenMs;
    for (const s of c.evidence) call.sources |= SOURCE_BIT[s];
  }

  const outEdges: GraphEdge[] = [];
  // Numbers and strings apart: [80] and ["80"] join to the same key.
  const sharedPorts = new SharedLists(), shared = new SharedLists();
  const used = new Set<string>();
  for (const acc of edges.values()) {
    const e = acc.edge;
    e.first_seen = isoTime(acc.firstMs);
    e.last_seen = isoTime(acc.lastMs);
    e.security = shares(e.security_counts);
    e.services = shared.of([...acc.services].sort(cmp));
    const ports = new Set<number>(), protocols = new Set<Protocol>(), methods = new Set<string>(), paths = new Set<string>();
    for (const { call, firstMs: f, lastMs: l, sources } of acc.calls.values()) {
      call.first_seen = isoTime(f);
      call.last_seen = isoTime(l);
      call.sources = sourcesOf(sources);
      e.calls.push(call);
      ports.add(call.port);
      protocols.add(call.protocol);
      if (call.method !== null) methods.add(call.method);
      if (call.path !== null) paths.add(call.path);
    }
    e.calls.sort(compareCalls);
    e.ports = sharedPorts.of([...ports].sort((a, b) => a - b));
    e.protocols = shared.of([...protocols].sort(cmp));
    e.methods = shared.of([...methods].sort(cmp));
    e.paths = [...paths].sort(cmp);
    if (acc.firstMs < firstMs) firstMs = acc.firstMs;
    if (acc.lastMs > lastMs) lastMs = acc.lastMs;
    used.add(e.source);
    used.add(e.target);
    outEdges.push(e);
  }
  outEdges.sort((a, b) => cmp(a.source, b.source) || cmp(a.target, b.target));
  const outNodes = [...used].sort(cmp).map((id) => levelNodes.get(id)!);
  return {
    level: q.level,
    window: {
      since: q.sinceMs !== undefined ? isoTime(q.sinceMs) : null,
      until: q.untilMs !== undefined ? isoTime(q.untilMs) : null,
      first_seen: outEdges.length > 0 ? isoTime(firstMs) : null,
      last_seen: outEdges.length > 0 ? isoTime(lastMs) : null,
    },
    nodes: outNodes,
    edges: outEdges,
  };
}

function compareCalls(a: EdgeCall, b: EdgeCall): number {
  return a.port - b.port || cmp(a.transport, b.transport) || cmp(a.protocol, b.protocol) || cmp(a.method ?? '', b.method ?? '')
    || cmp(a.path ?? '', b.path ?? '') || cmp(a.host ?? '', b.host ?? '') || cmp(a.sni ?? '', b.sni ?? '')
    || cmp(a.security, b.security) || Number(a.via_service) - Number(b.via_service);
}
