// Every protocol trustmap names, made for real on 127.0.0.1 with Node's own servers and clients and
// captured by tcpdump: HTTP/1.1 keep-alive with credentials, h2c with a gRPC call, TLS 1.2 mutual
// TLS (client certificate in clear), TLS 1.3 with Istio's ALPN, plain TLS 1.3. Certificates come
// from a throwaway CA made by openssl in a temp dir. Every request count is fixed by the test; the
// calls recorded from the capture are asserted exactly, the capture itself is checked with tshark
// (so it holds what we claim), and trustmap and tshark must agree on it.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, request, Agent, type Server as HttpServer } from 'node:http';
import { connect as h2connect, createServer as createH2Server, type ClientHttp2Session, type Http2Server } from 'node:http2';
import type { AddressInfo, Server } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
import { canCaptureLoopback, captureLoopback } from '../helpers/capture-lo.js';
import { haveOpenssl, makeTestPki, type TestPki } from '../helpers/test-ca.js';
import { peerRows, sortedEntries, trustmapSeen, tsharkSeen, type Call } from '../helpers/tshark-peer.js';
import { tsharkFields } from '../helpers/tshark.js';

const skip = canCaptureLoopback()
  || (!haveOpenssl() ? 'openssl is not installed (apt-get install openssl)' : false)
  || (spawnSync('tshark', ['--version']).status !== 0 ? 'tshark is not installed (apt-get install tshark)' : false);

const CATALOG_SNI = 'catalog.shop.svc.cluster.local';
const WEB_SNI = 'web.shop.example';
const FRONTEND_ID = 'spiffe://cluster.local/ns/shop/sa/frontend';
const CATALOG_ID = 'spiffe://cluster.local/ns/shop/sa/catalog';
// Made per run, so finding them anywhere means they leaked from this capture.
const BEARER = `tm-bearer-${randomBytes(12).toString('hex')}`;
const PASSWORD = `tm-pass-${randomBytes(12).toString('hex')}`;

type Port = 'http1' | 'h2c' | 'tls12' | 'istio' | 'tls13';
interface FullCall extends Call {
  direction: string; credentials_in_plaintext: boolean; connections: number; bytes: number; node: string | null;
}

const listen = <S extends Server | HttpServer | Http2Server>(s: S): Promise<S> =>
  new Promise((resolve, reject) => { s.once('error', reject); s.listen(0, '127.0.0.1', () => resolve(s)); });
const portOf = (s: Server | HttpServer | Http2Server): number => (s.address() as AddressInfo).port;
const close = (s: Server | HttpServer | Http2Server): Promise<void> => new Promise((resolve) => {
  (s as HttpServer).closeAllConnections?.();
  s.close(() => resolve());
});

/** One HTTP/1.1 request on `agent`; resolves with the status once the body is read. */
function http1(port: number, agent: Agent, method: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{"sku":"A-1","qty":2}' : undefined);
  });
}

/** One HTTP/2 request on `session`; resolves with :status once the stream ends. */
function h2(session: ClientHttp2Session, headers: Record<string, string>, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    stream.on('response', (h) => { status = Number(h[':status']); });
    stream.on('error', reject);
    stream.resume();
    stream.on('end', () => resolve(status));
    if (body !== undefined) stream.end(body);
  });
}

/** gRPC's length-prefixed message: compressed flag, 4-byte big-endian length, payload. */
function grpcFrame(payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** One TLS connection: handshake, 'ping' → 'pong', close. Resolves with what the client negotiated. */
function tlsExchange(port: number, opts: { pki: TestPki; servername: string; alpn: string[]; withClientCert: boolean }): Promise<{ alpn: string | false; version: string | null }> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({
      host: '127.0.0.1', port, servername: opts.servername, ca: opts.pki.ca, ALPNProtocols: opts.alpn,
      ...(opts.withClientCert ? { key: opts.pki.client.key, cert: opts.pki.client.cert } : {}),
    });
    let got: { alpn: string | false; version: string | null } | null = null;
    sock.once('secureConnect', () => {
      if (!sock.authorized) { sock.destroy(); reject(new Error(`server not trusted: ${String(sock.authorizationError)}`)); return; }
      got = { alpn: sock.alpnProtocol ?? false, version: sock.getProtocol() };
      sock.write('ping');
    });
    sock.on('data', () => sock.end());
    sock.on('error', reject);
    sock.on('close', () => (got ? resolve(got) : reject(new Error('closed before the handshake finished'))));
  });
}

/** A TLS server that answers one 'ping' with 'pong' and hangs up. */
function pongServer(opts: TlsOptions): Server {
  return createTlsServer(opts, (s) => {
    s.on('error', () => s.destroy());
    s.once('data', () => s.end('pong'));
  });
}

