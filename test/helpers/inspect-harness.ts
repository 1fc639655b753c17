// Test-only: a sink that records what an inspector reports, and drivers that feed a connection's
// two byte streams in different chunkings (whole, split at one offset, seeded random sizes), so
// tests can assert that results do not depend on where TCP segments happened to end.
import type { AppRequest, AppSink, CertificateInfo, ConnectionVerdict, DnsMessage } from '../../collector/inspect/contract.js';
import { createInspector } from '../../collector/inspect/inspector.js';

export class RecordingSink implements AppSink {
  requests: AppRequest[] = [];
  responses: number[] = [];
  dnsMessages: DnsMessage[] = [];
  certificates: Array<{ cert: CertificateInfo; fromClient: boolean }> = [];
  malformedReasons: string[] = [];
  request(req: AppRequest): void {
    this.requests.push(req);
  }
  response(status: number): void {
    this.responses.push(status);
  }
  dns(msg: DnsMessage): void {
    this.dnsMessages.push(msg);
  }
  certificate(cert: CertificateInfo, fromClient: boolean): void {
    this.certificates.push({ cert, fromClient });
  }
  malformed(reason: string): void {
    this.malformedReasons.push(reason);
  }
}

/** Deterministic PRNG (mulberry32) so random chunkings are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cut points for a stream of length n: a list of chunk lengths. */
export type Chunker = (n: number) => number[];
export const whole: Chunker = (n) => (n === 0 ? [] : [n]);
export const splitAt =
  (k: number): Chunker =>
  (n) =>
    [Math.min(k, n), n - Math.min(k, n)].filter((x) => x > 0);
export const randomChunks =
  (seed: number, max = 64): Chunker =>
  (n) => {
    const r = prng(seed);
    const out: number[] = [];
    for (let left = n; left > 0; ) {
      const c = Math.min(left, 1 + Math.floor(r() * max));
      out.push(c);
      left -= c;
    }
    return out;
  };

export interface Run {
  sink: RecordingSink;
  verdict: ConnectionVerdict;
  rolesReversed: boolean;
  wantsMore: boolean;
}

/**
 * Feed both directions, alternating chunk by chunk (client first), through one inspector. Each
 * chunk is copied into a scratch buffer that is overwritten afterwards, like the tracker's reused
 * buffer, so an inspector that kept a reference would see garbage. Feeding stops when the
 * inspector says wantsMore = false, as the tracker does.
 */
export function runConnection(
  c2s: Uint8Array,
  s2c: Uint8Array,
  serverPort: number,
  chunker: Chunker = whole,
  sink = new RecordingSink(),
): Run {
  const insp = createInspector(sink, serverPort);
  const scratch = new Uint8Array(Math.max(c2s.length, s2c.length) + 16);
  const cc = chunker(c2s.length);
  const sc = chunker(s2c.length);
  let ci = 0;
  let si = 0;
  let cOff = 0;
  let sOff = 0;
  while ((ci < cc.length || si < sc.length) && insp.wantsMore) {
    if (ci < cc.length) {
      const n = cc[ci++];
      const at = 8 + (ci % 5);
      scratch.set(c2s.subarray(cOff, cOff + n), at);
      insp.client(scratch, at, at + n);
      scratch.fill(0xee);
      cOff += n;
    }
    if (si < sc.length && insp.wantsMore) {
      const n = sc[si++];
      const at = 3 + (si % 7);
      scratch.set(s2c.subarray(sOff, sOff + n), at);
      insp.server(scratch, at, at + n);
      scratch.fill(0xee);
      sOff += n;
    }
  }
  return { sink, verdict: insp.verdict(), rolesReversed: insp.rolesReversed, wantsMore: insp.wantsMore };
}

/** A comparable summary of what a run reported (for chunking-independence checks). */
export function summary(run: Run): string {
  const s = run.sink;
  return JSON.stringify({
    requests: s.requests,
    responses: s.responses,
    dns: s.dnsMessages,
    certs: s.certificates.map((c) => [c.cert.fingerprint, c.fromClient]),
    malformed: s.malformedReasons,
    verdict: run.verdict,
    reversed: run.rolesReversed,
  });
}

export function bytes(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'latin1'));
}
