// One Envoy access-log line → a typed record. Reads Istio's default TEXT format (1.9+:
// pilot/pkg/model/telemetry_logging.go EnvoyTextLogFormat, and the 1.3-1.8 variant with the quoted
// mixer status field), Istio's JSON encoding (EnvoyJSONLogFormatIstio keys), and the trustmap
// extension of either (docs/envoy-access-log-format.md). Lines may carry kubectl's prefixes:
// `[pod/NAME/CONTAINER] ` (--prefix) and an RFC 3339 timestamp (--timestamps).
import { isIP } from 'node:net';
import { z } from 'zod';

export interface EnvoyRecord {
  tsMs: number;
  method: string;
  /** Request target as logged (X-ENVOY-ORIGINAL-PATH or :path), '' for TCP. */
  path: string;
  /** HTTP/1.1, HTTP/2, HTTP/3, or '' for TCP proxy lines. */
  protocol: string;
  responseCode: number;
  responseFlags: string;
  bytesReceived: number;
  bytesSent: number;
  requestId: string;
  authority: string;
  upstreamHost: string;
  upstreamCluster: string;
  upstreamLocal: string;
  downstreamLocal: string;
  downstreamRemote: string;
  requestedServerName: string;
  /** Present only with the trustmap format (or a JSON format carrying the keys); null when the format lacks it. */
  downstreamPeerUriSan: string | null;
  upstreamPeerUriSan: string | null;
  downstreamTlsVersion: string | null;
  upstreamTlsVersion: string | null;
}

const dash = (s: string | undefined): string => (s === undefined || s === '-' ? '' : s);
const num = (s: string | number | undefined): number => {
  if (typeof s === 'number') return Number.isFinite(s) ? s : 0;
  const n = Number(s);
  return s === undefined || s === '-' || !Number.isFinite(n) ? 0 : n;
};

// kubectl logs --prefix, then --timestamps (RFC 3339 with up to nanoseconds).
const PREFIX = /^(?:\[[^\]\s]+\/[^\]\s]+\/[^\]\s]+\] )?(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) )?/;

/** Parses one line; null when it is not an access-log line we understand. Never throws. */
export function parseEnvoyLine(raw: string): EnvoyRecord | null {
  const line = raw.replace(PREFIX, '').trim();
  if (line.startsWith('{')) return parseJson(line);
  if (line.startsWith('[')) return parseText(line);
  return null;
}

// Envoy does not escape quotes inside quoted operators; a user agent with a quote breaks any
// tokenizer, and such a line is counted as malformed rather than guessed at.
const TOKEN = /"([^"]*)"|(\S+)/g;

interface Token { text: string; isQuoted: boolean }

function tokens(s: string): Token[] {
  const out: Token[] = [];
  TOKEN.lastIndex = 0;
  for (let m; (m = TOKEN.exec(s)) !== null; ) out.push(m[1] !== undefined ? { text: m[1], isQuoted: true } : { text: m[2], isQuoted: false });
  return out;
}

const EXTENSION = /^(dpeer|upeer|dtls|utls)=(.*)$/;

