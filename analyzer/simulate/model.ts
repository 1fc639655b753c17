// The simulator's data model, in one place: loaded policies, a recorded call as the request
// attributes policies are evaluated on, what each policy kind says about it, and the reports
// (`trustmap simulate`, `trustmap drift`). JSON field names are the documented output
// (snake_case, docs/simulate.md); enums have one source of truth each.
import type { Protocol, Security } from '../../collector/model.js';
import type { EdgeCall, NodeKind } from '../model.js';

export const SIM_VERDICTS = ['allowed', 'denied', 'indeterminate'] as const;
export type SimVerdict = (typeof SIM_VERDICTS)[number];

export const POLICY_KINDS = ['AuthorizationPolicy', 'PeerAuthentication', 'NetworkPolicy', 'CiliumNetworkPolicy'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

/** Where a policy came from: enough for a person to find it and for a report to name it. */
export interface PolicyRef {
  kind: PolicyKind;
  namespace: string;
  name: string;
  file: string;
  /** 1-based line of the object in its file. */
  line: number;
}

/** One loaded, validated policy object; `spec` is the kind's zod-parsed spec. */
export interface LoadedPolicy<S = unknown> {
  ref: PolicyRef;
  spec: S;
  /** metadata.annotations (Istio's `istio.io/dry-run` is one). */
  annotations: Record<string, string>;
}

export interface LoadResult {
  policies: LoadedPolicy[];
  /** Objects of kinds the simulator does not evaluate, counted per `apiVersion kind`. */
  unknown: Array<{ kind: string; count: number }>;
  files: string[];
}

/** A named container port (NetworkPolicy and Cilium resolve named ports against the destination pod). */
export interface NamedPort {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** One end of a call as policies see it, at the call's own time. */
export interface Peer {
  /** The graph's node id (docs/graph.md). */
  id: string;
  kind: NodeKind;
  namespace: string | null;
  /** Pod labels (workloads only). */
  labels: Record<string, string>;
  /** Labels of the pod's namespace; null when the inventory does not list the namespace. */
  namespaceLabels: Record<string, string> | null;
  serviceAccount: string | null;
  /** The node a pod ran on, or the node's own name for node peers; null when unknown. */
  node: string | null;
  /** The address seen on the wire; null when only a Service address was seen for it. */
  ip: string | null;
  /** Container ports by name, as far as known. */
  namedPorts: NamedPort[];
  /** Whether `namedPorts` lists every named port of the pod (else a name not listed is unknown). */
  isNamedPortsComplete: boolean;
}

/**
 * A recorded call as request attributes: one aggregated call row of the window. The call fields
 * are the graph's (method null when no HTTP request was seen or it was encrypted; path a
 * template, docs/path-templates.md: `{id}` one unknown segment, a final `*` any rest).
 */
export interface SimCall extends Pick<EdgeCall, 'port' | 'transport' | 'protocol' | 'method' | 'path' | 'host' | 'sni' | 'security' | 'via_service' | 'count' | 'first_seen' | 'last_seen' | 'dropped'> {
  source: Peer;
  destination: Peer;
}

/** A rule of a policy: `rules[0]`, `ingress[1]`, `egressDeny[0]`, ... */
export interface RuleRef {
  policy: PolicyRef;
  rule: string;
}

/** How wide an allow rule's peers are: narrow names workloads or principals, the others do not. */
export const BREADTHS = ['narrow', 'namespace', 'cidr', 'any'] as const;
export type Breadth = (typeof BREADTHS)[number];

export interface RuleInfo extends RuleRef {
  breadth: Breadth;
  /** What the rule lets in or out, for a person ("every workload of namespace shop"). */
  detail: string;
}

/** What one policy layer (Istio authorization, NetworkPolicy ingress, ...) says about a call. */
export interface Finding {
  layer: string;
  verdict: SimVerdict;
  /** The policy that decided; null when the verdict comes from the absence of policies. */
  policy: PolicyRef | null;
  reason: string;
}

/** A layer's answer: its finding (none when it has nothing to say), the allow rules that matched, notes. */
export interface LayerResult {
  finding: Finding | null;
  matched: RuleRef[];
  notes: string[];
}

export interface CallVerdict {
  source: string;
  destination: string;
  source_ip: string | null;
  /** The pod address the call reached: two replicas of one destination are two entries. Null when only a Service address was seen. */
  destination_ip: string | null;
  port: number;
  transport: 'tcp' | 'udp';
  protocol: Protocol;
  method: string | null;
  path: string | null;
  security: Security;
  count: number;
  last_seen: string;
  verdict: SimVerdict;
  /** Every layer's deny or indeterminate finding (allows are summarised by the verdict). */
  findings: Finding[];
  /** Allow rules that let the call through, per layer (drift uses them). */
  matched: RuleRef[];
  notes: string[];
}

export interface SimulationSummary {
  calls: number;
  requests: number;
  allowed: number;
  denied: number;
  indeterminate: number;
}

export interface SimulationReport {
  window: { since: string | null; until: string | null; first_seen: string | null; last_seen: string | null };
  policies: { files: number; loaded: Array<{ kind: PolicyKind; count: number }>; unknown: Array<{ kind: string; count: number }> };
  /** Counts of aggregated call rows by verdict (requests: the calls they stand for). */
  summary: SimulationSummary;
  calls: CallVerdict[];
}

// ---- drift --------------------------------------------------------------------------------------

export interface UnusedRule extends RuleInfo {
  reason: string;
}

export interface BroadRule extends RuleInfo {
  /** The peers observed through this rule. */
  observed: string[];
  reason: string;
}

export interface BroadOnlyCall {
  source: string;
  destination: string;
  port: number;
  count: number;
  rules: RuleRef[];
  reason: string;
}

export interface DriftReport {
  window: SimulationReport['window'];
  unused_rules: UnusedRule[];
  broad_rules: BroadRule[];
  broad_only_calls: BroadOnlyCall[];
}
