// Property tests: random and mutated real streams through every decoder. Properties: nothing
// throws, every reported string respects its cap, output is bounded by input, and it ends.
// Seeded and bounded (300 runs per decoder) so failures reproduce.
import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { readPcap } from '../../helpers/tcp-streams.js';
import { RecordingSink, randomChunks, runConnection } from '../../helpers/inspect-harness.js';
import { parseDnsMessage } from '../../../collector/inspect/dns.js';
import { HpackDecoder } from '../../../collector/inspect/hpack.js';
import { inspectDatagram } from '../../../collector/inspect/inspector.js';
import { templatePath } from '../../../collector/inspect/path-template.js';
import { MAX_HOST, MAX_PATH } from '../../../collector/inspect/text.js';
import { parseCertificate } from '../../../collector/inspect/x509.js';

const RUNS = { numRuns: 300, seed: 20261123 };
const FIX = 'test/fixtures/pcap/';
const FILES = [
  'http1-get-full-handshake.pcap',
  'tls12-mutual-auth-certrequest.pcap',
  'tls13-sni-alpn-h2.pcap',
  'grpc-h2c-full-connection.pcap',
  'grpc-h2c-k8s-cartservice-midstream.pcap',
  'dns-k8s-tcp.pcap',
  'sll-redis-loopback.pcap',
];

interface Real {
  c2s: Uint8Array;
  s2c: Uint8Array;
  port: number;
}
const streams: Real[] = [];
let certDer: Uint8Array = new Uint8Array(0);

function checkBounded(sink: RecordingSink, inputLen: number): void {
  assert.ok(sink.requests.length <= inputLen / 2 + 1, 'requests bounded by input');
  for (const r of sink.requests) {
    assert.ok(r.host.length <= MAX_HOST);
    assert.ok(r.target.length <= MAX_PATH);
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(r.host + r.target + r.method), 'no control characters');
  }
  for (const m of sink.dnsMessages) assert.ok(m.qname.length <= 255 && m.answers.length <= 64);
}

/** Mutate a real stream: flip bytes, cut, duplicate or insert random runs. */
const mutation = fc.record({
  which: fc.nat(),
  edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 })), { maxLength: 8 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

function mutate(src: Uint8Array, edits: Array<[number, number, number]>): Uint8Array {
  let b = Buffer.from(src);
  for (const [pos, val, kind] of edits) {
    if (b.length === 0) break;
    const at = pos % b.length;
    if (kind === 0) b[at] = val;
    else if (kind === 1) b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + (val % 64)))]);
    else if (kind === 2) b = Buffer.concat([b.subarray(0, at), Buffer.alloc(val % 64, val), b.subarray(at)]);
    else b = b.subarray(0, at);
  }
  return b;
}

describe('fuzz: no throw, bounded output, terminates', () => {
  before(async () => {
    for (const f of FILES) {
      const { tcp } = await readPcap(FIX + f);
      for (const s of tcp) streams.push({ c2s: s.clientToServer, s2c: s.serverToClient, port: s.serverPort });
    }
    // The first server certificate of the TLS 1.2 capture: skip to its DER (starts 30 82).
    const tls = streams.find((s) => s.port === 443 && s.s2c.length > 5000)!;
    const at = Buffer.from(tls.s2c).indexOf(Buffer.from([0x30, 0x82]));
    const len = (tls.s2c[at + 2] << 8) | tls.s2c[at + 3];
    certDer = tls.s2c.slice(at, at + 4 + len);
  });

  it('inspector on random bytes, any port, random chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.uint8Array({ maxLength: 2048 }), fc.constantFrom(53, 80, 443, 6379, 7070, 9999), fc.integer({ min: 1, max: 1000 }), (c2s, s2c, port, seed) => {
        const run = runConnection(c2s, s2c, port, randomChunks(seed, 97));
        checkBounded(run.sink, c2s.length + s2c.length);
      }),
      RUNS,
    );
  });

  it('inspector on random bytes behind real protocol prefixes', () => {
    const prefixes = ['GET / HTTP/1.1\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', '\x16\x03\x01', 'HTTP/1.1 200 OK\r\n', '*3\r\n$'].map((p) => Buffer.from(p, 'latin1'));
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 4096 }), fc.uint8Array({ maxLength: 1024 }), (p, rest, s2c) => {
        const c2s = Buffer.concat([p, rest]);
        checkBounded(runConnection(c2s, s2c, 8080, randomChunks(rest.length + 1, 50)).sink, c2s.length + s2c.length);
      }),
      RUNS,
    );
  });

  it('inspector on mutated real streams', () => {
    fc.assert(
      fc.property(mutation, ({ which, edits, seed }) => {
        const s = streams[which % streams.length];
        const c2s = mutate(s.c2s, edits);
        const s2c = mutate(s.s2c, edits.slice(0, 3));
        checkBounded(runConnection(c2s, s2c, s.port, randomChunks(seed, 300)).sink, c2s.length + s2c.length);
      }),
      RUNS,
    );
  });

  it('hpack on random blocks and on header blocks of real streams', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (block) => {
        const dec = new HpackDecoder();
        let n = 0;
        dec.decode(block, 0, block.length, { header: () => n++ });
        assert.ok(n <= block.length);
      }),
      RUNS,
    );
  });

  it('dns and datagrams on random and mutated messages', () => {
    const real = Uint8Array.from(Buffer.from('0001818000010001000000000377777706676f6f676c6503636f6d0000010001c00c000100010000012c00040a000001', 'hex'));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), mutation, (rnd, m) => {
        const sink = new RecordingSink();
        parseDnsMessage(rnd, 0, rnd.length, sink);
        const mut = mutate(real, m.edits);
        inspectDatagram(mut, 0, mut.length, 53, 5000, sink);
        checkBounded(sink, rnd.length + mut.length);
      }),
      RUNS,
    );
  });

  it('x509 on mutated real certificates', () => {
    fc.assert(
      fc.property(mutation, ({ edits }) => {
        const der = mutate(certDer, edits);
        const sink = new RecordingSink();
        const cert = parseCertificate(der, 0, der.length, sink);
        if (cert) assert.ok(cert.subject.length <= 1024 && cert.uris.length <= 32 && cert.dnsNames.length <= 32);
        else assert.equal(sink.malformedReasons.length, 1);
      }),
      RUNS,
    );
    const sink = new RecordingSink();
    assert.ok(parseCertificate(certDer, 0, certDer.length, sink), 'the unmutated certificate parses');
  });

  it('path templates on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 5000 }), (s) => {
        const t = templatePath(s);
        assert.ok(t.length <= MAX_PATH);
      }),
      RUNS,
    );
  });
});
