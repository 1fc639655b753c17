// The layer decoders against tshark on every fixture: for each packet we decode, the addresses,
// ports and TCP sequence number must equal what tshark dissects (the innermost layer when
// tunnelled). Crafted packets below cover what no fixture has (QinQ, BSD loopback, IPv6
// extension headers, fragments), each with its bytes written out.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLink } from '../../../collector/decode/link.js';
import { DecodedPacket, MALFORMED, OK, SKIP } from '../../../collector/decode/packet.js';
import { formatIpv4, formatIpv6 } from '../../../collector/track/addresses.js';
import { readCapture } from '../../helpers/read-capture.js';

const FIX = new URL('../../fixtures/pcap/', import.meta.url).pathname;
const READABLE = readdirSync(FIX).filter((f) => /\.pcap(ng)?$/.test(f) && !f.startsWith('corrupt-'));

function addr(p: DecodedPacket, at: number): string {
  return p.ipVersion === 4 ? formatIpv4(p.buf, at) : formatIpv6(p.buf, at);
}

function decodeAll(file: string): Array<{ v: number; src?: string; dst?: string; sport?: number; dport?: number; seq?: number; proto?: number }> {
  const { records } = readCapture(readFileSync(FIX + file));
  return records.map((r) => {
    const p = new DecodedPacket();
    const bytes = Buffer.from(r.hex, 'hex');
    p.buf = bytes;
    const v = decodeLink(p, r.linkType, bytes, 0, bytes.length);
    if (v !== OK) return { v };
    return { v, src: addr(p, p.srcAddr), dst: addr(p, p.dstAddr), sport: p.srcPort, dport: p.dstPort, seq: p.transport === 6 ? p.seq : undefined, proto: p.transport };
  });
}

