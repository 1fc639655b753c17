// Strict-mTLS readiness: for every workload (as a server) and namespace asked about, would
// PeerAuthentication STRICT break any call observed in the window? Built on the workload-level
// graph; every blocker is named, counted, with its callers and last sighting. docs/readiness.md
// gives the rules and why probes and scrapes on Istio's agent ports only warn.
import { z } from 'zod';
import type { CallSource } from '../collector/model.js';
import { listTopControllers } from '../collector/store/analysis.js';
import type { Db } from '../collector/store/db.js';
import { attributionIndex, buildGraph, deepFreeze } from './graph.js';
import type {
  Blocker, BlockerKind, EdgeCall, Graph, GraphEdge, GraphNode, NamespaceReadiness, ReadinessReport, Verdict, WorkloadReadiness,
} from './model.js';

export interface ReadinessOptions {
  namespaces?: string[];
  minWindowMs: number;
  sinceMs?: number;
  untilMs?: number;
  nowMs?: number;
  trustDomain?: string;
}

const optionsSchema = z.object({
  namespaces: z.array(z.string().min(1)).optional(),
  minWindowMs: z.number().finite().min(0),
  sinceMs: z.number().finite().optional(),
  untilMs: z.number().finite().optional(),
  nowMs: z.number().finite().optional(),
  trustDomain: z.string().min(1).optional(),
});

/**
 * Istio's own ports, outside mutual TLS whatever PeerAuthentication says: 15020 (pilot-agent:
 * merged Prometheus metrics and the rewritten application probes), 15021 (health), 15090 (Envoy
 * metrics). Istio docs: "Health Checking of Istio Services" and "Securing Prometheus Scraping"
 * (the telemetry ports "are not protected by mutual TLS").
 */
export const ISTIO_AGENT_PORTS: ReadonlySet<number> = new Set([15020, 15021, 15090]);

const HEALTH_PATH = /^\/(healthz?|livez?|readyz?|ready|live|ping|status|health\/[\w/-]*|app-health\/[\w/.-]*)$/i;
const METRICS_PATH = /^\/(metrics|stats\/prometheus|actuator\/prometheus)$/;

/** The pod label Istio's injector sets on every pod with a sidecar. */
const SIDECAR_LABEL = 'security.istio.io/tlsMode';

const isPrometheus = (n: GraphNode): boolean =>
  n.labels.app === 'prometheus' || n.labels['app.kubernetes.io/name'] === 'prometheus';

/** Gateways face clients outside the mesh on purpose: Gateway resources, not PeerAuthentication, govern those ports. */
const isGateway = (n: GraphNode | undefined): boolean =>
  n !== undefined && (n.labels.istio === 'ingressgateway' || n.labels.istio === 'egressgateway'
    || n.labels['gateway.networking.k8s.io/gateway-name'] !== undefined);

interface Tally {
  sources: Set<string>;
  count: number;
  lastSeen: string | null;
  ports: Set<number>;
}

class Findings {
  readonly blockers = new Map<BlockerKind, Tally>();
  readonly warnings = new Map<BlockerKind, Tally>();

  add(to: 'blockers' | 'warnings', kind: BlockerKind, caller: string, c: EdgeCall): void {
    const m = this[to];
    let t = m.get(kind);
    if (t === undefined) m.set(kind, (t = { sources: new Set(), count: 0, lastSeen: null, ports: new Set() }));
    t.sources.add(caller);
    t.count += c.count;
    t.ports.add(c.port);
    if (t.lastSeen === null || c.last_seen > t.lastSeen) t.lastSeen = c.last_seen;
  }
}

const list = (xs: Iterable<string | number>): string => [...xs].join(', ');

/** "1 call", "2 calls": a count with its noun, as the blocker's reader says it. */
const counted = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function detail(kind: BlockerKind, t: Tally, isWarning: boolean): string {
  const who = list(t.sources);
  const port = `${t.ports.size === 1 ? 'port' : 'ports'} ${list(t.ports)}`;
  switch (kind) {
    case 'plaintext':
      return isWarning
        ? `${counted(t.count, 'UDP call')} in plaintext from ${who} on ${port}: Istio does not proxy UDP, so STRICT neither secures nor blocks them.`
        : `${counted(t.count, 'plaintext call')} from ${who} on ${port} would be refused under STRICT: the callers must send mTLS (a sidecar, or auto mTLS to this workload once it has one).`;
    case 'unmeshed-caller':
      return `${counted(t.count, 'call')} from callers without a mesh identity (${who}) on ${port}: give them a sidecar, or keep this port PERMISSIVE for them.`;
    case 'probe':
      return isWarning
        ? `${counted(t.count, 'kubelet probe')} on Istio's agent ${port}: outside mTLS, unaffected by STRICT.`
        : `${counted(t.count, 'kubelet probe')} in plaintext on application ${port}: they fail under STRICT; enable Istio's probe rewrite (on by default) or use exec probes.`;
    case 'metrics-scrape':
      return isWarning
        ? `${counted(t.count, 'metrics scrape')} from ${who} on Istio's agent ${port}: outside mTLS, unaffected by STRICT.`
        : `${counted(t.count, 'metrics scrape')} in plaintext from ${who} on application ${port}: they fail under STRICT; scrape Istio's merged metrics port 15020 or give the scraper an Istio certificate.`;
    case 'pod-ip':
      return `${counted(t.count, 'call')} from ${who} dialled the pod address on ${port} instead of the Service: the client proxy does not originate mTLS for them; call the Service name.`;
    case 'unknown-security':
      return `${counted(t.count, 'call')} from ${who} on ${port} whose security could not be observed: capture their handshakes (or Envoy logs) before enforcing.`;
    case 'credentials-in-plaintext':
      return `Credentials travelled in plaintext from ${who} on ${port}: treat them as exposed and rotate them.`;
    default:
      return '';
  }
}

