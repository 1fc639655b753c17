// Connection tracking through the real pipeline (pcap file → ingest → SQLite), with packets
// written out by hand so each test shows exactly what the capture holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpConnection, tcp, udp } from '../../helpers/packets.js';
import { ingestPackets } from '../../helpers/ingest.js';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const GET = 'GET /api/products/42?page=1 HTTP/1.1\r\nHost: catalog\r\n\r\n';
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

test('a plain HTTP connection: one call, one request, observed direction, bytes once', async () => {
  const pkts = httpConnection({ client: '10.244.0.5', server: '10.244.0.9', cport: 40000, sport: 8080, t0: T0, requests: [{ req: GET, resp: OK }] });
  const { calls, outcome } = await ingestPackets(pkts);
  assert.equal(outcome.status, 'complete');
  assert.equal(calls.length, 1);
  const c = calls[0];
  assert.deepEqual([c.src_ip, c.dst_ip, c.dst_port, c.transport, c.protocol, c.method, c.path, c.host], ['10.244.0.5', '10.244.0.9', 8080, 'tcp', 'http', 'GET', '/api/products/{id}', 'catalog']);
  assert.equal(c.security, 'plaintext');
  assert.equal(c.direction, 'observed');
  assert.equal(c.count, 1);
  assert.equal(c.connections, 1);
  assert.equal(c.bytes, GET.length + OK.length);
  assert.equal(c.status['2xx'], 1);
  assert.equal(c.service_ip, null);
});

test('the same packets seen on three interfaces count once', async () => {
  const pkts = httpConnection({ client: '10.244.0.5', server: '10.244.0.9', cport: 40000, sport: 8080, t0: T0, requests: [{ req: GET, resp: OK }, { req: GET, resp: OK }] });
  const tripled = pkts.flatMap((p) => [p, { tsMs: p.tsMs + 0.01, bytes: p.bytes }, { tsMs: p.tsMs + 0.02, bytes: p.bytes }]);
  const { calls } = await ingestPackets(tripled);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].count, 2, 'two requests, not six');
  assert.equal(calls[0].connections, 1);
  assert.equal(calls[0].bytes, 2 * (GET.length + OK.length));
});

test('kube-proxy DNAT: the ClusterIP view and the pod view are one connection with both addresses', async () => {
  // Client dials the Service 10.96.0.20:80; after DNAT the same packets go to pod 10.244.0.9:8080.
  const svcView = httpConnection({ client: '10.244.0.5', server: '10.96.0.20', cport: 40001, sport: 80, t0: T0, requests: [{ req: GET, resp: OK }] });
  const podView = httpConnection({ client: '10.244.0.5', server: '10.244.0.9', cport: 40001, sport: 8080, t0: T0, requests: [{ req: GET, resp: OK }] });
  // Interleave as a node capture does: each packet before NAT, then after it (replies the other way round).
  const pkts = svcView.flatMap((p, i) => {
    const fromClient = p.bytes[12] === 10 && p.bytes[13] === 244 && p.bytes[15] === 5;
    const pre = { tsMs: p.tsMs, bytes: p.bytes }, post = { tsMs: p.tsMs + 0.005, bytes: podView[i].bytes };
    return fromClient ? [pre, post] : [{ ...post, tsMs: p.tsMs }, { ...pre, tsMs: p.tsMs + 0.005 }];
  });
  const { calls } = await ingestPackets(pkts);
  assert.equal(calls.length, 1, JSON.stringify(calls));
  assert.equal(calls[0].dst_ip, '10.244.0.9');
  assert.equal(calls[0].dst_port, 8080);
  assert.equal(calls[0].service_ip, '10.96.0.20');
  assert.equal(calls[0].count, 1);
  assert.equal(calls[0].connections, 1);
});

test('a capture of only the ClusterIP side keeps the ClusterIP as destination', async () => {
  const svcView = httpConnection({ client: '10.244.0.5', server: '10.96.0.20', cport: 40002, sport: 80, t0: T0, requests: [{ req: GET, resp: OK }] });
  const { calls } = await ingestPackets(svcView);
  assert.equal(calls[0].dst_ip, '10.96.0.20');
  assert.equal(calls[0].service_ip, null);
});

test('port reuse after close is a new connection', async () => {
  const a = httpConnection({ client: '10.244.0.5', server: '10.244.0.9', cport: 40003, sport: 8080, t0: T0, requests: [{ req: GET, resp: OK }], isn: 100 });
  const b = httpConnection({ client: '10.244.0.5', server: '10.244.0.9', cport: 40003, sport: 8080, t0: T0 + 100, requests: [{ req: GET, resp: OK }], isn: 900000 });
  const { calls, outcome } = await ingestPackets([...a, ...b]);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].connections, 2);
  assert.equal(calls[0].count, 2);
  assert.equal(outcome.status === 'complete' && outcome.stats.connections, 2);
});

