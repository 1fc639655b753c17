// proposePolicies(db, opts): what the CLI and the UI call. Reads the graph at workload level, the
// cluster's DNS servers from the inventory and (for Istio's PeerAuthentication) the readiness
// check's verdicts, then hands them to the format's generator.
import { z } from 'zod';
import { DEFAULT_TRUST_DOMAIN, type AttributionIndex } from '../../collector/identity/attribute.js';
import type { Db } from '../../collector/store/db.js';
import { edgeWithCalls } from '../edge-calls.js';
import { attributionIndex, buildGraph, deepFreeze } from '../graph.js';
import type { Graph, ReadinessReport, Verdict } from '../model.js';
import { checkReadiness } from '../readiness.js';
import { generatePolicies } from './generate.js';
import { ISTIO_ROOT_NAMESPACE } from './istio.js';
import { GRANULARITIES, POLICY_FORMATS, type DnsTarget, type GeneratorContext, type PolicyOptions, type PolicySet, type StrictVerdict } from './model.js';
import { nodesById, selectorLabels } from './shared.js';

/** The Istio version assumed unless told: a current release, with v1 APIs and path templates. */
export const DEFAULT_ISTIO_VERSION = '1.26';

/** What `trustmap readiness` asks for by default before it calls a workload ready: a week. */
export const DEFAULT_MIN_WINDOW_MS = 7 * 864e5;

export const policyOptionsSchema = z.object({
  format: z.enum(POLICY_FORMATS),
  granularity: z.enum(GRANULARITIES).default('path'),
  trustDomain: z.string().min(1).max(253).regex(/^[a-z0-9.-]+$/).default(DEFAULT_TRUST_DOMAIN),
  istioVersion: z.string().regex(/^\d{1,3}\.\d{1,3}(\.\d{1,3})?$/, 'an Istio version is X.Y').default(DEFAULT_ISTIO_VERSION),
  istioRootNamespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'not a namespace name').default(ISTIO_ROOT_NAMESPACE),
  dryRun: z.boolean().default(false),
  namespaces: z.array(z.string().min(1)).optional(),
  sinceMs: z.number().finite().optional(),
  untilMs: z.number().finite().optional(),
  minWindowMs: z.number().finite().min(0).default(DEFAULT_MIN_WINDOW_MS),
  allowByAddress: z.boolean().optional(),
});

/** The DNS servers found for a frozen graph (every format asks), with the index they came from. */
const dnsTargetsOf = new WeakMap<Graph, { index: AttributionIndex; targets: DnsTarget[] }>();

/**
 * The DNS servers: backends of every Service that serves port 53, with their labels as the
 * inventory lists them (kube-dns is a convention, not a rule: the labels are read, not assumed),
 * and the pod ports DNS is served on (numeric target ports, else 53).
 */
export function dnsTargets(index: AttributionIndex, graph: Graph): DnsTarget[] {
  const kept = dnsTargetsOf.get(graph);
  if (kept !== undefined && kept.index === index) return kept.targets;
  const targets = findDnsTargets(index, graph);
  if (Object.isFrozen(graph)) dnsTargetsOf.set(graph, { index, targets });
  return targets;
}

function findDnsTargets(index: AttributionIndex, graph: Graph): DnsTarget[] {
  const workloads = new Map(index.workloads().map((w) => [`${w.namespace}/${w.name}`, w]));
  const out = new Map<string, DnsTarget>();
  for (const s of index.services()) {
    const dnsPorts = s.ports.filter((p) => p.port === 53);
    if (dnsPorts.length === 0) continue;
    const ports = [...new Set(dnsPorts.map((p) => (typeof p.targetPort === 'number' ? p.targetPort : 53)))].sort((a, b) => a - b);
    for (const b of s.backends) {
      const w = workloads.get(`${b.namespace}/${b.name}`);
      if (!w) continue;
      out.set(`${b.namespace}/${b.name}`, { namespace: b.namespace, labels: w.labels, ports });
    }
  }
  // Workloads that answered DNS in the window but sit behind no Service listed in the inventory.
  const byId = nodesById(graph);
  for (const e of graph.edges) {
    const t = byId.get(e.target);
    if (!t || t.kind !== 'workload' || t.namespace === null || out.has(t.id)) continue;
    const ports = [...new Set(e.calls.filter((c) => c.protocol === 'dns').map((c) => c.port))].sort((a, b) => a - b);
    if (ports.length > 0) out.set(t.id, { namespace: t.namespace, labels: t.labels, ports });
  }
  return [...out.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, d]) => d)
    .filter((d) => selectorLabels({ id: '', kind: 'workload', namespace: d.namespace, name: '', workload_kind: null, service_account: null, spiffe: null, labels: d.labels, addresses: [], reason: null }) !== null);
}

