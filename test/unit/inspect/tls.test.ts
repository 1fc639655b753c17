import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { readPcap } from '../../helpers/tcp-streams.js';
import { tsharkFields } from '../../helpers/tshark.js';
import { randomChunks, runConnection, splitAt, summary } from '../../helpers/inspect-harness.js';

const FIX = 'test/fixtures/pcap/';

async function onlyStream(file: string) {
  const { tcp } = await readPcap(FIX + file);
  assert.equal(tcp.length, 1);
  return tcp[0];
}

function assertChunkingIndependent(c2s: Uint8Array, s2c: Uint8Array, port: number): void {
  const ref = summary(runConnection(c2s, s2c, port));
  const step = Math.max(1, Math.floor(c2s.length / 400));
  for (let k = 1; k < c2s.length; k += step) assert.equal(summary(runConnection(c2s, s2c, port, splitAt(k))), ref, `client split ${k}`);
  for (let seed = 1; seed <= 15; seed++) assert.equal(summary(runConnection(c2s, s2c, port, randomChunks(seed, seed * 40))), ref);
}

describe('tls on real captures, checked against tshark and node:crypto', () => {
  it('TLS 1.2 mutual auth: client certificate after CertificateRequest → mtls', async () => {
    const file = 'tls12-mutual-auth-certrequest.pcap';
    const s = await onlyStream(file);
    const run = runConnection(s.clientToServer, s.serverToClient, s.serverPort);
    const rows = tsharkFields(FIX + file, ['tls.handshake.type', 'tls.handshake.extensions_server_name', 'tls.handshake.extensions_alpn_str']);
    const hello = rows.find((r) => r[0].split(',').includes('1'))!;
    const serverHello = rows.find((r) => r[0].split(',').includes('2'))!;
    assert.equal(run.verdict.protocol, 'tls');
    assert.equal(run.verdict.sni, hello[1]);
    assert.equal(run.verdict.alpn, serverHello[2], 'negotiated ALPN visible in a TLS 1.2 ServerHello');
    assert.equal(run.verdict.security, 'mtls');
    assert.equal(run.verdict.securityReason, 'tls1.2 client certificate');
    assert.equal(run.wantsMore, false, 'done once the client switched to encrypted records');
    // Certificates: compare with tshark's raw DER, decoded independently by node:crypto.
    const ders = tsharkFields(FIX + file, ['tls.handshake.certificate'])
      .flatMap((r) => r[0].split(','))
      .map((h) => Buffer.from(h.replace(/:/g, ''), 'hex'));
    assert.ok(ders.length >= 2);
    assert.equal(run.sink.certificates.length, ders.length);
    assert.ok(run.sink.certificates.some((c) => c.fromClient));
    assert.ok(run.sink.certificates.some((c) => !c.fromClient));
    for (const der of ders) {
      const peer = new X509Certificate(der);
      // Client and server certificates arrive in feed order; match them by fingerprint.
      const got = run.sink.certificates.find((c) => c.cert.fingerprint === peer.fingerprint256.replace(/:/g, '').toLowerCase())?.cert;
      assert.ok(got, 'certificate reported');
      assert.equal(got.serialHex.replace(/^0+/, ''), peer.serialNumber.toLowerCase().replace(/^0+/, ''));
      assert.equal(got.notBeforeMs, Date.parse(peer.validFrom));
      assert.equal(got.notAfterMs, Date.parse(peer.validTo));
      const peerDns = (peer.subjectAltName ?? '')
        .split(', ')
        .filter((x) => x.startsWith('DNS:'))
        .map((x) => x.slice(4));
      assert.deepEqual(got.dnsNames, peerDns);
      // node prints one attribute per line, first RDN first; we print RFC 4514 order (last first).
      const cn = peer.subject.split('\n').find((l) => l.startsWith('CN='));
      if (cn) assert.ok(got.subject.includes(cn), `${got.subject} has ${cn}`);
    }
    assertChunkingIndependent(s.clientToServer, s.serverToClient, s.serverPort);
  });

  for (const file of ['tls13-sni-alpn-h2.pcap', 'tls13-sll2-sni-alpn.pcap']) {
    it(`${file}: TLS 1.3 → tls, offered ALPN list, SNI`, async () => {
      const s = await onlyStream(file);
      const run = runConnection(s.clientToServer, s.serverToClient, s.serverPort);
      const hello = tsharkFields(FIX + file, ['tls.handshake.extensions_server_name', 'tls.handshake.extensions_alpn_str'])[0];
      const version = tsharkFields(FIX + file, ['tls.handshake.extensions.supported_version', 'tls.handshake.type']).find((r) => r[1] === '2')!;
      assert.equal(version[0], '0x0304');
      assert.equal(run.verdict.sni, hello[0]);
      assert.equal(run.verdict.alpn, hello[1]);
      assert.equal(run.verdict.security, 'tls');
      assert.equal(run.verdict.securityReason, 'tls1.3, no client cert visible');
      assert.equal(run.wantsMore, false);
      assert.deepEqual(run.sink.certificates, [], 'TLS 1.3 certificates are encrypted');
      assert.deepEqual(run.sink.malformedReasons, []);
      assertChunkingIndependent(s.clientToServer, s.serverToClient, s.serverPort);
    });
  }
});

