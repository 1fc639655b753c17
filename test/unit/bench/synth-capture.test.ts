// The benchmark's capture generator, checked by an independent decoder: tshark must dissect a
// small capture without a malformed packet and count the HTTP requests, ClientHellos and DNS
// queries the sidecar claims, in every format and link layer the generator writes.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseSize, synthCapture, truthPath, type SynthOptions, type SynthTruth } from '../../bench/synth-capture.js';
import { tsharkFields } from '../../helpers/tshark.js';

const dir = mkdtempSync(join(tmpdir(), 'trustmap-synth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function tsharkCount(file: string, filter: string): number {
  return tsharkFields(file, ['frame.number'], ['-Y', filter]).length;
}

const VARIANTS: Array<Pick<SynthOptions, 'format' | 'link'> & { size: string }> = [
  { format: 'pcap', link: 'ether', size: '5M' },
  { format: 'pcapng', link: 'ether', size: '1M' },
  { format: 'pcap', link: 'sll2', size: '1M' },
];

describe('synthetic capture, dissected by tshark', () => {
  for (const v of VARIANTS) {
    it(`${v.format}, ${v.link}, ${v.size}`, () => {
      const out = join(dir, `synth-${v.format}-${v.link}.${v.format}`);
      const truth = synthCapture({ out, sizeBytes: parseSize(v.size), format: v.format, link: v.link, seed: 7 });
      assert.deepEqual(JSON.parse(readFileSync(truthPath(out), 'utf8')), truth, 'sidecar holds the returned truth');
      assert.equal(statSync(out).size, truth.bytes);
      assert.ok(truth.bytes >= parseSize(v.size), 'at least the requested size');

      const info = execFileSync('capinfos', ['-M', '-c', '-t', '-E', out], { encoding: 'utf8' });
      assert.match(info, new RegExp(`Number of packets:\\s+${truth.packets}\\b`));
      assert.match(info, v.format === 'pcap' ? /File type:\s+pcap$/m : /File type:\s+pcapng$/m);
      assert.match(info, v.link === 'ether' ? /encapsulation:\s+ether$/m : /encapsulation:\s+linux-sll2$/m);

      assert.equal(tsharkCount(out, '_ws.malformed || _ws.expert.severity >= error'), 0, 'no malformed packets');
      assert.equal(tsharkCount(out, 'tcp.analysis.flags'), 0, 'no retransmissions, gaps or out-of-order segments');
      assert.equal(tsharkCount(out, 'http.request'), truth.httpRequests);
      assert.equal(tsharkCount(out, 'http.response'), truth.httpRequests);
      assert.equal(tsharkCount(out, 'tls.handshake.type == 1'), truth.tlsConnections);
      assert.equal(tsharkCount(out, 'tls.handshake.type == 2'), truth.tlsConnections);
      assert.equal(tsharkCount(out, 'dns.flags.response == 0'), truth.dnsQueries);
      assert.equal(tsharkCount(out, 'dns.flags.response == 1'), truth.dnsResponses);
      assert.equal(tsharkCount(out, 'tcp.flags.syn == 1 && tcp.flags.ack == 0'), truth.tcpConnections);
      assert.ok(truth.httpRequests > 0 && truth.tlsConnections > 0 && truth.dnsQueries > 0);
    });
  }

  it('checksums are correct', () => {
    const out = join(dir, 'synth-pcap-ether.pcap');
    const bad = tsharkFields(out, ['frame.number'], [
      '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
      '-Y', 'ip.checksum.status != 1 || tcp.checksum.status != 1 || udp.checksum.status != 1',
    ]);
    assert.equal(bad.length, 0);
  });

  it('is deterministic: same arguments, same bytes; another seed, other bytes', () => {
    const a = join(dir, 'a.pcap'), b = join(dir, 'b.pcap'), c = join(dir, 'c.pcap');
    const opts = { sizeBytes: parseSize('300K'), format: 'pcap', link: 'ether' } as const;
    const ta: SynthTruth = synthCapture({ ...opts, out: a, seed: 3 });
    synthCapture({ ...opts, out: b, seed: 3 });
    synthCapture({ ...opts, out: c, seed: 4 });
    assert.ok(readFileSync(a).equals(readFileSync(b)));
    assert.ok(!readFileSync(a).equals(readFileSync(c)));
    assert.ok(ta.packets > 0);
  });

  it('parses sizes in binary units', () => {
    assert.equal(parseSize('1G'), 1024 ** 3);
    assert.equal(parseSize('200M'), 200 * 1024 ** 2);
    assert.equal(parseSize('64KiB'), 65536);
    assert.equal(parseSize('1000'), 1000);
    assert.throws(() => parseSize('lots'));
  });
});