const withoutRefusedOf = new WeakMap<Graph, Graph>();

/**
 * The graph without the calls Hubble saw DROPPED every time: the cluster's current policy refuses
 * them, so they never worked, and a least-privilege proposal must not start allowing them. An
 * edge left without calls goes too. Calls that got through at least once stay. The same graph when
 * nothing was dropped (pcap and Envoy rows carry no verdicts), so the derived views stay shared.
 */
export function withoutRefusedCalls(graph: Graph): Graph {
  if (!graph.edges.some((e) => e.calls.some((c) => (c.dropped ?? 0) > 0))) return graph;
  const kept = withoutRefusedOf.get(graph);
  if (kept !== undefined) return kept;
  const edges = graph.edges.flatMap((e) => {
    const calls = e.calls.filter((c) => (c.dropped ?? 0) < c.count);
    if (calls.length === e.calls.length) return [e];
    // What the edge lists is what its kept calls have: a port only refused calls used is not allowed.
    return calls.length === 0 ? [] : [edgeWithCalls(e, calls)];
  });
  const out = deepFreeze({ ...graph, edges });
  if (Object.isFrozen(graph)) withoutRefusedOf.set(graph, out);
  return out;
}

/** The readiness report as verdicts per workload id and per namespace. */
export function strictVerdicts(report: ReadinessReport): Map<string, StrictVerdict> {
  const out = new Map<string, StrictVerdict>();
  const says = (v: Verdict, what: string[]): string => (v === 'ready'
    ? 'the readiness check passes'
    : `the readiness check says ${v} (${what.join(', ')}; see trustmap readiness)`);
  for (const ns of report.namespaces) {
    const notReady = ns.workloads.filter((w) => w.verdict !== 'ready').map((w) => `${ns.namespace}/${w.name}`);
    out.set(ns.namespace, { isReady: ns.verdict === 'ready', reason: says(ns.verdict, notReady.length > 0 ? notReady : ['no workloads known']) });
    for (const w of ns.workloads) {
      out.set(`${ns.namespace}/${w.name}`, { isReady: w.verdict === 'ready', reason: says(w.verdict, [...new Set(w.blockers.map((b) => b.kind))]) });
    }
  }
  return out;
}

export function proposePolicies(db: Db, options: PolicyOptions): PolicySet {
  const opts = policyOptionsSchema.parse(options) as PolicyOptions;
  const index = attributionIndex(db, opts.trustDomain);
  // The namespace filter is applied by the generators (to the protected workload), not the graph:
  // a workload's egress rules need its callees in other namespaces too.
  const graph = buildGraph(db, { level: 'workload', sinceMs: opts.sinceMs, untilMs: opts.untilMs, trustDomain: opts.trustDomain });
  // Only Istio's PeerAuthentication uses the verdicts; the other formats skip the second pass.
  const verdicts = opts.format === 'istio'
    ? strictVerdicts(checkReadiness(db, { namespaces: opts.namespaces, minWindowMs: opts.minWindowMs ?? DEFAULT_MIN_WINDOW_MS, sinceMs: opts.sinceMs, untilMs: opts.untilMs, trustDomain: opts.trustDomain }))
    : new Map<string, StrictVerdict>();
  const allowed = withoutRefusedCalls(graph);
  const ctx: GeneratorContext = { dns: dnsTargets(index, allowed), strictReadiness: (id) => verdicts.get(id) ?? null };
  return generatePolicies(allowed, ctx, opts);
}
