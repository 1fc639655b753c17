// The certificate inventory: certificates seen in clear text (TLS <= 1.2 handshakes), with the
// addresses that presented them as client or server.
import type { Db } from './db.js';
import type { CertificateInfo } from '../inspect/contract.js';

export interface CertificateSighting {
  cert: CertificateInfo;
  role: 'client' | 'server';
  ip: string;
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
}

/** Upserts sightings; run inside the ingest's transaction. */
export function recordCertificates(db: Db, sightings: Iterable<CertificateSighting>): number {
  const cert = db.prepare(
    `INSERT INTO certificates (fingerprint, subject, issuer, uris, dns_names, serial, not_before_ms, not_after_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING`,
  );
  const seen = db.prepare(
    `INSERT INTO certificate_sightings (fingerprint, role, ip, count, first_seen_ms, last_seen_ms)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (fingerprint, role, ip) DO UPDATE SET count = count + excluded.count,
       first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),
       last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)`,
  );
  let n = 0;
  for (const s of sightings) {
    const c = s.cert;
    cert.run(c.fingerprint, c.subject, c.issuer, JSON.stringify(c.uris), JSON.stringify(c.dnsNames), c.serialHex,
      Math.floor(c.notBeforeMs), Math.floor(c.notAfterMs));
    seen.run(c.fingerprint, s.role, s.ip, s.count, Math.floor(s.firstSeenMs), Math.ceil(s.lastSeenMs));
    n++;
  }
  return n;
}

export interface CertificateView {
  fingerprint: string;
  subject: string;
  issuer: string;
  uris: string[];
  dns_names: string[];
  serial: string;
  not_before: string;
  not_after: string;
  presented_by: Array<{ role: 'client' | 'server'; ip: string; count: number; first_seen: string; last_seen: string }>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function listCertificates(db: Db): CertificateView[] {
  const certs = db.prepare('SELECT * FROM certificates ORDER BY subject, fingerprint').all() as Array<{
    fingerprint: string; subject: string; issuer: string; uris: string; dns_names: string; serial: string;
    not_before_ms: number; not_after_ms: number;
  }>;
  const sightings = db.prepare('SELECT * FROM certificate_sightings ORDER BY fingerprint, role, ip').all() as Array<{
    fingerprint: string; role: 'client' | 'server'; ip: string; count: number; first_seen_ms: number; last_seen_ms: number;
  }>;
  const by = new Map<string, CertificateView['presented_by']>();
  for (const s of sightings) {
    let list = by.get(s.fingerprint);
    if (!list) by.set(s.fingerprint, (list = []));
    list.push({ role: s.role, ip: s.ip, count: s.count, first_seen: iso(s.first_seen_ms), last_seen: iso(s.last_seen_ms) });
  }
  return certs.map((c) => ({
    fingerprint: c.fingerprint, subject: c.subject, issuer: c.issuer,
    uris: JSON.parse(c.uris) as string[], dns_names: JSON.parse(c.dns_names) as string[], serial: c.serial,
    not_before: iso(c.not_before_ms), not_after: iso(c.not_after_ms), presented_by: by.get(c.fingerprint) ?? [],
  }));
}
