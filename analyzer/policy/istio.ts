// Istio: per destination workload an ALLOW AuthorizationPolicy naming the observed callers'
// principals and operations, a per-namespace `allow-nothing`, and PeerAuthentication: STRICT where
// the readiness check passes, else PERMISSIVE with port-level STRICT for the ports whose every
// call was mTLS. Semantics and sources: docs/policies.md#istio.
import type { EdgeCall, GraphNode } from '../model.js';
import { ISTIO_AGENT_PORTS } from '../readiness.js';
import type { GeneratorContext, GeneratorOutput, PolicyBlocker, PolicyGenerator, PolicyOptions, ProposedObject } from './model.js';
import {
  blockerComment, crossProductSafe, describeEvidence, edgeOps, groupPeers, identityBlockerReason, infraNote, isNamespaceName, opaqueNote, meshedWorkloads,
  mergeBlockers, nodeCidrs, selectorLabels, skipBlockers, unresolvedServiceBlockers, workloadObjectName, workloadViews, type Op, type PeerEntry,
} from './shared.js';

const DRY_RUN = 'istio.io/dry-run';
/** meshConfig.rootNamespace unless the mesh was installed otherwise (--istio-root-namespace). */
export const ISTIO_ROOT_NAMESPACE = 'istio-system';
/**
 * Istio 1.22 added `{*}` / `{**}` path templates to AuthorizationPolicy (istio/istio#50365) and
 * promoted the security APIs to `v1`; older meshes serve `v1beta1` only.
 */
const SINCE_1_22: [number, number] = [1, 22];

type IstioPeer = { principal: string } | { cidr: string };

