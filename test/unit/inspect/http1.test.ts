import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { readPcap } from '../../helpers/tcp-streams.js';
import { tsharkFields } from '../../helpers/tshark.js';
import { RecordingSink, bytes, randomChunks, runConnection, splitAt, summary } from '../../helpers/inspect-harness.js';
import { MAX_HOST, MAX_PATH, TRUNCATION_MARKER } from '../../../collector/inspect/text.js';

const FIX = 'test/fixtures/pcap/';
const HTTP_CAPTURES = [
  'http1-get-full-handshake.pcap',
  'midstream-http-nosyn.pcap',
  'http1-istio-sidecar-inbound-127.0.0.6-midstream.pcap',
];

describe('http1 on real captures, checked against tshark', () => {
  for (const file of HTTP_CAPTURES) {
    it(file, async () => {
      const { tcp } = await readPcap(FIX + file);
      const expectedReq = tsharkFields(FIX + file, ['http.request.method', 'http.request.uri', 'http.host']).filter((r) => r[0] !== '');
      const expectedStatus = tsharkFields(FIX + file, ['http.response.code']).map((r) => Number(r[0]));
      assert.ok(expectedReq.length > 0, 'tshark sees requests');
      const reqs = [];
      const statuses = [];
      for (const s of tcp) {
        const run = runConnection(s.clientToServer, s.serverToClient, s.serverPort);
        assert.equal(run.verdict.protocol, 'http');
        assert.equal(run.verdict.security, 'plaintext');
        assert.equal(run.rolesReversed, false);
        assert.deepEqual(run.sink.malformedReasons, []);
        reqs.push(...run.sink.requests.map((r) => [r.method, r.target, r.host]));
        statuses.push(...run.sink.responses);
        // Reassembly independence: every split point and random chunkings give the same report.
        const ref = summary(run);
        for (let k = 1; k < s.clientToServer.length; k++) {
          assert.equal(summary(runConnection(s.clientToServer, s.serverToClient, s.serverPort, splitAt(k))), ref, `split ${k}`);
        }
        for (let seed = 1; seed <= 20; seed++) {
          assert.equal(summary(runConnection(s.clientToServer, s.serverToClient, s.serverPort, randomChunks(seed, 1 + seed * 7))), ref);
        }
      }
      assert.deepEqual(reqs, expectedReq);
      assert.deepEqual(statuses, expectedStatus);
    });
  }
});

function req(s: string, serverPort = 80): ReturnType<typeof runConnection> {
  return runConnection(bytes(s), new Uint8Array(0), serverPort);
}

describe('http1 framing', () => {
  it('sees every request on a keep-alive, pipelined connection with bodies of both kinds', () => {
    const c2s =
      'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
      'PUT /b HTTP/1.1\r\nHost: y\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nGET /\r\n0\r\nTrailer: z\r\n\r\n' +
      'GET /c?x=1 HTTP/1.1\r\nHost: z\r\n\r\n';
    const s2c =
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc' +
      'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n' +
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n';
    const run = runConnection(bytes(c2s), bytes(s2c), 80);
    assert.deepEqual(
      run.sink.requests.map((r) => `${r.method} ${r.target} ${r.host}`),
      ['POST /a x', 'PUT /b y', 'GET /c?x=1 z'],
    );
    assert.deepEqual(run.sink.responses, [201, 404, 304]);
    assert.equal(run.wantsMore, true, 'keep-alive keeps being fed');
    const ref = summary(run);
    for (let k = 1; k < c2s.length; k++) assert.equal(summary(runConnection(bytes(c2s), bytes(s2c), 80, splitAt(k))), ref);
  });

  it('frames HEAD responses without a body', () => {
    const run = runConnection(
      bytes('HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n'),
      bytes('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n'),
      80,
    );
    assert.deepEqual(run.sink.responses, [200, 500]);
  });

  it('flags credentials without keeping their values', () => {
    const cases: Array<[string, boolean]> = [
      ['GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s3cr3t\r\n\r\n', true],
      ['GET / HTTP/1.1\r\nHost: a\r\ncookie: sid=1\r\n\r\n', true],
      ['GET / HTTP/1.1\r\nHost: a\r\nX-Api-Key: k\r\n\r\n', true],
      ['GET / HTTP/1.1\r\nHost: a\r\nX-Auth-Token: k\r\n\r\n', true],
      ['GET /login?user=a&password=b HTTP/1.1\r\nHost: a\r\n\r\n', true],
      ['GET /cb?access_token=b HTTP/1.1\r\nHost: a\r\n\r\n', true],
      ['GET /x?tokenizer=1&passwords HTTP/1.1\r\nHost: a\r\n\r\n', false],
      ['GET /password HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n', false],
    ];
    for (const [text, expected] of cases) {
      const run = req(text);
      assert.equal(run.sink.requests[0].hasCredentials, expected, text);
      assert.ok(!JSON.stringify(run.sink.requests).includes('s3cr3t'));
    }
  });

  it('switches to HTTP/2 after Upgrade: h2c and a 101', () => {
    // Client: upgrade request, then the preface and a SETTINGS frame, then HEADERS for stream 3
    // (GET /next, :authority h, all static/literal so it decodes: 82 84 41 01 68 -> no, use literal).
    const headers = Buffer.from([0x82, 0x86, 0x44, 0x05, ...Buffer.from('/next'), 0x41, 0x01, 0x68]);
    const frame = (type: number, flags: number, sid: number, payload: Buffer) =>
      Buffer.concat([Buffer.from([0, payload.length >> 8, payload.length & 255, type, flags, 0, 0, 0, sid]), payload]);
    const c2s = Buffer.concat([
      Buffer.from('GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n'),
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      frame(4, 0, 0, Buffer.alloc(0)),
      frame(1, 5, 3, headers),
    ]);
    const s2c = Buffer.concat([
      Buffer.from('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'),
      frame(4, 0, 0, Buffer.alloc(0)),
      frame(1, 4, 1, Buffer.from([0x88])),
    ]);
    const run = runConnection(c2s, s2c, 8080);
    assert.deepEqual(
      run.sink.requests.map((r) => [r.protocol, r.method, r.target, r.host]),
      [
        ['http', 'GET', '/up', 'h'],
        ['http2', 'GET', '/next', 'h'],
      ],
    );
    assert.deepEqual(run.sink.responses, [200]);
    assert.equal(run.verdict.protocol, 'http2');
    assert.deepEqual(run.sink.malformedReasons, []);
    const ref = summary(run);
    for (let k = 1; k < c2s.length; k++) assert.equal(summary(runConnection(c2s, s2c, 8080, splitAt(k))), ref);
  });

  it('detects reversed roles from a status line on the client side', () => {
    const run = runConnection(bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), bytes('GET /r HTTP/1.1\r\nHost: q\r\n\r\n'), 80);
    assert.equal(run.rolesReversed, true);
    assert.deepEqual(run.sink.requests.map((r) => r.target), ['/r']);
    assert.deepEqual(run.sink.responses, [200]);
  });
});