function toBlockers(m: Map<BlockerKind, Tally>, isWarning: boolean): Blocker[] {
  return [...m].map(([kind, t]) => ({ kind, sources: [...t.sources].sort(), count: t.count, last_seen: t.lastSeen, detail: detail(kind, t, isWarning) }))
    .sort((a, b) => a.kind.localeCompare(b.kind));
}

/** A duration for people: `9.6 s`, `30 min`, `7 d`. */
export const fmtDuration = (ms: number): string =>
  ms >= 864e5 ? `${+(ms / 864e5).toFixed(1)} d` : ms >= 36e5 ? `${+(ms / 36e5).toFixed(1)} h` : ms >= 6e4 ? `${+(ms / 6e4).toFixed(1)} min` : `${+(ms / 1e3).toFixed(1)} s`;

/**
 * The last report per graph: the readiness check and Istio's proposal ask for the same one, and
 * on the benchmark store each check is about 0.45 s of CPU (docs/benchmarks.md, "The analyzer
 * suite"). The graph stands for the store's content, the window and the trust domain
 * (buildGraph's reuse, docs/decisions/003); the key holds the rest of the options. Frozen like
 * the graph, since every caller gets the same object.
 */
const reports = new WeakMap<Graph, { key: string; report: ReadinessReport }>();

export function checkReadiness(db: Db, options: ReadinessOptions): ReadinessReport {
  const opts = optionsSchema.parse(options);
  // The whole graph, not only the namespaces asked about: callers elsewhere decide readiness.
  const g = buildGraph(db, { level: 'workload', sinceMs: opts.sinceMs, untilMs: opts.untilMs, trustDomain: opts.trustDomain });
  const key = JSON.stringify([opts.namespaces ?? null, opts.minWindowMs]);
  const had = reports.get(g);
  if (had !== undefined && had.key === key) return had.report;
  const report = deepFreeze(readinessOf(db, g, opts));
  reports.set(g, { key, report });
  return report;
}

function readinessOf(db: Db, g: Graph, opts: z.infer<typeof optionsSchema>): ReadinessReport {
  const index = attributionIndex(db, opts.trustDomain);
  const nodes = new Map(g.nodes.map((n) => [n.id, n]));
  const inbound = new Map<string, GraphEdge[]>(), outbound = new Map<string, GraphEdge[]>();
  const push = (m: Map<string, GraphEdge[]>, k: string, e: GraphEdge) => { const l = m.get(k); if (l) l.push(e); else m.set(k, [e]); };
  for (const e of g.edges) { push(inbound, e.target, e); push(outbound, e.source, e); }

  // A caller has a mesh identity when it was seen sending mTLS, or carries Istio's sidecar label.
  const mtlsClients = new Set(g.edges.filter((e) => e.security_counts.mtls > 0).map((e) => e.source));
  const isMeshed = (n: GraphNode): boolean => n.kind === 'workload' && (mtlsClients.has(n.id) || n.labels[SIDECAR_LABEL] === 'istio');
  const withService = new Set(index.services().flatMap((s) => s.backends.map((b) => `${b.namespace}/${b.name}`)));

  // Everything the inventory knows, plus whatever traffic showed (attributed workloads only).
  const universe = new Map<string, { namespace: string; name: string }>();
  for (const w of index.workloads()) universe.set(`${w.namespace}/${w.name}`, w);
  for (const c of listTopControllers(db)) universe.set(`${c.namespace}/${c.name}`, c);
  for (const n of g.nodes) if (n.kind === 'workload' && n.namespace !== null) universe.set(n.id, { namespace: n.namespace, name: n.name });
  const asked = opts.namespaces !== undefined && opts.namespaces.length > 0 ? new Set(opts.namespaces) : null;

  const firstMs = g.window.first_seen !== null ? Date.parse(g.window.first_seen) : null;
  const lastMs = g.window.last_seen !== null ? Date.parse(g.window.last_seen) : null;
  const observedMs = firstMs !== null && lastMs !== null ? lastMs - firstMs : 0;
  const isShort = observedMs < opts.minWindowMs;

  const byNs = new Map<string, WorkloadReadiness[]>();
  for (const ns of asked ?? []) byNs.set(ns, []);
  for (const [id, w] of [...universe].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (asked !== null && !asked.has(w.namespace)) continue;
    const r = workloadReadiness(id, w.name, nodes.get(id), inbound.get(id) ?? [], outbound.get(id) ?? [], {
      nodes, isMeshed, hasService: withService.has(id), isShort, observedMs, minWindowMs: opts.minWindowMs, lastSeen: g.window.last_seen,
    });
    let l = byNs.get(w.namespace);
    if (l === undefined) byNs.set(w.namespace, (l = []));
    l.push(r);
  }
  const namespaces: NamespaceReadiness[] = [...byNs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([namespace, workloads]) => ({ namespace, verdict: worst(workloads.map((w) => w.verdict)), workloads }));
  return {
    verdict: worst(namespaces.map((n) => n.verdict)),
    namespaces,
    window: {
      since: opts.sinceMs !== undefined ? new Date(opts.sinceMs).toISOString() : null,
      until: opts.untilMs !== undefined ? new Date(opts.untilMs).toISOString() : null,
      first_seen: g.window.first_seen, last_seen: g.window.last_seen, min_window_ms: opts.minWindowMs,
    },
  };
}

