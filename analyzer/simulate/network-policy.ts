// Kubernetes NetworkPolicy (networking.k8s.io/v1). Semantics from the API reference and the
// concepts page (kubernetes.io/docs/concepts/services-networking/network-policies/), checked
// against the upstream conformance truth tables (test/fixtures/netpol-conformance/ATTRIBUTION.md):
// - a pod is isolated for ingress (egress) when some policy in its namespace selects it and has
//   that policy type; a pod no policy isolates is open in that direction;
// - policyTypes default: Ingress always, Egress when the policy has egress rules;
// - the allowed set is the union of every rule of every policy isolating the pod; a call needs
//   the source's egress and the destination's ingress to allow it;
// - a rule: `from`/`to` absent or empty = every peer; `ports` absent or empty = every port;
//   a peer with podSelector selects pods of the policy's namespace, with namespaceSelector pods of
//   the selected namespaces, with both the pods matching both (one peer, ANDed);
// - ports: protocol defaults to TCP, a named port is the destination pod's container port of
//   that name (unknown → indeterminate), endPort makes a range;
// - ipBlock applies to any peer address, pod addresses included: the conformance test "should
//   allow egress access to server in CIDR block" allows a pod by its pod IP (docs/simulate.md);
// - "Pods cannot ... block access from their resident node": ingress from the pod's own node is
//   always allowed (concepts page, "What you can't do with network policies").
import { z } from 'zod';
import { all, anyOf, ipIn, isCidr, isEmptySelector, labelSelectorSchema, prefixLength, selectorMatches, tri, type Tri } from './match.js';
import { hasKind, policiesIn } from './policy-index.js';
import type { Breadth, Finding, LayerResult, LoadedPolicy, Peer, RuleInfo, RuleRef, SimCall } from './model.js';

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

const peerSchema = z.object({
  podSelector: labelSelectorSchema.nullish(),
  namespaceSelector: labelSelectorSchema.nullish(),
  ipBlock: z.object({
    cidr: z.string().refine((c) => c.includes('/') && isCidr(c), 'not a CIDR'),
    except: z.array(z.string().refine((c) => c.includes('/') && isCidr(c), 'not a CIDR')).nullish(),
  }).strict().nullish(),
}).strict()
  .refine((p) => p.podSelector != null || p.namespaceSelector != null || p.ipBlock != null, 'a peer needs podSelector, namespaceSelector or ipBlock')
  .refine((p) => p.ipBlock == null || (p.podSelector == null && p.namespaceSelector == null), 'ipBlock cannot be combined with selectors in one peer');

const portSchema = z.object({
  protocol: z.enum(PROTOCOLS).default('TCP'),
  port: z.union([z.number().int().min(1).max(65535), z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'not a port name').max(15)]).nullish(),
  endPort: z.number().int().min(1).max(65535).nullish(),
}).strict()
  .refine((p) => p.endPort == null || (typeof p.port === 'number' && p.endPort >= p.port), 'endPort needs a numeric port not above it');

const ruleFields = { ports: z.array(portSchema).nullish() };

export const networkPolicySpec = z.object({
  podSelector: labelSelectorSchema.nullish(),
  policyTypes: z.array(z.enum(['Ingress', 'Egress'])).nullish(),
  ingress: z.array(z.object({ from: z.array(peerSchema).nullish(), ...ruleFields }).strict()).nullish(),
  egress: z.array(z.object({ to: z.array(peerSchema).nullish(), ...ruleFields }).strict()).nullish(),
}).strict();
export type NetworkPolicySpec = z.infer<typeof networkPolicySpec>;
type NpPeer = z.infer<typeof peerSchema>;
type NpPort = z.infer<typeof portSchema>;
type Direction = 'ingress' | 'egress';

/** policyTypes as the API server defaults them. */
export function policyTypes(spec: NetworkPolicySpec): Set<'Ingress' | 'Egress'> {
  if (spec.policyTypes != null && spec.policyTypes.length > 0) return new Set(spec.policyTypes);
  return new Set((spec.egress ?? []).length > 0 ? ['Ingress', 'Egress'] : ['Ingress']);
}

