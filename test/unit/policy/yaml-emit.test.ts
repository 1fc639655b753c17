// The policy YAML emitter (analyzer/policy/yaml-emit.ts): whatever a string holds, the text parses
// back to exactly the data, as YAML 1.2 (core schema) and as YAML 1.1 (the booleans, sexagesimal
// numbers and line breaks kubectl's parser knows); comments stay on their line; the layout is the
// `yaml` package's, which the golden files were written with.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Document, parse, parseAllDocuments } from 'yaml';
import { isPlainSafe, yamlDocument, yamlString, YamlWriter } from '../../../analyzer/policy/yaml-emit.js';

/** Parsed as a YAML 1.2 and as a YAML 1.1 document; a parse error fails the test. */
function both(text: string): [unknown, unknown] {
  const docs = (['1.2', '1.1'] as const).map((version) => {
    const d = parseAllDocuments(text, { version });
    assert.ok(!('empty' in d) && d.length === 1, `one document in ${JSON.stringify(text)}`);
    const [doc] = d;
    assert.deepEqual(doc.errors, [], `${version}: ${JSON.stringify(text)}`);
    return doc.toJS() as unknown;
  });
  return [docs[0], docs[1]];
}

function roundTrips(value: object, comments: string[] = []): string {
  const text = yamlDocument(value, comments);
  const [v12, v11] = both(text);
  const expected = JSON.parse(JSON.stringify(value)) as unknown;
  assert.deepEqual(v12, expected, `YAML 1.2 of ${JSON.stringify(text)}`);
  assert.deepEqual(v11, expected, `YAML 1.1 of ${JSON.stringify(text)}`);
  return text;
}

const HOSTILE = [
  '', ' ', ' a', 'a ', '\t', 'a\tb', '-', '- a', '-a', '--- x', '...', '? a', ':', 'a:', 'a: b', 'a:b', '#', 'a #b', 'a#b',
  '&a', '*a', '!tag', '|', '>', "'", '"', "it's", 'a"b', '%YAML', '@x', '`x', ',', '[a]', '{a: 1}', 'a, b', '<<', '=',
  'true', 'false', 'True', 'FALSE', 'yes', 'No', 'ON', 'off', 'y', 'N', 'null', 'Null', '~', '.inf', '-.Inf', '.nan', '.NaN',
  '0', '8080', '-1', '+1', '1.5', '.5', '1e3', '1E-3', 'e0', 'E+5', '0x1F', '0o17', '017', '0b101', '1_000', '1:20', '190:20:30', '2026-11-23',
  '2026-11-23T09:40:10.000Z', '10.0.0.1', '1.22', 'a\nb', 'a\r\nb', '\n', 'trailing\n', 'a\u0000b', '\u0007', '\u001b[31m',
  '\u007f', '\u0085', '\u00a0', '\u2028', '\u2029', '\ufeff', '\u202e', '\u200f', '\ufffe', '\ud800', '\udc00x', '😀', 'ünïcödé',
  '日本語', 'a\\b', '\\', '/', 'a/b', 'x'.repeat(300),
];

describe('yaml-emit: strings', () => {
  it('hostile strings round-trip as values, keys and sequence items, in YAML 1.2 and 1.1', () => {
    for (const s of HOSTILE) roundTrips({ k: s, [s]: [s, { [s]: s }] });
  });

  it('random strings of any UTF-16 code units (lone surrogates too) round-trip', () => {
    const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const str = fc.oneof(fc.string({ unit: anyUnit }), fc.string({ unit: 'binary' }), fc.string(), fc.constantFrom(...HOSTILE));
    fc.assert(fc.property(str, str, (a, b) => { roundTrips({ [a]: b, list: [a, b] }); }), { numRuns: 2000, seed: 20261123 });
  });

  it('random plain data (nested maps and lists, numbers, booleans, null) round-trips', () => {
    // Through JSON first: -0 becomes 0 there, and the expected value is computed through JSON.
    const data = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 })).map((v) => JSON.parse(JSON.stringify(v)) as object);
    fc.assert(fc.property(data, (v) => { roundTrips(v); }), { numRuns: 500, seed: 20261123 });
  });

  it('is plain only where nothing else could be read; quoted text is one line of printable characters', () => {
    const plain = ['app', 'k8s-app', 'k8s:io.kubernetes.pod.namespace', 'cluster.local/ns/shop/sa/frontend', '/api/cart/{*}/items',
      '/api/{**}', '^/products/[^/]+$', '10.244.1.5/32', 'fd00::1/128', '8080-http', 'security.istio.io/v1', 'TCP', 'STRICT',
      'a:b', 'a#b', 'a, b', "it's", 'a"b', 'a\\b', 'a/b', '/', 'x'.repeat(300), 'ünïcödé'.normalize('NFD').replace(/[^a-z]/g, '')];
    for (const s of plain) {
      assert.ok(isPlainSafe(s), s);
      assert.equal(yamlString(s), s);
    }
    for (const s of HOSTILE.filter((x) => !plain.includes(x))) {
      assert.ok(!isPlainSafe(s), JSON.stringify(s));
      const q = yamlString(s);
      assert.match(q, /^"[\x20-\x7e\u00a0-\u2027\u202f-\ufffd\u{10000}-\u{10ffff}]*"$/u, JSON.stringify(q));
      assert.ok(!/[\u0080-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/.test(q), JSON.stringify(q));
    }
    assert.equal(yamlString('8080'), '"8080"');
    assert.equal(yamlString('a\nb'), '"a\\nb"');
    assert.equal(yamlString('\u0085\u2028\ufeff\u202e'), '"\\u0085\\u2028\\ufeff\\u202e"');
  });
});

