// Hubble flows → calls. Hubble reports packets' fates at several observation points, so one
// connection shows up as many flows; we count one call per connection start (a TCP SYN without
// ACK, the first non-reply flow of a UDP 5-tuple), one per L7 REQUEST (HTTP, DNS), and merge the
// copies of the same start seen at other points (REDIRECTED to the proxy, then FORWARDED, then
// TO_ENDPOINT on the destination's node). docs/identity.md has the rule.
import type { Aggregator } from '../../aggregate.js';
import { MAX_HOST, safeText } from '../../inspect/text.js';
import type { CallKey, Protocol, Security, Transport } from '../../model.js';
import { VERDICT_NAME, type VerdictRow } from '../../store/telemetry.js';
import { newStats } from '../envoy/calls.js';
import { parseHubbleLine, type HubbleFlow } from './parse.js';

/** Copies of one connection start arrive within microseconds; ports are not reused within this. */
const DEDUP_WINDOW_MS = 30_000;
/** How long a connection start waits for its first L7 request before it is counted as L4 only. */
const L7_WAIT_MS = 30_000;

export const VERDICTS = ['FORWARDED', 'DROPPED', 'ERROR', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED', 'VERDICT_UNKNOWN'] as const;
// flow.proto Verdict enum numbers, for protojson output that renders enums as numbers.
const VERDICT_BY_NUMBER = ['VERDICT_UNKNOWN', 'FORWARDED', 'DROPPED', 'ERROR', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED'];

function verdictOf(v: string | number | null | undefined): string {
  if (typeof v === 'number') return VERDICT_BY_NUMBER[v] ?? 'VERDICT_UNKNOWN';
  return v && VERDICT_NAME.test(v) ? v : 'VERDICT_UNKNOWN';
}

interface Start {
  tsMs: number;
  /** Wall clock of the last tick before the flow arrived (follow mode), 0 otherwise. */
  arrivedMs: number;
  key: CallKey;
  verdicts: Set<string>;
  /** Set once an L7 request on this connection was counted (the connection goes with it). */
  isMerged: boolean;
}

export interface HubbleSinkOptions {
  /** Overrides the flow's node_name when given. */
  node: string;
  templatePath: (edge: string, target: string) => string;
  writeVerdicts: (rows: VerdictRow[]) => void;
}

export class HubbleSink {
  readonly stats = { ...newStats(), flows: 0, ignoredEvents: 0 };
  readonly verdictTotals = new Map<string, number>();
  /** Connection starts by 5-tuple, in arrival order (oldest first). */
  private readonly starts = new Map<string, Start>();
  private readonly requests = new Map<string, number>();
  private readonly verdicts = new Map<string, VerdictRow>();
  private watermark = -Infinity;
  private clockMs = 0;

  constructor(private readonly agg: Aggregator, private readonly opts: HubbleSinkOptions) {}

  line(text: string): void {
    if (text.trim() === '') return;
    const s = this.stats;
    s.lines++;
    const p = parseHubbleLine(text);
    if (p === null) { s.malformed++; return; }
    s.flows++;
    const f = p.flow;
    if (!f.IP) { s.skipped++; return; }
    if (s.firstTsMs === null || p.tsMs < s.firstTsMs) s.firstTsMs = p.tsMs;
    if (s.lastTsMs === null || p.tsMs > s.lastTsMs) s.lastTsMs = p.tsMs;
    if (p.tsMs > this.watermark) {
      this.watermark = p.tsMs;
      this.expire();
    }
    const verdict = verdictOf(f.verdict);
    const tcp = f.l4?.TCP;
    const udp = f.l4?.UDP;
    if (!tcp && !udp) { s.skipped++; return; }
    const transport: Transport = tcp ? 'tcp' : 'udp';
    const sport = (tcp ?? udp)!.source_port;
    const dport = (tcp ?? udp)!.destination_port;
    const tuple = `${transport}|${f.IP.source}|${sport}|${f.IP.destination}|${dport}`;
    const node = this.opts.node || p.node;
    const isReply = f.is_reply === true || f.reply === true;

    if (f.l7) {
      const type = f.l7.type;
      if (!(type === 'REQUEST' || type === 1)) { s.ignoredEvents++; return; }
      this.request(f, p.tsMs, tuple, transport, dport, node, verdict);
      return;
    }
    if (isReply) { s.ignoredEvents++; return; }
    if (tcp && !(tcp.flags.SYN === true && tcp.flags.ACK !== true)) { s.ignoredEvents++; return; }
    const seen = this.starts.get(tuple);
    if (seen !== undefined && p.tsMs - seen.tsMs <= DEDUP_WINDOW_MS) {
      // Another observation point of the same start: one call, every verdict it met.
      seen.verdicts.add(verdict);
      s.deduplicated++;
      return;
    }
    if (seen !== undefined) this.flushStart(tuple, seen);
    const key = this.key(f, node, transport, dport, transport, '', '', '', 'unknown', 'hubble: L3/L4 flow, no TLS visibility');
    this.starts.set(tuple, { tsMs: p.tsMs, arrivedMs: this.clockMs, key, verdicts: new Set([verdict]), isMerged: false });
  }

  private request(f: HubbleFlow, tsMs: number, tuple: string, transport: Transport, dport: number, node: string, verdict: string): void {
    const s = this.stats;
    const http = f.l7?.http;
    const dns = f.l7?.dns;
    let key: CallKey;
    if (http) {
      // Cilium's proxy parsed the request, so it crossed the wire in cleartext.
      let path = '';
      let host = '';
      try {
        const u = new URL(http.url);
        path = u.pathname + u.search;
        host = u.host;
      } catch {
        path = http.url;
      }
      const protocol: Protocol = http.protocol.startsWith('HTTP/2') ? 'http2' : 'http';
      key = this.key(f, node, transport, dport, protocol, http.method, path, host, 'plaintext', 'hubble: cilium proxy parsed cleartext HTTP');
      const rid = http.headers?.find((h) => h.key.toLowerCase() === 'x-request-id')?.value;
      if (rid) {
        // The same request seen by the proxy at both ends carries one x-request-id.
        const k = `${tuple}|${rid}`;
        const t = this.requests.get(k);
        if (t !== undefined && tsMs - t <= DEDUP_WINDOW_MS) { s.deduplicated++; return; }
        this.requests.set(k, tsMs);
      }
    } else if (dns) {
      key = this.key(f, node, transport, dport, 'dns', '', '', dns.query.replace(/\.$/, ''), 'plaintext', 'cleartext dns');
    } else {
      s.ignoredEvents++;
      return;
    }
    const start = this.starts.get(tuple);
    const isConnection = start !== undefined && !start.isMerged;
    if (start !== undefined) start.isMerged = true;
    this.count(key, tsMs, 1, isConnection ? 1 : 0, isConnection ? new Set([...start!.verdicts, verdict]) : new Set([verdict]));
  }

  private key(f: HubbleFlow, node: string, transport: Transport, dport: number, protocol: Protocol, method: string,
    target: string, host: string, security: Security, reason: string): CallKey {
    const src = f.IP!.source;
    const dst = f.IP!.destination;
    // Flow text is hostile input like packet bytes (inspect/text.ts): no control characters, and
    // within the lengths a central server accepts (push/wire.ts), or it refuses the whole batch.
    return {
      bucketMs: 0, source: 'hubble', node: safeText(node, 253), srcIp: src, dstIp: dst, serviceIp: '', dstPort: dport, transport, protocol,
      method: safeText(method, 32), path: target === '' ? '' : this.opts.templatePath(`${src}>${dst}:${dport}`, target),
      host: safeText(host, MAX_HOST), sni: '', alpn: '', security, securityReason: reason, direction: 'observed',
    };
  }

  private count(key: CallKey, tsMs: number, count: number, connections: number, verdicts: Set<string>): void {
    this.stats.calls++;
    this.stats.connections += connections;
    const call = this.agg.add(key, { tsMs, count, connections, bytes: 0, credentials: false, status: 0 });
    const ks = call.keyString;
    for (const v of verdicts) {
      this.verdictTotals.set(v, (this.verdictTotals.get(v) ?? 0) + 1);
      const vk = `${ks}\u0002${v}`;
      const row = this.verdicts.get(vk);
      if (row) row.count++;
      else this.verdicts.set(vk, { keyString: ks, key: call.key, verdict: v, count: 1 });
    }
    if (this.verdicts.size >= 50_000) this.drainVerdicts();
  }

  private flushStart(tuple: string, st: Start): void {
    this.starts.delete(tuple);
    // A connection whose requests were counted went with its first request.
    if (!st.isMerged) this.count(st.key, st.tsMs, 1, 1, st.verdicts);
  }

  /** Counts connection starts that waited long enough for an L7 request. */
  private expire(): void {
    for (const [tuple, st] of this.starts) {
      if (this.watermark - st.tsMs <= Math.max(L7_WAIT_MS, DEDUP_WINDOW_MS)) break;
      this.flushStart(tuple, st);
    }
    if (this.requests.size > 100_000) {
      for (const [k, t] of this.requests) if (this.watermark - t > DEDUP_WINDOW_MS) this.requests.delete(k);
    }
  }

  private drainVerdicts(): void {
    if (this.verdicts.size === 0) return;
    const rows = [...this.verdicts.values()];
    this.verdicts.clear();
    this.opts.writeVerdicts(rows);
  }

  /**
   * Follow mode, at every flush: counts the connection starts that waited L7_WAIT_MS of wall
   * time for a request (on a quiet stream no later flow moves the watermark), and hands the
   * verdicts over so they commit with their calls. File mode never ticks.
   */
  tick(nowMs: number): void {
    for (const [tuple, st] of this.starts) {
      if (st.arrivedMs > nowMs - L7_WAIT_MS) break;
      this.flushStart(tuple, st);
    }
    this.drainVerdicts();
    this.clockMs = nowMs;
  }

  finish(): void {
    for (const [tuple, st] of [...this.starts]) this.flushStart(tuple, st);
    this.requests.clear();
    this.drainVerdicts();
  }
}
