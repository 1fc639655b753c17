// Istio PeerAuthentication (security.istio.io/v1, v1beta1): which mTLS mode the destination's
// sidecar accepts on the call's port. Semantics from the reference
// (istio.io/latest/docs/reference/config/security/peer_authentication/; istio/api
// security/v1beta1/peer_authentication.proto):
// - scope: mesh (root namespace, no selector), namespace (no selector), workload (selector);
//   the narrowest wins, and `portLevelMtls` (workload-scoped only: Istio rejects it without a
//   selector) beats the workload's own mode for that port;
// - UNSET inherits from the parent scope; with nothing set anywhere the mode is PERMISSIVE;
// - STRICT accepts only mutual TLS: a plaintext call (or TLS without a mesh client certificate)
//   to a STRICT port is refused. PERMISSIVE accepts both; DISABLE accepts plaintext.
// - gateways (istio=ingressgateway/egressgateway, Gateway API) are not sidecars: their listeners
//   follow Gateway resources, so PeerAuthentication is not evaluated for them;
// - several policies at one scope: Istio uses the oldest, which files do not say; the first one
//   loaded is used and the choice is noted.
import { z } from 'zod';
import { isGateway, notProxied, workloadSelected, workloadSelectorSchema, type IstioOptions } from './istio-common.js';
import { hasKind, policiesIn } from './policy-index.js';
import type { LayerResult, LoadedPolicy, SimCall } from './model.js';

const MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
type Mode = (typeof MODES)[number];
const modeSchema = z.object({ mode: z.enum(MODES).default('UNSET') }).strict();

export const peerAuthenticationSpec = z.object({
  selector: workloadSelectorSchema.nullish(),
  mtls: modeSchema.nullish(),
  portLevelMtls: z.record(z.string().regex(/^\d{1,5}$/, 'portLevelMtls keys are port numbers'), modeSchema).nullish(),
}).strict().refine((s) => s.portLevelMtls == null || Object.keys(s.portLevelMtls).length === 0 || (s.selector?.matchLabels != null && Object.keys(s.selector.matchLabels).length > 0),
  { message: 'portLevelMtls needs a workload selector (Istio rejects it at namespace or mesh scope)', path: ['portLevelMtls'] });
export type PeerAuthenticationSpec = z.infer<typeof peerAuthenticationSpec>;
type Pa = LoadedPolicy<PeerAuthenticationSpec>;

const LAYER = 'istio-peer-authentication';
const isScoped = (p: Pa) => p.spec.selector?.matchLabels != null && Object.keys(p.spec.selector.matchLabels).length > 0;

export interface EffectiveMode {
  mode: Exclude<Mode, 'UNSET'>;
  /** The policy that set it; null for Istio's default (PERMISSIVE). */
  policy: Pa | null;
  /** "port-level", "workload", "namespace", "mesh" or "default". */
  scope: string;
  notes: string[];
}

/** The mode for the destination workload on the call's port. */
export function effectiveMode(all_: LoadedPolicy[], call: SimCall, o: IstioOptions): EffectiveMode {
  const d = call.destination;
  const here = policiesIn<PeerAuthenticationSpec>(all_, 'PeerAuthentication', d.namespace);
  const root = policiesIn<PeerAuthenticationSpec>(all_, 'PeerAuthentication', o.rootNamespace);
  const notes: string[] = [];
  const pick = (list: Pa[], scope: string): Pa | null => {
    if (list.length > 1) notes.push(`${list.length} PeerAuthentications at ${scope} scope for ${d.id} (${list.map((p) => `${p.ref.namespace}/${p.ref.name}`).join(', ')}): Istio uses the oldest; the first loaded is used here`);
    return list[0] ?? null;
  };
  const workload = pick(here.filter((p) => isScoped(p) && workloadSelected(p.spec.selector, d.labels)), 'workload');
  const namespace = pick(here.filter((p) => !isScoped(p) && d.namespace !== o.rootNamespace), 'namespace');
  const mesh = pick(root.filter((p) => !isScoped(p)), 'mesh');
  const chain: Array<{ mode: Mode | undefined; policy: Pa | null; scope: string }> = [
    { mode: workload?.spec.portLevelMtls?.[String(call.port)]?.mode, policy: workload, scope: 'port-level' },
    { mode: workload?.spec.mtls?.mode, policy: workload, scope: 'workload' },
    { mode: namespace?.spec.mtls?.mode, policy: namespace, scope: 'namespace' },
    { mode: mesh?.spec.mtls?.mode, policy: mesh, scope: 'mesh' },
  ];
  for (const c of chain) if (c.mode !== undefined && c.mode !== 'UNSET') return { mode: c.mode, policy: c.policy, scope: c.scope, notes };
  return { mode: 'PERMISSIVE', policy: null, scope: 'default', notes };
}

export function evaluatePeerAuthentication(all_: LoadedPolicy[], call: SimCall, o: IstioOptions): LayerResult {
  if (!hasKind(all_, 'PeerAuthentication') || call.destination.kind !== 'workload') return { finding: null, matched: [], notes: [] };
  const skip = notProxied(call);
  if (skip !== null) return { finding: null, matched: [], notes: [`PeerAuthentication: ${skip}`] };
  if (isGateway(call.destination.labels)) return { finding: null, matched: [], notes: [`PeerAuthentication: ${call.destination.id} is a gateway; its listeners follow its Gateway resources`] };
  const eff = effectiveMode(all_, call, o);
  const ref = eff.policy?.ref ?? null;
  if (eff.mode !== 'STRICT') return { finding: null, matched: [], notes: eff.notes };
  const scope = eff.scope === 'port-level' ? 'port-level STRICT' : `STRICT (${eff.scope})`;
  switch (call.security) {
    case 'mtls': return { finding: null, matched: [], notes: eff.notes };
    case 'plaintext':
      return { finding: { layer: LAYER, verdict: 'denied', policy: ref, reason: `plaintext to STRICT port ${call.port} (${scope})` }, matched: [], notes: eff.notes };
    case 'tls':
      return { finding: { layer: LAYER, verdict: 'denied', policy: ref, reason: `TLS without a mesh client certificate (unmeshed caller) to STRICT port ${call.port} (${scope})` }, matched: [], notes: eff.notes };
    case 'unknown':
      return { finding: { layer: LAYER, verdict: 'indeterminate', policy: ref, reason: `port ${call.port} is ${scope} and whether the call was mutual TLS was not observed` }, matched: [], notes: eff.notes };
  }
}