test('mid-stream: no SYN, roles inferred from ports and recorded as inferred', async () => {
  const pkts = [
    { tsMs: T0, bytes: tcp({ src: '10.244.0.5', dst: '10.244.0.9', sport: 51000, dport: 8080, seq: 77, ack: 9, flags: 'PA', payload: GET }) },
    { tsMs: T0 + 1, bytes: tcp({ src: '10.244.0.9', dst: '10.244.0.5', sport: 8080, dport: 51000, seq: 9, ack: 77 + GET.length, flags: 'PA', payload: OK }) },
  ];
  const { calls } = await ingestPackets(pkts);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].src_ip, '10.244.0.5');
  assert.equal(calls[0].direction, 'inferred');
  assert.equal(calls[0].method, 'GET');
});

test('mid-stream whose first packet is the response: the payload corrects the port guess', async () => {
  // Both ports are ephemeral-looking; the first packet seen is the server's response.
  const pkts = [
    { tsMs: T0, bytes: tcp({ src: '10.244.0.9', dst: '10.244.0.5', sport: 45000, dport: 46000, seq: 9, ack: 77, flags: 'PA', payload: OK }) },
    { tsMs: T0 + 1, bytes: tcp({ src: '10.244.0.5', dst: '10.244.0.9', sport: 46000, dport: 45000, seq: 77, ack: 9 + OK.length, flags: 'PA', payload: GET }) },
  ];
  const { calls } = await ingestPackets(pkts);
  assert.equal(calls.length, 1, JSON.stringify(calls));
  assert.equal(calls[0].src_ip, '10.244.0.5');
  assert.equal(calls[0].dst_port, 45000);
  assert.equal(calls[0].method, 'GET');
});

test('out-of-order and retransmitted segments: the request is still parsed once', async () => {
  const head = 'GET /api/cart/7 HTTP/1.1\r\nHost: cart\r\n', tail = '\r\n';
  const seq = 5001;
  const base = { src: '10.244.0.5', dst: '10.244.0.9', sport: 40010, dport: 8080 };
  const pkts = [
    { tsMs: T0, bytes: tcp({ ...base, seq: 5000, flags: 'S' }) },
    { tsMs: T0 + 1, bytes: tcp({ src: base.dst, dst: base.src, sport: 8080, dport: 40010, seq: 1, ack: 5001, flags: 'SA' }) },
    { tsMs: T0 + 2, bytes: tcp({ ...base, seq: seq + head.length, ack: 2, flags: 'PA', payload: tail }) }, // arrives first
    { tsMs: T0 + 3, bytes: tcp({ ...base, seq, ack: 2, flags: 'PA', payload: head }) },
    { tsMs: T0 + 4, bytes: tcp({ ...base, seq, ack: 2, flags: 'PA', payload: head }) }, // retransmission
  ];
  const { calls } = await ingestPackets(pkts);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].count, 1);
  assert.equal(calls[0].path, '/api/cart/{id}');
  assert.equal(calls[0].bytes, head.length + tail.length);
});

test('memory stays bounded: with a small flow table, old connections are finalised early and counted', async () => {
  const pkts: Array<{ tsMs: number; bytes: Buffer }> = [];
  // 3000 connections opened and never closed, 1 ms apart: more than the table of 1024 holds.
  for (let i = 0; i < 3000; i++) {
    pkts.push({ tsMs: T0 + i, bytes: tcp({ src: '10.244.1.1', dst: '10.244.0.9', sport: 20000 + i, dport: 6379, seq: i * 1000, flags: 'S' }) });
  }
  const { calls, outcome } = await ingestPackets(pkts, { maxFlows: 1024 });
  assert.equal(outcome.status, 'complete');
  if (outcome.status !== 'complete') return;
  assert.ok(outcome.stats.evictedEarly > 0, 'evictions are counted');
  assert.equal(outcome.stats.connections, 3000, 'every connection is still counted once');
  assert.equal(calls.reduce((n, c) => n + c.connections, 0), 3000);
});

test('DNS over UDP through a ClusterIP: query and answer counted once across NAT views and copies', async () => {
  const query = Buffer.from('abcd01000001000000000000' + '07636174616c6f670473686f70037376630d636c75737465722d6c6f63616c00' .replace('0d636c75737465722d6c6f63616c', '07636c7573746572056c6f63616c') + '00010001', 'hex');
  const pkts = [
    { tsMs: T0, bytes: udp('10.244.0.5', '10.96.0.10', 53001, 53, query, 7) },
    { tsMs: T0 + 0.01, bytes: udp('10.244.0.5', '10.96.0.10', 53001, 53, query, 7) },
    { tsMs: T0 + 0.02, bytes: udp('10.244.0.5', '10.244.0.2', 53001, 53, query, 7) },
  ];
  const { calls } = await ingestPackets(pkts);
  assert.equal(calls.length, 1, JSON.stringify(calls));
  assert.equal(calls[0].protocol, 'dns');
  assert.equal(calls[0].dst_ip, '10.244.0.2');
  assert.equal(calls[0].service_ip, '10.96.0.10');
  assert.equal(calls[0].count, 1);
});