/** blocked beats insufficient-data beats ready; nothing at all is insufficient data. */
function worst(vs: Verdict[]): Verdict {
  if (vs.length === 0) return 'insufficient-data';
  if (vs.includes('blocked')) return 'blocked';
  return vs.includes('insufficient-data') ? 'insufficient-data' : 'ready';
}

interface Context {
  nodes: Map<string, GraphNode>;
  isMeshed: (n: GraphNode) => boolean;
  hasService: boolean;
  isShort: boolean;
  observedMs: number;
  minWindowMs: number;
  lastSeen: string | null;
}

function workloadReadiness(id: string, name: string, self: GraphNode | undefined, inbound: GraphEdge[], outbound: GraphEdge[], ctx: Context): WorkloadReadiness {
  const f = new Findings();
  for (const e of inbound) {
    const caller = ctx.nodes.get(e.source)!;
    for (const c of e.calls) classify(f, caller, self, c, ctx);
  }
  const blockers = toBlockers(f.blockers, false);
  const warnings = toBlockers(f.warnings, true);
  const all = [...inbound, ...outbound];
  const calls = all.reduce((n, e) => n + e.count, 0);
  if (calls === 0) {
    blockers.push({ kind: 'not-observed', sources: [id], count: 0, last_seen: null,
      detail: `${id} is in the inventory but made or received no call in the window: nothing shows what STRICT would break (a CronJob may simply not have run).` });
  }
  if (ctx.isShort) {
    blockers.push({ kind: 'short-window', sources: [id], count: calls, last_seen: ctx.lastSeen,
      detail: `${fmtDuration(ctx.observedMs)} of traffic observed; at least ${fmtDuration(ctx.minWindowMs)} is needed to catch daily and weekly jobs.` });
  }
  const isBlocked = blockers.some((b) => b.kind !== 'short-window' && b.kind !== 'not-observed');
  const sources = new Set<CallSource>();
  for (const e of all) for (const c of e.calls) for (const s of c.sources) sources.add(s);
  const first = all.length > 0 ? all.reduce((m, e) => (e.first_seen < m ? e.first_seen : m), all[0].first_seen) : null;
  const last = all.length > 0 ? all.reduce((m, e) => (e.last_seen > m ? e.last_seen : m), all[0].last_seen) : null;
  return {
    name,
    verdict: isBlocked ? 'blocked' : blockers.length > 0 ? 'insufficient-data' : 'ready',
    coverage: { observed_from: first, observed_to: last, calls, sources: [...sources].sort() },
    blockers,
    warnings,
  };
}

function classify(f: Findings, caller: GraphNode, server: GraphNode | undefined, c: EdgeCall, ctx: Context): void {
  // An mTLS call already presents a mesh identity: STRICT changes nothing for it.
  if (c.security === 'mtls') return;
  const path = c.path ?? '';
  const isProbe = caller.kind === 'node' && (HEALTH_PATH.test(path) || c.security === 'plaintext');
  const isScrape = !isProbe && ((METRICS_PATH.test(path) && (c.method === null || c.method === 'GET')) || isPrometheus(caller));
  if (isProbe || isScrape) {
    f.add(ISTIO_AGENT_PORTS.has(c.port) ? 'warnings' : 'blockers', isProbe ? 'probe' : 'metrics-scrape', caller.id, c);
    return;
  }
  if (c.transport === 'udp') {
    f.add('warnings', 'plaintext', caller.id, c);
    return;
  }
  if (isGateway(server) && caller.kind !== 'workload') return;
  if (c.security === 'plaintext') f.add('blockers', 'plaintext', caller.id, c);
  if (c.security === 'unknown') f.add('blockers', 'unknown-security', caller.id, c);
  if (c.credentials_in_plaintext) f.add('blockers', 'credentials-in-plaintext', caller.id, c);
  if (!c.via_service && ctx.hasService && caller.kind === 'workload') f.add('blockers', 'pod-ip', caller.id, c);
  // Plain TLS carries no client certificate: whoever sent it has no mesh identity on this call.
  if (!ctx.isMeshed(caller) || c.security === 'tls') f.add('blockers', 'unmeshed-caller', caller.id, c);
}
