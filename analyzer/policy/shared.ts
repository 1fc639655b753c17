// What every policy format needs from the graph: the calls into and out of each workload, reduced
// to the operations a rule must allow at the requested granularity; callers grouped when they
// would get the same rule; names and labels checked against Kubernetes' rules; comment text made
// safe. The generators only map these to their format's fields.
import { createHash } from 'node:crypto';
import type { EdgeCall, Graph, GraphEdge, GraphNode } from '../model.js';
import type { DnsTarget, Granularity, PolicyBlocker } from './model.js';

// ---- derived once per frozen graph ---------------------------------------------------------------

/**
 * What a frozen graph part (buildGraph's, docs/decisions/003) derives to, kept as long as the part
 * lives: the four formats, and each format for both ends of an edge, derived the same selectors,
 * peers and operations again (5,000 workloads: about a third of the generators' time,
 * docs/benchmarks.md "The analyzer suite"). Unfrozen parts (hand-built graphs in tests) can
 * change, so they are derived every time. Kept values are shared: callers copy, never modify.
 */
function derived<K extends object, V>(cache: WeakMap<K, V>, key: K, make: (k: K) => V): V {
  if (!Object.isFrozen(key)) return make(key);
  let v = cache.get(key);
  if (v === undefined) cache.set(key, (v = make(key)));
  return v;
}

// ---- text that ends up in YAML comments ----------------------------------------------------------

/**
 * One comment line. YAML 1.2 ends a comment at \n or \r (§5.4); YAML 1.1 parsers also at NEL, LS
 * and PS. Every C0/C1 control, those line separators and the bidirectional overrides (which make
 * a reviewer read something else than what is there, CVE-2021-42574) become U+FFFD.
 */
export function safeComment(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '\uFFFD');
}

// ---- Kubernetes names and labels -----------------------------------------------------------------

const hash8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

/**
 * An object name: a DNS-1123 label (lowercase alphanumerics and '-', at most 63), which every
 * kind here accepts. Parts that are not valid are rewritten and a hash of the original keeps
 * two different inputs from colliding.
 */
export function k8sName(...parts: string[]): string {
  const raw = parts.join('-');
  const clean = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-+|-+$/g, '');
  if (clean === raw && clean.length > 0 && clean.length <= 63) return clean;
  const base = clean.slice(0, 54).replace(/-+$/, '');
  return base === '' ? `x-${hash8(raw)}` : `${base}-${hash8(raw)}`;
}

/**
 * Names of the objects proposed once per namespace (Istio's `allow-nothing` and namespace-wide
 * PeerAuthentication `default`, NetworkPolicy's `default-deny`). `default` is also the name
 * Istio's documentation gives the namespace-wide PeerAuthentication a cluster may already have.
 */
const NAMESPACE_OBJECT_NAMES = new Set(['allow-nothing', 'default', 'default-deny']);

/**
 * The name of a workload's own object: its name, unless that is one of the per-namespace names,
 * where `kubectl apply` would make one object replace the other; then with a hashed suffix.
 */
export function workloadObjectName(name: string): string {
  const n = k8sName(name);
  return NAMESPACE_OBJECT_NAMES.has(n) ? `${n}-${hash8(`workload ${name}`)}` : n;
}

/** A Kubernetes namespace name (DNS-1123 label). */
export const isNamespaceName = (s: string): boolean => /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s);

const NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Label key: optional DNS-subdomain prefix (≤ 253) + '/' + name (≤ 63). */
export function isLabelKey(k: string): boolean {
  const i = k.lastIndexOf('/');
  if (i === -1) return NAME_PART.test(k);
  const prefix = k.slice(0, i);
  return prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix) && NAME_PART.test(k.slice(i + 1));
}

/** Label value: empty, or ≤ 63 alphanumerics with '-', '_', '.' inside. */
export const isLabelValue = (v: string): boolean => v === '' || NAME_PART.test(v);

/** Labels a mesh injects into pods: selecting on them would miss pods before injection. */
const INJECTED = /^(security\.istio\.io\/tlsMode|service\.istio\.io\/canonical-(name|revision)|linkerd\.io\/.*)$/;

/**
 * The labels a selector for this workload uses, or null when there are none that are valid:
 * an empty selector would select every pod of the namespace, so the caller reports a blocker.
 */
export function selectorLabels(node: GraphNode): Readonly<Record<string, string>> | null {
  return derived(selectorLabelsOf, node, chooseSelectorLabels);
}