describe('loopback capture of HTTP/1.1, h2c, gRPC, TLS 1.2 mTLS and TLS 1.3', { skip, timeout: 30_000 }, () => {
  const dir = skip ? '' : tempDir('tm-lo-proto-');
  const pcap = join(dir, 'lo.pcap');
  const db = join(dir, 'store.db');
  const ports = {} as Record<Port, number>;
  const negotiated = {} as Record<'tls12' | 'istio' | 'tls13', { alpn: string | false; version: string | null }>;
  let http1Sockets = 0, h2Sessions = 0;
  let rows: FullCall[] = [];
  let views: Array<Record<string, unknown>> = [];

  before(async () => {
    const pki = makeTestPki(dir, { serverSans: [`URI:${CATALOG_ID}`, `DNS:${CATALOG_SNI}`, `DNS:${WEB_SNI}`], clientSans: [`URI:${FRONTEND_ID}`] });
    const servers: Array<Server | HttpServer | Http2Server> = [];
    const http1Server = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0];
        const status = path.startsWith('/api/products/') ? 200 : path === '/api/login' ? 401 : path === '/api/orders' && req.method === 'POST' ? 201 : 404;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    http1Server.on('connection', () => { http1Sockets++; });
    const h2Server = createH2Server();
    h2Server.on('session', () => { h2Sessions++; });
    h2Server.on('stream', (stream, headers) => {
      stream.resume();
      stream.on('end', () => {
        if (String(headers['content-type']).startsWith('application/grpc')) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          stream.end(grpcFrame(Buffer.from([0x0a, 0x03, 0x6f, 0x2d, 0x31]))); // field 1 = "o-1"
        } else {
          stream.respond({ ':status': headers[':method'] === 'POST' ? 201 : 200 });
          stream.end('{}');
        }
      });
    });
    const tlsServer = { key: pki.server.key, cert: pki.server.cert, ca: pki.ca };
    try {
      for (const [name, s] of [
        ['http1', http1Server],
        ['h2c', h2Server],
        ['tls12', pongServer({ ...tlsServer, requestCert: true, rejectUnauthorized: true, maxVersion: 'TLSv1.2', ALPNProtocols: ['istio-http/1.1', 'http/1.1'] })],
        ['istio', pongServer({ ...tlsServer, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', ALPNProtocols: ['istio'] })],
        ['tls13', pongServer({ ...tlsServer, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'] })],
      ] as Array<[Port, Server | HttpServer | Http2Server]>) {
        servers.push(await listen(s));
        ports[name] = portOf(s);
      }
      const capture = await captureLoopback(pcap, Object.values(ports).map((p) => `tcp port ${p}`).join(' or '));
      try {
        // (a) five requests on one keep-alive connection: ids, a bearer token, a password in the query.
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        try {
          assert.equal(await http1(ports.http1, agent, 'GET', '/api/products/101'), 200);
          assert.equal(await http1(ports.http1, agent, 'GET', '/api/products/102', { authorization: `Bearer ${BEARER}` }), 200);
          assert.equal(await http1(ports.http1, agent, 'GET', `/api/login?user=alice&password=${PASSWORD}`), 401);
          assert.equal(await http1(ports.http1, agent, 'POST', '/api/orders', { 'content-type': 'application/json' }), 201);
          assert.equal(await http1(ports.http1, agent, 'GET', '/missing'), 404);
        } finally {
          agent.destroy();
        }
        // (b) h2c with prior knowledge: two GETs, a POST and a unary gRPC call on one session.
        const session = h2connect(`http://127.0.0.1:${ports.h2c}`);
        try {
          assert.equal(await h2(session, { ':method': 'GET', ':path': '/api/items/7' }), 200);
          assert.equal(await h2(session, { ':method': 'GET', ':path': '/api/items/8?expand=1' }), 200);
          assert.equal(await h2(session, { ':method': 'POST', ':path': '/api/items', 'content-type': 'application/json' }, Buffer.from('{"name":"x"}')), 201);
          assert.equal(await h2(session, { ':method': 'POST', ':path': '/orders.OrderService/CreateOrder', 'content-type': 'application/grpc', te: 'trailers' },
            grpcFrame(Buffer.from([0x0a, 0x04, 0x73, 0x6b, 0x75, 0x31]))), 200);
        } finally {
          await new Promise<void>((resolve) => session.close(() => resolve()));
        }
        // (c) TLS 1.2 mutual TLS, (d) TLS 1.3 with Istio's ALPN, (e) plain TLS 1.3 twice.
        negotiated.tls12 = await tlsExchange(ports.tls12, { pki, servername: CATALOG_SNI, alpn: ['istio-http/1.1', 'http/1.1'], withClientCert: true });
        negotiated.istio = await tlsExchange(ports.istio, { pki, servername: CATALOG_SNI, alpn: ['istio-peer-exchange', 'istio'], withClientCert: true });
        negotiated.tls13 = await tlsExchange(ports.tls13, { pki, servername: WEB_SNI, alpn: ['h2'], withClientCert: false });
        await tlsExchange(ports.tls13, { pki, servername: WEB_SNI, alpn: ['h2'], withClientCert: false });
        await new Promise((r) => setTimeout(r, 300)); // let the last FIN/ACKs reach the capture
      } finally {
        await capture.stop();
      }
    } finally {
      await Promise.all(servers.map(close));
    }

    const r = runCli(['collect', 'pcap', '--db', db, '--node', 'lo', pcap]);
    assert.equal(r.code, 0, r.stderr);
    const out = runCli(['calls', '--json', '--db', db]);
    assert.equal(out.code, 0, out.stderr);
    rows = JSON.parse(out.stdout) as FullCall[];
    const label = (port: number): string => (Object.entries(ports).find(([, p]) => p === port)?.[0] ?? String(port));
    views = rows.map((c) => ({
      to: label(c.dst_port), protocol: c.protocol, method: c.method, path: c.path, host: c.host, sni: c.sni, alpn: c.alpn,
      security: c.security, reason: c.security_reason, creds: c.credentials_in_plaintext, count: c.count, conns: c.connections, status: c.status,
    }));
  });

  // The temp dir holds private keys and a capture with secrets in it: gone after the run.
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  test('the traffic was what the test says: one keep-alive socket, one h2 session, the versions and ALPN negotiated', () => {
    assert.equal(http1Sockets, 1);
    assert.equal(h2Sessions, 1);
    assert.deepEqual(negotiated, {
      tls12: { alpn: 'istio-http/1.1', version: 'TLSv1.2' },
      istio: { alpn: 'istio', version: 'TLSv1.3' },
      tls13: { alpn: 'h2', version: 'TLSv1.3' },
    });
  });

  test('exactly the calls that were made, with verdicts, hosts, SNI, ALPN and credentials', () => {
    const host = (p: Port): string => `127.0.0.1:${ports[p]}`;
    const none = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
    const st = (s: Partial<typeof none>): typeof none => ({ ...none, ...s });
    const http = { security: 'plaintext', reason: 'cleartext http/1', sni: null, alpn: null };
    const tls = { protocol: 'tls', method: null, path: null, host: null, creds: false, status: none };
    // The h2c rows' security_reason is asserted in its own test below.
    const h2c = { security: 'plaintext', sni: null, alpn: null, creds: false };
    const expected = [
      { to: 'http1', protocol: 'http', method: 'GET', path: '/api/products/{id}', host: host('http1'), ...http, creds: true, count: 2, conns: 1, status: st({ '2xx': 2 }) },
      { to: 'http1', protocol: 'http', method: 'GET', path: '/api/login', host: host('http1'), ...http, creds: true, count: 1, conns: 0, status: st({ '4xx': 1 }) },
      { to: 'http1', protocol: 'http', method: 'POST', path: '/api/orders', host: host('http1'), ...http, creds: false, count: 1, conns: 0, status: st({ '2xx': 1 }) },
      { to: 'http1', protocol: 'http', method: 'GET', path: '/missing', host: host('http1'), ...http, creds: false, count: 1, conns: 0, status: st({ '4xx': 1 }) },
      { to: 'h2c', protocol: 'http2', method: 'GET', path: '/api/items/{id}', host: host('h2c'), ...h2c, count: 2, conns: 1, status: st({ '2xx': 2 }) },
      { to: 'h2c', protocol: 'http2', method: 'POST', path: '/api/items', host: host('h2c'), ...h2c, count: 1, conns: 0, status: st({ '2xx': 1 }) },
      { to: 'h2c', protocol: 'grpc', method: 'POST', path: '/orders.OrderService/CreateOrder', host: host('h2c'), ...h2c, count: 1, conns: 0, status: st({ '2xx': 1 }) },
      { to: 'tls12', ...tls, sni: CATALOG_SNI, alpn: 'istio-http/1.1', security: 'mtls', reason: 'tls1.2 client certificate', count: 1, conns: 1 },
      { to: 'istio', ...tls, sni: CATALOG_SNI, alpn: 'istio-peer-exchange,istio', security: 'mtls', reason: 'istio mtls alpn', count: 1, conns: 1 },
      { to: 'tls13', ...tls, sni: WEB_SNI, alpn: 'h2', security: 'tls', reason: 'tls1.3, no client cert visible', count: 2, conns: 2 },
    ];
    const key = (v: Record<string, unknown>): string => `${v.to} ${v.protocol} ${v.method} ${v.path}`;
    const actual = views.map((v) => (v.to === 'h2c' ? (({ reason: _, ...rest }) => rest)(v) : v));
    assert.deepEqual(actual.sort((a, b) => key(a).localeCompare(key(b))), expected.sort((a, b) => key(a).localeCompare(key(b))), JSON.stringify(rows, null, 1));
    for (const c of rows) {
      assert.deepEqual([c.src_ip, c.dst_ip, c.transport, c.direction, c.node], ['127.0.0.1', '127.0.0.1', 'tcp', 'observed', 'lo']);
      // A connection's bytes join the row of its first request, like the connection itself.
      assert.equal(c.bytes > 0, c.connections > 0, `${c.protocol} ${c.path}: bytes ${c.bytes}, connections ${c.connections}`);
    }
  });

  test('h2c requests carry the documented reason "cleartext h2c"', () => {
    const reasons = views.filter((v) => v.to === 'h2c').map((v) => v.reason);
    assert.deepEqual(reasons, ['cleartext h2c', 'cleartext h2c', 'cleartext h2c']);
  });

  test('no secret reaches the store, though both were on the wire', () => {
    const wire = readFileSync(pcap);
    assert.ok(wire.includes(BEARER) && wire.includes(PASSWORD), 'the capture holds both secrets in clear');
    const files = readdirSync(dir).filter((f) => f.startsWith('store.db'));
    assert.ok(files.includes('store.db'));
    for (const f of files) {
      const bytes = readFileSync(join(dir, f));
      assert.ok(!bytes.includes(BEARER), `${f} holds the bearer token`);
      assert.ok(!bytes.includes(PASSWORD), `${f} holds the password`);
    }
  });

  test('tshark confirms the capture: client certificate in clear on TLS 1.2 only, TLS 1.3 hellos, the gRPC message', () => {
    // TLS 1.2: the client's Certificate (handshake type 11) is visible and names the frontend.
    const clientCerts = tsharkFields(pcap, ['tcp.srcport', 'x509ce.uniformResourceIdentifier'],
      ['-Y', `tcp.dstport == ${ports.tls12} && tls.handshake.type == 11`]);
    assert.deepEqual(clientCerts.map((c) => c[1]), [FRONTEND_ID]);
    const serverCerts = tsharkFields(pcap, ['x509ce.uniformResourceIdentifier', 'x509sat.uTF8String'], ['-Y', `tcp.srcport == ${ports.tls12} && tls.handshake.type == 11`]);
    assert.equal(serverCerts.length, 1);
    assert.equal(serverCerts[0][0], CATALOG_ID);
    // TLS 1.2 also carries the server's CertificateRequest (13).
    assert.equal(tsharkFields(pcap, ['frame.number'], ['-Y', `tcp.srcport == ${ports.tls12} && tls.handshake.type == 13`]).length, 1);
    // TLS 1.3: ServerHellos select 0x0304 and no handshake message after them is readable.
    for (const p of [ports.istio, ports.tls13]) {
      const hellos = tsharkFields(pcap, ['tls.handshake.type', 'tls.handshake.extensions.supported_version'], ['-Y', `tcp.srcport == ${p} && tls.handshake.type == 2`]);
      assert.ok(hellos.length >= 1 && hellos.every((h) => h[1] === '0x0304'), JSON.stringify(hellos));
      assert.equal(tsharkFields(pcap, ['frame.number'], ['-Y', `tcp.port == ${p} && tls.handshake.type == 11`]).length, 0);
    }
    // The istio ClientHello offers exactly what the client was told to.
    assert.deepEqual(tsharkFields(pcap, ['tls.handshake.extensions_alpn_str'], ['-Y', `tcp.dstport == ${ports.istio} && tls.handshake.type == 1`]), [['istio-peer-exchange,istio']]);
    // h2c: the connection preface and one gRPC request message with the 5-byte prefix.
    const decode = ['-d', `tcp.port==${ports.h2c},http2`];
    assert.equal(tsharkFields(pcap, ['http2.magic'], [...decode, '-Y', 'http2.magic']).length, 1);
    assert.deepEqual(tsharkFields(pcap, ['grpc.message_length'], [...decode, '-Y', `grpc && tcp.dstport == ${ports.h2c}`]).map((c) => c[0]), ['6']);
  });

  test('trustmap and tshark agree on this capture (the peer check of peer-tshark.test.ts)', () => {
    const expected = tsharkSeen(peerRows(pcap, ['-d', `tcp.port==${ports.http1},http`, '-d', `tcp.port==${ports.h2c},http2`]));
    const actual = trustmapSeen(rows);
    assert.deepEqual(sortedEntries(actual.requests), sortedEntries(expected.requests));
    assert.deepEqual(sortedEntries(actual.tls), sortedEntries(expected.tls));
    assert.deepEqual(sortedEntries(actual.status), sortedEntries(expected.status));
    assert.equal([...expected.requests.values()].reduce((a, b) => a + b, 0), 9, 'tshark sees the 9 requests');
  });
});