/** Whether a NetworkPolicy isolates the pods it selects in this direction. */
export const isolatesPods = (p: LoadedPolicy, dir: Direction): boolean =>
  policyTypes((p as LoadedPolicy<NetworkPolicySpec>).spec).has(dir === 'ingress' ? 'Ingress' : 'Egress');

/** Whether `peer` (the other end) is one of a rule's peers; the policy's namespace scopes podSelector. */
function peerMatch(p: NpPeer, other: Peer, policyNs: string): Tri {
  if (p.ipBlock != null) return ipIn(other.ip, p.ipBlock.cidr, p.ipBlock.except ?? []);
  // Selectors select pods: nodes and the outside never match; an address the inventory does not
  // know may be a pod that was not listed.
  if (other.kind === 'unattributed' || other.kind === 'service') return 'maybe';
  if (other.kind !== 'workload' || other.namespace === null) return 'no';
  const parts: Tri[] = [];
  if (p.namespaceSelector != null) {
    parts.push(other.namespaceLabels === null ? (isEmptySelector(p.namespaceSelector) ? 'yes' : 'maybe') : tri(selectorMatches(p.namespaceSelector, other.namespaceLabels)));
  } else {
    parts.push(tri(other.namespace === policyNs));
  }
  if (p.podSelector != null) parts.push(tri(selectorMatches(p.podSelector, other.labels)));
  return all(parts);
}

/** Whether a port entry covers the call; named ports resolve against the destination pod. */
function portMatch(p: NpPort, call: SimCall): Tri {
  if (p.protocol !== call.transport.toUpperCase()) return 'no';
  if (p.port == null) return 'yes';
  if (typeof p.port === 'number') return tri(p.endPort != null ? call.port >= p.port && call.port <= p.endPort : call.port === p.port);
  const hit = call.destination.namedPorts.find((n) => n.name === p.port && n.protocol === p.protocol);
  if (hit === undefined) return call.destination.isNamedPortsComplete ? 'no' : 'maybe';
  return tri(hit.port === call.port);
}

function ruleMatch(peers: NpPeer[] | null | undefined, ports: NpPort[] | null | undefined, other: Peer, call: SimCall, policyNs: string): Tri {
  // Ports first: cheap, and a rule for other ports need not look at its peers.
  const l4 = ports == null || ports.length === 0 ? 'yes' : anyOf(ports, (p) => portMatch(p, call));
  if (l4 === 'no') return 'no';
  return all([l4, peers == null || peers.length === 0 ? 'yes' : anyOf(peers, (p) => peerMatch(p, other, policyNs))]);
}

const LAYER: Record<Direction, string> = { ingress: 'netpol-ingress', egress: 'netpol-egress' };

function evaluateDirection(all_: LoadedPolicy[], call: SimCall, dir: Direction): LayerResult {
  const self = dir === 'ingress' ? call.destination : call.source;
  const other = dir === 'ingress' ? call.source : call.destination;
  // Only pods are isolated (a host-network pod is its node here: NetworkPolicy does not apply).
  if (self.kind !== 'workload' || self.namespace === null) return { finding: null, matched: [], notes: [] };
  const type = dir === 'ingress' ? 'Ingress' : 'Egress';
  const isolating = policiesIn<NetworkPolicySpec>(all_, 'NetworkPolicy', self.namespace).filter((p) => policyTypes(p.spec).has(type) && selectorMatches(p.spec.podSelector, self.labels));
  if (isolating.length === 0) return { finding: null, matched: [], notes: [] };
  const isOwnNode = dir === 'ingress' && other.kind === 'node' && other.node !== null && other.node === self.node;
  const matched: RuleRef[] = [];
  const maybes: RuleRef[] = [];
  for (const p of isolating) {
    const rules = dir === 'ingress'
      ? (p.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports }))
      : (p.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
    rules.forEach((r, i) => {
      const m = ruleMatch(r.peers, r.ports, other, call, p.ref.namespace);
      if (m === 'yes') matched.push({ policy: p.ref, rule: `${dir}[${i}]` });
      else if (m === 'maybe') maybes.push({ policy: p.ref, rule: `${dir}[${i}]` });
    });
  }
  if (matched.length > 0) return { finding: null, matched, notes: [] };
  // Rules are matched first even then, so drift sees the rules a node's traffic uses.
  if (isOwnNode) return { finding: null, matched, notes: [`NetworkPolicy: ingress from the pod's own node ${other.node} is always allowed`] };
  const names = isolating.map((p) => `${p.ref.namespace}/${p.ref.name}`).join(', ');
  const what = `${other.id}${other.ip !== null ? ` (${other.ip})` : ''} on ${call.transport.toUpperCase()} port ${call.port}`;
  const maybe = maybes[0];
  const finding: Finding = maybe !== undefined
    ? { layer: LAYER[dir], verdict: 'indeterminate', policy: maybe.policy, reason: `${dir} rule ${maybe.rule} may allow ${what}: ${uncertainty(other, call)}` }
    : { layer: LAYER[dir], verdict: 'denied', policy: isolating[0].ref, reason: `no ${dir} rule allows ${dir === 'ingress' ? 'from' : 'to'} ${what}; NetworkPolicies isolating ${self.id} for ${dir}: ${names}` };
  return { finding, matched: [], notes: [] };
}