const selectorLabelsOf = new WeakMap<GraphNode, Readonly<Record<string, string>> | null>();

function chooseSelectorLabels(node: GraphNode): Readonly<Record<string, string>> | null {
  const entries = Object.entries(node.labels).filter(([k, v]) => isLabelKey(k) && isLabelValue(v));
  if (entries.length !== Object.keys(node.labels).length || entries.length === 0) return null;
  const chosen = entries.filter(([k]) => !INJECTED.test(k));
  const use = chosen.length > 0 ? chosen : entries;
  return Object.freeze(Object.fromEntries(use.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** A selector's labels as one comparable string (callers with the same labels share a rule). */
export const labelKey = (labels: Readonly<Record<string, string>>): string => JSON.stringify(Object.entries(labels));

// ---- addresses ------------------------------------------------------------------------------------

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:]+$/;

/** A host CIDR (/32 or /128) for one address, or null when it is not an IP literal. */
export function hostCidr(ip: string): string | null {
  if (IPV4.test(ip)) return `${ip}/32`;
  if (IPV6.test(ip) && ip.includes(':') && ip.length <= 39) return `${ip.toLowerCase()}/128`;
  return null;
}

export const nodeCidrs = (n: GraphNode): readonly string[] => derived(nodeCidrsOf, n, hostCidrs);

const nodeCidrsOf = new WeakMap<GraphNode, readonly string[]>();

const hostCidrs = (n: GraphNode): readonly string[] =>
  Object.freeze([...new Set(n.addresses.map(hostCidr).filter((c): c is string => c !== null))].sort());

// ---- who can present a mesh identity ---------------------------------------------------------------

const MESH_LABELS: Array<[string, string | null]> = [['security.istio.io/tlsMode', 'istio'], ['linkerd.io/control-plane-ns', null]];

/**
 * A workload can present a mesh identity (an mTLS client certificate) when its pods carry a
 * mesh's injection label, or when any of its own calls was seen in mTLS. Nodes, external and
 * unattributed callers never can.
 */
export function meshedWorkloads(graph: Graph): ReadonlySet<string> {
  return derived(meshedOf, graph, findMeshed);
}

const meshedOf = new WeakMap<Graph, ReadonlySet<string>>();

function findMeshed(graph: Graph): ReadonlySet<string> {
  const out = new Set<string>();
  for (const n of graph.nodes) {
    if (n.kind !== 'workload') continue;
    if (MESH_LABELS.some(([k, v]) => n.labels[k] !== undefined && (v === null || n.labels[k] === v))) out.add(n.id);
  }
  for (const e of graph.edges) if (e.security_counts.mtls > 0) out.add(e.source);
  return out;
}

// ---- operations -----------------------------------------------------------------------------------

/** What one rule allows on a destination: null fields are "any" at the chosen granularity. */
export interface Op {
  port: number | null;
  transport: 'tcp' | 'udp';
  method: string | null;
  path: string | null;
}

/** Calls the generator could not express safely; they are left out and counted. */
export interface Skip {
  reason: string;
  count: number;
}

const METHOD = /^[A-Z][A-Z0-9_-]{0,31}$/;
/**
 * A path a policy can carry as it is: starts with '/', printable ASCII without spaces, '?', '#'
 * or '\\', at most 1,024 characters (Gateway API's limit on HTTPRoute path values). Anything else
 * (U+FFFD from the collector, '…' from the length cap, control characters) is not a real route.
 */
export const isPolicyPath = (p: string): boolean => p.length <= 1024 && /^\/[\x21-\x7e]*$/.test(p) && !/[?#\\]/.test(p);

export const opKey = (o: Op): string => `${o.port ?? ''}/${o.transport}/${o.method ?? ''}/${o.path ?? ''}`;

function compareOps(a: Op, b: Op): number {
  return (a.port ?? 0) - (b.port ?? 0) || a.transport.localeCompare(b.transport)
    || (a.method ?? '').localeCompare(b.method ?? '') || (a.path ?? '').localeCompare(b.path ?? '');
}

/** The call as an operation at `g`, or a skip reason. */
function toOp(c: EdgeCall, g: Granularity): Op | string {
  if (g === 'workload') return { port: null, transport: 'tcp', method: null, path: null };
  const port = c.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port ${String(port)} is not a port number`;
  if (g === 'port' || c.method === null) return { port, transport: c.transport, method: null, path: null };
  if (!METHOD.test(c.method)) return 'method is not an HTTP token';
  if (g === 'method' || c.path === null) return { port, transport: c.transport, method: c.method, path: null };
  if (!isPolicyPath(c.path)) return 'path cannot be written as a policy path (not starting with "/", spaces, control or non-ASCII characters)';
  return { port, transport: c.transport, method: c.method, path: c.path };
}

/**
 * Drops operations a wider one already allows (a port-only op covers its method/path ops). An op
 * without a port (granularity `workload`) covers every other: a DNS server's caller at that
 * granularity, merged with the DNS ports every client gets, must stay allowed on any port.
 */
function minimal(ops: readonly Op[]): Op[] {
  const any = ops.find((o) => o.port === null);
  if (any !== undefined) return [any];
  const keys = new Set(ops.map(opKey));
  const covered = (o: Op) =>
    (o.method !== null && keys.has(opKey({ ...o, method: null, path: null })))
    || (o.path !== null && keys.has(opKey({ ...o, path: null })));
  const out = new Map<string, Op>();
  for (const o of ops) if (!covered(o)) out.set(opKey(o), o);
  return [...out.values()].sort(compareOps);
}

export interface Evidence {
  callers: readonly string[];
  count: number;
  lastSeen: string;
}

export function mergeEvidence(a: Evidence | null, b: Evidence): Evidence {
  if (a === null) return { callers: [...b.callers], count: b.count, lastSeen: b.lastSeen };
  return {
    callers: [...new Set([...a.callers, ...b.callers])].sort(),
    count: a.count + b.count,
    lastSeen: a.lastSeen > b.lastSeen ? a.lastSeen : b.lastSeen,
  };
}

export const describeEvidence = (e: Evidence): string => (e.count === 0
  ? `${e.callers.join(', ')}: not observed, allowed as infrastructure`
  : `observed: ${e.callers.join(', ')}; ${e.count} call${e.count === 1 ? '' : 's'}; last seen ${e.lastSeen}`);

export interface EdgeOps {
  readonly ops: readonly Op[];
  readonly skips: readonly Skip[];
  readonly evidence: Readonly<Evidence>;
}

/**
 * An edge's calls (all of them, or the ones a format keeps) as minimal operations, with what had
 * to be left out. All of a frozen edge's calls at one granularity are kept: each format asks for
 * every edge twice (ingress of its target, egress of its source), and formats agree on most.
 */
export function edgeOps(edge: GraphEdge, g: Granularity, calls: EdgeCall[] = edge.calls): EdgeOps {
  if (!isEveryCall(edge, calls) || !Object.isFrozen(edge)) return opsOf(edge, g, calls);
  let byGranularity = edgeOpsOf.get(edge);
  if (byGranularity === undefined) edgeOpsOf.set(edge, (byGranularity = new Map()));
  let r = byGranularity.get(g);
  if (r === undefined) byGranularity.set(g, (r = opsOf(edge, g, calls)));
  return r;
}

const edgeOpsOf = new WeakMap<GraphEdge, Map<Granularity, EdgeOps>>();

/** Whether `calls` is the edge's whole list (a format's filter that kept everything makes a copy). */
function isEveryCall(edge: GraphEdge, calls: EdgeCall[]): boolean {
  if (calls === edge.calls) return true;
  if (calls.length !== edge.calls.length) return false;
  for (let i = 0; i < calls.length; i++) if (calls[i] !== edge.calls[i]) return false;
  return true;
}

function opsOf(edge: GraphEdge, g: Granularity, calls: EdgeCall[]): EdgeOps {
  const ops: Op[] = [];
  const skipped: Array<{ c: EdgeCall; reason: string }> = [];
  const skips = new Map<string, number>();
  let count = 0;
  let last = '';
  const allow = (c: EdgeCall) => {
    count += c.count;
    if (c.last_seen > last) last = c.last_seen;
  };
  for (const c of calls) {
    const o = toOp(c, g);
    if (typeof o === 'string') { skipped.push({ c, reason: o }); continue; }
    ops.push(o);
    allow(c);
  }
  // A call left out for its method or path is still allowed when the same port is allowed whole
  // (a call there showed no method or path): not a blocker, nothing is cut off.
  const wholePorts = new Set(ops.filter((o) => o.method === null).map((o) => `${o.port}/${o.transport}`));
  for (const { c, reason } of skipped) {
    if (wholePorts.has(`${c.port}/${c.transport}`)) allow(c);
    else skips.set(reason, (skips.get(reason) ?? 0) + c.count);
  }
  return Object.freeze({
    ops: Object.freeze(minimal(ops)),
    skips: Object.freeze([...skips].map(([reason, n]) => ({ reason, count: n })).sort((a, b) => a.reason.localeCompare(b.reason))),
    evidence: Object.freeze({ callers: Object.freeze([edge.source]), count, lastSeen: last === '' ? edge.last_seen : last }),
  });
}

// ---- grouping ---------------------------------------------------------------------------------------

/** Callers that get the same rule: their peer descriptor is equal (key), and so are their ops. */
export interface PeerEntry<P> {
  key: string;
  peer: P;
  ops: readonly Op[];
  evidence: Evidence;
}

export interface RuleGroup<P> {
  peers: P[];
  ops: readonly Op[];
  /** Made for the group, so its callers list is the group's own. */
  evidence: Evidence & { callers: string[] };
}

/**
 * Merges entries with the same peer key (two workloads with one service account are one
 * principal), then groups peers whose operation sets are equal into one rule. Sorted by the
 * first peer key, so output is stable.
 */
export function groupPeers<P>(entries: Array<PeerEntry<P>>): Array<RuleGroup<P>> {
  const byPeer = new Map<string, PeerEntry<P>>();
  for (const e of entries) {
    const had = byPeer.get(e.key);
    if (!had) byPeer.set(e.key, { ...e, ops: [...e.ops] });
    else byPeer.set(e.key, { ...had, ops: minimal([...had.ops, ...e.ops]), evidence: mergeEvidence(had.evidence, e.evidence) });
  }
  // Evidence is summed per group and its callers sorted once at the end: merging pairwise
  // re-sorted the caller list for every peer (quadratic for the DNS servers' thousands of clients).
  const byOps = new Map<string, { keys: string[]; peers: P[]; ops: readonly Op[]; callers: Set<string>; count: number; lastSeen: string }>();
  for (const [key, e] of [...byPeer].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (e.ops.length === 0) continue;
    const k = e.ops.map(opKey).join('|');
    let g = byOps.get(k);
    if (g === undefined) byOps.set(k, (g = { keys: [], peers: [], ops: e.ops, callers: new Set(), count: 0, lastSeen: '' }));
    g.keys.push(key);
    g.peers.push(e.peer);
    for (const c of e.evidence.callers) g.callers.add(c);
    g.count += e.evidence.count;
    if (e.evidence.lastSeen > g.lastSeen) g.lastSeen = e.evidence.lastSeen;
  }
  return [...byOps.values()]
    .sort((a, b) => (a.keys[0] < b.keys[0] ? -1 : a.keys[0] > b.keys[0] ? 1 : 0))
    .map((g) => ({ peers: g.peers, ops: g.ops, evidence: { callers: [...g.callers].sort(), count: g.count, lastSeen: g.lastSeen } }));
}

/**
 * Ports with their methods and paths, shaped for formats whose operation is a cross product
 * (Istio's `ports × methods × paths`): paths with the same method set on a port share an
 * entry, so the product never allows a method on a path it was not seen with.
 */
export interface PortOps {
  port: number | null;
  transport: 'tcp' | 'udp';
  /** null: any method (and any path). */
  methods: string[] | null;
  /** null: any path. */
  paths: string[] | null;
}

export function crossProductSafe(ops: readonly Op[]): PortOps[] {
  const out: PortOps[] = [];
  const byPort = new Map<string, Op[]>();
  for (const o of ops) {
    const k = `${o.port ?? ''}/${o.transport}`;
    byPort.set(k, [...(byPort.get(k) ?? []), o]);
  }
  for (const list of byPort.values()) {
    const { port, transport } = list[0];
    if (list.some((o) => o.method === null)) { out.push({ port, transport, methods: null, paths: null }); continue; }
    // Methods allowed on any path of this port.
    const anyPath = [...new Set(list.filter((o) => o.path === null).map((o) => o.method!))].sort();
    if (anyPath.length > 0) out.push({ port, transport, methods: anyPath, paths: null });
    const byPath = new Map<string, string[]>();
    for (const o of list) if (o.path !== null && !anyPath.includes(o.method!)) byPath.set(o.path, [...(byPath.get(o.path) ?? []), o.method!]);
    const byMethods = new Map<string, { methods: string[]; paths: string[] }>();
    for (const [path, ms] of byPath) {
      const methods = [...new Set(ms)].sort();
      const k = methods.join(',');
      const g = byMethods.get(k) ?? { methods, paths: [] };
      g.paths.push(path);
      byMethods.set(k, g);
    }
    for (const g of [...byMethods.values()].sort((a, b) => a.methods.join(',').localeCompare(b.methods.join(',')))) {
      out.push({ port, transport, methods: g.methods, paths: g.paths.sort() });
    }
  }
  return out;
}

// ---- the graph, per workload ------------------------------------------------------------------------

export interface WorkloadView {
  node: GraphNode;
  inbound: Array<{ edge: GraphEdge; source: GraphNode }>;
  outbound: Array<{ edge: GraphEdge; target: GraphNode }>;
}

/**
 * Workloads that policies are written for (in `namespaces` when given), sorted by id, with
 * their edges sorted by the other end. Edges to Service nodes are skipped: at workload level
 * the graph resolves Services to their backends, and a policy selects pods, not Services.
 * A view holds all of its workload's edges whichever namespaces are asked for, so the views of
 * some namespaces are those of all, filtered.
 */
export function workloadViews(graph: Graph, namespaces?: string[]): readonly WorkloadView[] {
  const all = derived(viewsOf, graph, allViews);
  if (namespaces === undefined || namespaces.length === 0) return all;
  return all.filter((v) => namespaces.includes(v.node.namespace!));
}

const viewsOf = new WeakMap<Graph, readonly WorkloadView[]>();

function allViews(graph: Graph): readonly WorkloadView[] {
  const byId = nodesById(graph);
  const views = new Map<string, WorkloadView>();
  const view = (n: GraphNode) => {
    let v = views.get(n.id);
    if (!v) views.set(n.id, (v = { node: n, inbound: [], outbound: [] }));
    return v;
  };
  const wanted = (n: GraphNode) => n.kind === 'workload' && n.namespace !== null;
  for (const e of graph.edges) {
    const s = byId.get(e.source);
    const t = byId.get(e.target);
    if (!s || !t || s.kind === 'service' || t.kind === 'service' || e.source === e.target) continue;
    if (wanted(t)) view(t).inbound.push({ edge: e, source: s });
    if (wanted(s)) view(s).outbound.push({ edge: e, target: t });
  }
  const out = [...views.values()].sort((a, b) => (a.node.id < b.node.id ? -1 : a.node.id > b.node.id ? 1 : 0));
  for (const v of out) {
    v.inbound.sort((a, b) => (a.source.id < b.source.id ? -1 : 1));
    v.outbound.sort((a, b) => (a.target.id < b.target.id ? -1 : 1));
  }
  return Object.freeze(out);
}

/** The graph's nodes by id. */
export function nodesById(graph: Graph): ReadonlyMap<string, GraphNode> {
  return derived(byIdOf, graph, indexNodes);
}

const indexNodes = (graph: Graph): ReadonlyMap<string, GraphNode> => new Map(graph.nodes.map((n) => [n.id, n]));

const byIdOf = new WeakMap<Graph, ReadonlyMap<string, GraphNode>>();

/**
 * Calls whose callee stayed a Service at workload level: only its ClusterIP was seen and it has
 * several backends, so nobody knows which workload answered (docs/graph.md, services pass). No
 * policy can be attached to them: each is a blocker on the Service (callers named) and, for formats
 * with egress rules, on the caller's own egress. Never silently dropped. Likewise calls to an
 * address the inventory does not know.
 */
export function unresolvedServiceBlockers(graph: Graph, namespaces: string[] | undefined, withEgress: boolean): PolicyBlocker[] {
  const byId = nodesById(graph);
  const wanted = (ns: string | null) => ns !== null && (namespaces === undefined || namespaces.length === 0 || namespaces.includes(ns));
  const out: PolicyBlocker[] = [];
  for (const e of graph.edges) {
    const t = byId.get(e.target);
    const s = byId.get(e.source);
    if (s === undefined) continue;
    const ports = [...new Set(e.calls.map((c) => c.port))].sort((a, b) => a - b).join(', ');
    // An address the inventory does not know (probably a pod it does not list): no policy selects
    // it, and a default deny in its namespace, whichever that is, would cut these calls off. Its
    // namespace is unknown, so only a proposal for every namespace names it. The callers' egress
    // blockers come from their own peers (l3Peer).
    if (t?.kind === 'unattributed' && (namespaces === undefined || namespaces.length === 0)) {
      out.push({ workload: t.id, callers: [s.id], reason: `${t.id} is not in the inventory (${t.reason ?? 'unknown'}): which workload answered on port ${ports} is unknown, so no rule allows these calls and a default deny in its namespace would cut them off; ${t.reason === 'no-inventory' ? 'load an inventory (trustmap inventory load)' : 'load a fresher inventory'}` });
    }
    if (t?.kind !== 'service') continue;
    const why = `only the address of Service ${t.id} was seen (port ${ports}), not which of its backends answered: no rule allows these calls; capture where the forwarded copy is visible or load the EndpointSlices`;
    if (wanted(t.namespace)) out.push({ workload: t.id, callers: [s.id], reason: why });
    if (withEgress && s.kind === 'workload' && wanted(s.namespace)) out.push({ workload: s.id, callers: [t.id], reason: `egress: ${why}` });
  }
  return out;
}

/** Blockers for calls left out, one per (workload, reason). */
export function skipBlockers(workload: string, caller: string, skips: readonly Skip[]): PolicyBlocker[] {
  return skips.map((s) => ({ workload, callers: [caller], reason: `${s.count} call${s.count === 1 ? '' : 's'} left out: ${s.reason}` }));
}

/** A blocker as the comment above its object: `BLOCKER callers: reason` (no callers: `BLOCKER: reason`). */
export const blockerComment = (b: PolicyBlocker): string => `BLOCKER${b.callers.length > 0 ? ` ${b.callers.join(', ')}` : ''}: ${b.reason}`;

/** Merges blockers with the same workload and reason, callers sorted; output sorted. */
export function mergeBlockers(list: PolicyBlocker[]): PolicyBlocker[] {
  const m = new Map<string, PolicyBlocker>();
  for (const b of list) {
    const k = `${b.workload}\u0000${b.reason}`;
    const had = m.get(k);
    if (!had) m.set(k, { ...b, callers: [...new Set(b.callers)].sort() });
    else had.callers = [...new Set([...had.callers, ...b.callers])].sort();
  }
  return [...m.values()].sort((a, b) => a.workload.localeCompare(b.workload) || a.reason.localeCompare(b.reason) || a.callers.join().localeCompare(b.callers.join()));
}

const PROBE_PATH = /^\/(healthz|readyz|livez|health|ready|live|app-health)\b/;
const METRICS_PATH = /^\/(metrics|stats\/prometheus|actuator\/prometheus)\b/;

/** Infrastructure traffic a policy must keep working, by what its calls look like; null: application traffic. */
export type InfraPurpose = 'kubelet probes' | 'metrics scrapes' | 'DNS' | 'host-network calls';

export function infraPurpose(source: GraphNode, calls: EdgeCall[]): InfraPurpose | null {
  if (calls.length === 0) return null;
  if (calls.every((c) => c.protocol === 'dns')) return 'DNS';
  if (source.kind === 'node' && calls.every((c) => c.method === 'GET' && c.path !== null && PROBE_PATH.test(c.path))) return 'kubelet probes';
  if (calls.every((c) => c.path !== null && METRICS_PATH.test(c.path))) return 'metrics scrapes';
  // The API server calling an admission webhook, kube-proxy, node agents: all come from a node address.
  if (source.kind === 'node') return 'host-network calls';
  return null;
}

/** One comment line naming infrastructure traffic and how the object keeps it working. */
export function infraNote(source: GraphNode, calls: EdgeCall[], how: string): string | null {
  const p = infraPurpose(source, calls);
  if (p === null) return null;
  const ports = [...new Set(calls.map((c) => c.port))].sort((a, b) => a - b).join(', ');
  const n = calls.reduce((k, c) => k + c.count, 0);
  const what = p === 'host-network calls' ? 'host-network calls (the API server calling a webhook, node agents)' : p;
  return `infrastructure: ${what} from ${source.id} on port ${ports} (${n} call${n === 1 ? '' : 's'}): ${how}`;
}

/**
 * At method or path granularity, calls whose method and path were not visible (inside TLS or
 * mTLS, raw TCP) can only be allowed on their port: a comment says so, so nobody reads the rule
 * as wider than intended.
 */
export function opaqueNote(source: GraphNode, calls: EdgeCall[], g: Granularity): string | null {
  if (g !== 'method' && g !== 'path') return null;
  const opaque = calls.filter((c) => c.method === null && c.protocol !== 'dns');
  if (opaque.length === 0) return null;
  const ports = [...new Set(opaque.map((c) => c.port))].sort((a, b) => a - b).join(', ');
  const n = opaque.reduce((k, c) => k + c.count, 0);
  return `${source.id}: ${n} call${n === 1 ? '' : 's'} on port ${ports} showed no method or path (TLS, mTLS or raw TCP): allowed on the port`;
}

/** Why a caller that is not a meshed workload cannot be allowed by identity, in one sentence. */
export function identityBlockerReason(source: GraphNode, calls: EdgeCall[]): string {
  const ports = [...new Set(calls.map((c) => c.port))].sort((a, b) => a - b).join(', ');
  const purpose = infraPurpose(source, calls);
  switch (source.kind) {
    case 'node':
      return purpose === 'kubelet probes'
        ? `kubelet probes from node ${source.name} (port ${ports}) carry no mesh identity; Istio rewrites HTTP probes through the sidecar agent (port 15020), check that rewriting is on`
        : `calls from node ${source.name} (host network: the API server calling a webhook, or a node agent; port ${ports}) carry no mesh identity; exclude the port from the sidecar or keep it PERMISSIVE`;
    case 'external':
      return `calls from outside the cluster (${source.name}, port ${ports}) carry no mesh identity; allow them at the gateway or by address (--allow-by-address)`;
    case 'unattributed':
      return `calls from an address not in the inventory (${source.name}, port ${ports}): load a fresher inventory`;
    default:
      return purpose === 'metrics scrapes'
        ? `metrics scrapes from ${source.id} (port ${ports}) are plaintext from an unmeshed workload; mesh the scraper or exclude the port from the sidecar`
        : `${source.id} is not meshed (no mTLS seen, no injection label): it cannot present a principal on port ${ports}`;
  }
}

// ---- L3 peers (NetworkPolicy, Cilium) ----------------------------------------------------------------

export type L3Peer =
  | { kind: 'pod'; namespace: string; labels: Readonly<Record<string, string>> }
  | { kind: 'cidr'; cidrs: readonly string[]; isNode: boolean };

type L3PeerOrBlocked = L3Peer | { kind: 'blocked'; reason: string };

/** How an L3/L4 policy names the other end of an edge, or why it cannot. */
export function l3Peer(n: GraphNode): Readonly<L3PeerOrBlocked> {
  return derived(l3PeerOf, n, peerOf);
}

const l3PeerOf = new WeakMap<GraphNode, Readonly<L3PeerOrBlocked>>();

function peerOf(n: GraphNode): Readonly<L3PeerOrBlocked> {
  return Object.freeze(describePeer(n));
}

function describePeer(n: GraphNode): L3PeerOrBlocked {
  if (n.kind === 'workload') {
    const labels = selectorLabels(n);
    if (labels === null || n.namespace === null || !isNamespaceName(n.namespace)) {
      return { kind: 'blocked', reason: `${n.id} has no valid pod labels to select it by` };
    }
    return { kind: 'pod', namespace: n.namespace, labels };
  }
  if (n.kind === 'node' || n.kind === 'external') {
    const cidrs = nodeCidrs(n);
    if (cidrs.length === 0) return { kind: 'blocked', reason: `${n.id} has no address to allow` };
    return { kind: 'cidr', cidrs, isNode: n.kind === 'node' };
  }
  return { kind: 'blocked', reason: `${n.id} is an address not in the inventory (${n.reason ?? 'unknown'}); pod addresses change, so it is not allowed by address: load a fresher inventory` };
}

/** A peer as one comparable string; kept for the peers l3Peer keeps (every edge of every format asks). */
export const l3PeerKey = (p: L3Peer): string => derived(peerKeyOf, p, keyOfPeer);

const peerKeyOf = new WeakMap<L3Peer, string>();

const keyOfPeer = (p: L3Peer): string => (p.kind === 'pod' ? `pod:${p.namespace}:${labelKey(p.labels)}` : `cidr:${p.cidrs.join(',')}`);

/** Whether a workload view's node is one of the DNS servers. */
export function isDnsTarget(n: GraphNode, dns: DnsTarget[]): boolean {
  const labels = selectorLabels(n);
  return labels !== null && dns.some((d) => d.namespace === n.namespace && Object.entries(d.labels).every(([k, v]) => n.labels[k] === v));
}

/** A call to one of the DNS servers on a port DNS is served on. */
export function isDnsCall(c: EdgeCall, target: GraphNode, dns: DnsTarget[]): boolean {
  return dns.some((d) => d.namespace === target.namespace && d.ports.includes(c.port) && Object.entries(d.labels).every(([k, v]) => target.labels[k] === v));
}

/** L4 ops of an edge: the ports at any granularity but `workload` (NetworkPolicy has no L7). */
export function l4Granularity(g: Granularity): Granularity {
  return g === 'workload' ? 'workload' : 'port';
}

// ---- regex paths (Cilium, Linkerd) -------------------------------------------------------------------

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A path template as an anchored RE2 regex (Cilium hands it to Envoy as a full match):
 * literal segments escaped, `{id}` → one segment `[^/]+`, a folded final `*` → any rest.
 */
export function pathRegex(path: string): string {
  const segs = path.split('/');
  const last = segs.length - 1;
  return `^${segs.map((s, i) => (s === '{id}' ? '[^/]+' : i === last && s === '*' && i > 0 ? '.*' : escapeRegex(s))).join('/')}$`;
}


/**
 * DNS servers answer every pod that has DNS egress (all workloads policies are written for):
 * their ingress allows each of them on the DNS ports, observed in the window or not.
 */
export function dnsClientEntries(self: WorkloadView, views: readonly WorkloadView[], dns: DnsTarget[]): Array<PeerEntry<L3Peer>> {
  if (!isDnsTarget(self.node, dns)) return [];
  const ports = [...new Set(dns.filter((d) => d.namespace === self.node.namespace).flatMap((d) => d.ports))];
  const ops: Op[] = ports.flatMap((port) => [{ port, transport: 'udp' as const, method: null, path: null }, { port, transport: 'tcp' as const, method: null, path: null }]);
  const out: Array<PeerEntry<L3Peer>> = [];
  for (const w of views) {
    if (w.node.id === self.node.id) continue;
    const p = l3Peer(w.node);
    if (p.kind === 'pod') out.push({ key: l3PeerKey(p), peer: p, ops, evidence: { callers: [w.node.id], count: 0, lastSeen: '' } });
  }
  return out;
}

export interface L3Entries {
  inEntries: Array<PeerEntry<L3Peer>>;
  outEntries: Array<PeerEntry<L3Peer>>;
  /** What the comments should say about allowed callers, in caller order. */
  notes: string[];
}

/**
 * One workload's peers for the L3/L4 formats (NetworkPolicy, Cilium): its observed callers, the
 * DNS clients when it is a DNS server, and its observed callees except DNS to the DNS pods (which
 * gets a rule of its own, observed or not; their other ports, such as metrics and probes, still
 * count). Peers that cannot be named, and operations that cannot be said, become blockers in
 * `blockers`. `note` gives a comment about an allowed caller, or null.
 */
export function l3Entries(
  v: WorkloadView, clients: readonly WorkloadView[], dns: DnsTarget[], g: Granularity, blockers: PolicyBlocker[],
  note: (source: GraphNode, calls: EdgeCall[]) => string | null,
): L3Entries {
  const id = v.node.id;
  const hasDns = dns.length > 0;
  const inEntries: Array<PeerEntry<L3Peer>> = [];
  const notes: string[] = [];
  for (const { edge, source } of v.inbound) {
    const { ops, skips, evidence } = edgeOps(edge, g);
    blockers.push(...skipBlockers(id, source.id, skips));
    const p = l3Peer(source);
    if (p.kind === 'blocked') blockers.push({ workload: id, callers: [source.id], reason: p.reason });
    else {
      inEntries.push({ key: l3PeerKey(p), peer: p, ops, evidence });
      const n = note(source, edge.calls);
      if (n !== null) notes.push(n);
    }
  }
  if (hasDns) inEntries.push(...dnsClientEntries(v, clients, dns));
  const outEntries: Array<PeerEntry<L3Peer>> = [];
  for (const { edge, target } of v.outbound) {
    const calls = hasDns && isDnsTarget(target, dns) ? edge.calls.filter((c) => !isDnsCall(c, target, dns)) : edge.calls;
    if (calls.length === 0) continue;
    const { ops, skips, evidence } = edgeOps(edge, g, calls);
    blockers.push(...skipBlockers(id, target.id, skips.map((s) => ({ ...s, reason: `egress: ${s.reason}` }))));
    const p = l3Peer(target);
    if (p.kind === 'blocked') blockers.push({ workload: id, callers: [target.id], reason: `egress blocked: ${p.reason}` });
    else outEntries.push({ key: l3PeerKey(p), peer: p, ops, evidence: { ...evidence, callers: [target.id] } });
  }
  return { inEntries, outEntries, notes };
}

/** System namespaces get no namespace-wide default deny unless asked for by name. */
export const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease']);
