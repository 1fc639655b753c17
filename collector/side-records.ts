// What the inspectors learn besides calls: DNS answers (address → name, so addresses get names
// without an inventory) and certificates seen in clear. Accumulated in bounded maps and written
// with the call batches, inside the ingest's transaction.
import type { CertificateInfo, DnsMessage } from './inspect/contract.js';
import type { CertificateSighting } from './store/certificates.js';
import type { DnsAnswer } from './store/inventory.js';

export interface SideRecordSink {
  dns(rows: DnsAnswer[]): void;
  certificates(rows: CertificateSighting[]): void;
}

export class SideRecords {
  private names = new Map<string, DnsAnswer & { lastMs: number }>();
  private certs = new Map<string, CertificateSighting>();
  namesWritten = 0;
  certificatesWritten = 0;

  constructor(private readonly sink: SideRecordSink, private readonly flushAt = 20_000) {}

  /** A DNS response: every A/AAAA answer names its address by the answer's name and the query's. */
  dns(msg: DnsMessage, tsMs: number): void {
    if (!msg.isResponse) return;
    for (const a of msg.answers) {
      if (a.type === 'CNAME') continue;
      this.name(a.value, a.name, tsMs);
      if (msg.qname !== '' && msg.qname !== a.name) this.name(a.value, msg.qname, tsMs);
    }
  }

  private name(ip: string, name: string, tsMs: number): void {
    const k = ip + '\u0001' + name;
    const cur = this.names.get(k);
    if (cur) {
      if (tsMs < cur.tsMs) cur.tsMs = tsMs;
      if (tsMs > cur.lastMs) cur.lastMs = tsMs;
      return;
    }
    if (this.names.size >= this.flushAt) this.flushNames();
    this.names.set(k, { ip, name, tsMs, lastMs: tsMs });
  }

  certificate(cert: CertificateInfo, fromClient: boolean, ip: string, tsMs: number): void {
    const role = fromClient ? 'client' : 'server';
    const k = cert.fingerprint + role + ip;
    const cur = this.certs.get(k);
    if (cur) {
      cur.count++;
      if (tsMs < cur.firstSeenMs) cur.firstSeenMs = tsMs;
      if (tsMs > cur.lastSeenMs) cur.lastSeenMs = tsMs;
      return;
    }
    if (this.certs.size >= this.flushAt) this.flushCertificates();
    this.certs.set(k, { cert, role, ip, count: 1, firstSeenMs: tsMs, lastSeenMs: tsMs });
  }

  private flushNames(): void {
    if (this.names.size === 0) return;
    // Each name's interval is [first, last]: written as two answers the store widens to both.
    const rows: DnsAnswer[] = [];
    for (const n of this.names.values()) {
      rows.push({ ip: n.ip, name: n.name, tsMs: n.tsMs });
      if (n.lastMs !== n.tsMs) rows.push({ ip: n.ip, name: n.name, tsMs: n.lastMs });
    }
    this.sink.dns(rows);
    this.namesWritten += this.names.size;
    this.names = new Map();
  }

  private flushCertificates(): void {
    if (this.certs.size === 0) return;
    this.sink.certificates([...this.certs.values()]);
    this.certificatesWritten += this.certs.size;
    this.certs = new Map();
  }

  flush(): void {
    this.flushNames();
    this.flushCertificates();
  }
}
