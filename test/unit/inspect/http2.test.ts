import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { readPcap } from '../../helpers/tcp-streams.js';
import { tsharkFields } from '../../helpers/tshark.js';
import { randomChunks, runConnection, splitAt, summary } from '../../helpers/inspect-harness.js';
import { HpackDecoder } from '../../../collector/inspect/hpack.js';

const FIX = 'test/fixtures/pcap/';

describe('gRPC over h2c on real captures, checked against tshark (decode-as http2)', () => {
  for (const [file, port] of [
    ['grpc-h2c-full-connection.pcap', 38888],
    ['grpc-h2c-k8s-cartservice-midstream.pcap', 7070],
  ] as const) {
    it(file, async () => {
      const { tcp } = await readPcap(FIX + file);
      const rows = tsharkFields(FIX + file, ['http2.headers.method', 'http2.headers.path', 'http2.headers.authority', 'http2.headers.status', 'http2.headers.content_type'], [
        '-d',
        `tcp.port==${port},http2`,
      ]);
      const expectedReq = rows.filter((r) => r[0] !== '').map((r) => [r[0], r[1], r[2]]);
      const expectedStatus = rows.filter((r) => r[3] !== '').map((r) => Number(r[3]));
      assert.ok(expectedReq.length > 0);
      assert.ok(rows.some((r) => r[4].startsWith('application/grpc')));
      assert.equal(tcp.length, 1);
      const s = tcp[0];
      const run = runConnection(s.clientToServer, s.serverToClient, s.serverPort);
      assert.deepEqual(run.sink.malformedReasons, []);
      assert.deepEqual(run.sink.requests.map((r) => [r.method, r.target, r.host]), expectedReq);
      assert.ok(run.sink.requests.every((r) => r.protocol === 'grpc'));
      assert.deepEqual(run.sink.responses, expectedStatus);
      assert.equal(run.verdict.protocol, 'grpc');
      assert.equal(run.verdict.security, 'plaintext');
      assert.equal(run.wantsMore, true);
      const ref = summary(run);
      for (let k = 1; k < s.clientToServer.length; k++) assert.equal(summary(runConnection(s.clientToServer, s.serverToClient, s.serverPort, splitAt(k))), ref);
      for (let seed = 1; seed < 20; seed++) assert.equal(summary(runConnection(s.clientToServer, s.serverToClient, s.serverPort, randomChunks(seed, seed * 3))), ref);
    });
  }
});

function collect(dec: HpackDecoder, hex: string): { ok: boolean; headers: Array<[string, string]> } {
  const headers: Array<[string, string]> = [];
  const b = Buffer.from(hex.replace(/\s+/g, ''), 'hex');
  const ok = dec.decode(b, 0, b.length, { header: (n, v) => headers.push([n, v]) });
  return { ok, headers };
}