describe('yaml-emit: documents', () => {
  it('comments with line breaks and control characters stay one line each, above a blank line', () => {
    const comments = ['rule 1: observed: shop/a', 'x\n- evil: true', 'y\r\nkind: Secret', 'z\u2028w\u0085v', '', '\u202eabc'];
    const text = roundTrips({ kind: 'NetworkPolicy' }, comments);
    const lines = text.split('\n');
    assert.equal(lines.length, comments.length + 3);
    for (const line of lines.slice(0, comments.length)) {
      assert.match(line, /^#/);
      assert.ok(!/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/.test(line), JSON.stringify(line));
    }
    assert.deepEqual(lines.slice(comments.length), ['', 'kind: NetworkPolicy', '']);
    assert.equal(yamlDocument({ a: 1 }), 'a: 1\n', 'no comments, no blank line');
  });

  it('empty maps and lists are flow {} and []; undefined map values are left out, undefined items are null', () => {
    const text = roundTrips({ spec: {}, list: [], nested: [{}, [], [[]], { a: [] }], deep: [[1, 'a'], [{ b: {} }]] });
    assert.equal(text, 'spec: {}\nlist: []\nnested:\n  - {}\n  - []\n  - - []\n  - a: []\ndeep:\n  - - 1\n    - a\n  - - b: {}\n');
    assert.equal(yamlDocument({}), '{}\n');
    assert.equal(yamlDocument({ a: undefined, b: [undefined, null, true, false, -0, 1.5, 1e21, Infinity, NaN] }), 'b:\n  - null\n  - null\n  - true\n  - false\n  - -0\n  - 1.5\n  - 1e+21\n  - .inf\n  - .nan\n');
  });

  it('lays out objects as the `yaml` package does with lineWidth 0 (the golden files were written with it)', () => {
    const object = {
      apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'cart', namespace: 'shop', annotations: { 'istio.io/dry-run': 'true' } },
      spec: { selector: { matchLabels: { app: 'cart', version: 'v1' } }, action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/frontend'] } }], to: [{ operation: { ports: ['8080'], methods: ['POST'], paths: ['/api/cart/{*}/items'] } }] }], portLevelMtls: { 8080: { mode: 'STRICT' } }, empty: {}, none: [], port: 53, isOn: false, x: null },
    };
    const doc = new Document(object);
    doc.commentBefore = ' one\n two';
    assert.equal(yamlDocument(object, ['one', 'two']), doc.toString({ lineWidth: 0, minContentWidth: 0 }));
    assert.deepEqual(parse(yamlDocument(object)), JSON.parse(JSON.stringify(object)));
    // Where they differ on purpose: words YAML 1.1 reads as booleans are quoted, keys too.
    assert.equal(yamlDocument({ on: 'n' }), '"on": "n"\n');
  });

  it('refuses what is not plain data instead of writing it as {}', () => {
    assert.throws(() => yamlDocument({ a: new Map([['k', 'v']]) }), TypeError);
    assert.throws(() => yamlDocument({ a: new Date(0) }), TypeError);
    assert.throws(() => yamlDocument({ a: 1n }), TypeError);
    assert.throws(() => yamlDocument({ ['k'.repeat(1025)]: 1 }), RangeError);
  });
});

describe('yaml-emit: the writer', () => {
  it('keeps every character and its offsets: Latin-1 as bytes, the rest of a file as a string after the first wider one', () => {
    const w = new YamlWriter();
    const lengths: number[] = [];
    for (const piece of ['abc', '\u00e9\u00ff', '', '\u65e5\u672c', 'x', '\ud83d\ude00', '\u00e9']) {
      w.text(piece);
      lengths.push(w.length);
    }
    assert.equal(w.toString(), 'abc\u00e9\u00ff\u65e5\u672cx\ud83d\ude00\u00e9');
    assert.deepEqual(lengths, [3, 5, 5, 7, 8, 10, 11]);
    // The next file starts over in bytes, in the same buffer.
    w.reset();
    w.text('---\n');
    assert.equal(w.toString(), '---\n');
    assert.equal(w.length, 4);
  });

  it('grows past its first buffer without losing what it holds', () => {
    const w = new YamlWriter();
    const big = Array.from({ length: 5000 }, (_, i) => `line ${i}: ${'\u00e0'.repeat(i % 40)}\n`).join('');
    w.text('head\n');
    w.text(big);
    w.text(big);
    assert.equal(w.toString(), `head\n${big}${big}`);
  });
});