describe('http1 hostile input', () => {
  it('counts a malformed request line and stops', () => {
    const run = req('GET /x HTTP/1.1 extra\r\n\r\n');
    assert.deepEqual(run.sink.requests, []);
    assert.deepEqual(run.sink.malformedReasons, ['http1 request line']);
    assert.equal(run.wantsMore, false);
  });

  it('bounds the header section at 16 KiB', () => {
    const run = req('GET / HTTP/1.1\r\nX-Big: ' + 'a'.repeat(20000) + '\r\n\r\n');
    assert.deepEqual(run.sink.requests, []);
    assert.deepEqual(run.sink.malformedReasons, ['http1 header section too large']);
    assert.equal(run.wantsMore, false);
  });

  it('treats a 64 KiB Host as a malformed header section', () => {
    const run = req(`GET / HTTP/1.1\r\nHost: ${'h'.repeat(65536)}\r\n\r\n`);
    assert.deepEqual(run.sink.requests, []);
    assert.deepEqual(run.sink.malformedReasons, ['http1 header section too large']);
  });

  it('caps a long Host and path with the truncation marker', () => {
    const run = req(`GET /${'p'.repeat(9000)} HTTP/1.1\r\nHost: ${'h'.repeat(6000)}\r\n\r\n`);
    const r = run.sink.requests[0];
    assert.equal(r.host.length, MAX_HOST);
    assert.ok(r.host.endsWith(TRUNCATION_MARKER));
    assert.equal(r.target.length, MAX_PATH);
    assert.ok(r.target.endsWith(TRUNCATION_MARKER));
  });

  it('keeps HTML as data and replaces control characters and invalid UTF-8', () => {
    // A space ends the request target (RFC 9112 §3), so the path variant uses '/' instead.
    const run = req('GET /<img/src=x/onerror=alert(1)>\x1b[31m HTTP/1.1\r\nHost: <img src=x onerror=alert(1)>\x00\xff\r\n\r\n');
    const r = run.sink.requests[0];
    assert.equal(r.target, '/<img/src=x/onerror=alert(1)>\uFFFD[31m');
    assert.equal(r.host, '<img src=x onerror=alert(1)>\uFFFD\uFFFD');
  });

  it('rejects conflicting Content-Length headers and absurd chunk sizes', () => {
    assert.deepEqual(req('POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n').sink.malformedReasons, ['http1 content-length']);
    const run = runConnection(bytes('GET / HTTP/1.1\r\n\r\n'), bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n'), 80);
    assert.deepEqual(run.sink.malformedReasons, ['http1 chunk size']);
  });

  it('tolerates a recorded sink being shared and buffers being reused (no retained references)', () => {
    const sink = new RecordingSink();
    runConnection(bytes('GET /a HTTP/1.1\r\nHost: b\r\n\r\n'), new Uint8Array(0), 80, randomChunks(3, 3), sink);
    assert.deepEqual(sink.requests.map((r) => r.target + r.host), ['/ab']);
  });
});
