// The API's answers beyond the analyzer's own types (Graph, ReadinessReport, PolicySet): shared by
// the server, which builds them, and the page, which reads them. Types, and the one list both
// sides need.
import type { EdgeCall, GraphNode, SecurityMix, Verdict, WorkloadReadiness } from '../../analyzer/model.js';
import type { SimulationReport } from '../../analyzer/simulate/model.js';

/** Policy formats the simulator replays calls against (it does not evaluate Linkerd's). */
export const SIMULATED_FORMATS = ['istio', 'netpol', 'cilium'] as const;
export type SimulatedFormat = (typeof SIMULATED_FORMATS)[number];

export interface CaptureSummary {
  id: number;
  source: string;
  name: string;
  node: string | null;
  packets: number;
  malformed: number;
  connections: number;
  calls_written: number;
  /** Packets the kernel dropped during a live capture; null for files (unknown). */
  dropped: number | null;
  /** Calls a pushing collector dropped because its spool was full; null when not pushed. */
  spool_dropped_calls: number | null;
  /** Hubble verdict counts a pushing collector dropped because its spool was full; null when not pushed or unknown. */
  spool_dropped_verdicts: number | null;
  status: string;
  started_at: string;
  finished_at: string | null;
}

export interface Summary {
  /** dropped: the live captures' kernel drops summed, null when no capture was live;
   *  spool_dropped_calls: calls pushing collectors dropped from a full spool, null when nothing was pushed;
   *  spool_dropped_verdicts: Hubble verdict counts (one per call and verdict) they dropped, null when no
   *  collector reported any count (the policies may allow calls Cilium refuses when above zero). */
  counts: {
    calls: number; call_rows: number; nodes: number; edges: number; namespaces: number; captures: number;
    dropped: number | null; spool_dropped_calls: number | null; spool_dropped_verdicts: number | null;
  };
  window: { first_seen: string | null; last_seen: string | null };
  namespaces: string[];
  captures: CaptureSummary[];
  /** sign_in: the server has a token, so the page was signed in and offers to sign out. */
  features: { readiness: boolean; policies: boolean; policy_formats: string[]; sign_in: boolean };
  min_window_ms: number;
}

export interface PeerCalls {
  peer: string;
  peer_kind: GraphNode['kind'] | null;
  count: number;
  /** Of `count`, the calls Hubble saw DROPPED (the cluster's Cilium policy refused them): the sum of the calls' `dropped`, 0 when none. */
  dropped: number;
  security: SecurityMix;
  calls: EdgeCall[];
}

export interface NodeDetails {
  node: GraphNode;
  callers: PeerCalls[];
  callees: PeerCalls[];
  /** The workload's readiness; null for other kinds, when the check is not available, or when
   *  asked with readiness=false. */
  readiness: WorkloadReadiness | null;
  namespace_readiness: { namespace: string; verdict: Verdict } | null;
  features: { readiness: boolean };
}

export interface WorkloadPolicy {
  format: string;
  workload: string;
  yaml: string | null;
  blockers: Array<{ workload: string; callers: string[]; reason: string }>;
}

/** GET /api/workloads/NS/NAME/denied: the calls the proposed policies would not allow. */
export interface WorkloadDenied extends SimulationReport {
  format: SimulatedFormat;
  workload: string;
}
