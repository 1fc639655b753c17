// CiliumNetworkPolicy (cilium.io/v2): per workload one policy with L3/L4 rules (fromEndpoints
// with the caller's labels and `k8s:io.kubernetes.pod.namespace`, entities for node peers, /32
// CIDRs for external ones) and L7 HTTP rules (method, anchored path regex). DNS egress to the
// DNS pods. Semantics and sources: docs/policies.md#cilium.
import type { GeneratorOutput, PolicyBlocker, PolicyGenerator, PolicyOptions, ProposedObject } from './model.js';
import {
  blockerComment, describeEvidence, infraNote, opaqueNote, pathRegex, groupPeers, isDnsTarget, k8sName, l3Entries, l3Peer, mergeBlockers, selectorLabels, unresolvedServiceBlockers,
  workloadViews, type L3Peer, type Op, type RuleGroup,
} from './shared.js';

const API = 'cilium.io/v2';
const NS_KEY = 'k8s:io.kubernetes.pod.namespace';
/** Kubelet probes come from the pod's own node (`host`); other host-network peers from `remote-node`. */
const NODE_ENTITIES = ['host', 'remote-node'];

function endpointSelector(p: Extract<L3Peer, { kind: 'pod' }>): object {
  return { matchLabels: { ...p.labels, [NS_KEY]: p.namespace } };
}

function toPorts(ops: readonly Op[]): object[] | null {
  const byPort = new Map<string, Op[]>();
  for (const o of ops) {
    if (o.port === null) continue;
    const k = `${o.port}/${o.transport}`;
    byPort.set(k, [...(byPort.get(k) ?? []), o]);
  }
  const out: object[] = [];
  for (const list of byPort.values()) {
    const port = { port: String(list[0].port), protocol: list[0].transport === 'udp' ? 'UDP' : 'TCP' };
    const http = list.some((o) => o.method === null) || list[0].transport === 'udp'
      ? []
      : list.map((o) => (o.path === null ? { method: o.method! } : { method: o.method!, path: pathRegex(o.path) }));
    out.push(http.length > 0 ? { ports: [port], rules: { http } } : { ports: [port] });
  }
  return out.length > 0 ? out : null;
}

function rules(groups: Array<RuleGroup<L3Peer>>, dir: 'from' | 'to', comments: string[], label: string): object[] {
  const out: object[] = [];
  for (const g of groups) {
    const tp = toPorts(g.ops);
    const pods = g.peers.filter((p): p is Extract<L3Peer, { kind: 'pod' }> => p.kind === 'pod');
    const cidrs = g.peers.filter((p): p is Extract<L3Peer, { kind: 'cidr' }> => p.kind === 'cidr');
    const nodes = cidrs.filter((c) => c.isNode);
    const external = cidrs.filter((c) => !c.isNode).flatMap((c) => c.cidrs);
    // One rule per peer kind: Cilium ANDs nothing across from* fields of one rule, but keeping
    // them apart keeps each rule readable on its own.
    const add = (peer: object, note: string) => {
      out.push(tp === null ? peer : { ...peer, toPorts: tp });
      comments.push(`${label} ${out.length}: ${note}${describeEvidence(g.evidence)}`);
    };
    if (pods.length > 0) add({ [`${dir}Endpoints`]: pods.map(endpointSelector) }, '');
    if (nodes.length > 0) {
      add({ [`${dir}Entities`]: NODE_ENTITIES }, `node peers ${nodes.flatMap((n) => n.cidrs).join(', ')} as entities (Cilium does not apply CIDR rules to node addresses; kubelet probes come from host); `);
    }
    if (external.length > 0) add({ [`${dir}CIDR`]: [...new Set(external)].sort() }, '');
  }
  return out;
}

export const cilium: PolicyGenerator = {
  name: 'cilium',
  generate(graph, ctx, opts: PolicyOptions): GeneratorOutput {
    const objects: ProposedObject[] = [];
    const blockers: PolicyBlocker[] = [];
    const hasDns = ctx.dns.length > 0;
    const views = workloadViews(graph, opts.namespaces);
    // The DNS servers answer every workload that gets a policy, whichever namespaces were asked for.
    const clients = opts.namespaces !== undefined && opts.namespaces.length > 0 ? workloadViews(graph) : views;
    for (const v of views) {
      // This workload's blockers are the ones pushed from here on (no scan of all of them per workload).
      const firstBlocker = blockers.length;
      const id = v.node.id;
      const labels = selectorLabels(v.node);
      const self = l3Peer(v.node);
      if (labels === null || self.kind !== 'pod') {
        blockers.push({ workload: id, callers: v.inbound.map((i) => i.source.id), reason: 'no valid pod labels to select this workload by (an empty endpointSelector would select every endpoint)' });
        continue;
      }
      const ns = self.namespace;
      const comments = [`trustmap: network access of ${id} (CiliumNetworkPolicy, L3/L4 and L7 HTTP, granularity ${opts.granularity})`];
      const { inEntries, outEntries, notes } = l3Entries(v, clients, ctx.dns, opts.granularity, blockers,
        (source, calls) => infraNote(source, calls, 'allowed explicitly by the ingress rule for this caller') ?? opaqueNote(source, calls, opts.granularity));
      const ingress = rules(groupPeers(inEntries), 'from', comments, 'ingress rule');
      const egress = rules(groupPeers(outEntries), 'to', comments, 'egress rule');
      for (const d of ctx.dns) {
        egress.push({
          toEndpoints: [{ matchLabels: { ...d.labels, [NS_KEY]: d.namespace } }],
          toPorts: [{ ports: d.ports.flatMap((p) => [{ port: String(p), protocol: 'UDP' }, { port: String(p), protocol: 'TCP' }]) }],
        });
        comments.push(`egress rule ${egress.length}: DNS to the cluster's DNS pods in ${d.namespace} (labels from the inventory)`);
      }
      if (!hasDns) blockers.push({ workload: id, callers: [], reason: 'the DNS pods are unknown (no Service on port 53 in the inventory): egress default deny is off; load an inventory' });
      comments.push(...notes);
      for (const b of mergeBlockers(blockers.slice(firstBlocker))) comments.push(blockerComment(b));
      const enforce = !opts.dryRun;
      // As for NetworkPolicy (docs/policies.md#infrastructure-traffic): DNS servers keep open egress.
      const isDnsServer = isDnsTarget(v.node, ctx.dns);
      if (isDnsServer) comments.push('egress default deny off: a DNS server forwards to upstream resolvers and watches the API server over connections a recording rarely sees start');
      if (opts.dryRun) comments.push('--dry-run: enableDefaultDeny is off, so nothing is dropped; run the agent with policy audit mode (Helm policyAuditMode=true) to see what would be');
      const spec: Record<string, unknown> = {
        endpointSelector: { matchLabels: labels },
        // Explicit, so a workload with rules in one direction only is still default-deny in both.
        enableDefaultDeny: { ingress: enforce, egress: enforce && hasDns && !isDnsServer },
      };
      if (ingress.length > 0) spec.ingress = ingress;
      if (egress.length > 0) spec.egress = egress;
      objects.push({ namespace: ns, workload: id, comments, object: { apiVersion: API, kind: 'CiliumNetworkPolicy', metadata: { name: k8sName(v.node.name), namespace: ns }, spec } });
    }
    blockers.push(...unresolvedServiceBlockers(graph, opts.namespaces, true));
    return { objects, blockers: mergeBlockers(blockers) };
  },
};
