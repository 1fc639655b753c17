// What each testbed process counts about the traffic it served. Servers count, not clients: a
// server knows which pod it is (a Service may have several endpoints), who connected (no SNAT in
// the testbed), and whether the request completed (the response was fully written).

export const LEDGER_KINDS = ['request', 'tls-connection', 'tcp-connection', 'dns-query'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

export interface LedgerEntry {
  kind: LedgerKind;
  srcIp: string;
  dstIp: string;
  port: number;
  transport: 'tcp' | 'udp';
  /** request: 'http' | 'grpc'; dns-query: 'dns'; connections: 'tls' | 'tcp'. */
  protocol: 'http' | 'grpc' | 'dns' | 'tls' | 'tcp';
  security: 'plaintext' | 'tls' | 'mtls';
  method: string | null;
  /** Path template (numeric segments as {id}, query dropped), or the DNS query name. */
  path: string | null;
  host: string | null;
  /** TLS connections: the SNI the client sent and the negotiated version. */
  sni: string | null;
  tlsVersion: string | null;
  /** DNS queries: the query type and the A answer (null for NXDOMAIN or no A record). */
  qtype: number | null;
  answer: string | null;
  /** Requests that carried an Authorization header. */
  hasCredentials: boolean;
  count: number;
}

export type LedgerKey = Omit<LedgerEntry, 'count'>;

/** Numeric path segments become {id}; the query string is dropped. */
export const templatePath = (target: string): string => {
  const path = target.split('?')[0] ?? target;
  return path.split('/').map((seg) => (/^\d+$/.test(seg) ? '{id}' : seg)).join('/');
};

export class Ledger {
  private readonly entries = new Map<string, LedgerEntry>();

  add(key: LedgerKey): void {
    const id = JSON.stringify(key);
    const found = this.entries.get(id);
    if (found) found.count += 1;
    else this.entries.set(id, { ...key, count: 1 });
  }

  list(): LedgerEntry[] {
    return [...this.entries.values()];
  }

  clear(): void {
    this.entries.clear();
  }
}
