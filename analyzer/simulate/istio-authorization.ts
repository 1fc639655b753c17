// Istio AuthorizationPolicy (security.istio.io/v1, v1beta1), evaluated on the destination's
// sidecar. Semantics from the reference (istio.io/latest/docs/reference/config/security/
// authorization-policy/; istio/api security/v1beta1/authorization_policy.proto @ d0fee3f0):
// - scope: metadata.namespace (the root namespace means every namespace) and `selector`;
// - order: CUSTOM (not evaluated here: an external authorizer decides), then DENY, then ALLOW;
//   AUDIT never changes the decision; no ALLOW policy for the workload → allow; ALLOW policies
//   but none matching → deny. A policy without rules (`spec: {}`) matches nothing, so as ALLOW
//   it allows nothing; `rules: [{}]` matches everything;
// - a rule matches when any `from` source, any `to` operation and every `when` condition match;
//   fields inside a source/operation are ANDed, values inside a field ORed;
// - HTTP-only attributes on TCP traffic: an ALLOW rule using them does not match, a DENY rule
//   treats them as matching ("For a DENY rule, missing attributes are treated as matches");
// - `when` keys: https://istio.io/latest/docs/reference/config/security/conditions/.
import { z } from 'zod';
import { callerIdentity, isHttp, notProxied, workloadSelected, workloadSelectorSchema, type Identity, type IstioOptions } from './istio-common.js';
import { all, any, compatiblePrefixes, ipIn, isCidr, istioStringMatch, not, prefixLength, templateMatch, tri, type Tri } from './match.js';
import { hasKind, policiesIn } from './policy-index.js';
import type { Breadth, Finding, LayerResult, LoadedPolicy, RuleInfo, RuleRef, SimCall } from './model.js';

const strings = z.array(z.string().min(1)).nullish();
const cidrs = z.array(z.string().refine(isCidr, 'not an IP address or CIDR')).nullish();
const ports = z.array(z.string().regex(/^\d{1,5}$/, 'not a port number').refine((p) => Number(p) >= 1 && Number(p) <= 65535, 'not a port number')).nullish();

const sourceSchema = z.object({
  principals: strings, notPrincipals: strings,
  requestPrincipals: strings, notRequestPrincipals: strings,
  namespaces: strings, notNamespaces: strings,
  ipBlocks: cidrs, notIpBlocks: cidrs,
  remoteIpBlocks: cidrs, notRemoteIpBlocks: cidrs,
}).strict();

const operationSchema = z.object({
  hosts: strings, notHosts: strings,
  ports, notPorts: ports,
  methods: strings, notMethods: strings,
  paths: strings, notPaths: strings,
}).strict();

const conditionSchema = z.object({ key: z.string().min(1), values: strings, notValues: strings }).strict()
  .refine((c) => (c.values?.length ?? 0) + (c.notValues?.length ?? 0) > 0, 'a condition needs values or notValues');

const ruleSchema = z.object({
  from: z.array(z.object({ source: sourceSchema }).strict()).nullish(),
  to: z.array(z.object({ operation: operationSchema }).strict()).nullish(),
  when: z.array(conditionSchema).nullish(),
}).strict();

