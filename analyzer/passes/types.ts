// What the passes hand each other: one stored call row with both ends attributed at the row's own
// time. Ids are workload-level node ids (docs/graph.md); the level pass maps them up afterwards.
import type { CallSource } from '../../collector/model.js';
import type { BucketCallRow } from '../../collector/store/analysis.js';

export interface AttributedCall {
  row: BucketCallRow;
  /** Workload-level node ids of the two ends. */
  source: string;
  target: string;
  /** The Service the client dialled (its node id), when it dialled a known Service address. */
  service: string | null;
  /** The client dialled a Service address (a ClusterIP, before DNAT) rather than the pod. */
  isViaService: boolean;
  /** Every source that reported this call shape in its bucket (merge pass), counts come from one. Shared between calls: never mutated. */
  evidence: readonly CallSource[];
}
