// NetworkPolicy evaluation against the upstream Kubernetes conformance truth tables
// (test/fixtures/netpol-conformance/, ATTRIBUTION.md): every step of every encoded case, every
// ordered pair of the 9 pods (loopback excluded, as upstream), must come out allowed or denied
// exactly as the upstream expected matrix says — never indeterminate.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { evaluateCall } from '../../../analyzer/simulate/simulate.js';
import type { LoadResult, Peer } from '../../../analyzer/simulate/model.js';
import { call, loadObjects, workload } from './helpers.js';

interface Step {
  port: number;
  protocol: 'TCP' | 'UDP';
  policies: Array<{ namespace: string; name: string; spec: object }>;
  namespaceLabels?: Record<string, Record<string, string>>;
  podLabels?: Record<string, Record<string, string>>;
  expect: Array<[string, string, boolean]>;
}
interface Fixture { model: { namespaces: string[]; pods: string[]; ports: number[] }; cases: Array<{ name: string; steps: Step[] }> }

const fixture = parse(readFileSync(fileURLToPath(new URL('../../fixtures/netpol-conformance/e2e-netpol-truth-table.yaml', import.meta.url)), 'utf8')) as Fixture;
const { namespaces, pods, ports } = fixture.model;

function peers(step: Step): Peer[] {
  return namespaces.flatMap((ns, i) => pods.map((pod, j) => workload(ns, pod, {
    id: `${ns}/${pod}`,
    labels: { pod, ...(step.podLabels?.[`${ns}/${pod}`] ?? {}) },
    namespaceLabels: { 'kubernetes.io/metadata.name': ns, ns, ...(step.namespaceLabels?.[ns] ?? {}) },
    serviceAccount: 'default',
    ip: `10.0.${i}.${j + 1}`,
    namedPorts: ports.flatMap((port) => (['TCP', 'UDP'] as const).map((protocol) => ({ name: `serve-${port}-${protocol.toLowerCase()}`, port, protocol }))),
    isNamedPortsComplete: true,
  })));
}

const matches = (sel: string, id: string): boolean => sel === '*' || sel === id || (sel.endsWith('/*') && id.startsWith(sel.slice(0, -1)));

/** The upstream Reachability: all true, then each expectation in order. */
function expected(step: Step, from: string, to: string): boolean {
  let out = true;
  for (const [f, t, r] of step.expect) if (matches(f, from) && matches(t, to)) out = r;
  return out;
}

const OPTS = { rootNamespace: 'istio-system', trustDomain: 'cluster.local' };

describe('NetworkPolicy: the Kubernetes e2e netpol truth tables', () => {
  it('encodes a meaningful number of cases with denials in them', () => {
    assert.ok(fixture.cases.length >= 40);
    assert.ok(fixture.cases.some((c) => c.steps.some((s) => s.expect.some(([, , r]) => !r))));
  });
  for (const c of fixture.cases) {
    it(c.name, () => {
      c.steps.forEach((step, si) => {
        const loaded: LoadResult = loadObjects(step.policies.map((p) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: p.name, namespace: p.namespace }, spec: p.spec })));
        assert.equal(loaded.policies.length, step.policies.length);
        const all = peers(step);
        const mismatches: string[] = [];
        for (const s of all) for (const d of all) {
          if (s.id === d.id) continue;
          const v = evaluateCall(loaded.policies, call(s, d, { port: step.port, transport: step.protocol === 'UDP' ? 'udp' : 'tcp', protocol: 'tcp', method: null, path: null, security: 'plaintext' }), OPTS);
          const want = expected(step, s.id, d.id) ? 'allowed' : 'denied';
          if (v.verdict !== want) mismatches.push(`${s.id} -> ${d.id}: ${v.verdict}, want ${want} (${v.findings.map((f) => f.reason).join('; ')})`);
        }
        assert.deepEqual(mismatches, [], `step ${si + 1} (${step.protocol}/${step.port})`);
      });
    });
  }
});