/** A ClientHello record built field by field (RFC 8446 §4.1.2), for the mesh-marker rules. */
export function clientHello(sni: string, alpn: string[]): Buffer {
  const ext = (type: number, body: Buffer) => Buffer.concat([u16(type), u16(body.length), body]);
  const name = Buffer.from(sni);
  const sniExt = ext(0, Buffer.concat([u16(name.length + 3), Buffer.from([0]), u16(name.length), name]));
  const ids = Buffer.concat(alpn.map((a) => Buffer.concat([Buffer.from([a.length]), Buffer.from(a)])));
  const alpnExt = ext(16, Buffer.concat([u16(ids.length), ids]));
  const exts = Buffer.concat([sniExt, alpnExt]);
  const body = Buffer.concat([u16(0x0303), Buffer.alloc(32, 7), Buffer.from([0]), u16(2), u16(0x1301), Buffer.from([1, 0]), u16(exts.length), exts]);
  const hs = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 255]), body]);
  return Buffer.concat([Buffer.from([0x16, 3, 1]), u16(hs.length), hs]);
}

function u16(n: number): Buffer {
  return Buffer.from([n >> 8, n & 255]);
}

describe('tls mesh markers and hostile input', () => {
  const cases: Array<[string, string[], string, string]> = [
    ['outbound_.9080_._.reviews.bookinfo.svc.cluster.local', ['istio-peer-exchange', 'istio'], 'mtls', 'istio mtls alpn'],
    ['outbound_.9080_.v1_.reviews.bookinfo.svc.cluster.local', ['h2'], 'mtls', 'istio mtls sni'],
    ['web.emojivoto.serviceaccount.identity.linkerd.cluster.local', [], 'mtls', 'linkerd mtls sni'],
    ['x.default.svc', ['transport.l5d.io/v1'], 'mtls', 'linkerd mtls alpn'],
    ['api.example.com', ['h2', 'http/1.1'], 'tls', 'tls, server hello not seen'],
  ];
  for (const [sni, alpn, security, reason] of cases) {
    it(`${sni} ${alpn.join(',')} → ${reason}`, () => {
      const run = runConnection(clientHello(sni, alpn), new Uint8Array(0), 443);
      assert.equal(run.verdict.security, security);
      assert.equal(run.verdict.securityReason, reason);
      assert.equal(run.verdict.sni, sni);
      assert.equal(run.verdict.alpn, alpn.join(','));
    });
  }

  it('truncated records are "need more", not malformed', () => {
    const hello = clientHello('a.b', ['h2']);
    const run = runConnection(hello.subarray(0, hello.length - 10), new Uint8Array(0), 443);
    assert.deepEqual(run.sink.malformedReasons, []);
    assert.equal(run.wantsMore, true);
    assert.equal(run.verdict.sni, '');
  });

  it('an absurd record length or a broken hello is malformed and stops', () => {
    const bad = Buffer.from([0x16, 3, 1, 0xff, 0xff, 1, 0, 0, 1]);
    const run = runConnection(bad, new Uint8Array(0), 443);
    assert.deepEqual(run.sink.malformedReasons, ['tls record header']);
    assert.equal(run.wantsMore, false);
    const hello = clientHello('a.b', ['h2']);
    hello[hello.length - 3] = 0xff; // the ALPN id length now runs past its list
    const run2 = runConnection(hello, new Uint8Array(0), 443);
    assert.deepEqual(run2.sink.malformedReasons, ['tls client hello']);
  });

  it('caps a 64 KiB-ish SNI and replaces control characters', () => {
    const run = runConnection(clientHello('<img src=x onerror=alert(1)>\x07' + 'a'.repeat(1000), []), new Uint8Array(0), 443);
    assert.equal(run.verdict.sni.length, 255);
    assert.ok(run.verdict.sni.startsWith('<img src=x onerror=alert(1)>\uFFFD'));
  });

  it('a ServerHello on the client side means reversed roles', async () => {
    const s = await onlyStream('tls13-sni-alpn-h2.pcap');
    const run = runConnection(s.serverToClient, s.clientToServer, s.serverPort);
    assert.equal(run.rolesReversed, true);
    assert.equal(run.verdict.securityReason, 'tls1.3, no client cert visible');
  });
});
