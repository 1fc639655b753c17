// Would these objects let this request through? One small evaluator per format, written from each
// format's documented semantics (not from the generators), so a test can check a proposal rule by
// rule against calls it did not see being made: Istio AuthorizationPolicy (ALLOW policies select
// by labels; none selecting → allowed; principals need mTLS), NetworkPolicy (a pod selected by a
// policy of a direction is isolated in it; peers in one item AND their selectors), Cilium (an
// endpoint is default-deny in a direction once a rule or enableDefaultDeny says so; L7 rules are
// full-match regexes), Linkerd (a Server's port is refused unless an AuthorizationPolicy on it or
// on a matching HTTPRoute has every authentication it requires).
type J = Record<string, unknown>;

export interface Peer {
  kind: 'pod' | 'node' | 'external';
  namespace: string | null;
  labels: Record<string, string>;
  serviceAccount: string | null;
  ip: string;
  /** Has a mesh proxy (an mTLS identity). */
  isMeshed: boolean;
}

export interface Request {
  source: Peer;
  destination: Peer;
  port: number;
  transport: 'tcp' | 'udp';
  method: string | null;
  /** A concrete request path, or null when it was not visible (inside TLS). */
  path: string | null;
  isMtls: boolean;
}

/** rule: an object allows it; no-policy: nothing applies (allowed by default); denied; not-intercepted: outside the format's reach. */
export type Verdict = 'rule' | 'no-policy' | 'denied' | 'not-intercepted';

export interface Evaluation {
  ingress: Verdict;
  egress: Verdict;
}

const isObj = (v: unknown): v is J => v !== null && typeof v === 'object' && !Array.isArray(v);
const arr = (v: unknown): J[] => (Array.isArray(v) ? (v as J[]) : []);
const labelsOf = (sel: unknown): Record<string, string> => (isObj(sel) && isObj(sel.matchLabels) ? sel.matchLabels as Record<string, string> : {});
const subset = (want: Record<string, string>, have: Record<string, string>): boolean => Object.entries(want).every(([k, v]) => have[k] === v);
const ns = (o: J): string => String((o.metadata as J).namespace);
const hostCidr = (ip: string): string => (ip.includes(':') ? `${ip}/128` : `${ip}/32`);
const fullMatch = (re: string, s: string): boolean => new RegExp(`^(?:${re})$`).test(s);

/** Ports Istio's injected iptables rules leave to the agent (not intercepted by the inbound listener). */
const ISTIO_AGENT_PORTS = new Set([15020, 15021, 15090]);

// ---- Istio ----------------------------------------------------------------------------------------

