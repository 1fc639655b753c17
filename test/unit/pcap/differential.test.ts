// Differential test: our classic-pcap reader must hand out exactly the records that the
// reference implementation, the npm package pcap-parser, hands out — on every classic
// microsecond fixture (the only format pcap-parser reads). See docs/decisions/001.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readCapture, type Rec } from '../../helpers/read-capture.js';

const require = createRequire(import.meta.url);
// pcap-parser is CommonJS without types; its surface here is parse(path) → EventEmitter.
const pcapp = require('pcap-parser') as { parse(path: string): NodeJS.EventEmitter };

const FIXTURES = new URL('../../fixtures/pcap/', import.meta.url).pathname;

function referenceRecords(path: string): Promise<Rec[]> {
  return new Promise((resolve, reject) => {
    const out: Rec[] = [];
    let linkType = -1;
    const p = pcapp.parse(path);
    p.on('globalHeader', (h: { linkLayerType: number }) => { linkType = h.linkLayerType; });
    p.on('packet', (pkt: { header: { timestampSeconds: number; timestampMicroseconds: number; capturedLength: number; originalLength: number }; data: Buffer }) => {
      out.push({
        linkType,
        tsMs: pkt.header.timestampSeconds * 1000 + pkt.header.timestampMicroseconds / 1000,
        capLen: pkt.header.capturedLength,
        origLen: pkt.header.originalLength,
        hex: pkt.data.toString('hex'),
      });
    });
    p.on('end', () => resolve(out));
    p.on('error', reject);
  });
}

function isClassicUsec(bytes: Uint8Array): boolean {
  const m = Buffer.from(bytes.subarray(0, 4)).toString('hex');
  const major = m === 'd4c3b2a1' ? bytes[4] | (bytes[5] << 8) : (bytes[4] << 8) | bytes[5];
  return (m === 'd4c3b2a1' || m === 'a1b2c3d4') && major === 2;
}

const classic = readdirSync(FIXTURES).filter((f) => f.endsWith('.pcap') && isClassicUsec(readFileSync(join(FIXTURES, f))));

test('there are classic microsecond fixtures to compare', () => {
  assert.ok(classic.length >= 10, `only ${classic.length} classic fixtures`);
});

for (const name of classic) {
  test(`our reader equals pcap-parser on ${name}`, async () => {
    const path = join(FIXTURES, name);
    const expected = await referenceRecords(path);
    const bytes = readFileSync(path);
    // Whole file at once, and in 7-byte chunks so every record straddles a boundary.
    for (const chunk of [bytes.length, 7]) {
      const ours = readCapture(bytes, chunk);
      assert.deepEqual(ours.malformed, [], `${name} chunk ${chunk}: unexpected malformed`);
      assert.equal(ours.records.length, expected.length);
      assert.deepEqual(ours.records, expected);
    }
  });
}

test('a truncated final record: pcap-parser drops it silently, we count it as malformed', async () => {
  const bytes = readFileSync(join(FIXTURES, 'http1-get-full-handshake.pcap'));
  const cut = bytes.subarray(0, bytes.length - 10);
  const path = join(mkdtempSync(join(tmpdir(), 'tm-diff-')), 'cut.pcap');
  writeFileSync(path, cut);
  const reference = await referenceRecords(path);
  const ours = readCapture(cut, 4096);
  const full = readCapture(bytes);
  assert.equal(reference.length, full.records.length - 1, 'pcap-parser returns the complete records only');
  assert.equal(ours.records.length, full.records.length - 1);
  assert.deepEqual(ours.malformed, ['record-truncated']);
  assert.deepEqual(ours.records, full.records.slice(0, -1));
});
