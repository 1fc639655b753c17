// Hubble flow counting against real `hubble observe -o json` exports (test/fixtures/hubble, see
// ATTRIBUTION.md). Expected numbers were counted independently from the files: 43 distinct TCP
// 5-tuples with a SYN without ACK (70 SYN flows: REDIRECTED + TO_PROXY copies), 33 L7 HTTP
// REQUEST flows, 27 of whose connections started in the file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Aggregator, type AggRow } from '../../../collector/aggregate.js';
import { HubbleSink } from '../../../collector/sources/hubble/calls.js';
import { parseHubbleLine } from '../../../collector/sources/hubble/parse.js';
import type { VerdictRow } from '../../../collector/store/telemetry.js';

const FIX = new URL('../../fixtures/hubble/', import.meta.url).pathname;
const lines = (f: string) => readFileSync(FIX + f, 'utf8').split('\n');

function run(input: string[]) {
  const rows: AggRow[] = [];
  const verdicts: VerdictRow[] = [];
  const agg = new Aggregator((b) => rows.push(...b));
  const sink = new HubbleSink(agg, { node: '', templatePath: (_e, t) => t, writeVerdicts: (v) => verdicts.push(...v) });
  for (const l of input) sink.line(l);
  sink.finish();
  agg.drain();
  const sum = (f: (r: AggRow) => boolean, k: 'count' | 'connections') => rows.filter(f).reduce((n, r) => n + r[k], 0);
  return { rows, verdicts, sink, sum };
}

describe('hubble observe -o json, 400 TCP flows', () => {
  const r = run(lines('hubble-observe-400-tcp-flows.jsonl'));

  it('counts one call per connection start or L7 request, not per packet', () => {
    assert.equal(r.sink.stats.lines, 400);
    assert.equal(r.sink.stats.malformed, 0);
    assert.equal(r.sink.stats.calls, 49);
    assert.equal(r.sink.stats.connections, 43);
    assert.equal(r.sink.stats.deduplicated, 27);
    assert.equal(r.sum((x) => x.key.protocol === 'http', 'count'), 33);
    assert.equal(r.sum((x) => x.key.protocol === 'http', 'connections'), 27);
    assert.equal(r.sum((x) => x.key.protocol === 'tcp', 'count'), 16);
  });

  it('keeps verdicts per call: every start met FORWARDED, the proxied ones REDIRECTED first', () => {
    assert.deepEqual(Object.fromEntries(r.sink.verdictTotals), { FORWARDED: 49, REDIRECTED: 27 });
    const byKey = new Map(r.rows.map((x) => [x.keyString, x]));
    const pp = r.verdicts.filter((v) => v.verdict === 'REDIRECTED').map((v) => byKey.get(v.keyString)!.key);
    assert.ok(pp.every((k) => k.protocol === 'http'), 'the redirected connections carried the L7 requests');
  });

  it('attributes requests to their node and templated path', () => {
    const details = r.rows.find((x) => x.key.dstIp === '10.244.1.193' && x.key.protocol === 'http');
    assert.equal(details?.key.method, 'GET');
    assert.equal(details?.key.path, '/details/0');
    assert.equal(details?.key.host, 'details:9080');
    assert.equal(details?.key.security, 'plaintext');
    assert.equal(details?.count, 9);
    assert.ok(details?.key.node.startsWith('kind-'));
  });
});

describe('smaller exports', () => {
  it('10 L3/L4 flows: one SYN, the rest are mid-connection packets', () => {
    const r = run(lines('hubble-observe-10-l3l4-flows.jsonl'));
    assert.equal(r.sink.stats.calls, 1);
    assert.equal(r.rows[0].key.srcIp, '10.0.2.1');
    assert.equal(r.rows[0].key.dstPort, 10054);
  });

  it('DNS and HTTP L7 exports: requests counted, responses not', () => {
    const dns = run(lines('hubble-observe-5-l7-dns-flows.jsonl'));
    assert.equal(dns.sum((x) => x.key.protocol === 'dns', 'count'), 3);
    assert.ok(dns.rows.every((x) => x.key.host.endsWith('cluster.local')));
    const http = run(lines('hubble-observe-5-l7-http-flows.jsonl'));
    assert.equal(http.sum((x) => x.key.protocol === 'http', 'count'), 3);
  });

  it('reads bare flows and protojson lowerCamelCase keys', () => {
    const first = JSON.parse(lines('hubble-observe-10-l3l4-flows.jsonl').find((l) => l.includes('"SYN":true') && !l.includes('"ACK"'))!) as { flow: Record<string, unknown> };
    const camel = JSON.stringify(first.flow).replace(/"(source|destination)_port"/g, (_m, s: string) => `"${s}Port"`).replace('"node_name"', '"nodeName"');
    const p = parseHubbleLine(camel);
    assert.equal(p?.flow.l4?.TCP?.destination_port, 10054);
    assert.equal(run([camel]).sink.stats.calls, 1);
  });

  it('counts DROPPED verdicts on the call', () => {
    const syn = lines('hubble-observe-10-l3l4-flows.jsonl').find((l) => l.includes('"SYN":true') && !l.includes('"ACK"'))!;
    const r = run([syn.replace('"FORWARDED"', '"DROPPED"')]);
    assert.deepEqual(Object.fromEntries(r.sink.verdictTotals), { DROPPED: 1 });
  });

  it('skips malformed lines and never crashes on random input (property)', () => {
    const r = run(['not json', '{"flow": 3}', '[1,2]', '{"flow":{"time":"x"}}', ...lines('hubble-observe-5-l7-http-flows.jsonl')]);
    assert.equal(r.sink.stats.malformed, 4);
    const real = lines('hubble-observe-10-l3l4-flows.jsonl').filter(Boolean);
    fc.assert(fc.property(fc.array(fc.oneof(fc.string(), fc.json(),
      fc.constantFrom(...real).chain((l) => fc.nat(l.length).map((n) => l.slice(0, n) + l.slice(n + 1))))), (input) => {
      run(input);
    }), { numRuns: 300 });
  });
});
