// Pass 1, identity: who each end of a call was at the call's own time. Addresses are reused
// (docs/identity.md), so every row is attributed at its first_seen, never at "now"; a row covers
// at most one hour bucket, so a pod replaced within the window is split correctly.
import type { AttributionIndex } from '../../collector/identity/attribute.js';
import { CALL_SOURCES, type CallSource } from '../../collector/model.js';
import type { BucketCallRow } from '../../collector/store/analysis.js';
import type { NodeTable } from './nodes.js';
import type { AttributedCall } from './types.js';

// One evidence list per source, shared by every row it reported, instead of an array per row
// (100,000 on the benchmark store); the merge pass replaces, never mutates, a call's list.
const ONLY = Object.fromEntries(CALL_SOURCES.map((s) => [s, Object.freeze([s])])) as Record<CallSource, readonly CallSource[]>;

export function attributeCalls(rows: Iterable<BucketCallRow>, index: AttributionIndex, nodes: NodeTable): AttributedCall[] {
  const out: AttributedCall[] = [];
  for (const row of rows) {
    const t = row.firstSeenMs;
    out.push({
      row,
      source: nodes.intern(index.attribute(row.srcIp, t), row.srcIp),
      target: nodes.intern(index.attribute(row.dstIp, t), row.dstIp),
      service: null,
      isViaService: false,
      evidence: ONLY[row.source],
    });
  }
  return out;
}
