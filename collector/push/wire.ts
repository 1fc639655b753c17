// The ingest batch as it travels from a collector to `trustmap serve` (POST /api/v1/ingest): one
// zod schema that the collector's outbox serialises from and the server validates against. Every
// string is bounded and free of control characters: the key of a call is built by joining its
// parts with U+0001 (aggregate.ts), so a part that carried one could collide with another key.
import { z } from 'zod';
import { MAX_HOST, MAX_PATH } from '../inspect/text.js';
import { CALL_SOURCES, CAPTURE_STATUSES, DIRECTIONS, PROTOCOLS, SECURITIES, TRANSPORTS, type CallKey } from '../model.js';
import type { CertificateSighting } from '../store/certificates.js';
import { VERDICT_NAME } from '../store/telemetry.js';

/** Rows a collector puts in one batch: ~400 bytes of JSON each, so ~1 MB, far below the body limit. */
export const ROWS_PER_BATCH = 2_000;
/** What the server accepts: a body larger than this is refused with 413 before it is parsed. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** DNS names a collector puts in one batch (SideRecords hands over up to 40,000 at once). */
export const DNS_NAMES_PER_BATCH = 5_000;
export const MAX_CALLS = 10_000;
export const MAX_DNS_NAMES = 20_000;
/** Certificate sightings a collector puts in one batch: each at most ~3 KB of JSON (32 SANs of bounded length). */
export const CERTIFICATES_PER_BATCH = 500;
export const MAX_CERTIFICATES = 2_000;
/** Verdict counts a collector puts in one batch: ~350 bytes of JSON each, like a call row. */
export const VERDICTS_PER_BATCH = 2_000;
export const MAX_VERDICTS = 10_000;

const HOUR_MS = 3_600_000;
// eslint-disable-next-line no-control-regex
const NO_CONTROL = /^[^\u0000-\u001f\u007f-\u009f]*$/;
const text = (max: number) => z.string().max(max).regex(NO_CONTROL, 'control characters are not allowed');
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const epochMs = z.number().int().min(0).max(8.64e15);
const address = z.string().max(64).regex(/^[0-9A-Za-z.:%_-]*$/, 'not an address');

/** A node name: what `--node` accepts and what a token file names. */
export const nodeName = z.string().min(1).max(253).regex(/^[\w.:-]+$/, 'node names are letters, digits, ".", "_", ":" and "-"');
/** A batch id: the collector's id and the batch's sequence number, e.g. "6f1c…-42". */
export const batchId = z.string().min(1).max(128).regex(/^[\w.:-]+$/, 'batch ids are letters, digits, ".", "_", ":" and "-"');

/** A call's key without the node, which the server takes from the token: what calls and verdicts name a call by. */
const wireCallKey = {
  bucketMs: epochMs.refine((n) => n % HOUR_MS === 0, 'bucketMs is the start of an hour'),
  source: z.enum(CALL_SOURCES),
  srcIp: address,
  dstIp: address,
  serviceIp: address,
  dstPort: z.number().int().min(0).max(65535),
  transport: z.enum(TRANSPORTS),
  protocol: z.enum(PROTOCOLS),
  method: text(64),
  path: text(MAX_PATH + 2),
  host: text(MAX_HOST),
  sni: text(MAX_HOST),
  alpn: text(255),
  security: z.enum(SECURITIES),
  securityReason: text(256),
  direction: z.enum(DIRECTIONS),
};

/** One aggregated call row: its key and counters. */
export const wireCall = z.strictObject({
  ...wireCallKey,
  count,
  connections: count,
  bytes: count,
  // null: no time yet. The aggregator can drain a row created for a connection before anything
  // was timed on it (±Infinity in AggRow, which JSON cannot carry); the store widens it later.
  firstSeenMs: epochMs.nullable(),
  lastSeenMs: epochMs.nullable(),
  credentialsInPlaintext: z.union([z.literal(0), z.literal(1)]),
  status2xx: count,
  status3xx: count,
  status4xx: count,
  status5xx: count,
}).refine((c) => c.firstSeenMs === null || c.lastSeenMs === null || c.firstSeenMs <= c.lastSeenMs, 'firstSeenMs is after lastSeenMs');

/**
 * Of a call's count, how many met one Hubble verdict (collector/store/telemetry.ts): the call named
 * by its key, so the server files the count under the key hash it computes for its own call row.
 * Security-relevant: without the DROPPED counts the server proposes allowing what Cilium refuses.
 */
export const wireVerdict = z.strictObject({
  ...wireCallKey,
  verdict: z.string().regex(VERDICT_NAME, 'a Hubble verdict name (upper case letters and "_")'),
  count: count.min(1),
});

export const wireDnsName = z.strictObject({
  ip: address.min(1),
  name: text(MAX_HOST).min(1),
  tsMs: epochMs,
});

/** A certificate seen in clear (TLS <= 1.2) and who presented it: the certificate inventory's row. */
export const wireCertificate = z.strictObject({
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in hex'),
  subject: text(1024),
  issuer: text(1024),
  uris: z.array(text(MAX_PATH)).max(32),
  dnsNames: z.array(text(MAX_HOST)).max(32),
  serialHex: z.string().max(128).regex(/^[0-9a-fA-F]*$/, 'hex digits'),
  // X.509 validity starts in 1950 (UTCTime) and may end in 9999: before the epoch and far beyond.
  notBeforeMs: z.number().int().min(-8.64e15).max(8.64e15),
  notAfterMs: z.number().int().min(-8.64e15).max(8.64e15),
  role: z.enum(['client', 'server']),
  ip: address.min(1),
  count,
  firstSeenMs: epochMs,
  lastSeenMs: epochMs,
});

