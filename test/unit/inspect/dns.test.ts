import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { readPcap } from '../../helpers/tcp-streams.js';
import { tsharkFields } from '../../helpers/tshark.js';
import { RecordingSink, randomChunks, runConnection, splitAt } from '../../helpers/inspect-harness.js';
import { inspectDatagram } from '../../../collector/inspect/inspector.js';
import { ipv6 } from '../../../collector/inspect/dns.js';

const FIX = 'test/fixtures/pcap/';

describe('dns over tcp on real captures, checked against tshark', () => {
  for (const file of ['dns-k8s-tcp.pcap', 'dns-k8s-srv-tcp-midstream.pcap']) {
    it(file, async () => {
      const { tcp } = await readPcap(FIX + file);
      const rows = tsharkFields(FIX + file, ['dns.flags.response', 'dns.qry.name', 'dns.qry.type', 'dns.a', 'dns.resp.ttl']);
      const expected = rows.flatMap((r) => {
        // With several DNS messages in one segment tshark aggregates with ','; split them back.
        const flags = r[0].split(',');
        const names = r[1].split(',');
        const types = r[2].split(',');
        return flags.map((f, i) => ({ isResponse: f === '1' || f === 'True', qname: names[i].toLowerCase(), qtype: Number(types[i]) }));
      });
      const aAnswers = rows.flatMap((r) => (r[3] ? r[3].split(',') : []));
      const got = [];
      const gotA = [];
      for (const s of tcp) {
        const run = runConnection(s.clientToServer, s.serverToClient, s.serverPort);
        assert.equal(run.verdict.protocol, 'dns');
        assert.equal(run.verdict.security, 'plaintext');
        assert.deepEqual(run.sink.malformedReasons, []);
        for (const m of run.sink.dnsMessages) {
          got.push({ isResponse: m.isResponse, qname: m.qname, qtype: m.qtype });
          gotA.push(...m.answers.filter((a) => a.type === 'A').map((a) => a.value));
        }
        // Queries and responses interleave differently with the chunking; compare them sorted.
        const sorted = (r: ReturnType<typeof runConnection>) => r.sink.dnsMessages.map((m) => JSON.stringify(m)).sort();
        const ref = sorted(run);
        for (let k = 1; k < s.clientToServer.length; k++) assert.deepEqual(sorted(runConnection(s.clientToServer, s.serverToClient, s.serverPort, splitAt(k))), ref);
        for (let seed = 1; seed < 20; seed++) assert.deepEqual(sorted(runConnection(s.clientToServer, s.serverToClient, s.serverPort, randomChunks(seed, seed))), ref);
      }
      // Order: per connection, client messages interleaved with server ones; compare as multisets.
      const key = (m: { isResponse: boolean; qname: string; qtype: number }) => `${m.isResponse}|${m.qname}|${m.qtype}`;
      assert.deepEqual(got.map(key).sort(), expected.map(key).sort());
      assert.deepEqual(gotA.sort(), aAnswers.sort());
    });
  }
});

/** A DNS message built field by field (RFC 1035 §4.1). */
function message(opts: { id?: number; flags?: number; qd?: number; an?: number; body: number[] }): Uint8Array {
  const h = [0, opts.id ?? 1, (opts.flags ?? 0) >> 8, (opts.flags ?? 0) & 255, 0, opts.qd ?? 1, 0, opts.an ?? 0, 0, 0, 0, 0];
  return Uint8Array.from([...h, ...opts.body]);
}
const name = (s: string) => [...s.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]), 0];

