// Kubernetes NetworkPolicy (networking.k8s.io/v1): per workload one policy selecting its pods,
// ingress from the observed callers (pod + namespace selector in ONE peer, which ANDs them;
// /32 ipBlocks for nodes and external peers), egress to the observed callees plus DNS to the
// cluster's DNS pods, and a default-deny per namespace. L4 only: methods and paths cannot be said.
import type { GeneratorOutput, PolicyBlocker, PolicyGenerator, PolicyOptions, ProposedObject } from './model.js';
import {
  blockerComment, describeEvidence, infraNote, groupPeers, isDnsTarget, l3Entries, l3Peer, l4Granularity, mergeBlockers, selectorLabels,
  unresolvedServiceBlockers, SYSTEM_NAMESPACES, workloadObjectName, workloadViews, type L3Peer, type Op, type RuleGroup,
} from './shared.js';

const API = 'networking.k8s.io/v1';
const NS_LABEL = 'kubernetes.io/metadata.name';

function peerObjects(p: L3Peer): object[] {
  if (p.kind === 'cidr') return p.cidrs.map((cidr) => ({ ipBlock: { cidr } }));
  // One list item with both selectors: pods with these labels IN that namespace. Two items
  // would mean "these pods OR anything in that namespace".
  return [{ podSelector: { matchLabels: p.labels }, namespaceSelector: { matchLabels: { [NS_LABEL]: p.namespace } } }];
}

function ports(ops: readonly Op[]): object[] | null {
  const list = ops.filter((o) => o.port !== null).map((o) => ({ protocol: o.transport === 'udp' ? 'UDP' : 'TCP', port: o.port! }));
  return list.length > 0 ? list : null;
}

function rules(groups: Array<RuleGroup<L3Peer>>, dir: 'from' | 'to', comments: string[], label: string): object[] {
  const out: object[] = [];
  for (const g of groups) {
    const peers = g.peers.flatMap(peerObjects);
    if (peers.length === 0) continue;
    const p = ports(g.ops);
    out.push(p === null ? { [dir]: peers } : { [dir]: peers, ports: p });
    const nodes = g.peers.some((x) => x.kind === 'cidr' && x.isNode);
    comments.push(`${label} ${out.length}: ${describeEvidence(g.evidence)}${nodes ? ' (node address: NetworkPolicy always lets the pod\'s own node in; the /32 is for host-network peers on that node reaching pods elsewhere)' : ''}`);
  }
  return out;
}

export const netpol: PolicyGenerator = {
  name: 'netpol',
  generate(graph, ctx, opts: PolicyOptions): GeneratorOutput {
    const objects: ProposedObject[] = [];
    const blockers: PolicyBlocker[] = [];
    const g = l4Granularity(opts.granularity);
    const namespaces = new Set<string>();
    const hasDns = ctx.dns.length > 0;
    const types = hasDns ? ['Ingress', 'Egress'] : ['Ingress'];
    /** Namespaces holding DNS servers: their default deny leaves egress alone (see below). */
    const dnsNamespaces = new Set<string>();

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
        blockers.push({ workload: id, callers: v.inbound.map((i) => i.source.id), reason: 'no valid pod labels to select this workload by (an empty podSelector would select every pod of the namespace)' });
        continue;
      }
      const ns = self.namespace;
      namespaces.add(ns);
      const comments = [`trustmap: network access of ${id} (NetworkPolicy, L4: ports only)`];
      const { inEntries, outEntries, notes } = l3Entries(v, clients, ctx.dns, g, blockers,
        (source, calls) => infraNote(source, calls, 'allowed explicitly by the ingress rule for this caller'));
      const ingress = rules(groupPeers(inEntries), 'from', comments, 'ingress rule');
      const egress = rules(groupPeers(outEntries), 'to', comments, 'egress rule');
      if (hasDns) {
        for (const d of ctx.dns) {
          egress.push({
            to: [{ podSelector: { matchLabels: d.labels }, namespaceSelector: { matchLabels: { [NS_LABEL]: d.namespace } } }],
            ports: d.ports.flatMap((port) => [{ protocol: 'UDP', port }, { protocol: 'TCP', port }]),
          });
          comments.push(`egress rule ${egress.length}: DNS to the cluster's DNS pods in ${d.namespace} (labels from the inventory), UDP and TCP (truncated answers retry over TCP)`);
        }
      } else {
        blockers.push({ workload: id, callers: [], reason: 'the DNS pods are unknown (no Service on port 53 in the inventory): egress is left open; load an inventory' });
      }
      comments.push(...notes);
      // DNS servers forward to upstream resolvers and watch the API server over long-lived
      // connections a capture rarely sees start: restricting their egress from a recording would
      // break name resolution for everyone.
      const isDnsServer = isDnsTarget(v.node, ctx.dns);
      if (isDnsServer) {
        dnsNamespaces.add(ns);
        comments.push('egress not restricted: a DNS server forwards to upstream resolvers and watches the API server over connections a recording rarely sees start');
      }
      for (const b of mergeBlockers(blockers.slice(firstBlocker))) comments.push(blockerComment(b));
      const spec: Record<string, unknown> = { podSelector: { matchLabels: labels }, policyTypes: isDnsServer ? ['Ingress'] : types };
      if (ingress.length > 0) spec.ingress = ingress;
      if (hasDns && !isDnsServer && egress.length > 0) spec.egress = egress;
      if (opts.dryRun) comments.push('--dry-run: NetworkPolicy has no audit mode; check with kubectl apply --dry-run=server and your CNI\'s policy logs');
      objects.push({ namespace: ns, workload: id, comments, object: { apiVersion: API, kind: 'NetworkPolicy', metadata: { name: workloadObjectName(v.node.name), namespace: ns }, spec } });
    }
    for (const ns of [...namespaces].sort()) {
      if (SYSTEM_NAMESPACES.has(ns) && !(opts.namespaces ?? []).includes(ns)) continue;
      const nsTypes = dnsNamespaces.has(ns) ? ['Ingress'] : types;
      objects.push({
        namespace: ns, workload: null,
        comments: [
          `trustmap: default deny for namespace ${ns}: selects every pod here and allows nothing;`,
          'only the per-workload policies above let traffic in (and out). Workloads not observed get nothing: apply with care.',
          ...(hasDns ? [] : ['Ingress only: the DNS pods are unknown, so egress is not restricted.']),
          ...(hasDns && dnsNamespaces.has(ns) ? ['Ingress only: the DNS servers run here, and their egress is not restricted.'] : []),
        ],
        object: { apiVersion: API, kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: ns }, spec: { podSelector: {}, policyTypes: nsTypes } },
      });
    }
    blockers.push(...unresolvedServiceBlockers(graph, opts.namespaces, true));
    return { objects, blockers: mergeBlockers(blockers) };
  },
};