function uncertainty(other: Peer, call: SimCall): string {
  if (other.kind === 'unattributed') return `${other.id} is not in the inventory (it may be a pod)`;
  if (other.kind === 'service') return `${other.id} is a Service with several backends; which one answered is unknown`;
  if (other.ip === null) return 'the peer\'s own address was not recorded (only a Service address)';
  if (!call.destination.isNamedPortsComplete) return 'the destination pod\'s named ports are not all in the inventory';
  return 'namespace labels are not in the inventory';
}

export function evaluateNetworkPolicy(all_: LoadedPolicy[], call: SimCall): LayerResult[] {
  if (!hasKind(all_, 'NetworkPolicy')) return [];
  return [evaluateDirection(all_, call, 'egress'), evaluateDirection(all_, call, 'ingress')];
}

// ---- drift -------------------------------------------------------------------------------------------

function peerBreadth(p: NpPeer, ns: string): { breadth: Breadth; detail: string } {
  if (p.ipBlock != null) {
    const l = prefixLength(p.ipBlock.cidr);
    return { breadth: l === 32 || l === 128 ? 'narrow' : 'cidr', detail: `addresses ${p.ipBlock.cidr}${(p.ipBlock.except ?? []).length > 0 ? ` except ${p.ipBlock.except!.join(', ')}` : ''}` };
  }
  if (p.podSelector != null && !isEmptySelector(p.podSelector)) return { breadth: 'narrow', detail: 'pods by label' };
  if (p.namespaceSelector != null && isEmptySelector(p.namespaceSelector)) return { breadth: 'any', detail: 'every pod of every namespace' };
  return { breadth: 'namespace', detail: p.namespaceSelector != null ? 'every pod of the selected namespaces' : `every pod of namespace ${ns}` };
}

const ORDER: Breadth[] = ['narrow', 'cidr', 'namespace', 'any'];

export function networkPolicyRules(all_: LoadedPolicy[]): RuleInfo[] {
  const out: RuleInfo[] = [];
  for (const p of all_) {
    if (p.ref.kind !== 'NetworkPolicy') continue;
    const spec = p.spec as NetworkPolicySpec;
    const types = policyTypes(spec);
    const add = (dir: Direction, peers: NpPeer[] | null | undefined, i: number) => {
      const bs = (peers ?? []).map((x) => peerBreadth(x, p.ref.namespace));
      const breadth = bs.length === 0 ? 'any' : bs.map((b) => b.breadth).reduce((a, b) => (ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a));
      out.push({ policy: p.ref, rule: `${dir}[${i}]`, breadth, detail: bs.length === 0 ? `every ${dir === 'ingress' ? 'source' : 'destination'}` : bs.map((b) => b.detail).join('; ') });
    };
    if (types.has('Ingress')) (spec.ingress ?? []).forEach((r, i) => add('ingress', r.from, i));
    if (types.has('Egress')) (spec.egress ?? []).forEach((r, i) => add('egress', r.to, i));
  }
  return out;
}
