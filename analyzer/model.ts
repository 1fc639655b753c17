// The analyzer's data model, in one place: the typed graph every pass, policy generator, the
// readiness check and the UI work on. JSON field names are the documented output (snake_case,
// docs/graph.md); enums have one source of truth each.
import type { CallSource, Protocol, Security } from '../collector/model.js';

export const LEVELS = ['workload', 'service', 'namespace'] as const;
export type Level = (typeof LEVELS)[number];

export const NODE_KINDS = ['workload', 'service', 'namespace', 'node', 'external', 'unattributed'] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

export interface GraphNode {
  /** `NAMESPACE/NAME` for workloads and services, `NAME` for namespaces, `node:NAME`,
   *  `external:NAME-OR-IP`, `unattributed:IP`. Unique within a graph. */
  id: string;
  kind: NodeKind;
  namespace: string | null;
  name: string;
  /** Workloads: Deployment, StatefulSet, DaemonSet, CronJob, Job, Pod. */
  workload_kind: string | null;
  service_account: string | null;
  /** spiffe://TRUST_DOMAIN/ns/NS/sa/SA for workloads. */
  spiffe: string | null;
  /** Pod labels minus per-pod ones: what a selector uses. */
  labels: Record<string, string>;
  /** Addresses seen for this node in the window (pod IPs, node IPs, external IPs). */
  addresses: string[];
  /** Why an address could not be attributed (unattributed nodes only). */
  reason: string | null;
}

/** Counts of calls per security class; shares are derived (count / total). */
export interface SecurityMix {
  mtls: number;
  tls: number;
  plaintext: number;
  unknown: number;
}

/** One distinct kind of call on an edge: the unit policies are made of. */
export interface EdgeCall {
  port: number;
  transport: 'tcp' | 'udp';
  protocol: Protocol;
  /** null when not HTTP/gRPC. */
  method: string | null;
  path: string | null;
  host: string | null;
  sni: string | null;
  security: Security;
  security_reason: string | null;
  count: number;
  first_seen: string;
  last_seen: string;
  credentials_in_plaintext: boolean;
  /** The client dialled the Service's ClusterIP (true) or the pod address directly (false). */
  via_service: boolean;
  sources: CallSource[];
  /** Of `count`, the calls Hubble saw DROPPED (the cluster's policy refused them); absent when none. */
  dropped?: number;
}

export interface GraphEdge {
  source: string;
  target: string;
  ports: number[];
  protocols: Protocol[];
  methods: string[];
  paths: string[];
  /** Shares of calls per security class, summing to 1 (0 everywhere for an edge without calls). */
  security: SecurityMix;
  /** The same, as counts. */
  security_counts: SecurityMix;
  count: number;
  connections: number;
  bytes: number;
  first_seen: string;
  last_seen: string;
  credentials_in_plaintext: boolean;
  /** Services the calls went through (ids), when the client used a ClusterIP. */
  services: string[];
  calls: EdgeCall[];
}

export interface Graph {
  level: Level;
  window: { since: string | null; until: string | null; first_seen: string | null; last_seen: string | null };
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface GraphQuery {
  level: Level;
  sinceMs?: number;
  untilMs?: number;
  /** Keep edges with an endpoint in one of these namespaces. */
  namespaces?: string[];
  trustDomain?: string;
}

// ---- readiness --------------------------------------------------------------------------------

export const VERDICTS = ['ready', 'blocked', 'insufficient-data'] as const;
export type Verdict = (typeof VERDICTS)[number];

export const BLOCKER_KINDS = [
  'plaintext', 'unmeshed-caller', 'probe', 'metrics-scrape', 'pod-ip', 'unknown-security',
  'credentials-in-plaintext', 'short-window', 'not-observed',
] as const;
export type BlockerKind = (typeof BLOCKER_KINDS)[number];

export interface Blocker {
  kind: BlockerKind;
  /** Caller node ids (or the workload itself for window/observation blockers). */
  sources: string[];
  count: number;
  last_seen: string | null;
  /** One sentence a person can act on. */
  detail: string;
}

export interface Coverage {
  observed_from: string | null;
  observed_to: string | null;
  calls: number;
  /** Evidence sources: pcap, envoy, hubble. */
  sources: CallSource[];
}

export interface WorkloadReadiness {
  name: string;
  verdict: Verdict;
  coverage: Coverage;
  blockers: Blocker[];
  /** Added with analyzer/readiness.ts: findings that do not block STRICT (probes and scrapes on
   *  Istio's agent ports, UDP), named so nobody is surprised (docs/readiness.md). */
  warnings?: Blocker[];
}

export interface NamespaceReadiness {
  namespace: string;
  verdict: Verdict;
  workloads: WorkloadReadiness[];
}

export interface ReadinessReport {
  verdict: Verdict;
  namespaces: NamespaceReadiness[];
  /** Added with analyzer/readiness.ts: what was looked at (the query and the calls found in it). */
  window?: ReadinessWindow;
}

export interface ReadinessWindow {
  since: string | null;
  until: string | null;
  first_seen: string | null;
  last_seen: string | null;
  /** The observation window readiness asked for, milliseconds. */
  min_window_ms: number;
}

// ---- graph diff (added with analyzer/diff.ts; additive) -----------------------------------------

export const EDGE_CHANGE_KINDS = ['new', 'gone', 'security-changed'] as const;
export type EdgeChangeKind = (typeof EDGE_CHANGE_KINDS)[number];

/** One side of a changed edge, as its window saw it. */
export interface EdgeSnapshot {
  ports: number[];
  protocols: Protocol[];
  count: number;
  security: SecurityMix;
  security_counts: SecurityMix;
  credentials_in_plaintext: boolean;
  last_seen: string;
}

export interface EdgeChange {
  change: EdgeChangeKind;
  source: string;
  target: string;
  /** null for a new edge. */
  before: EdgeSnapshot | null;
  /** null for a gone edge. */
  after: EdgeSnapshot | null;
  /** What changed, one phrase each (e.g. "plaintext appeared (0% → 12.5%)"). */
  reasons: string[];
  /** The change weakens security: a new edge carrying plaintext, plaintext appearing, mTLS share dropping. */
  is_worse: boolean;
}

export interface GraphDiff {
  level: Level;
  baseline: Graph['window'];
  current: Graph['window'];
  changes: EdgeChange[];
}
