// Linkerd (policy.linkerd.io): per destination workload and port a Server (accessPolicy deny,
// or audit with --dry-run), the callers as MeshTLSAuthentication (mesh identities) or
// NetworkAuthentication (/32 of nodes and external peers that must keep working), HTTPRoutes for
// the observed methods and paths, and AuthorizationPolicies tying them together. An
// AuthorizationPolicy needs ALL its authentications, so mesh and network callers never share one.
// Semantics and sources: docs/policies.md#linkerd.
import type { EdgeCall, GraphNode } from '../model.js';
import type { GeneratorOutput, PolicyBlocker, PolicyGenerator, PolicyOptions, ProposedObject } from './model.js';
import {
  blockerComment, describeEvidence, edgeOps, groupPeers, identityBlockerReason, isNamespaceName, k8sName, meshedWorkloads, mergeBlockers, nodeCidrs,
  pathRegex, selectorLabels, skipBlockers, unresolvedServiceBlockers, workloadViews, type Op, type PeerEntry, type RuleGroup,
} from './shared.js';

const GROUP = 'policy.linkerd.io';
const ROUTE_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

type LinkerdPeer = { identity: string } | { cidr: string };

/** Linkerd's proxy identity for a service account: SA.NS.serviceaccount.identity.linkerd.TRUST_DOMAIN. */
export function linkerdIdentity(n: GraphNode, trustDomain: string): string | null {
  if (n.namespace === null || n.service_account === null || !isNamespaceName(n.namespace)) return null;
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(n.service_account)) return null;
  return `${n.service_account}.${n.namespace}.serviceaccount.identity.linkerd.${trustDomain}`;
}

function proxyProtocol(calls: EdgeCall[]): string {
  const p = new Set(calls.map((c) => c.protocol));
  if (p.size !== 1) return 'unknown';
  const [only] = p;
  return only === 'http' ? 'HTTP/1' : only === 'http2' ? 'HTTP/2' : only === 'grpc' ? 'gRPC' : 'unknown';
}

function pathMatch(path: string): { type: string; value: string } {
  const segs = path.split('/');
  if (segs.includes('{id}')) return { type: 'RegularExpression', value: pathRegex(path) };
  if (segs[segs.length - 1] === '*') return { type: 'PathPrefix', value: segs.slice(0, -1).join('/') || '/' };
  return { type: 'Exact', value: path };
}

/** Limits of an HTTPRoute (policy.linkerd.io/v1beta3, Gateway API's shape): matches per rule, rules per route. */
const ROUTE_MATCHES = 8;
const ROUTE_RULES = 16;

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** HTTPRoute matches for ops on one port; null when the group needs the whole port. */
function matches(ops: readonly Op[]): { list: object[]; dropped: number } | null {
  if (ops.some((o) => o.method === null)) return null;
  let dropped = 0;
  const list: object[] = [];
  for (const o of ops) {
    if (!ROUTE_METHODS.has(o.method!)) { dropped++; continue; }
    list.push(o.path === null ? { method: o.method, path: { type: 'PathPrefix', value: '/' } } : { method: o.method, path: pathMatch(o.path) });
  }
  return { list, dropped };
}

