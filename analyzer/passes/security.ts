// Pass 5, security mix: an edge's calls counted per security class and as shares (Kiali's
// security appender computes the mTLS share of an edge the same way, from request counts).
import type { Security } from '../../collector/model.js';
import type { SecurityMix } from '../model.js';

export const emptyMix = (): SecurityMix => ({ mtls: 0, tls: 0, plaintext: 0, unknown: 0 });

export function addToMix(mix: SecurityMix, security: Security, count: number): void {
  mix[security] += count;
}

/** Shares summing to 1 (unrounded: rounding would break the sum); all zero for an edge without calls. */
export function shares(counts: SecurityMix): SecurityMix {
  const total = counts.mtls + counts.tls + counts.plaintext + counts.unknown;
  if (total === 0) return emptyMix();
  return { mtls: counts.mtls / total, tls: counts.tls / total, plaintext: counts.plaintext / total, unknown: counts.unknown / total };
}

/** One word for an edge: its only class, or `mixed`. What dot/mermaid colour by. */
export function dominantSecurity(counts: SecurityMix): Security | 'mixed' | 'none' {
  const present = (['mtls', 'tls', 'plaintext', 'unknown'] as const).filter((s) => counts[s] > 0);
  if (present.length === 0) return 'none';
  return present.length === 1 ? present[0] : 'mixed';
}