function parseText(line: string): EnvoyRecord | null {
  const close = line.indexOf('] ');
  if (close < 0) return null;
  const tsMs = Date.parse(line.slice(1, close));
  if (Number.isNaN(tsMs)) return null;
  const t = tokens(line.slice(close + 2));
  // "METHOD PATH PROTOCOL" CODE FLAGS, then the 1.9+ pair (details, termination details) or the
  // 1.3-1.8 quoted mixer status, then the quoted transport failure reason.
  if (t.length < 17 || !t[0].isQuoted) return null;
  const req = t[0].text.split(' ');
  if (req.length !== 3) return null;
  let i = 3;
  if (t[i].isQuoted) i += 1; // 1.3-1.8: "%DYNAMIC_METADATA(istio.mixer:status)%"
  else i += 2; // 1.9+: %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
  if (t[i] === undefined || !t[i].isQuoted) return null;
  i += 1; // "%UPSTREAM_TRANSPORT_FAILURE_REASON%"
  // BYTES_RECEIVED BYTES_SENT DURATION UPSTREAM_SERVICE_TIME "XFF" "UA" "REQUEST_ID" "AUTHORITY"
  // "UPSTREAM_HOST" UPSTREAM_CLUSTER UPSTREAM_LOCAL DOWNSTREAM_LOCAL DOWNSTREAM_REMOTE RSN ROUTE_NAME
  const rest = t.slice(i);
  if (rest.length < 15) return null;
  const quotedAt = [4, 5, 6, 7, 8];
  if (!quotedAt.every((k) => rest[k].isQuoted) || rest[9].isQuoted) return null;
  if (!/^(\d+|-)$/.test(rest[0].text) || !/^(\d+|-)$/.test(rest[1].text) || !/^(\d+|-)$/.test(t[1].text)) return null;
  const ext: Record<string, string> = {};
  for (const x of rest.slice(15)) {
    const m = EXTENSION.exec(x.text);
    if (m) ext[m[1]] = m[2];
  }
  const opt = (k: string) => (k in ext ? dash(ext[k]) : null);
  return {
    tsMs,
    method: dash(req[0]),
    path: dash(req[1]),
    protocol: dash(req[2]),
    responseCode: num(t[1].text),
    responseFlags: dash(t[2].text),
    bytesReceived: num(rest[0].text),
    bytesSent: num(rest[1].text),
    requestId: dash(rest[6].text),
    authority: dash(rest[7].text),
    upstreamHost: dash(rest[8].text),
    upstreamCluster: dash(rest[9].text),
    upstreamLocal: dash(rest[10].text),
    downstreamLocal: dash(rest[11].text),
    downstreamRemote: dash(rest[12].text),
    requestedServerName: dash(rest[13].text),
    downstreamPeerUriSan: opt('dpeer'),
    upstreamPeerUriSan: opt('upeer'),
    downstreamTlsVersion: opt('dtls'),
    upstreamTlsVersion: opt('utls'),
  };
}

// Istio's JSON encoding renders every operator as a string, but typed JSON formats render
// numbers as numbers and missing values as null: accept both.
const field = z.union([z.string(), z.number(), z.null()]).optional();
const jsonLine = z.looseObject({
  start_time: z.string(),
  method: field, path: field, protocol: field, response_code: field, response_flags: field,
  bytes_received: field, bytes_sent: field, request_id: field, authority: field,
  upstream_host: field, upstream_cluster: field, upstream_local_address: field,
  downstream_local_address: field, downstream_remote_address: field, requested_server_name: field,
  downstream_peer_uri_san: field, upstream_peer_uri_san: field, downstream_tls_version: field, upstream_tls_version: field,
});

function parseJson(line: string): EnvoyRecord | null {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return null;
  }
  const r = jsonLine.safeParse(raw);
  if (!r.success) return null;
  const j = r.data;
  const tsMs = Date.parse(j.start_time);
  if (Number.isNaN(tsMs)) return null;
  const s = (v: string | number | null | undefined) => (v === null || v === undefined ? '' : dash(String(v)));
  const opt = (k: keyof typeof j) => (k in j ? s(j[k] as string | number | null | undefined) : null);
  return {
    tsMs,
    method: s(j.method), path: s(j.path), protocol: s(j.protocol),
    responseCode: num(j.response_code ?? undefined), responseFlags: s(j.response_flags),
    bytesReceived: num(j.bytes_received ?? undefined), bytesSent: num(j.bytes_sent ?? undefined),
    requestId: s(j.request_id), authority: s(j.authority), upstreamHost: s(j.upstream_host),
    upstreamCluster: s(j.upstream_cluster), upstreamLocal: s(j.upstream_local_address),
    downstreamLocal: s(j.downstream_local_address), downstreamRemote: s(j.downstream_remote_address),
    requestedServerName: s(j.requested_server_name),
    downstreamPeerUriSan: opt('downstream_peer_uri_san'), upstreamPeerUriSan: opt('upstream_peer_uri_san'),
    downstreamTlsVersion: opt('downstream_tls_version'), upstreamTlsVersion: opt('upstream_tls_version'),
  };
}

/** `10.0.0.1:80`, `[::1]:80`, `tcp://10.0.0.1:80`, `envoy://connect_originate/10.0.0.1:80` → ip and port. */
export function splitAddress(s: string): { ip: string; port: number } | null {
  if (s === '') return null;
  const slash = s.lastIndexOf('/');
  if (slash >= 0) s = s.slice(slash + 1);
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s) ?? /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s);
  if (!m) return null;
  const port = Number(m[2]);
  return port <= 65535 && isIP(m[1]) !== 0 ? { ip: m[1], port } : null;
}