export const linkerd: PolicyGenerator = {
  name: 'linkerd',
  generate(graph, _ctx, opts: PolicyOptions): GeneratorOutput {
    const objects: ProposedObject[] = [];
    const blockers: PolicyBlocker[] = [];
    const meshed = meshedWorkloads(graph);
    for (const v of workloadViews(graph, opts.namespaces)) {
      // This workload's blockers are the ones pushed from here on (no scan of all of them per workload).
      const firstBlocker = blockers.length;
      const firstObject = objects.length;
      const id = v.node.id;
      const ns = v.node.namespace!;
      if (v.inbound.length === 0) continue;
      const labels = selectorLabels(v.node);
      if (labels === null || !isNamespaceName(ns)) {
        blockers.push({ workload: id, callers: v.inbound.map((i) => i.source.id), reason: 'no valid pod labels to select this workload by (an empty podSelector would select every pod of the namespace)' });
        continue;
      }
      // Per port: Linkerd's Server is one port. Linkerd proxies TCP only.
      const ports = new Map<number, { mesh: Array<PeerEntry<LinkerdPeer>>; net: Array<PeerEntry<LinkerdPeer>>; calls: EdgeCall[] }>();
      const port = (p: number) => {
        let e = ports.get(p);
        if (!e) ports.set(p, (e = { mesh: [], net: [], calls: [] }));
        return e;
      };
      for (const { edge, source } of v.inbound) {
        const tcp = edge.calls.filter((c) => c.transport === 'tcp');
        const identity = source.kind === 'workload' && meshed.has(source.id) ? linkerdIdentity(source, opts.trustDomain) : null;
        const cidrs = source.kind === 'node' || source.kind === 'external' ? nodeCidrs(source) : [];
        if (identity === null && cidrs.length === 0) {
          if (tcp.length > 0) blockers.push({ workload: id, callers: [source.id], reason: identityBlockerReason(source, tcp) });
          continue;
        }
        for (const p of [...new Set(tcp.map((c) => c.port))].sort((a, b) => a - b)) {
          const calls = tcp.filter((c) => c.port === p);
          const { ops, skips, evidence } = edgeOps(edge, opts.granularity === 'workload' ? 'port' : opts.granularity, calls);
          blockers.push(...skipBlockers(id, source.id, skips));
          const e = port(p);
          e.calls.push(...calls);
          if (identity !== null) e.mesh.push({ key: `id:${identity}`, peer: { identity }, ops, evidence });
          else for (const cidr of cidrs) e.net.push({ key: `net:${cidr}`, peer: { cidr }, ops, evidence });
        }
      }
      for (const [p, e] of [...ports].sort(([a], [b]) => a - b)) {
        const server = k8sName(v.node.name, String(p));
        const groups: Array<{ kind: 'mesh' | 'net'; g: RuleGroup<LinkerdPeer> }> = [
          ...groupPeers(e.mesh).map((g) => ({ kind: 'mesh' as const, g })),
          ...groupPeers(e.net).map((g) => ({ kind: 'net' as const, g })),
        ];
        if (groups.length === 0) continue;
        const wantRoutes = opts.granularity !== 'workload' && opts.granularity !== 'port' && groups.some(({ g }) => matches(g.ops) !== null);
        objects.push({
          namespace: ns, workload: id,
          comments: [
            `trustmap: port ${p} of ${id} (Linkerd Server); accessPolicy ${opts.dryRun ? 'audit (--dry-run: unauthorized traffic is allowed and flagged)' : 'deny: traffic not authorized below is refused'}`,
            ...(wantRoutes ? ['HTTPRoutes attach to this Server: requests matching no route are refused, so every caller below gets a route'] : []),
          ],
          object: {
            apiVersion: `${GROUP}/v1beta3`, kind: 'Server', metadata: { name: server, namespace: ns },
            spec: { podSelector: { matchLabels: labels }, port: p, proxyProtocol: proxyProtocol(e.calls), accessPolicy: opts.dryRun ? 'audit' : 'deny' },
          },
        });
        groups.forEach(({ kind, g }, i) => {
          const n = i + 1;
          const authn = k8sName(v.node.name, String(p), kind === 'mesh' ? 'mtls' : 'net', String(n));
          const evidence = describeEvidence(g.evidence);
          if (kind === 'mesh') {
            const identities = [...new Set(g.peers.map((x) => ('identity' in x ? x.identity : '')).filter((s) => s !== ''))].sort();
            objects.push({ namespace: ns, workload: id, comments: [`trustmap: mesh identities calling ${id}:${p}; ${evidence}`], object: { apiVersion: `${GROUP}/v1alpha1`, kind: 'MeshTLSAuthentication', metadata: { name: authn, namespace: ns }, spec: { identities } } });
          } else {
            const networks = [...new Set(g.peers.map((x) => ('cidr' in x ? x.cidr : '')).filter((s) => s !== ''))].sort().map((cidr) => ({ cidr }));
            objects.push({ namespace: ns, workload: id, comments: [`trustmap: unmeshed callers that must keep working (nodes: kubelet probes, host network; external), by /32 address; ${evidence}`], object: { apiVersion: `${GROUP}/v1alpha1`, kind: 'NetworkAuthentication', metadata: { name: authn, namespace: ns }, spec: { networks } } });
          }
          // Each target gets its own AuthorizationPolicy; the first keeps the unsuffixed names.
          const suffix = (k: number) => (k === 0 ? [String(n)] : [String(n), String(k + 1)]);
          let targets = [{ group: GROUP, kind: 'Server', name: server }];
          if (wantRoutes) {
            const m = matches(g.ops);
            if (m !== null && m.dropped > 0) blockers.push({ workload: id, callers: g.evidence.callers, reason: `${m.dropped} method${m.dropped === 1 ? '' : 's'} outside HTTPRoute's method list left out` });
            // A caller allowed the whole port still needs a route once routes exist: "/" prefix.
            const list = m === null ? [{ path: { type: 'PathPrefix', value: '/' } }] : m.list;
            if (list.length === 0) return;
            // An HTTPRoute takes at most 8 matches per rule and 16 rules (the CRD's maxItems):
            // more observed routes than that go into more rules, then more HTTPRoutes.
            const routes = chunks(list, ROUTE_MATCHES * ROUTE_RULES);
            targets = routes.map((part, k) => {
              const route = k8sName(v.node.name, String(p), 'route', ...suffix(k));
              const which = routes.length > 1 ? ` (part ${k + 1} of ${routes.length}: an HTTPRoute holds at most ${ROUTE_MATCHES * ROUTE_RULES} matches)` : '';
              objects.push({
                namespace: ns, workload: id, comments: [`trustmap: requests ${g.evidence.callers.join(', ')} made to ${id}:${p}${m === null ? ' (the whole port)' : ''}${which}`],
                object: {
                  apiVersion: `${GROUP}/v1beta3`, kind: 'HTTPRoute', metadata: { name: route, namespace: ns },
                  spec: { parentRefs: [{ group: GROUP, kind: 'Server', name: server }], rules: chunks(part, ROUTE_MATCHES).map((ms) => ({ matches: ms })) },
                },
              });
              return { group: GROUP, kind: 'HTTPRoute', name: route };
            });
          }
          targets.forEach((target, k) => objects.push({
            namespace: ns, workload: id, comments: [`trustmap: authorize ${g.evidence.callers.join(', ')} on ${target.kind} ${target.name}`],
            object: {
              apiVersion: `${GROUP}/v1alpha1`, kind: 'AuthorizationPolicy', metadata: { name: k8sName(v.node.name, String(p), 'authz', ...suffix(k)), namespace: ns },
              spec: { targetRef: target, requiredAuthenticationRefs: [{ group: GROUP, kind: kind === 'mesh' ? 'MeshTLSAuthentication' : 'NetworkAuthentication', name: authn }] },
            },
          }));
        });
      }
      const mine = mergeBlockers(blockers.slice(firstBlocker));
      const first = objects.length > firstObject ? objects[firstObject] : undefined;
      if (first) for (const b of mine) first.comments.push(blockerComment(b));
    }
    blockers.push(...unresolvedServiceBlockers(graph, opts.namespaces, false));
    return { objects, blockers: mergeBlockers(blockers) };
  },
};
