// CiliumNetworkPolicy (cilium.io/v2), L3/L4 and L7 HTTP. Semantics from the policy language
// reference (docs.cilium.io/en/stable/security/policy/language/ and .../policy/intro/):
// - `endpointSelector` selects endpoints of the policy's namespace; selector keys may carry the
//   `k8s:` / `any:` source prefix; an endpoint's labels are its pod labels plus
//   `io.kubernetes.pod.namespace`, `io.cilium.k8s.policy.serviceaccount` and
//   `io.cilium.k8s.namespace.labels.*`;
// - in a namespaced policy, `fromEndpoints`/`toEndpoints` select the policy's namespace unless
//   the selector names `io.kubernetes.pod.namespace`;
// - default deny: an endpoint selected by a policy with an ingress (egress) section is denied
//   everything that no rule allows in that direction, unless that policy sets
//   `enableDefaultDeny.ingress (egress): false`; deny rules (`ingressDeny`, `egressDeny`) win
//   over allow rules;
// - entities: world (outside the cluster), host (the endpoint's own node), remote-node (other
//   nodes), cluster (everything in the cluster), all; others (kube-apiserver, health, init,
//   ingress, unmanaged) cannot be told apart in a recording: indeterminate;
// - CIDR rules do not select endpoints managed by Cilium nor node addresses (only the outside);
// - a rule with only `toPorts` applies to every peer; `rules.http`: the request must match one
//   entry (method and path are extended regular expressions matched against the whole value);
// - traffic from the endpoint's own node is allowed by default (`allow-localhost`).
import { z } from 'zod';
import { all, any, anyOf, ipIn, isCidr, labelSelectorSchema, selectorMatches, templateMatch, tri, type LabelSelector, type Tri } from './match.js';
import { isHttp } from './istio-common.js';
import { hasKind, policiesIn } from './policy-index.js';
import type { Breadth, Finding, LayerResult, LoadedPolicy, Peer, RuleInfo, RuleRef, SimCall } from './model.js';

const regex = z.string().refine((s) => { try { new RegExp(s); return true; } catch { return false; } }, 'not a regular expression');
const cidr = z.string().refine((c) => isCidr(c), 'not a CIDR');

const httpRule = z.object({
  method: regex.nullish(), path: regex.nullish(), host: regex.nullish(),
  headers: z.array(z.string()).nullish(), headerMatches: z.array(z.unknown()).nullish(),
}).strict();