describe('hpack', () => {
  it('decodes the RFC 7541 Appendix C.4 requests (Huffman, dynamic table across blocks)', () => {
    const dec = new HpackDecoder();
    const c41 = collect(dec, '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff');
    assert.ok(c41.ok);
    assert.deepEqual(c41.headers, [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    // C.4.2 refers to :authority through the dynamic table (index 62) and adds cache-control,
    // whose value we deliberately do not keep.
    const c42 = collect(dec, '8286 84be 5886 a8eb 1064 9cbf');
    assert.deepEqual(c42.headers, [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', ''],
    ]);
    const c43 = collect(dec, '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf');
    assert.deepEqual(c43.headers, [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', ''],
    ]);
  });

  it('stops an HPACK bomb: one big entry referenced many times', () => {
    const dec = new HpackDecoder();
    // Literal with incremental indexing, name :path (static 4), a 4000-byte value; then 100
    // references to it (0xbe = index 62).
    const value = Buffer.alloc(4000, 0x61);
    const block = Buffer.concat([Buffer.from([0x44, 0x7f, 4000 - 127 - 128 * 0 - 0 > 0 ? 0xa1 : 0, 0x1e]), value, Buffer.alloc(100, 0xbe)]);
    // 4000 = 127 + 3873; 3873 = 0x21 + 0x1e*128 -> bytes 0xa1 0x1e (RFC 7541 §5.1)
    let n = 0;
    const ok = dec.decode(block, 0, block.length, { header: () => n++ });
    assert.equal(ok, false);
    assert.equal(dec.error, 'hpack header list too large');
    assert.ok(n < 20, `stopped after ${n} headers`);
  });

  it('rejects a table size update beyond the cap and an absurd integer', () => {
    const dec = new HpackDecoder();
    // 0x3f then 0xff 0xff 0xff 0x7f: size update to ~2^28
    assert.equal(collect(dec, '3fffffff7f').ok, false);
    assert.equal(collect(new HpackDecoder(), '3fe1ffff0f').ok, false);
    assert.equal(collect(new HpackDecoder(), '80').ok, false, 'index 0');
  });

  it('reports unknown dynamic references mid-stream as empty names, then stays desynced', () => {
    const dec = new HpackDecoder();
    const r = collect(dec, '82 c5 84');
    assert.equal(r.ok, true);
    assert.deepEqual(r.headers, [
      [':method', 'GET'],
      ['', ''],
      [':path', '/'],
    ]);
    assert.equal(dec.isDesynced, true);
  });
});

describe('http2 hostile streams', () => {
  const frame = (type: number, flags: number, sid: number, payload: Buffer) =>
    Buffer.concat([Buffer.from([payload.length >> 16, (payload.length >> 8) & 255, payload.length & 255, type, flags, sid >> 24, (sid >> 16) & 255, (sid >> 8) & 255, sid & 255]), payload]);
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

  it('an undecodable HEADERS block is still one http2 request with empty fields', () => {
    const c2s = Buffer.concat([preface, frame(1, 5, 1, Buffer.from([0xc5, 0xc6]))]);
    const run = runConnection(c2s, Buffer.alloc(0), 80);
    assert.deepEqual(run.sink.requests, [{ protocol: 'http2', method: '', target: '', host: '', hasCredentials: false }]);
    assert.equal(run.verdict.protocol, 'http2');
  });

  it('padding, priority and CONTINUATION are handled; hostile authority and path are sanitised', () => {
    const authority = Buffer.from('<img src=x onerror=alert(1)>\x00' + 'h'.repeat(70000));
    const path = Buffer.from('/x?token=1');
    // Literal without indexing, indexed names :authority (1) and :path (4), raw strings.
    const lit = (idx: number, v: Buffer) => {
      const len = v.length;
      const intBytes: number[] = [];
      if (len < 127) intBytes.push(len);
      else {
        intBytes.push(127);
        let rest = len - 127;
        while (rest >= 128) {
          intBytes.push((rest & 127) | 128);
          rest >>= 7;
        }
        intBytes.push(rest);
      }
      return Buffer.concat([Buffer.from([idx, ...intBytes]), v]);
    };
    const block = Buffer.concat([Buffer.from([0x83]), lit(0x04, path), lit(0x01, authority.subarray(0, 300))]);
    const padded = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 16]), block.subarray(0, 10), Buffer.alloc(3)]);
    const c2s = Buffer.concat([preface, frame(1, 0x8 | 0x20, 1, padded), frame(9, 0x4, 1, block.subarray(10))]);
    const run = runConnection(c2s, Buffer.alloc(0), 80);
    assert.deepEqual(run.sink.malformedReasons, []);
    const r = run.sink.requests[0];
    assert.equal(r.method, 'POST');
    assert.equal(r.target, '/x?token=1');
    assert.equal(r.hasCredentials, true);
    assert.equal(r.host.length, 255);
    assert.ok(r.host.startsWith('<img src=x onerror=alert(1)>\uFFFDhhh'));
  });

  it('a header block above 64 KiB is malformed, reported empty, and later blocks still frame', () => {
    const big = Buffer.alloc(70000, 0x82);
    const c2s = Buffer.concat([preface, frame(1, 4, 1, big), frame(1, 5, 3, Buffer.from([0x83, 0x84]))]);
    const run = runConnection(c2s, Buffer.alloc(0), 80);
    assert.deepEqual(run.sink.malformedReasons, ['http2 header block too large']);
    assert.deepEqual(run.sink.requests.map((r) => r.method), ['', 'POST']);
  });

  it('a broken preface or a CONTINUATION out of place stops the direction', () => {
    // Not quite the preface: not HTTP/2 at all, so an unrecognised protocol.
    const bad = runConnection(Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'), Buffer.alloc(0), 80);
    assert.equal(bad.verdict.protocol, 'tcp');
    assert.equal(bad.verdict.security, 'unknown');
    assert.equal(bad.wantsMore, false);
    const cont = runConnection(Buffer.concat([preface, frame(9, 4, 1, Buffer.from([0x82]))]), Buffer.alloc(0), 80);
    assert.deepEqual(cont.sink.malformedReasons, ['http2 unexpected continuation']);
  });
});