/** The collector's capture as of this batch: tallies so far (cumulative), so the last batch wins. */
export const wireCapture = z.strictObject({
  /** The capture's id in the collector's store. */
  id: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  source: z.enum(CALL_SOURCES),
  name: text(1024),
  status: z.enum(CAPTURE_STATUSES),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().nullable(),
  bytesRead: count,
  packets: count,
  malformed: count,
  skipped: count,
  connections: count,
  evictedEarly: count,
  callsWritten: count,
  firstTsMs: epochMs.nullable(),
  lastTsMs: epochMs.nullable(),
  dropped: count.nullable(),
  error: text(1024).nullable(),
  /** Calls the collector dropped because its spool was full (cumulative); absent from older collectors. */
  spoolDroppedCalls: count.optional(),
  /**
   * Hubble verdict counts (one per call and verdict) the collector dropped because its spool was
   * full (cumulative): without the DROPPED ones the server proposes allowing calls Cilium refuses.
   * Absent from older collectors.
   */
  spoolDroppedVerdicts: count.optional(),
});

/** The id a collector's store picked for itself (a UUID): with a capture id it names a pushed capture. */
export const collectorId = z.string().min(1).max(64).regex(/^[\w-]+$/, 'collector ids are letters, digits, "_" and "-"');

export const ingestBatch = z.strictObject({
  node: nodeName,
  collector: collectorId,
  batch_id: batchId,
  calls: z.array(wireCall).max(MAX_CALLS),
  dns_names: z.array(wireDnsName).max(MAX_DNS_NAMES),
  // Absent from collectors older than the certificate push.
  certificates: z.array(wireCertificate).max(MAX_CERTIFICATES).optional(),
  // Absent from collectors older than the verdict push, and from batches without any.
  verdicts: z.array(wireVerdict).max(MAX_VERDICTS).optional(),
  capture: wireCapture.nullable(),
});

export type WireCall = z.infer<typeof wireCall>;
export type WireCallKey = { [K in keyof typeof wireCallKey]: z.infer<(typeof wireCallKey)[K]> };
export type WireVerdict = z.infer<typeof wireVerdict>;
export type WireDnsName = z.infer<typeof wireDnsName>;
export type WireCertificate = z.infer<typeof wireCertificate>;
export type WireCapture = z.infer<typeof wireCapture>;
export type IngestBatch = z.infer<typeof ingestBatch>;

/** What the server answers for an accepted batch. */
export interface IngestReply {
  duplicate: boolean;
  calls: number;
  dns_names: number;
  certificates: number;
  verdicts: number;
}

/** The call key a wire call or verdict names, on `node` (the token's): what the server hashes. */
export function callKeyOf(node: string, c: WireCallKey): CallKey {
  return {
    bucketMs: c.bucketMs, source: c.source, node, srcIp: c.srcIp, dstIp: c.dstIp, serviceIp: c.serviceIp,
    dstPort: c.dstPort, transport: c.transport, protocol: c.protocol, method: c.method, path: c.path,
    host: c.host, sni: c.sni, alpn: c.alpn, security: c.security, securityReason: c.securityReason, direction: c.direction,
  };
}

/** The wire's form of a key (its node left out): the collector's side of callKeyOf. */
export function wireCallKeyOf(k: CallKey): WireCallKey {
  return {
    bucketMs: k.bucketMs, source: k.source, srcIp: k.srcIp, dstIp: k.dstIp, serviceIp: k.serviceIp, dstPort: k.dstPort,
    transport: k.transport, protocol: k.protocol, method: k.method, path: k.path, host: k.host, sni: k.sni, alpn: k.alpn,
    security: k.security, securityReason: k.securityReason, direction: k.direction,
  };
}

/** A certificate sighting as the wire carries it (times in whole milliseconds): the collector's side of certificateSightingOf. */
export function wireCertificateOf(r: CertificateSighting): WireCertificate {
  const c = r.cert;
  return {
    fingerprint: c.fingerprint, subject: c.subject, issuer: c.issuer, uris: c.uris, dnsNames: c.dnsNames, serialHex: c.serialHex,
    notBeforeMs: Math.floor(c.notBeforeMs), notAfterMs: Math.floor(c.notAfterMs), role: r.role, ip: r.ip, count: r.count,
    firstSeenMs: Math.floor(r.firstSeenMs), lastSeenMs: Math.ceil(r.lastSeenMs),
  };
}

/** The sighting a wire certificate names: what the server records. */
export function certificateSightingOf(c: WireCertificate): CertificateSighting {
  return {
    cert: { fingerprint: c.fingerprint, subject: c.subject, issuer: c.issuer, uris: c.uris, dnsNames: c.dnsNames, serialHex: c.serialHex, notBeforeMs: c.notBeforeMs, notAfterMs: c.notAfterMs },
    role: c.role, ip: c.ip, count: c.count, firstSeenMs: c.firstSeenMs, lastSeenMs: c.lastSeenMs,
  };
}
