// Envoy access-log parsing and counting against the Istio docs' client/server pair and the
// kiali waypoint log (test/fixtures/envoy, see ATTRIBUTION.md), plus lines in Istio's JSON
// encoding and the trustmap format built from those real lines' values.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Aggregator, type AggRow } from '../../../collector/aggregate.js';
import { EnvoySink, securityOf, sideOf } from '../../../collector/sources/envoy/calls.js';
import { parseEnvoyLine, splitAddress } from '../../../collector/sources/envoy/parse.js';

const FIX = new URL('../../fixtures/envoy/', import.meta.url).pathname;
const PAIR = readFileSync(FIX + 'istio-docs-access-log-client-server-pair.log', 'utf8').trimEnd().split('\n');
const WAYPOINT = readFileSync(FIX + 'istio-ambient-waypoint-access.log', 'utf8').trimEnd().split('\n');

function run(lines: string[]): { rows: AggRow[]; sink: EnvoySink } {
  const rows: AggRow[] = [];
  const agg = new Aggregator((b) => rows.push(...b));
  const sink = new EnvoySink(agg, { node: '', templatePath: (_e, t) => t.replace(/\/\d+$/, '/{id}') });
  for (const l of lines) sink.line(l);
  sink.finish();
  agg.drain();
  return { rows, sink };
}

describe('Istio default TEXT format', () => {
  it('reads every field of the docs client line in order', () => {
    const r = parseEnvoyLine(PAIR[0]);
    assert.ok(r);
    assert.equal(r.tsMs, Date.parse('2020-11-25T21:26:18.409Z'));
    assert.equal(r.method, 'GET');
    assert.equal(r.path, '/status/418');
    assert.equal(r.protocol, 'HTTP/1.1');
    assert.equal(r.responseCode, 418);
    assert.equal(r.responseFlags, '');
    assert.equal(r.bytesReceived, 0);
    assert.equal(r.bytesSent, 135);
    assert.equal(r.requestId, '84961386-6d84-929d-98bd-c5aee93b5c88');
    assert.equal(r.authority, 'httpbin:8000');
    assert.equal(r.upstreamHost, '10.44.1.27:80');
    assert.equal(r.upstreamCluster, 'outbound|8000||httpbin.foo.svc.cluster.local');
    assert.equal(r.upstreamLocal, '10.44.1.23:37652');
    assert.equal(r.downstreamLocal, '10.0.45.184:8000');
    assert.equal(r.downstreamRemote, '10.44.1.23:46520');
    assert.equal(r.requestedServerName, '');
    assert.equal(r.downstreamPeerUriSan, null, 'the default format has no peer certificate field');
    assert.equal(sideOf(r.upstreamCluster), 'outbound');
  });

  it('counts the client/server pair of one request once, from the inbound side, with the service address', () => {
    for (const order of [PAIR, [...PAIR].reverse()]) {
      const { rows, sink } = run(order);
      assert.equal(sink.stats.lines, 2);
      assert.equal(sink.stats.calls, 1);
      assert.equal(sink.stats.deduplicated, 1);
      assert.equal(rows.length, 1);
      const k = rows[0].key;
      assert.equal(k.source, 'envoy');
      assert.equal(`${k.srcIp}>${k.dstIp}:${k.dstPort}`, '10.44.1.23>10.44.1.27:80');
      assert.equal(k.serviceIp, '10.0.45.184');
      assert.equal(`${k.protocol} ${k.method} ${k.path} ${k.host}`, 'http GET /status/{id} httpbin:8000');
      assert.equal(rows[0].count, 1);
      assert.equal(rows[0].status4xx, 1);
    }
  });

  it('infers mTLS from an inbound outbound_ SNI, and plaintext from its absence, saying why', () => {
    const inbound = parseEnvoyLine(PAIR[1])!;
    const s = securityOf(inbound, 'inbound');
    assert.equal(s.security, 'mtls');
    assert.match(s.reason, /^inbound: requested_server_name .*outbound_/);
    const plain = parseEnvoyLine(PAIR[1].replace(' outbound_.8000_._.httpbin.foo.svc.cluster.local ', ' - '))!;
    assert.deepEqual(securityOf(plain, 'inbound'), { security: 'plaintext', reason: 'inbound: no requested_server_name on an inbound listener (PERMISSIVE accepts plaintext)' });
    // The client side of the default format cannot know the upstream's TLS.
    assert.equal(securityOf(parseEnvoyLine(PAIR[0])!, 'outbound').security, 'unknown');
  });

  it('reads the 1.3-1.8 variant with the quoted mixer status field', () => {
    const old = PAIR[1].replace(' via_upstream - "-" ', ' "-" "-" ');
    const r = parseEnvoyLine(old);
    assert.equal(r?.requestedServerName, 'outbound_.8000_._.httpbin.foo.svc.cluster.local');
    assert.equal(r?.downstreamRemote, '10.44.1.23:37652');
  });

  it('strips kubectl --timestamps and --prefix, and reads waypoint (HBONE) lines', () => {
    const r = parseEnvoyLine(WAYPOINT[0]);
    assert.ok(r, 'kubectl --timestamps prefix');
    assert.equal(r.tsMs, Date.parse('2025-01-30T12:10:13.279Z'));
    assert.equal(splitAddress(r.upstreamHost)?.ip, '10.244.0.32');
    assert.ok(parseEnvoyLine(`[pod/httpbin-74fb669cc6-qvlb5/istio-proxy] ${PAIR[1]}`));
    const { rows, sink } = run(WAYPOINT);
    assert.equal(sink.stats.malformed, 0);
    assert.equal(sink.stats.calls, WAYPOINT.length);
    assert.ok(rows.every((x) => x.key.security === 'mtls' && x.key.serviceIp !== ''));
    const total = rows.reduce((n, x) => n + x.count, 0);
    assert.equal(total, WAYPOINT.length);
  });
});

