// The simulate and drift renderers with hostile strings from traffic and policy files: no
// terminal escapes or line breaks in tables, no markup, links or extra columns in Markdown.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { driftMarkdown, driftTable } from '../../../analyzer/cli/drift.js';
import { simulationMarkdown, simulationTable } from '../../../analyzer/cli/simulate.js';
import type { DriftReport, PolicyRef, SimulationReport } from '../../../analyzer/simulate/model.js';

const EVIL = '\u001b[31mred\u001b[0m|<img src=x onerror=alert(1)>\n[click](http://x)\u202egnp.exe\u2066\u2028';
const ref: PolicyRef = { kind: 'NetworkPolicy', namespace: 'shop', name: EVIL, file: `dir/${EVIL}.yaml`, line: 3 };

const report: SimulationReport = {
  window: { since: null, until: null, first_seen: null, last_seen: null },
  policies: { files: 1, loaded: [{ kind: 'NetworkPolicy', count: 1 }], unknown: [{ kind: `v1 ${EVIL}`, count: 1 }] },
  summary: { calls: 1, requests: 2, allowed: 0, denied: 1, indeterminate: 0 },
  calls: [{
    source: `shop/${EVIL}`, destination: 'shop/api', source_ip: '10.0.0.1', destination_ip: '10.0.0.2', port: 8080, transport: 'tcp', protocol: 'http', method: 'GET',
    path: `/x/${EVIL}`, security: 'plaintext', count: 2, last_seen: '2026-01-01T00:00:00.000Z', verdict: 'denied',
    findings: [{ layer: 'netpol-ingress', verdict: 'denied', policy: ref, reason: `no ingress rule allows from ${EVIL}` }], matched: [], notes: [],
  }],
};

const drift: DriftReport = {
  window: report.window,
  unused_rules: [{ policy: ref, rule: 'ingress[0]', breadth: 'any', detail: EVIL, reason: 'x' }],
  broad_rules: [{ policy: ref, rule: 'ingress[1]', breadth: 'namespace', detail: EVIL, observed: [EVIL], reason: 'x' }],
  broad_only_calls: [{ source: EVIL, destination: 'shop/api', port: 80, count: 1, rules: [], reason: EVIL }],
};

// Control characters, and the bidirectional overrides and line separators that reorder or break
// what a terminal or a pull-request page shows (Trojan Source, CVE-2021-42574).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('rendering hostile strings', () => {
  it('tables: no escape sequences, one line per row', () => {
    for (const out of [simulationTable(report, true), driftTable(drift)]) {
      assert.doesNotMatch(out, CONTROL);
      assert.ok(!out.includes('\u001b'));
    }
    const rows = simulationTable(report, true).split('\n');
    assert.equal(rows.filter((l) => l.startsWith('denied')).length, 1);
  });

  it('markdown: no raw HTML, links or extra columns', () => {
    const sim = simulationMarkdown(report, true);
    const d = driftMarkdown(drift);
    for (const out of [sim, d]) {
      assert.ok(!out.includes('<img'));
      assert.ok(!out.includes('](http'));
      assert.doesNotMatch(out, CONTROL);
    }
    for (const row of sim.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Verdict'))) assert.equal(row.replace(/\\\|/g, '').split('|').length, 11, row);
    for (const row of d.split('\n').filter((l) => l.startsWith('| ') && !/^\| (Rule|Source) \|/.test(l))) {
      const cols = row.replace(/\\\|/g, '').split('|').length;
      assert.ok(cols === 5 || cols === 7, row);
    }
  });

  it('calls that differ only in an address the row does not show are one row, counts summed', () => {
    // Two replicas of shop/api answered the same denied request: two JSON entries, one row.
    const [c] = report.calls;
    const replicas: SimulationReport = { ...report, calls: [c, { ...c, destination_ip: '10.0.0.3', count: 5 }, { ...c, port: 9090, count: 1 }] };
    const rows = simulationTable(replicas, true).split('\n').filter((l) => l.startsWith('denied'));
    assert.equal(rows.length, 2);
    assert.match(rows[0], /8080\/tcp .* 7 /);
    const md = simulationMarkdown(replicas, true).split('\n').filter((l) => l.startsWith('| ⛔'));
    assert.equal(md.length, 2);
    assert.match(md[0], /\| 8080\/tcp \|.*\| 7 \|/);
  });
});