function tsharkFields(file: string): string[][] {
  const out = execFileSync('tshark', ['-r', FIX + file, '-T', 'fields', '-E', 'occurrence=l',
    '-e', 'frame.interface_id', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst',
    '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'tcp.seq_raw', '-e', 'icmp.type', '-e', 'icmpv6.type'],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.replace(/\n$/, '').split('\n').map((l) => l.split('\t')).filter((f) => !file.endsWith('.pcapng') || f[0] !== '');
}

for (const file of READABLE) {
  test(`decoders agree with tshark on ${file}`, () => {
    const ours = decodeAll(file);
    const theirs = tsharkFields(file);
    assert.equal(ours.length, theirs.length);
    let compared = 0;
    ours.forEach((o, i) => {
      const [, ip4s, ip4d, ip6s, ip6d, ts, td, us, ud, seq, icmp, icmp6] = theirs[i];
      if (o.v !== OK) {
        // We skip only what carries no TCP/UDP we track; tshark must agree there is none.
        if (o.v === SKIP) assert.ok((ts === '' && us === '') || icmp !== '' || icmp6 !== '', `packet ${i + 1} skipped but tshark sees ports ${ts}${us}`);
        return;
      }
      // ICMP errors quote an inner IP header; tshark's last occurrence is then the quoted one.
      if (icmp !== '' || icmp6 !== '') return;
      const v6 = ip6s !== '' && (ip4s === '' || o.src!.includes(':'));
      assert.equal(o.src, v6 ? ip6s : ip4s, `packet ${i + 1} src`);
      assert.equal(o.dst, v6 ? ip6d : ip4d, `packet ${i + 1} dst`);
      if (o.proto === 6) {
        assert.equal(String(o.sport), ts, `packet ${i + 1} sport`);
        assert.equal(String(o.dport), td, `packet ${i + 1} dport`);
        assert.equal(String(o.seq), seq, `packet ${i + 1} seq`);
      } else {
        assert.equal(String(o.sport), us, `packet ${i + 1} sport`);
        assert.equal(String(o.dport), ud, `packet ${i + 1} dport`);
      }
      compared++;
    });
    if (!/icmp|pptp|modified|empty/.test(file)) assert.ok(compared > 0, 'no packet was compared');
  });
}

// ---- crafted packets -------------------------------------------------------------------------

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
// IPv4 10.0.0.1 → 10.0.0.2, TCP 40000 → 80, seq 1, SYN. Total length 40.
const IPV4_TCP = '45000028 1234 0000 4006 0000 0a000001 0a000002' + '9c400050 00000001 00000000 5002ffff 00000000';

function decode(linkType: number, bytes: Buffer) {
  const p = new DecodedPacket();
  p.buf = bytes;
  const v = decodeLink(p, linkType, bytes, 0, bytes.length);
  return { v, p };
}

test('Ethernet with QinQ (802.1ad + 802.1Q) tags reaches IPv4/TCP', () => {
  const frame = hex('020000000002 020000000001 88a8 0064 8100 00c8 0800' + IPV4_TCP);
  const { v, p } = decode(1, frame);
  assert.equal(v, OK);
  assert.equal(formatIpv4(frame, p.srcAddr), '10.0.0.1');
  assert.equal(p.dstPort, 80);
});

test('BSD loopback (NULL, host byte order) and LOOP (network byte order)', () => {
  assert.equal(decode(0, hex('02000000' + IPV4_TCP)).v, OK);
  assert.equal(decode(108, hex('00000002' + IPV4_TCP)).v, OK);
  assert.equal(decode(0, hex('07000000' + IPV4_TCP)).v, SKIP, 'an unknown family is skipped');
});

test('Ethernet padding does not become payload: the IP total length bounds it', () => {
  const frame = hex('020000000002 020000000001 0800' + IPV4_TCP + '000000000000');
  const { v, p } = decode(1, frame);
  assert.equal(v, OK);
  assert.equal(p.payloadEnd - p.payload, 0);
  assert.equal(p.payloadLen, 0);
});

test('IPv4: later fragments are skipped, the first fragment is decoded', () => {
  const later = IPV4_TCP.replace('1234 0000', '1234 0010'); // fragment offset 16*8
  assert.equal(decode(101, hex(later)).v, SKIP);
  const first = IPV4_TCP.replace('1234 0000', '1234 2000'); // MF set, offset 0
  assert.equal(decode(101, hex(first)).v, OK);
});

test('IPv6 with hop-by-hop and destination options reaches UDP', () => {
  const udp = '1f900035 000c 0000 01020304';
  const ip6 = '60000000' + '001c' + '00' + '40'
    + '20010db8000000000000000000000001' + '20010db8000000000000000000000002'
    + '3c000000 00000000' // hop-by-hop → next 60, 8 bytes
    + '11000000 00000000' // destination options → next 17, 8 bytes
    + udp;
  const { v, p } = decode(101, hex(ip6));
  assert.equal(v, OK);
  assert.equal(formatIpv6(p.buf, p.srcAddr), '2001:db8::1');
  assert.equal(p.srcPort, 8080);
  assert.equal(p.dstPort, 53);
  assert.equal(p.payloadLen, 4);
});

test('IPv6 non-first fragment is skipped', () => {
  const ip6 = '60000000 0010 2c 40' + '00'.repeat(32) + '06000008 00000001' + '00'.repeat(8);
  assert.equal(decode(101, hex(ip6)).v, SKIP);
});

test('broken headers are malformed with a reason, never a throw', () => {
  const cases: Array<[number, string, string]> = [
    [1, '0200000000', 'link-truncated'],
    [101, '4f00', 'ip-truncated'],
    [101, '44000028 1234 0000 4006 0000 0a000001 0a000002', 'ip-bad-header'], // IHL 16 bytes
    [101, IPV4_TCP.replace('5002ffff', 'f002ffff'), 'tcp-bad-header'], // data offset 60 > segment
    [101, '4500001c 0000 0000 4011 0000 0a000001 0a000002 0035 0035 00ff 0000', 'udp-bad-header'],
    [101, '7500', 'ip-bad-header'],
  ];
  for (const [lt, h, reason] of cases) {
    const { v, p } = decode(lt, hex(h));
    assert.equal(v, MALFORMED, h);
    assert.equal(p.reason, reason, h);
  }
});

test('VXLAN is unwrapped once: the inner TCP flow is what we see', () => {
  const inner = '020000000002 020000000001 0800' + IPV4_TCP;
  const innerLen = inner.replace(/\s+/g, '').length / 2;
  const udpLen = 8 + 8 + innerLen;
  const outer = '45000000 0000 0000 4011 0000 c0a80001 c0a80002'.replace('45000000', `4500${(20 + udpLen).toString(16).padStart(4, '0')}`)
    + `c35012b5 ${udpLen.toString(16).padStart(4, '0')} 0000` + '08000000 00000100' + inner;
  const { v, p } = decode(101, hex(outer));
  assert.equal(v, OK);
  assert.equal(formatIpv4(p.buf, p.srcAddr), '10.0.0.1');
  assert.equal(p.dstPort, 80);
});