describe('JSON encoding and the trustmap format', () => {
  // Istio's JSON keys (EnvoyJSONLogFormatIstio), carrying the values of the docs' inbound line.
  const inboundJson = JSON.stringify({
    start_time: '2020-11-25T21:26:18.409Z', method: 'GET', path: '/status/418', protocol: 'HTTP/1.1', response_code: 418,
    response_flags: '-', response_code_details: 'via_upstream', connection_termination_details: '-',
    upstream_transport_failure_reason: '-', bytes_received: 0, bytes_sent: 135, duration: 3, upstream_service_time: '1',
    x_forwarded_for: '-', user_agent: 'curl/7.73.0-DEV', request_id: '84961386-6d84-929d-98bd-c5aee93b5c88',
    authority: 'httpbin:8000', upstream_host: '127.0.0.1:80', upstream_cluster: 'inbound|8000||',
    upstream_local_address: '127.0.0.1:41854', downstream_local_address: '10.44.1.27:80',
    downstream_remote_address: '10.44.1.23:37652', requested_server_name: 'outbound_.8000_._.httpbin.foo.svc.cluster.local', route_name: 'default',
  });

  it('parses Istio JSON lines and pairs them like text lines', () => {
    const r = parseEnvoyLine(inboundJson);
    assert.equal(r?.downstreamRemote, '10.44.1.23:37652');
    assert.equal(r?.responseCode, 418);
    const { sink, rows } = run([PAIR[0], `2020-11-25T21:26:18.500000000Z ${inboundJson}`]);
    assert.equal(sink.stats.calls, 1);
    assert.equal(rows[0].key.security, 'mtls');
  });

  it('uses peer certificates and TLS versions when the format carries them', () => {
    const ext = `${PAIR[1]} dpeer=spiffe://cluster.local/ns/foo/sa/sleep upeer=- dtls=TLSv1.3 utls=-`;
    const r = parseEnvoyLine(ext)!;
    assert.equal(r.downstreamPeerUriSan, 'spiffe://cluster.local/ns/foo/sa/sleep');
    assert.deepEqual(securityOf(r, 'inbound'), { security: 'mtls', reason: 'inbound: client certificate spiffe://cluster.local/ns/foo/sa/sleep' });
    const plain = parseEnvoyLine(`${PAIR[1].replace(' outbound_.8000_._.httpbin.foo.svc.cluster.local ', ' - ')} dpeer=- upeer=- dtls=- utls=-`)!;
    assert.equal(securityOf(plain, 'inbound').security, 'plaintext');
    const json = JSON.parse(inboundJson) as Record<string, unknown>;
    json.downstream_peer_uri_san = 'spiffe://cluster.local/ns/foo/sa/sleep';
    assert.equal(securityOf(parseEnvoyLine(JSON.stringify(json))!, 'inbound').reason, 'inbound: client certificate spiffe://cluster.local/ns/foo/sa/sleep');
  });
});

describe('lines that are not access-log lines', () => {
  it('are counted and skipped', () => {
    const junk = ['', 'hello world', '2024-04-12T10:17:44.080629Z\tinfo\taccess\tconnection complete', '{"level":"info","msg":"x"}',
      PAIR[0].slice(0, 80), '[not a time] "GET / HTTP/1.1" 200', '{broken json'];
    const { sink } = run([...junk, ...PAIR]);
    assert.equal(sink.stats.malformed, junk.length - 1);
    assert.equal(sink.stats.calls, 1);
  });

  it('never crash the parser or the sink (property)', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.string(), fc.string({ unit: 'binary' }),
      fc.constantFrom(...PAIR, ...WAYPOINT).chain((l) => fc.nat(l.length).map((n) => l.slice(0, n) + l.slice(n + 1))))), (lines) => {
      run(lines);
      for (const l of lines) parseEnvoyLine(l);
    }), { numRuns: 300 });
  });
});