/** Istio `paths`: `{*}` one segment, `{**}` the rest; else exact, `prefix*` or `*suffix`. */
function istioPath(pattern: string, path: string): boolean {
  if (pattern.includes('{*}') || pattern.includes('{**}')) {
    const re = pattern.split('/').map((s) => (s === '{*}' ? '[^/]+' : s === '{**}' ? '.+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
    return fullMatch(re, path);
  }
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return path.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return path.endsWith(pattern.slice(1));
  return pattern === path;
}

function istioSource(s: J, r: Request, trustDomain: string): boolean {
  const principal = r.isMtls && r.source.kind === 'pod' ? `${trustDomain}/ns/${r.source.namespace}/sa/${r.source.serviceAccount}` : null;
  if (s.principals !== undefined && !(principal !== null && (s.principals as string[]).includes(principal))) return false;
  if (s.ipBlocks !== undefined && !(s.ipBlocks as string[]).includes(hostCidr(r.source.ip))) return false;
  return true;
}

function istioOperation(o: J, r: Request): boolean {
  if (o.ports !== undefined && !(o.ports as string[]).includes(String(r.port))) return false;
  if (o.methods !== undefined && !(r.method !== null && (o.methods as string[]).includes(r.method))) return false;
  if (o.paths !== undefined && !(r.path !== null && (o.paths as string[]).some((p) => istioPath(p, r.path!)))) return false;
  return true;
}

function istio(objects: J[], r: Request, trustDomain: string): Evaluation {
  if (r.transport === 'udp' || ISTIO_AGENT_PORTS.has(r.port)) return { ingress: 'not-intercepted', egress: 'no-policy' };
  const applies = objects.filter((o) => o.kind === 'AuthorizationPolicy' && ns(o) === r.destination.namespace && r.destination.kind === 'pod')
    .filter((o) => { const sel = (o.spec as J).selector; return sel === undefined || subset(labelsOf(sel), r.destination.labels); });
  if (applies.length === 0) return { ingress: 'no-policy', egress: 'no-policy' };
  const allowed = applies.some((o) => (o.spec as J).action === 'ALLOW' && arr((o.spec as J).rules).some((rule) =>
    (rule.from === undefined || arr(rule.from).some((f) => istioSource(f.source as J, r, trustDomain)))
    && (rule.to === undefined || arr(rule.to).some((t) => istioOperation(t.operation as J, r)))));
  return { ingress: allowed ? 'rule' : 'denied', egress: 'no-policy' };
}

// ---- Kubernetes NetworkPolicy -----------------------------------------------------------------------

function netpolPeer(p: J, other: Peer, policyNs: string): boolean {
  if (isObj(p.ipBlock)) return p.ipBlock.cidr === hostCidr(other.ip);
  if (other.kind !== 'pod') return false;
  const nsOk = p.namespaceSelector === undefined ? other.namespace === policyNs : subset(labelsOf(p.namespaceSelector), { 'kubernetes.io/metadata.name': other.namespace! });
  const podOk = p.podSelector === undefined || subset(labelsOf(p.podSelector), other.labels);
  return nsOk && podOk;
}

const netpolPorts = (rule: J, r: Request): boolean => rule.ports === undefined
  || arr(rule.ports).some((p) => (p.protocol ?? 'TCP') === r.transport.toUpperCase() && (p.port === undefined || p.port === r.port));

function netpolSide(objects: J[], self: Peer, other: Peer, r: Request, dir: 'Ingress' | 'Egress'): Verdict {
  if (self.kind !== 'pod') return 'no-policy';
  const applies = objects.filter((o) => o.kind === 'NetworkPolicy' && ns(o) === self.namespace
    && subset(labelsOf((o.spec as J).podSelector), self.labels) && ((o.spec as J).policyTypes as string[]).includes(dir));
  if (applies.length === 0) return 'no-policy';
  const [list, key] = dir === 'Ingress' ? ['ingress', 'from'] : ['egress', 'to'];
  return applies.some((o) => arr((o.spec as J)[list]).some((rule) =>
    (rule[key] === undefined || arr(rule[key]).some((p) => netpolPeer(p, other, ns(o)))) && netpolPorts(rule, r))) ? 'rule' : 'denied';
}

const netpol = (objects: J[], r: Request): Evaluation => ({
  ingress: netpolSide(objects, r.destination, r.source, r, 'Ingress'),
  egress: netpolSide(objects, r.source, r.destination, r, 'Egress'),
});

// ---- Cilium ---------------------------------------------------------------------------------------

const CILIUM_NS = 'k8s:io.kubernetes.pod.namespace';

function ciliumEndpoint(sel: J, other: Peer): boolean {
  if (other.kind !== 'pod') return false;
  const want = labelsOf(sel);
  return Object.entries(want).every(([k, v]) => (k === CILIUM_NS ? other.namespace === v : other.labels[k] === v));
}

function ciliumPeer(rule: J, pre: 'from' | 'to', other: Peer): boolean {
  if (rule[`${pre}Endpoints`] !== undefined && arr(rule[`${pre}Endpoints`]).some((s) => ciliumEndpoint(s, other))) return true;
  if (rule[`${pre}Entities`] !== undefined && other.kind === 'node' && (rule[`${pre}Entities`] as string[]).some((e) => e === 'host' || e === 'remote-node')) return true;
  return rule[`${pre}CIDR`] !== undefined && (rule[`${pre}CIDR`] as string[]).includes(hostCidr(other.ip));
}

function ciliumPorts(rule: J, r: Request): boolean {
  if (rule.toPorts === undefined) return true;
  return arr(rule.toPorts).some((tp) => {
    if (!arr(tp.ports).some((p) => p.port === String(r.port) && (p.protocol ?? 'ANY') === r.transport.toUpperCase())) return false;
    const http = isObj(tp.rules) ? arr(tp.rules.http) : [];
    if (http.length === 0) return true;
    return r.method !== null && http.some((h) => (h.method === undefined || fullMatch(String(h.method), r.method!))
      && (h.path === undefined || (r.path !== null && fullMatch(String(h.path), r.path))));
  });
}

function ciliumSide(objects: J[], self: Peer, other: Peer, r: Request, dir: 'ingress' | 'egress'): Verdict {
  if (self.kind !== 'pod') return 'no-policy';
  const applies = objects.filter((o) => o.kind === 'CiliumNetworkPolicy' && ns(o) === self.namespace && ciliumEndpoint({ matchLabels: labelsOf((o.spec as J).endpointSelector) }, self));
  const enforced = applies.some((o) => {
    const spec = o.spec as J;
    const dd = isObj(spec.enableDefaultDeny) ? spec.enableDefaultDeny[dir] : undefined;
    return dd === true || (dd === undefined && spec[dir] !== undefined);
  });
  const pre = dir === 'ingress' ? 'from' : 'to';
  const allowed = applies.some((o) => arr((o.spec as J)[dir]).some((rule) => ciliumPeer(rule, pre, other) && ciliumPorts(rule, r)));
  return allowed ? 'rule' : enforced ? 'denied' : 'no-policy';
}

const cilium = (objects: J[], r: Request): Evaluation => ({
  ingress: ciliumSide(objects, r.destination, r.source, r, 'ingress'),
  egress: ciliumSide(objects, r.source, r.destination, r, 'egress'),
});

// ---- Linkerd --------------------------------------------------------------------------------------

function linkerdRouteMatch(m: J, r: Request): boolean {
  const path = isObj(m.path) ? m.path : { type: 'PathPrefix', value: '/' };
  if (r.method === null || r.path === null) return m.method === undefined && path.type === 'PathPrefix' && path.value === '/';
  if (m.method !== undefined && m.method !== r.method) return false;
  const v = String(path.value);
  if (path.type === 'Exact') return r.path === v;
  if (path.type === 'RegularExpression') return fullMatch(v, r.path);
  return v === '/' || r.path === v || r.path.startsWith(v.endsWith('/') ? v : `${v}/`);
}

function linkerd(objects: J[], r: Request, trustDomain: string): Evaluation {
  // The Linkerd proxy handles TCP only.
  if (r.transport === 'udp') return { ingress: 'not-intercepted', egress: 'no-policy' };
  const mine = objects.filter((o) => ns(o) === r.destination.namespace);
  const servers = mine.filter((o) => o.kind === 'Server' && (o.spec as J).port === r.port && r.transport === 'tcp'
    && r.destination.kind === 'pod' && subset(labelsOf((o.spec as J).podSelector), r.destination.labels));
  if (servers.length === 0) return { ingress: 'no-policy', egress: 'no-policy' };
  const identity = r.source.kind === 'pod' && r.source.isMeshed ? `${r.source.serviceAccount}.${r.source.namespace}.serviceaccount.identity.linkerd.${trustDomain}` : null;
  const authn = (ref: J): boolean => {
    const a = mine.find((o) => o.kind === ref.kind && (o.metadata as J).name === ref.name);
    if (!a) return false;
    if (a.kind === 'MeshTLSAuthentication') return identity !== null && ((a.spec as J).identities as string[]).includes(identity);
    return arr((a.spec as J).networks).some((n) => n.cidr === hostCidr(r.source.ip));
  };
  const authorized = (kind: string, name: unknown): boolean => mine.some((o) => o.kind === 'AuthorizationPolicy'
    && isObj((o.spec as J).targetRef) && ((o.spec as J).targetRef as J).kind === kind && ((o.spec as J).targetRef as J).name === name
    && arr((o.spec as J).requiredAuthenticationRefs).every(authn));
  const allowed = servers.some((s) => {
    const routes = mine.filter((o) => o.kind === 'HTTPRoute' && arr((o.spec as J).parentRefs).some((p) => p.name === (s.metadata as J).name));
    if (routes.length === 0) return authorized('Server', (s.metadata as J).name);
    return routes.some((rt) => arr((rt.spec as J).rules).some((rule) => arr(rule.matches).some((m) => linkerdRouteMatch(m, r)))
      && authorized('HTTPRoute', (rt.metadata as J).name));
  });
  return { ingress: allowed ? 'rule' : 'denied', egress: 'no-policy' };
}

/** The verdicts of `objects` (one format's output) on one request. */
export function evaluate(format: 'istio' | 'netpol' | 'cilium' | 'linkerd', objects: unknown[], r: Request, trustDomain = 'cluster.local'): Evaluation {
  const os = objects.filter(isObj);
  switch (format) {
    case 'istio': return istio(os, r, trustDomain);
    case 'netpol': return netpol(os, r);
    case 'cilium': return cilium(os, r);
    case 'linkerd': return linkerd(os, r, trustDomain);
  }
}
