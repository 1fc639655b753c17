// Every capture format and variant we read, checked against tshark (an independent reader) for
// the number of records, their timestamps, lengths and link types; plus the inputs we must
// refuse with a one-line error.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnsupportedInputError } from '../../../collector/sources/pcap/errors.js';
import { readCapture } from '../../helpers/read-capture.js';

const FIX = new URL('../../fixtures/pcap/', import.meta.url).pathname;

/** tshark's view: epoch seconds as text (nanosecond digits), captured and original lengths. */
function tsharkRecords(file: string): Array<{ epoch: string; capLen: number; origLen: number }> {
  const out = execFileSync('tshark', ['-r', FIX + file, '-T', 'fields', '-e', 'frame.interface_id', '-e', 'frame.time_epoch', '-e', 'frame.cap_len', '-e', 'frame.len'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  // Newer tshark also lists non-packet pcapng blocks as frames; they have no interface id.
  return out.replace(/\n$/, '').split('\n').filter((l) => l !== '').map((l) => l.split('\t')).filter(([iface]) => !file.endsWith('.pcapng') || iface !== '').map(([, epoch, cap, len]) => ({ epoch, capLen: Number(cap), origLen: Number(len) }));
}

const CASES: Array<{ file: string; format: RegExp; linkTypes: number[] }> = [
  { file: 'http1-get-full-handshake.pcap', format: /microsecond.*little/, linkTypes: [1] },
  { file: 'big-endian-usec-pptp.pcap', format: /microsecond.*big/, linkTypes: [1] },
  { file: 'nanosecond-big-endian-http.pcap', format: /nanosecond.*big/, linkTypes: [1] },
  { file: 'nanosecond-le-sll-tcp-handshake.pcap', format: /nanosecond.*little/, linkTypes: [113] },
  { file: 'modified-kuznetzov-format.pcap', format: /modified/, linkTypes: [1] },
  { file: 'sll2-icmp-v4-v6.pcap', format: /microsecond/, linkTypes: [276] },
  { file: 'ipv6-http-rawip.pcap', format: /microsecond/, linkTypes: [101] },
  { file: 'pcapng-http-loopback.pcapng', format: /pcapng/, linkTypes: [1] },
  { file: 'pcapng-multi-interface-dns.pcapng', format: /pcapng/, linkTypes: [1] },
  { file: 'pcapng-big-endian-multisection.pcapng', format: /pcapng/, linkTypes: [0, 1] },
  { file: 'empty.pcapng', format: /pcapng/, linkTypes: [] },
];

for (const c of CASES) {
  test(`${c.file}: same records as tshark`, () => {
    const bytes = readFileSync(FIX + c.file);
    const expected = tsharkRecords(c.file);
    for (const chunk of [bytes.length, 13]) {
      const r = readCapture(bytes, chunk);
      assert.match(r.format, c.format);
      assert.deepEqual(r.malformed, []);
      assert.equal(r.records.length, expected.length);
      r.records.forEach((rec, i) => {
        // Simple Packet Blocks carry no timestamp (tshark prints none, we hand out NaN).
        if (expected[i].epoch === '') { assert.ok(Number.isNaN(rec.tsMs)); return; }
        // Compare in microseconds: tshark prints nanoseconds; float ms keep about 0.25 µs.
        const tsharkUs = Math.round(Number(expected[i].epoch) * 1e6);
        assert.ok(Math.abs(rec.tsMs * 1000 - tsharkUs) <= 1, `record ${i}: ${rec.tsMs} vs ${expected[i].epoch}`);
        assert.equal(rec.capLen, expected[i].capLen);
        assert.equal(rec.origLen, expected[i].origLen);
      });
      if (c.linkTypes.length > 0) assert.ok(r.records.every((rec) => c.linkTypes.includes(rec.linkType)));
    }
  });
}

test('pcapng with per-interface link types across sections reads every section', () => {
  const r = readCapture(readFileSync(FIX + 'pcapng-big-endian-multisection.pcapng'), 64);
  assert.equal(r.records.length, 8);
});

const REFUSED: Array<[string, Uint8Array | string, RegExp]> = [
  ['an empty file', new Uint8Array(0), /empty input/],
  ['a text file', Buffer.from('root:x:0:0:root:/root:/bin/bash\n'), /not a pcap or pcapng capture \(magic 72 6f 6f 74\)/],
  ['a gzip file', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), /gzip/],
  ['a truncated global header', Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]), /truncated global header/],
  ['pcap version 1', 'corrupt-pcap-invalid-version.pcap', /unsupported pcap version 1/],
  ['a pcapng SHB option past its block', 'corrupt-pcapng-shb-option-too-long.pcapng', /damaged Section Header Block/],
  ['a pcapng section of version 2', 'corrupt-pcapng-unknown-shb-version.pcapng', /unsupported section version 2/],
];

for (const [what, input, message] of REFUSED) {
  test(`refuses ${what} with a one-line error`, () => {
    const bytes = typeof input === 'string' ? readFileSync(FIX + input) : input;
    assert.throws(() => readCapture(bytes), (err: unknown) => {
      assert.ok(err instanceof UnsupportedInputError);
      assert.match(err.message, message);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  });
}

test('an impossible record length is counted, and reading resynchronises on the next record', () => {
  const bytes = Buffer.from(readFileSync(FIX + 'http1-get-full-handshake.pcap'));
  const full = readCapture(bytes);
  // Corrupt the 3rd record's incl_len (little-endian file: header at 24 + records before).
  let off = 24;
  for (let i = 0; i < 2; i++) off += 16 + bytes.readUInt32LE(off + 8);
  bytes.writeUInt32LE(0x7fffffff, off + 8);
  const r = readCapture(bytes, 100);
  assert.ok(r.malformed.includes('record-impossible-length'));
  assert.equal(r.records.length, full.records.length - 1, 'only the corrupted record is lost');
  assert.deepEqual(r.records.slice(2), full.records.slice(3));
});

test('a pcapng block with a bad length ends the section as malformed, not as a crash', () => {
  const bytes = Buffer.from(readFileSync(FIX + 'pcapng-multi-interface-dns.pcapng'));
  // The first block is the SHB; corrupt the length of the block after it.
  const shbLen = bytes.readUInt32LE(4);
  bytes.writeUInt32LE(7, shbLen + 4);
  const r = readCapture(bytes);
  assert.deepEqual(r.malformed, ['block-bad-length']);
});