describe('dns datagrams and hostile input', () => {
  it('parses a UDP response with CNAME, A and AAAA answers via compression pointers', () => {
    const q = name('WWW.Example.com');
    const body = [
      ...q, 0, 1, 0, 1,
      0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 16, // www -> CNAME example.com (pointer to offset 16)
      0xc0, 16, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 10, 0, 0, 7,
      0xc0, 16, 0, 28, 0, 1, 0, 0, 0, 5, 0, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ];
    const sink = new RecordingSink();
    const msg = message({ flags: 0x8180, an: 3, body });
    assert.equal(inspectDatagram(msg, 0, msg.length, 53, 40000, sink), 'dns');
    assert.deepEqual(sink.dnsMessages, [
      {
        isResponse: true,
        qname: 'www.example.com',
        qtype: 1,
        answers: [
          { name: 'www.example.com', type: 'CNAME', value: 'example.com', ttl: 60 },
          { name: 'example.com', type: 'A', value: '10.0.0.7', ttl: 256 },
          { name: 'example.com', type: 'AAAA', value: '2001:db8::1', ttl: 5 },
        ],
      },
    ]);
    assert.equal(inspectDatagram(msg, 0, msg.length, 1234, 4321, sink), 'udp');
  });

  it('rejects a compression pointer loop', () => {
    // The question name is a pointer to itself (offset 12).
    const sink = new RecordingSink();
    const msg = message({ body: [0xc0, 12, 0, 1, 0, 1] });
    assert.equal(inspectDatagram(msg, 0, msg.length, 5353, 5353, sink), 'udp');
    assert.deepEqual(sink.malformedReasons, ['dns name']);
    // A forward pointer that points at a pointer back to it.
    const msg2 = message({ body: [0xc0, 14, 0xc0, 12, 0, 1, 0, 1] });
    inspectDatagram(msg2, 0, msg2.length, 53, 53, sink);
    assert.deepEqual(sink.malformedReasons, ['dns name', 'dns name']);
  });

  it('rejects absurd counts and over-long names', () => {
    const sink = new RecordingSink();
    const msg = message({ qd: 1, an: 65535, body: [...name('a.b'), 0, 1, 0, 1] });
    inspectDatagram(msg, 0, msg.length, 53, 53, sink);
    const long = message({ body: [...name(Array(40).fill('abcdefg').join('.')), 0, 1, 0, 1] });
    inspectDatagram(long, 0, long.length, 53, 53, sink);
    assert.deepEqual(sink.malformedReasons, ['dns counts', 'dns name']);
    assert.deepEqual(sink.dnsMessages, []);
  });

  it('formats IPv6 per RFC 5952', () => {
    const v = (hex: string) => ipv6(Buffer.from(hex, 'hex'), 0);
    assert.equal(v('00000000000000000000000000000001'), '::1');
    assert.equal(v('20010db8000000010000000000000001'), '2001:db8:0:1::1');
    assert.equal(v('20010db8000000000001000000000001'), '2001:db8::1:0:0:1');
    assert.equal(v('fe800000000000000000000000000000'), 'fe80::');
  });

  it('a sink that only counts queries gets dnsQuery() for them, the same responses and the same malformed reasons', () => {
    // The tracker's sinks are such sinks: nothing reads a query's names, so none are built.
    class CountingSink extends RecordingSink {
      queries = 0;
      dnsQuery(): void { this.queries++; }
    }
    const inputs = [
      message({ body: [...name('Www.Example.com'), 0, 1, 0, 1] }),
      message({ flags: 0x8180, an: 1, body: [...name('a.example'), 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 10, 0, 0, 9] }),
      message({ body: [0xc0, 12, 0, 1, 0, 1] }), // query with a pointer loop
      message({ body: [...name(Array(40).fill('abcdefg').join('.')), 0, 1, 0, 1] }), // over-long query name
      message({ an: 1, body: [...name('q.example'), 0, 1, 0, 1, 0xc0, 40, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4] }), // query with a bad record
      message({ qd: 2, body: [...name('one'), 0, 1, 0, 1, ...name('two'), 0, 28, 0, 1] }),
    ];
    const full = new RecordingSink();
    const counting = new CountingSink();
    for (const m of inputs) {
      assert.equal(inspectDatagram(m, 0, m.length, 53, 40000, counting), inspectDatagram(m, 0, m.length, 53, 40000, full));
    }
    assert.deepEqual(counting.malformedReasons, full.malformedReasons);
    assert.deepEqual(full.malformedReasons, ['dns name', 'dns name', 'dns name']);
    assert.deepEqual(counting.dnsMessages, full.dnsMessages.filter((m) => m.isResponse));
    assert.equal(counting.dnsMessages.length, 1);
    assert.equal(counting.queries, full.dnsMessages.filter((m) => !m.isResponse).length);
    assert.equal(counting.queries, 2);
  });

  it('a TCP stream with a bogus length prefix is malformed', () => {
    const run = runConnection(Uint8Array.from([0, 3, 1, 2, 3]), new Uint8Array(0), 53);
    assert.deepEqual(run.sink.malformedReasons, ['dns tcp length']);
  });
});