export function parseIstioVersion(v: string): [number, number] | null {
  const m = /^(\d{1,3})\.(\d{1,3})(\.\d{1,3})?$/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function atLeast(version: string, [major, minor]: [number, number]): boolean {
  const v = parseIstioVersion(version);
  if (v === null) return true;
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

export const supportsPathTemplates = (version: string): boolean => atLeast(version, SINCE_1_22);

/** The security.istio.io version a mesh of this version serves. */
export const istioApiVersion = (version: string): string => `security.istio.io/${atLeast(version, SINCE_1_22) ? 'v1' : 'v1beta1'}`;

/**
 * Our path template as an Istio path: `{id}` → `{*}` (one segment), a folded final `/*` →
 * `{**}` when the path also has templates (Istio rejects a bare `*` inside a template), else
 * it stays a prefix match. Before 1.22 the path is cut at its first template: `/a/b/{id}` →
 * `/a/b/*` (a prefix match, wider, said in a comment). null: not expressible without widening
 * (a literal `*`, `{` or `}` elsewhere would change meaning).
 */
export function istioPath(path: string, templates: boolean): string | null {
  const segs = path.split('/');
  const last = segs.length - 1;
  let templated = false;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    if (s === '{id}') { templated = true; continue; }
    if (/[*{}]/.test(s) && !(i === last && s === '*')) return null;
  }
  if (!templated) return path;
  if (templates) return segs.map((s, i) => (s === '{id}' ? '{*}' : i === last && s === '*' ? '{**}' : s)).join('/');
  const first = segs.indexOf('{id}');
  return `${segs.slice(0, first).join('/')}/*`;
}

function operations(ops: readonly Op[], templates: boolean): { to: object[]; widened: boolean; dropped: number } {
  let widened = false;
  let dropped = 0;
  const to: object[] = [];
  for (const p of crossProductSafe(ops.filter((o) => o.transport === 'tcp'))) {
    const op: Record<string, string[]> = {};
    if (p.port !== null) op.ports = [String(p.port)];
    if (p.methods !== null) op.methods = p.methods;
    if (p.paths !== null) {
      const paths: string[] = [];
      for (const raw of p.paths) {
        const ip = istioPath(raw, templates);
        if (ip === null) { dropped++; continue; }
        if (ip !== raw && !templates) widened = true;
        paths.push(ip);
      }
      if (paths.length === 0) continue;
      op.paths = [...new Set(paths)].sort();
    }
    // Never an empty operation: it would match every request (docs/policies.md#no-allow-all).
    if (Object.keys(op).length > 0) to.push({ operation: op });
  }
  return { to, widened, dropped };
}

function principalOf(n: GraphNode, trustDomain: string): string | null {
  if (n.namespace === null || n.service_account === null) return null;
  if (!isNamespaceName(n.namespace) || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(n.service_account)) return null;
  // Istio matches `source.principals` against the peer certificate's URI SAN without the
  // `spiffe://` scheme: TRUST_DOMAIN/ns/NS/sa/SA.
  return `${trustDomain}/ns/${n.namespace}/sa/${n.service_account}`;
}

function peerSource(peers: IstioPeer[]): object[] {
  const principals = peers.flatMap((p) => ('principal' in p ? [p.principal] : []));
  const cidrs = peers.flatMap((p) => ('cidr' in p ? [p.cidr] : []));
  const from: object[] = [];
  if (principals.length > 0) from.push({ source: { principals: [...new Set(principals)].sort() } });
  if (cidrs.length > 0) from.push({ source: { ipBlocks: [...new Set(cidrs)].sort() } });
  return from;
}

type PortMode = 'STRICT' | 'PERMISSIVE';

/** STRICT ports: every inbound TCP call on them was mTLS. */
function mtlsPorts(calls: EdgeCall[]): { strict: number[]; permissive: number[] } {
  const byPort = new Map<number, boolean>();
  for (const c of calls) {
    if (c.transport !== 'tcp') continue;
    byPort.set(c.port, (byPort.get(c.port) ?? true) && c.security === 'mtls');
  }
  const ports = [...byPort].sort(([a], [b]) => a - b);
  return { strict: ports.filter(([, ok]) => ok).map(([p]) => p), permissive: ports.filter(([, ok]) => !ok).map(([p]) => p) };
}

/**
 * Probes and scrapes on Istio's agent ports (15020 merged metrics and rewritten probes, 15021
 * health, 15090 Envoy metrics) never reach the inbound listener: the injected iptables rules
 * leave those ports out, so neither AuthorizationPolicy nor PeerAuthentication applies to them.
 */
function agentPortNote(source: GraphNode, calls: EdgeCall[]): string {
  const how = 'Istio agent port, which the sidecar does not intercept: it keeps working without a rule';
  return infraNote(source, calls, how) ?? `infrastructure: ${source.id} on port ${[...new Set(calls.map((c) => c.port))].join(', ')}: ${how}`;
}

export const istio: PolicyGenerator = {
  name: 'istio',
  generate(graph, ctx: GeneratorContext, opts: PolicyOptions): GeneratorOutput {
    const objects: ProposedObject[] = [];
    const blockers: PolicyBlocker[] = [];
    const meshed = meshedWorkloads(graph);
    const templates = supportsPathTemplates(opts.istioVersion);
    const api = istioApiVersion(opts.istioVersion);
    const root = opts.istioRootNamespace ?? ISTIO_ROOT_NAMESPACE;
    const annotations = opts.dryRun ? { [DRY_RUN]: 'true' } : undefined;
    const namespaces = new Map<string, { strict: boolean; workloads: string[]; allowed: string[] }>();
    const peerAuth: Array<{ ns: string; id: string; obj: ProposedObject; strict: boolean }> = [];

    for (const v of workloadViews(graph, opts.namespaces)) {
      // This workload's blockers are the ones pushed from here on (no scan of all of them per workload).
      const firstBlocker = blockers.length;
      const id = v.node.id;
      const ns = v.node.namespace!;
      if (v.inbound.length === 0) continue;
      if (ns === root) {
        // Istio: "If the authorization policy is in the root namespace, the selector will
        // additionally match with workloads in all namespaces"; a PeerAuthentication there without
        // a selector is mesh-wide. Nothing is proposed there; its callers are named instead.
        const callers = v.inbound.filter((i) => i.edge.calls.some((c) => c.transport === 'tcp' && !ISTIO_AGENT_PORTS.has(c.port))).map((i) => i.source.id);
        if (callers.length > 0) blockers.push({ workload: id, callers, reason: `in Istio's root namespace ${root}, where a policy applies to matching workloads of every namespace: none is proposed, write this one by hand` });
        continue;
      }
      const labels = selectorLabels(v.node);
      if (labels === null || !isNamespaceName(ns)) {
        blockers.push({ workload: id, callers: v.inbound.map((i) => i.source.id), reason: 'no valid pod labels to select this workload by (an empty selector would select every pod of the namespace)' });
        continue;
      }
      const entries: Array<PeerEntry<IstioPeer>> = [];
      const notes: string[] = [];
      const inboundCalls: EdgeCall[] = [];
      for (const { edge, source } of v.inbound) {
        const tcp = edge.calls.filter((c) => c.transport === 'tcp' && !ISTIO_AGENT_PORTS.has(c.port));
        inboundCalls.push(...tcp);
        if (edge.calls.some((c) => c.transport === 'udp')) notes.push(`${source.id}: UDP calls are not proxied by the sidecar and need no rule here`);
        const agent = edge.calls.filter((c) => c.transport === 'tcp' && ISTIO_AGENT_PORTS.has(c.port));
        if (agent.length > 0) notes.push(agentPortNote(source, agent));
        if (tcp.length === 0) continue;
        const { ops, skips, evidence } = edgeOps(edge, opts.granularity, tcp);
        blockers.push(...skipBlockers(id, source.id, skips));
        const principal = source.kind === 'workload' && meshed.has(source.id) ? principalOf(source, opts.trustDomain) : null;
        if (principal !== null) {
          entries.push({ key: `p:${principal}`, peer: { principal }, ops, evidence });
          const opaque = opaqueNote(source, tcp, opts.granularity);
          if (opaque !== null) notes.push(opaque);
          // Plaintext and plain TLS (no client certificate: the caller's sidecar did not originate
          // mTLS) carry no principal, so the rule above does not let them in.
          for (const [security, what] of [['plaintext', 'plaintext'], ['tls', 'TLS without a mesh client certificate']] as const) {
            const n = tcp.filter((c) => c.security === security).reduce((sum, c) => sum + c.count, 0);
            if (n > 0) blockers.push({ workload: id, callers: [source.id], reason: `${n} call${n === 1 ? ' was' : 's were'} ${what}: a principal rule matches only mTLS, so make the client use mTLS before applying` });
          }
        } else if (opts.allowByAddress === true && (source.kind === 'node' || source.kind === 'external') && nodeCidrs(source).length > 0) {
          for (const cidr of nodeCidrs(source)) entries.push({ key: `c:${cidr}`, peer: { cidr }, ops, evidence });
          notes.push(`${source.id} allowed by address (--allow-by-address): ${nodeCidrs(source).join(', ')}`);
        } else {
          blockers.push({ workload: id, callers: [source.id], reason: identityBlockerReason(source, tcp) });
        }
      }
      const rules: object[] = [];
      const comments = [`trustmap: who may call ${id} (Istio AuthorizationPolicy, ALLOW, granularity ${opts.granularity})`];
      for (const g of groupPeers(entries)) {
        const from = peerSource(g.peers);
        if (from.length === 0) continue;
        if (opts.granularity === 'workload') {
          rules.push({ from });
        } else {
          const { to, widened, dropped } = operations(g.ops, templates);
          if (dropped > 0) blockers.push({ workload: id, callers: g.evidence.callers, reason: `${dropped} path${dropped === 1 ? '' : 's'} with a literal "*", "{" or "}" cannot be written as an Istio path and were left out` });
          if (to.length === 0) continue;
          rules.push({ from, to });
          if (widened) comments.push(`rule ${rules.length}: Istio ${opts.istioVersion} has no path templates; "{id}" paths are prefix matches (wider)`);
        }
        comments.push(`rule ${rules.length}: ${describeEvidence(g.evidence)}`);
      }
      if (!meshed.has(id)) notes.push(`${id} shows no sidecar (no injection label, no mTLS calls): this policy takes effect once it is injected`);
      for (const n of [...new Set(notes)].sort()) comments.push(n);
      for (const b of mergeBlockers(blockers.slice(firstBlocker))) comments.push(blockerComment(b));
      const ent = namespaces.get(ns) ?? { strict: true, workloads: [], allowed: [] };
      namespaces.set(ns, ent);
      if (rules.length > 0) {
        ent.allowed.push(id);
        objects.push({
          namespace: ns, workload: id, comments,
          object: { apiVersion: api, kind: 'AuthorizationPolicy', metadata: { name: workloadObjectName(v.node.name), namespace: ns, ...(annotations && { annotations }) }, spec: { selector: { matchLabels: labels }, action: 'ALLOW', rules } },
        });
      }

      // PeerAuthentication: the readiness check's verdict when there is one, else the calls.
      const { strict, permissive } = mtlsPorts(inboundCalls);
      // Nothing inbound on an intercepted port (DNS over UDP, probes on the agent port only):
      // PeerAuthentication has nothing to say about it.
      if (strict.length === 0 && permissive.length === 0) continue;
      const verdict = ctx.strictReadiness(id);
      const isStrict = verdict !== null ? verdict.isReady : permissive.length === 0 && strict.length > 0;
      ent.strict &&= isStrict;
      ent.workloads.push(id);
      const mode = (m: PortMode): PortMode => (opts.dryRun ? 'PERMISSIVE' : m);
      const spec: Record<string, unknown> = { selector: { matchLabels: labels }, mtls: { mode: mode(isStrict ? 'STRICT' : 'PERMISSIVE') } };
      const paComments = [`trustmap: mTLS for ${id}`];
      if (isStrict) {
        paComments.push(verdict !== null ? `STRICT: ${verdict.reason}` : `STRICT: every inbound call was mTLS (ports ${strict.join(', ')})`);
      } else {
        paComments.push(verdict !== null ? `PERMISSIVE: ${verdict.reason}` : `PERMISSIVE: plaintext or unknown calls on ports ${permissive.join(', ')}`);
        if (strict.length > 0) {
          spec.portLevelMtls = Object.fromEntries(strict.map((p) => [String(p), { mode: mode('STRICT') }]));
          paComments.push(`port-level STRICT where every inbound call was mTLS: ${strict.join(', ')} (the workload's port, not the Service's)`);
        }
      }
      if (opts.dryRun) paComments.push('--dry-run: PeerAuthentication has no dry-run mode, so every mode is PERMISSIVE; the comments say what it would be');
      peerAuth.push({
        ns, id, strict: isStrict,
        obj: { namespace: ns, workload: id, comments: paComments, object: { apiVersion: api, kind: 'PeerAuthentication', metadata: { name: workloadObjectName(v.node.name), namespace: ns }, spec } },
      });
    }

    for (const [ns, ent] of [...namespaces].sort(([a], [b]) => a.localeCompare(b))) {
      // Deny-by-default only where at least one workload has its allow rules: an allow-nothing
      // in a namespace whose workloads all lack them (a gateway reached only from outside, DNS)
      // would cut them off entirely.
      const unprotected = ent.workloads.filter((w) => !ent.allowed.includes(w));
      if (ent.allowed.length > 0) objects.push({
        namespace: ns, workload: null,
        comments: [
          `trustmap: allow-nothing for namespace ${ns}: an ALLOW policy without rules matches no request, so once it exists`,
          'a request to a workload here is allowed only if one of the ALLOW policies above matches it (Istio deny-by-default).',
          'Workloads not observed in the window get no allow rules: apply with care.',
          ...(unprotected.length > 0 ? [`Observed without any allowed caller (see BLOCKERs): ${unprotected.join(', ')}`] : []),
        ],
        object: { apiVersion: api, kind: 'AuthorizationPolicy', metadata: { name: 'allow-nothing', namespace: ns, ...(annotations && { annotations }) }, spec: {} },
      });
      if (ent.workloads.length === 0) continue;
      // Namespace-wide STRICT also covers workloads never observed: only on the readiness
      // check's word for the whole namespace (it counts those as insufficient data).
      const nsVerdict = ctx.strictReadiness(ns);
      if ((nsVerdict !== null ? nsVerdict.isReady : ent.strict) && !opts.dryRun) {
        objects.push({
          namespace: ns, workload: null,
          comments: [nsVerdict !== null
            ? `trustmap: STRICT mTLS for namespace ${ns}: ${nsVerdict.reason}`
            : `trustmap: every observed workload of ${ns} is ready for STRICT mTLS (${ent.workloads.join(', ')}); this also covers workloads not observed`],
          object: { apiVersion: api, kind: 'PeerAuthentication', metadata: { name: 'default', namespace: ns }, spec: { mtls: { mode: 'STRICT' } } },
        });
      } else {
        objects.push(...peerAuth.filter((p) => p.ns === ns).map((p) => p.obj));
      }
    }
    blockers.push(...unresolvedServiceBlockers(graph, opts.namespaces, false));
    return { objects, blockers: mergeBlockers(blockers) };
  },
};