export const authorizationPolicySpec = z.object({
  selector: workloadSelectorSchema.nullish(),
  targetRef: z.unknown().optional(),
  targetRefs: z.array(z.unknown()).nullish(),
  action: z.enum(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']).default('ALLOW'),
  provider: z.object({ name: z.string() }).strict().nullish(),
  rules: z.array(ruleSchema).nullish(),
}).strict();
export type AuthorizationPolicySpec = z.infer<typeof authorizationPolicySpec>;
type Rule = z.infer<typeof ruleSchema>;
type Source = z.infer<typeof sourceSchema>;
type Operation = z.infer<typeof operationSchema>;
type Action = AuthorizationPolicySpec['action'];

const LAYER = 'istio-authorization';

/** An HTTP-only attribute on a call that may not be HTTP: see the header for ALLOW vs DENY. */
function httpOnly(call: SimCall, action: Action, m: () => Tri): Tri {
  const h = isHttp(call);
  if (h === 'no') return action === 'DENY' ? 'yes' : 'no';
  if (h === 'maybe') return 'maybe';
  return m();
}

/** A value of the caller's identity: absent (no mTLS) matches nothing; unknown is 'maybe'. */
function identityMatch(id: Identity, field: 'principal' | 'namespace', patterns: string[]): Tri {
  if (id.state === 'unknown') return 'maybe';
  if (id.state === 'none') return 'no';
  return tri(patterns.some((p) => istioStringMatch(p, id[field])));
}

function sourceMatch(s: Source, call: SimCall, id: Identity, action: Action): Tri {
  const parts: Tri[] = [];
  if (s.principals) parts.push(identityMatch(id, 'principal', s.principals));
  if (s.notPrincipals) parts.push(not(identityMatch(id, 'principal', s.notPrincipals)));
  if (s.namespaces) parts.push(identityMatch(id, 'namespace', s.namespaces));
  if (s.notNamespaces) parts.push(not(identityMatch(id, 'namespace', s.notNamespaces)));
  if (s.ipBlocks) parts.push(any(s.ipBlocks.map((c) => ipIn(call.source.ip, c))));
  if (s.notIpBlocks) parts.push(not(any(s.notIpBlocks.map((c) => ipIn(call.source.ip, c)))));
  // The original client address (X-Forwarded-For, PROXY protocol) is not recorded.
  if (s.remoteIpBlocks || s.notRemoteIpBlocks) parts.push('maybe');
  // JWT principals: RequestAuthentication is outside what a capture shows.
  if (s.requestPrincipals || s.notRequestPrincipals) parts.push(httpOnly(call, action, () => 'maybe'));
  return all(parts);
}

/** Istio path match: exact, `prefix*`, `*suffix`, `*`, and the `{*}` / `{**}` templates (Istio 1.22+). */
export function istioPathMatch(pattern: string, path: string | null): Tri {
  if (pattern === '*') return path === null ? 'maybe' : 'yes';
  if (pattern.includes('{*}') || pattern.includes('{**}')) {
    // `{*}` one segment, `{**}` any rest (it must come last); the rest literal.
    const re = new RegExp(`^${pattern.split('/').map((s) => (s === '{*}' ? '[^/]+' : s === '{**}' ? '.*' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}$`);
    const literal = pattern.slice(0, pattern.indexOf('{'));
    return templateMatch(path, (p) => re.test(p), (l) => compatiblePrefixes(l, literal));
  }
  if (pattern.endsWith('*')) {
    const pfx = pattern.slice(0, -1);
    return templateMatch(path, (p) => p.startsWith(pfx), (l) => compatiblePrefixes(l, pfx));
  }
  if (pattern.startsWith('*')) {
    const sfx = pattern.slice(1);
    return templateMatch(path, (p) => p.endsWith(sfx), () => true);
  }
  return templateMatch(path, (p) => p === pattern, (l) => pattern.startsWith(l));
}

const anyPath = (patterns: string[], path: string | null): Tri => any(patterns.map((p) => istioPathMatch(p, path)));

function operationMatch(o: Operation, call: SimCall, action: Action): Tri {
  const parts: Tri[] = [];
  const port = String(call.port);
  if (o.ports) parts.push(tri(o.ports.includes(port)));
  if (o.notPorts) parts.push(tri(!o.notPorts.includes(port)));
  const unknownIfNull = (v: string | null, m: (v: string) => boolean): Tri => (v === null ? 'maybe' : tri(m(v)));
  if (o.hosts) parts.push(httpOnly(call, action, () => unknownIfNull(call.host, (h) => o.hosts!.some((p) => istioStringMatch(p, h, true)))));
  if (o.notHosts) parts.push(httpOnly(call, action, () => unknownIfNull(call.host, (h) => !o.notHosts!.some((p) => istioStringMatch(p, h, true)))));
  if (o.methods) parts.push(httpOnly(call, action, () => unknownIfNull(call.method, (m) => o.methods!.some((p) => istioStringMatch(p, m)))));
  if (o.notMethods) parts.push(httpOnly(call, action, () => unknownIfNull(call.method, (m) => !o.notMethods!.some((p) => istioStringMatch(p, m)))));
  if (o.paths) parts.push(httpOnly(call, action, () => anyPath(o.paths!, call.path)));
  if (o.notPaths) parts.push(httpOnly(call, action, () => not(anyPath(o.notPaths!, call.path))));
  return all(parts);
}

/** One `when` condition (conditions reference): keys we can read from a recorded call, else 'maybe'. */
function conditionMatch(c: { key: string; values?: string[] | null; notValues?: string[] | null }, call: SimCall, id: Identity, action: Action): Tri {
  const test = (match: (v: string) => Tri): Tri => all([
    ...(c.values ? [any(c.values.map(match))] : []),
    ...(c.notValues ? [not(any(c.notValues.map(match)))] : []),
  ]);
  switch (c.key) {
    case 'source.ip': return test((v) => ipIn(call.source.ip, v));
    case 'destination.ip': return test((v) => ipIn(call.destination.ip, v));
    case 'destination.port': return test((v) => tri(v === String(call.port)));
    case 'source.namespace': return test((v) => identityMatch(id, 'namespace', [v]));
    case 'source.principal': return test((v) => identityMatch(id, 'principal', [v]));
    case 'connection.sni': return test((v) => (call.sni === null ? 'maybe' : tri(istioStringMatch(v, call.sni))));
    default:
      // request.headers[...], request.auth.*, request.regex.headers, experimental.*: HTTP-only and
      // not recorded; remote.ip: the original client address is not recorded.
      if (c.key.startsWith('request.') || c.key.startsWith('experimental.')) return httpOnly(call, action, () => 'maybe');
      return 'maybe';
  }
}

export function ruleMatch(r: Rule, call: SimCall, id: Identity, action: Action): Tri {
  return all([
    r.from ? any(r.from.map((f) => sourceMatch(f.source, call, id, action))) : 'yes',
    r.to ? any(r.to.map((t) => operationMatch(t.operation, call, action))) : 'yes',
    all((r.when ?? []).map((c) => conditionMatch(c, call, id, action))),
  ]);
}

type AuthzPolicy = LoadedPolicy<AuthorizationPolicySpec>;

/** The policies of the root namespace and the destination's namespace, root first. */
function inScope(all_: LoadedPolicy[], call: SimCall, o: IstioOptions): AuthzPolicy[] {
  const ns = call.destination.namespace;
  const root = policiesIn<AuthorizationPolicySpec>(all_, 'AuthorizationPolicy', o.rootNamespace);
  return ns === o.rootNamespace ? root : [...root, ...policiesIn<AuthorizationPolicySpec>(all_, 'AuthorizationPolicy', ns)];
}

const hasTargetRefs = (p: AuthzPolicy): boolean => p.spec.targetRef != null || (p.spec.targetRefs ?? []).length > 0;

const pname = (p: AuthzPolicy) => `${p.ref.namespace}/${p.ref.name}`;
const isDryRun = (p: AuthzPolicy) => p.annotations['istio.io/dry-run'] === 'true';

/** "method POST on /api/checkout on port 8080" or "TCP on port 6379", for a denial reason. */
export function describeRequest(call: SimCall): string {
  if (call.method !== null) return `method ${call.method} on ${call.path ?? '(path not recorded)'} (port ${call.port})`;
  return `${call.security === 'mtls' || call.security === 'tls' ? 'an encrypted request' : call.protocol.toUpperCase()} on port ${call.port}`;
}

export function evaluateAuthorization(all_: LoadedPolicy[], call: SimCall, o: IstioOptions): LayerResult {
  const notes: string[] = [];
  if (!hasKind(all_, 'AuthorizationPolicy') || call.destination.kind !== 'workload') return { finding: null, matched: [], notes };
  const skip = notProxied(call);
  if (skip !== null) return { finding: null, matched: [], notes: [`AuthorizationPolicy: ${skip}`] };
  const scoped = inScope(all_, call, o);
  const here = scoped.filter((p) => !hasTargetRefs(p) && workloadSelected(p.spec.selector, call.destination.labels));
  for (const p of scoped.filter(hasTargetRefs)) notes.push(`AuthorizationPolicy ${pname(p)} uses targetRef(s) (waypoint/gateway attachment): not evaluated`);
  const id = callerIdentity(call, o);
  const matches = (p: AuthzPolicy): Array<{ i: number; m: Tri }> => (p.spec.rules ?? []).map((r, i) => ({ i, m: ruleMatch(r, call, id, p.spec.action) }));
  const finding = (verdict: Finding['verdict'], p: AuthzPolicy | null, reason: string): Finding => ({ layer: LAYER, verdict, policy: p?.ref ?? null, reason });

  let pending: Finding | null = null;
  for (const p of here.filter((x) => x.spec.action === 'CUSTOM')) {
    const m = any(matches(p).map((x) => x.m));
    if (m !== 'no' && pending === null) pending = finding('indeterminate', p, `CUSTOM policy (provider ${p.spec.provider?.name ?? 'unnamed'}) matches: an external authorizer decides, not evaluated`);
  }
  for (const p of here.filter((x) => x.spec.action === 'DENY')) {
    for (const { i, m } of matches(p)) {
      if (m === 'no') continue;
      if (isDryRun(p)) { notes.push(`dry-run DENY ${pname(p)} rules[${i}] would ${m === 'yes' ? '' : 'perhaps '}deny this call`); continue; }
      if (m === 'yes') return { finding: finding('denied', p, `DENY rules[${i}] matches ${describeRequest(call)}${id.state === 'known' ? ` from ${id.principal}` : ''}`), matched: [], notes };
      pending ??= finding('indeterminate', p, `DENY rules[${i}] may match ${describeRequest(call)}: ${uncertainty(call, id)}`);
    }
  }
  for (const p of here.filter((x) => x.spec.action === 'AUDIT')) {
    if (any(matches(p).map((x) => x.m)) !== 'no') notes.push(`audited by AUDIT policy ${pname(p)}`);
  }
  const allow = here.filter((x) => x.spec.action === 'ALLOW');
  const enforced = allow.filter((p) => !isDryRun(p));
  if (allow.length > enforced.length) notes.push(`dry-run ALLOW policies not enforced: ${allow.filter(isDryRun).map(pname).join(', ')}`);
  if (enforced.length === 0) {
    return { finding: pending, matched: [], notes };
  }
  const matched: RuleRef[] = [];
  let maybe: { p: AuthzPolicy; i: number } | null = null;
  for (const p of enforced) {
    for (const { i, m } of matches(p)) {
      if (m === 'yes') matched.push({ policy: p.ref, rule: `rules[${i}]` });
      else if (m === 'maybe') maybe ??= { p, i };
    }
  }
  if (matched.length > 0) return { finding: pending, matched, notes };
  if (maybe !== null) {
    return { finding: pending ?? finding('indeterminate', maybe.p, `ALLOW ${pname(maybe.p)} rules[${maybe.i}] may match ${describeRequest(call)}: ${uncertainty(call, id)}`), matched: [], notes };
  }
  const who = id.state === 'known' ? ` from ${id.principal}` : ` (${id.why})`;
  const names = enforced.map(pname).join(', ');
  return {
    finding: finding('denied', enforced[0], `no ALLOW rule matches ${describeRequest(call)}${who}; ALLOW policies selecting ${call.destination.id}: ${names}`),
    matched: [], notes,
  };
}

function uncertainty(call: SimCall, id: Identity): string {
  if (id.state === 'unknown') return id.why;
  if (isHttp(call) === 'maybe') return 'the request was encrypted, so its HTTP attributes were not observed';
  return 'it depends on attributes a recording does not keep (headers, JWT claims, the original client address, or the value behind a path template)';
}

// ---- drift -------------------------------------------------------------------------------------------

const WIDEST: Breadth[] = ['narrow', 'cidr', 'namespace', 'any'];
const widest = (bs: Breadth[]): Breadth => bs.reduce((a, b) => (WIDEST.indexOf(b) > WIDEST.indexOf(a) ? b : a), 'narrow' as Breadth);

function sourceBreadth(s: Source): { breadth: Breadth; detail: string } {
  if (s.principals && s.principals.every((p) => !p.includes('*'))) return { breadth: 'narrow', detail: `principals ${s.principals.join(', ')}` };
  if (s.principals) {
    const ns = s.principals.map((p) => /\/ns\/([^/]+)\/sa\/\*$/.exec(p)?.[1] ?? null);
    if (ns.every((n) => n !== null && !n.includes('*'))) return { breadth: 'namespace', detail: `every service account of namespace ${ns.join(', ')}` };
    return { breadth: 'any', detail: `principals ${s.principals.join(', ')} (wildcards)` };
  }
  if (s.namespaces) return { breadth: s.namespaces.some((n) => n.includes('*')) ? 'any' : 'namespace', detail: `every workload of namespace ${s.namespaces.join(', ')}` };
  if (s.ipBlocks) return { breadth: s.ipBlocks.every((c) => { const l = prefixLength(c); return l === 32 || l === 128; }) ? 'narrow' : 'cidr', detail: `addresses ${s.ipBlocks.join(', ')}` };
  return { breadth: 'any', detail: 'any caller not excluded by its not-fields' };
}

/** Every rule of the ALLOW policies, with how wide its sources are. */
export function authorizationRules(all_: LoadedPolicy[]): RuleInfo[] {
  const out: RuleInfo[] = [];
  for (const p of all_) {
    if (p.ref.kind !== 'AuthorizationPolicy') continue;
    const spec = p.spec as AuthorizationPolicySpec;
    if (spec.action !== 'ALLOW') continue;
    (spec.rules ?? []).forEach((r, i) => {
      const sources = (r.from ?? []).map((f) => sourceBreadth(f.source));
      const b = sources.length === 0 ? { breadth: 'any' as Breadth, detail: 'any caller' } : { breadth: widest(sources.map((s) => s.breadth)), detail: sources.map((s) => s.detail).join('; ') };
      out.push({ policy: p.ref, rule: `rules[${i}]`, ...b });
    });
  }
  return out;
}