const portRule = z.object({
  ports: z.array(z.object({
    port: z.string().regex(/^(\d{1,5}|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/, 'not a port number or name').nullish(),
    endPort: z.number().int().min(0).max(65535).nullish(),
    protocol: z.enum(['TCP', 'UDP', 'SCTP', 'ANY']).default('ANY'),
  }).strict()).nullish(),
  rules: z.object({ http: z.array(httpRule).nullish(), kafka: z.unknown().optional(), dns: z.unknown().optional(), l7proto: z.unknown().optional(), l7: z.unknown().optional() }).strict().nullish(),
  terminatingTLS: z.unknown().optional(), originatingTLS: z.unknown().optional(), serverNames: z.unknown().optional(), listener: z.unknown().optional(),
}).strict();

const cidrSet = z.array(z.object({ cidr: cidr.nullish(), except: z.array(cidr).nullish(), cidrGroupRef: z.string().nullish(), cidrGroupSelector: z.unknown().optional() }).strict());

/** Peer fields we evaluate, and those we accept but cannot decide from a recording. */
const undecidable = { fromRequires: z.unknown().optional(), fromNodes: z.unknown().optional(), fromGroups: z.unknown().optional(), toRequires: z.unknown().optional(), toNodes: z.unknown().optional(), toGroups: z.unknown().optional(), toFQDNs: z.unknown().optional(), toServices: z.unknown().optional(), icmps: z.unknown().optional(), authentication: z.unknown().optional() };

const directionRule = z.object({
  fromEndpoints: z.array(labelSelectorSchema).nullish(), toEndpoints: z.array(labelSelectorSchema).nullish(),
  fromEntities: z.array(z.string()).nullish(), toEntities: z.array(z.string()).nullish(),
  fromCIDR: z.array(cidr).nullish(), toCIDR: z.array(cidr).nullish(),
  fromCIDRSet: cidrSet.nullish(), toCIDRSet: cidrSet.nullish(),
  toPorts: z.array(portRule).nullish(),
  ...undecidable,
}).strict();
type DirRule = z.infer<typeof directionRule>;

const ruleSchema = z.object({
  endpointSelector: labelSelectorSchema.nullish(),
  nodeSelector: z.unknown().optional(),
  ingress: z.array(directionRule).nullish(), ingressDeny: z.array(directionRule).nullish(),
  egress: z.array(directionRule).nullish(), egressDeny: z.array(directionRule).nullish(),
  enableDefaultDeny: z.object({ ingress: z.boolean().nullish(), egress: z.boolean().nullish() }).strict().nullish(),
  labels: z.unknown().optional(), description: z.string().nullish(),
}).strict();

/** A CiliumNetworkPolicy's `spec` and `specs`, as one list (the loader passes both). */
export const ciliumNetworkPolicySpec = z.object({ rules: z.array(ruleSchema) }).strict();
export type CiliumSpec = z.infer<typeof ciliumNetworkPolicySpec>;
type Cnp = LoadedPolicy<CiliumSpec>;
type CRule = z.infer<typeof ruleSchema>;
type Direction = 'ingress' | 'egress';

/** Whether a CiliumNetworkPolicy has rules for the endpoints it selects in this direction. */
export const hasRulesFor = (p: LoadedPolicy, dir: Direction): boolean =>
  (p as Cnp).spec.rules.some((r) => r[dir] != null || r[dir === 'ingress' ? 'ingressDeny' : 'egressDeny'] != null);

const NS_KEY = 'io.kubernetes.pod.namespace';
const NS_LABELS = 'io.cilium.k8s.namespace.labels.';

const stripSource = (k: string): string => k.replace(/^(k8s|any):/, '');

function normalize(sel: LabelSelector): LabelSelector {
  if (sel == null) return sel;
  return {
    matchLabels: sel.matchLabels == null ? sel.matchLabels : Object.fromEntries(Object.entries(sel.matchLabels).map(([k, v]) => [stripSource(k), v])),
    matchExpressions: sel.matchExpressions?.map((e) => ({ ...e, key: stripSource(e.key) })),
  };
}

const selectorKeys = (sel: LabelSelector): string[] => [...Object.keys(sel?.matchLabels ?? {}), ...(sel?.matchExpressions ?? []).map((e) => e.key)];

/** The labels Cilium gives a pod's endpoint. */
function endpointLabels(p: Peer): Record<string, string> {
  const out: Record<string, string> = { ...p.labels };
  if (p.namespace !== null) out[NS_KEY] = p.namespace;
  if (p.serviceAccount !== null) out['io.cilium.k8s.policy.serviceaccount'] = p.serviceAccount;
  for (const [k, v] of Object.entries(p.namespaceLabels ?? {})) out[NS_LABELS + k] = v;
  return out;
}

function endpointMatch(raw: LabelSelector, other: Peer, policyNs: string): Tri {
  if (other.kind === 'unattributed' || other.kind === 'service') return 'maybe';
  if (other.kind !== 'workload') return 'no';
  const sel = normalize(raw);
  const keys = selectorKeys(sel);
  if (!keys.includes(NS_KEY) && other.namespace !== policyNs) return 'no';
  if (other.namespaceLabels === null && keys.some((k) => k.startsWith(NS_LABELS))) return 'maybe';
  return tri(selectorMatches(sel, endpointLabels(other)));
}

function entityMatch(entity: string, other: Peer, self: Peer): Tri {
  const sameNode = other.node !== null && self.node !== null ? other.node === self.node : null;
  switch (entity) {
    case 'all': return 'yes';
    case 'world': case 'world-ipv4': case 'world-ipv6':
      return other.kind === 'external' ? 'yes' : other.kind === 'unattributed' ? 'maybe' : 'no';
    case 'cluster':
      return other.kind === 'workload' || other.kind === 'node' || other.kind === 'service' ? 'yes' : other.kind === 'unattributed' ? 'maybe' : 'no';
    case 'host':
      return other.kind !== 'node' ? (other.kind === 'unattributed' ? 'maybe' : 'no') : sameNode === null ? 'maybe' : tri(sameNode);
    case 'remote-node':
      return other.kind !== 'node' ? (other.kind === 'unattributed' ? 'maybe' : 'no') : sameNode === null ? 'maybe' : tri(!sameNode);
    default:
      return 'maybe';
  }
}

function cidrMatch(r: DirRule, dir: Direction, other: Peer): Tri[] {
  const plain = (dir === 'ingress' ? r.fromCIDR : r.toCIDR) ?? [];
  const sets = (dir === 'ingress' ? r.fromCIDRSet : r.toCIDRSet) ?? [];
  if (plain.length === 0 && sets.length === 0) return [];
  // CIDR rules never select Cilium-managed endpoints or nodes.
  if (other.kind === 'workload' || other.kind === 'node' || other.kind === 'service') return ['no'];
  return [...plain.map((c) => ipIn(other.ip, c)), ...sets.map((s) => (s.cidr == null ? 'maybe' : ipIn(other.ip, s.cidr, s.except ?? [])))];
}

function peerMatch(r: DirRule, dir: Direction, other: Peer, self: Peer, policyNs: string): Tri {
  const eps = (dir === 'ingress' ? r.fromEndpoints : r.toEndpoints) ?? null;
  const ents = (dir === 'ingress' ? r.fromEntities : r.toEntities) ?? null;
  const undecided = dir === 'ingress' ? [r.fromNodes, r.fromGroups] : [r.toNodes, r.toGroups, r.toFQDNs, r.toServices];
  const requires = dir === 'ingress' ? r.fromRequires : r.toRequires;
  const cidrs = cidrMatch(r, dir, other);
  const isUndecided = undecided.some((u) => u !== undefined && u !== null);
  const hasPeer = eps !== null || ents !== null || cidrs.length > 0 || isUndecided;
  // Only toPorts: every peer; nothing at all: a rule that selects no peer (default deny only).
  // Each list short-circuits on its first yes: endpoint lists can be long.
  const l3: Tri = !hasPeer ? ((r.toPorts ?? []).length > 0 ? 'yes' : 'no') : any([
    anyOf(eps ?? [], (s) => endpointMatch(s, other, policyNs)),
    anyOf(ents ?? [], (e) => entityMatch(e, other, self)),
    any(cidrs),
    isUndecided ? 'maybe' : 'no',
  ]);
  return requires != null ? all([l3, 'maybe']) : l3;
}

function httpMatch(h: z.infer<typeof httpRule>, call: SimCall): Tri {
  const full = (re: string) => new RegExp(`^(?:${re})$`);
  const parts: Tri[] = [];
  if (h.method != null) parts.push(call.method === null ? 'maybe' : tri(full(h.method).test(call.method)));
  if (h.path != null) { const re = full(h.path); parts.push(templateMatch(call.path, (p) => re.test(p), () => true)); }
  if (h.host != null) parts.push(call.host === null ? 'maybe' : tri(full(h.host).test(call.host)));
  if ((h.headers ?? []).length > 0 || (h.headerMatches ?? []).length > 0) parts.push('maybe');
  return all(parts);
}

function portsMatch(toPorts: z.infer<typeof portRule>[] | null | undefined, call: SimCall, allowL7: boolean): Tri {
  if (toPorts == null || toPorts.length === 0) return 'yes';
  return any(toPorts.map((pr) => {
    const l4 = (pr.ports ?? []).length === 0 ? 'yes' : any(pr.ports!.map((p): Tri => {
      if (p.protocol !== 'ANY' && p.protocol !== call.transport.toUpperCase()) return 'no';
      if (p.port == null || p.port === '0') return 'yes';
      if (/^\d+$/.test(p.port)) {
        const n = Number(p.port);
        return tri(p.endPort != null && p.endPort > 0 ? call.port >= n && call.port <= p.endPort : call.port === n);
      }
      const hit = call.destination.namedPorts.find((x) => x.name === p.port && (p.protocol === 'ANY' || x.protocol === p.protocol));
      if (hit === undefined) return call.destination.isNamedPortsComplete ? 'no' : 'maybe';
      return tri(hit.port === call.port);
    }));
    const http = pr.rules?.http ?? [];
    const other7 = pr.rules != null && (pr.rules.kafka != null || pr.rules.dns != null || pr.rules.l7proto != null || pr.rules.l7 != null);
    if (!allowL7 || (http.length === 0 && !other7)) return l4;
    if (other7) return all([l4, 'maybe']);
    const h = isHttp(call);
    // A non-HTTP stream on a port with HTTP rules is not parsed by the proxy: dropped.
    const l7: Tri = h === 'no' ? 'no' : h === 'maybe' ? 'maybe' : any(http.map((x) => httpMatch(x, call)));
    return all([l4, l7]);
  }));
}

const LAYER: Record<Direction, string> = { ingress: 'cilium-ingress', egress: 'cilium-egress' };

interface Selected { p: Cnp; r: CRule; idx: number }

function evaluateDirection(all_: LoadedPolicy[], call: SimCall, dir: Direction): LayerResult {
  const self = dir === 'ingress' ? call.destination : call.source;
  const other = dir === 'ingress' ? call.source : call.destination;
  if (self.kind !== 'workload' || self.namespace === null) return { finding: null, matched: [], notes: [] };
  const selecting: Selected[] = [];
  for (const p of policiesIn<CiliumSpec>(all_, 'CiliumNetworkPolicy', self.namespace)) {
    p.spec.rules.forEach((r, idx) => {
      if (r.endpointSelector != null && r.nodeSelector === undefined && selectorMatches(normalize(r.endpointSelector), endpointLabels(self))) selecting.push({ p, r, idx });
    });
  }
  const deny = dir === 'ingress' ? 'ingressDeny' : 'egressDeny';
  const allowKey = dir === 'ingress' ? 'ingress' : 'egress';
  const relevant = selecting.filter((s) => s.r[allowKey] != null || s.r[deny] != null);
  if (relevant.length === 0) return { finding: null, matched: [], notes: [] };
  const prefix = (s: Selected) => (s.p.spec.rules.length > 1 ? `specs[${s.idx}].` : '');
  const ruleMatch = (s: Selected, r: DirRule, l7: boolean): Tri => {
    const ports = portsMatch(r.toPorts, call, l7);
    return ports === 'no' ? 'no' : all([ports, peerMatch(r, dir, other, self, s.p.ref.namespace)]);
  };

  let pending: Finding | null = null;
  for (const s of relevant) {
    for (const [i, r] of (s.r[deny] ?? []).entries()) {
      const m = ruleMatch(s, r, false);
      if (m === 'yes') return { finding: { layer: LAYER[dir], verdict: 'denied', policy: s.p.ref, reason: `${prefix(s)}${deny}[${i}] denies ${describe(other, call)}` }, matched: [], notes: [] };
      if (m === 'maybe') pending ??= { layer: LAYER[dir], verdict: 'indeterminate', policy: s.p.ref, reason: `${prefix(s)}${deny}[${i}] may deny ${describe(other, call)}` };
    }
  }
  const isEnforcing = relevant.some((s) => s.r[allowKey] != null || s.r[deny] != null ? s.r.enableDefaultDeny?.[dir] !== false : false);
  const isOwnNode = dir === 'ingress' && other.kind === 'node' && other.node !== null && other.node === self.node;
  const matched: RuleRef[] = [];
  let maybe: { s: Selected; i: number } | null = null;
  for (const s of relevant) {
    (s.r[allowKey] ?? []).forEach((r, i) => {
      const m = ruleMatch(s, r, true);
      if (m === 'yes') matched.push({ policy: s.p.ref, rule: `${prefix(s)}${allowKey}[${i}]` });
      else if (m === 'maybe') maybe ??= { s, i };
    });
  }
  // Rules are matched first even then, so drift sees the rules a node's traffic uses.
  if (isOwnNode && matched.length === 0) return { finding: pending, matched, notes: ['Cilium: traffic from the endpoint\'s own node is allowed (allow-localhost)'] };
  if (matched.length > 0 || !isEnforcing) return { finding: pending, matched, notes: isEnforcing ? [] : [`Cilium: default deny is off for ${self.id} (${dir}) in every selecting policy`] };
  if (maybe !== null) {
    const m: { s: Selected; i: number } = maybe;
    return { finding: pending ?? { layer: LAYER[dir], verdict: 'indeterminate', policy: m.s.p.ref, reason: `${prefix(m.s)}${allowKey}[${m.i}] may allow ${describe(other, call)}: it depends on what a recording does not show (encrypted HTTP, named ports, entities or fields not evaluated)` }, matched: [], notes: [] };
  }
  const names = [...new Set(relevant.map((s) => `${s.p.ref.namespace}/${s.p.ref.name}`))].join(', ');
  return {
    finding: { layer: LAYER[dir], verdict: 'denied', policy: relevant[0].p.ref, reason: `no ${allowKey} rule allows ${describe(other, call)}; CiliumNetworkPolicies selecting ${self.id}: ${names}` },
    matched: [], notes: [],
  };
}

function describe(other: Peer, call: SimCall): string {
  const l7 = call.method !== null ? ` (${call.method} ${call.path ?? ''})` : '';
  return `${other.id}${other.ip !== null ? ` (${other.ip})` : ''} on ${call.transport.toUpperCase()} port ${call.port}${l7}`;
}

export function evaluateCilium(all_: LoadedPolicy[], call: SimCall): LayerResult[] {
  if (!hasKind(all_, 'CiliumNetworkPolicy')) return [];
  return [evaluateDirection(all_, call, 'egress'), evaluateDirection(all_, call, 'ingress')];
}

// ---- drift -------------------------------------------------------------------------------------------

const ORDER: Breadth[] = ['narrow', 'cidr', 'namespace', 'any'];

function ruleBreadth(r: DirRule, dir: Direction): { breadth: Breadth; detail: string } {
  const eps = (dir === 'ingress' ? r.fromEndpoints : r.toEndpoints) ?? [];
  const ents = (dir === 'ingress' ? r.fromEntities : r.toEntities) ?? [];
  const cidrs = [...((dir === 'ingress' ? r.fromCIDR : r.toCIDR) ?? []), ...((dir === 'ingress' ? r.fromCIDRSet : r.toCIDRSet) ?? []).map((s) => s.cidr ?? '?')];
  const parts: Array<{ breadth: Breadth; detail: string }> = [];
  for (const e of eps) {
    const keys = selectorKeys(normalize(e)).filter((k) => k !== NS_KEY);
    parts.push(keys.length > 0 ? { breadth: 'narrow', detail: 'endpoints by label' } : { breadth: 'namespace', detail: 'every endpoint of a namespace' });
  }
  for (const e of ents) parts.push(e === 'host' || e === 'remote-node' ? { breadth: 'narrow', detail: `entity ${e}` } : { breadth: 'any', detail: `entity ${e}` });
  for (const c of cidrs) parts.push({ breadth: /\/(32|128)$/.test(c) ? 'narrow' : 'cidr', detail: `addresses ${c}` });
  if (parts.length === 0) return { breadth: 'any', detail: `every ${dir === 'ingress' ? 'source' : 'destination'}` };
  return { breadth: parts.map((p) => p.breadth).reduce((a, b) => (ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a)), detail: parts.map((p) => p.detail).join('; ') };
}

export function ciliumRules(all_: LoadedPolicy[]): RuleInfo[] {
  const out: RuleInfo[] = [];
  for (const p of all_) {
    if (p.ref.kind !== 'CiliumNetworkPolicy') continue;
    const rules = (p.spec as CiliumSpec).rules;
    rules.forEach((r, idx) => {
      const prefix = rules.length > 1 ? `specs[${idx}].` : '';
      (['ingress', 'egress'] as const).forEach((dir) => (r[dir] ?? []).forEach((x, i) => {
        // A rule with no peer and no ports selects nothing: it only switches default deny on.
        if (ruleBreadth(x, dir).breadth === 'any' && (x.toPorts ?? []).length === 0 && Object.keys(x).length === 0) return;
        out.push({ policy: p.ref, rule: `${prefix}${dir}[${i}]`, ...ruleBreadth(x, dir) });
      }));
    });
  }
  return out;
}
