// What both Istio kinds need: which calls the sidecar sees at all, the caller's mesh identity as
// the server's proxy would know it, and the workload selector. Sources (cited per rule):
// https://istio.io/latest/docs/reference/config/security/authorization-policy/ (istio/api
// security/v1beta1/authorization_policy.proto @ d0fee3f0, Apache-2.0) and
// https://istio.io/latest/docs/reference/config/security/peer_authentication/.
import { z } from 'zod';
import { ISTIO_AGENT_PORTS } from '../readiness.js';
import type { Tri } from './match.js';
import type { SimCall } from './model.js';

export interface IstioOptions {
  /** Istio's root namespace (meshConfig.rootNamespace), istio-system unless installed otherwise. */
  rootNamespace: string;
  /** SPIFFE trust domain: principals are TRUST_DOMAIN/ns/NS/sa/SA. */
  trustDomain: string;
}

export const workloadSelectorSchema = z.object({ matchLabels: z.record(z.string(), z.string()).nullish() }).strict();
export type WorkloadSelector = z.infer<typeof workloadSelectorSchema>;

export function workloadSelected(sel: WorkloadSelector | null | undefined, labels: Record<string, string>): boolean {
  if (sel == null) return true;
  return Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

/**
 * Why the destination's sidecar has nothing to say about this call, or null when it does:
 * only pods carry sidecars; the sidecar does not capture UDP; istio-iptables excludes the
 * agent's own ports (15020 merged metrics and rewritten probes, 15021 health, 15090 Envoy
 * metrics) from inbound capture, so neither mTLS nor authorization applies there.
 */
export function notProxied(call: SimCall): string | null {
  if (call.destination.kind !== 'workload') return null;
  if (call.transport === 'udp') return 'UDP is not proxied by the sidecar';
  if (ISTIO_AGENT_PORTS.has(call.port)) return `port ${call.port} is an Istio agent port, outside the sidecar's inbound capture`;
  return null;
}

/**
 * The caller's identity as the server's proxy knows it. Only a mutual-TLS peer presents a
 * certificate: a plaintext or plain-TLS caller has no principal and no namespace (the reference
 * says `principals` and `namespaces` "require mutual TLS enabled"). When the call's security was
 * not observed, the identity is unknown.
 */
export type Identity =
  | { state: 'known'; principal: string; namespace: string }
  | { state: 'none'; why: string }
  | { state: 'unknown'; why: string };

export function callerIdentity(call: SimCall, o: IstioOptions): Identity {
  const s = call.source;
  switch (call.security) {
    case 'plaintext': return { state: 'none', why: 'the caller sent plaintext: no principal, no namespace' };
    case 'tls': return { state: 'none', why: 'the caller sent TLS without a mesh client certificate (unmeshed): no principal, no namespace' };
    case 'unknown': return { state: 'unknown', why: 'whether the call was mutual TLS was not observed' };
    case 'mtls':
      if (s.kind !== 'workload' || s.namespace === null || s.serviceAccount === null) {
        return { state: 'unknown', why: `the caller ${s.id} sent mTLS but its service account is not in the inventory` };
      }
      return { state: 'known', principal: `${o.trustDomain}/ns/${s.namespace}/sa/${s.serviceAccount}`, namespace: s.namespace };
  }
}

/**
 * Gateway pods (Istio's ingress/egress gateways, Gateway API gateways) serve their listeners as
 * Gateway resources configure them: PeerAuthentication governs sidecar inbound traffic, not a
 * gateway's ports (the readiness check exempts them the same way, docs/readiness.md).
 */
export function isGateway(labels: Record<string, string>): boolean {
  return labels.istio === 'ingressgateway' || labels.istio === 'egressgateway' || labels['gateway.networking.k8s.io/gateway-name'] !== undefined;
}

/**
 * A note when the destination shows no sidecar (Istio's injector labels every injected pod):
 * the simulation assumes the policies are enforced, which needs the sidecar first.
 */
export function sidecarNote(call: SimCall): string | null {
  const d = call.destination;
  if (d.kind !== 'workload' || d.labels['security.istio.io/tlsMode'] === 'istio') return null;
  return `${d.id} shows no sidecar (no security.istio.io/tlsMode label): Istio policies are simulated as if it had one`;
}

/** Whether the call is HTTP as the proxy sees it: 'yes' HTTP, 'no' plain TCP, 'maybe' encrypted content. */
export function isHttp(call: SimCall): Tri {
  if (call.protocol === 'http' || call.protocol === 'http2' || call.protocol === 'grpc') return 'yes';
  if (call.security === 'plaintext' && call.method === null) return 'no';
  return 'maybe';
}
