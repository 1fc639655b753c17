// `trustmap simulate` and `trustmap drift` on the demo recording, through the built binary on a
// real SQLite store. The round trip: the policies `trustmap policy` proposes for istio, netpol and
// cilium, simulated against the traffic they came from, deny nothing except calls from callers
// the readiness check lists as blockers (plaintext, unmeshed), each denial naming that reason;
// the same requests from workloads that never called the destination are never allowed. Then the
// exit codes (0/1/2), policy-file errors with file and line, and drift on a hand-written policy.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import type { ReadinessReport } from '../../analyzer/model.js';
import { simulationCalls } from '../../analyzer/simulate/calls.js';
import { loadPolicies } from '../../analyzer/simulate/load.js';
import { SIM_VERDICTS, type DriftReport, type Peer, type SimCall, type SimulationReport } from '../../analyzer/simulate/model.js';
import { evaluateCall } from '../../analyzer/simulate/simulate.js';
import { ISTIO_AGENT_PORTS } from '../../analyzer/readiness.js';
import { openStore } from '../../collector/store/db.js';
import { runCli } from '../helpers/cli.js';

const DEMO = fileURLToPath(new URL('../testbed/demo/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'trustmap-simulate-demo-'));
const db = join(dir, 'demo.db');
const FORMATS = ['istio', 'netpol', 'cilium'] as const;

const ruleRef = z.object({ policy: z.object({ kind: z.string(), namespace: z.string(), name: z.string(), file: z.string(), line: z.number().int().min(1) }).strict(), rule: z.string() }).strict();
const findingSchema = z.object({ layer: z.string(), verdict: z.enum(SIM_VERDICTS), policy: ruleRef.shape.policy.nullable(), reason: z.string().min(10) }).strict();
const reportSchema = z.object({
  window: z.object({ since: z.string().nullable(), until: z.string().nullable(), first_seen: z.string().nullable(), last_seen: z.string().nullable() }).strict(),
  policies: z.object({ files: z.number().int(), loaded: z.array(z.object({ kind: z.string(), count: z.number().int() }).strict()), unknown: z.array(z.object({ kind: z.string(), count: z.number().int() }).strict()) }).strict(),
  summary: z.object({ calls: z.number().int(), requests: z.number().int(), allowed: z.number().int(), denied: z.number().int(), indeterminate: z.number().int() }).strict(),
  calls: z.array(z.object({
    source: z.string(), destination: z.string(), source_ip: z.string().nullable(), destination_ip: z.string().nullable(), port: z.number().int(), transport: z.enum(['tcp', 'udp']),
    protocol: z.string(), method: z.string().nullable(), path: z.string().nullable(), security: z.string(), count: z.number().int().min(1),
    last_seen: z.string(), verdict: z.enum(SIM_VERDICTS), findings: z.array(findingSchema), matched: z.array(ruleRef), notes: z.array(z.string()),
  }).strict()),
}).strict();

const simulate = (...args: string[]) => runCli(['simulate', '--db', db, ...args]);
function report(...args: string[]): { code: number | null; r: SimulationReport } {
  const x = simulate('--format', 'json', ...args);
  assert.ok(x.code === 0 || x.code === 1, x.stderr);
  return { code: x.code, r: reportSchema.parse(JSON.parse(x.stdout)) as SimulationReport };
}

let readiness: ReadinessReport;
before(() => {
  assert.equal(runCli(['collect', 'pcap', '--db', db, join(DEMO, 'capture.pcap')]).code, 0);
  assert.equal(runCli(['inventory', 'load', '--db', db, join(DEMO, 'inventory.json')]).code, 0);
  for (const f of FORMATS) {
    const x = runCli(['policy', '--db', db, '--format', f, '--out', join(dir, f), '--min-window', '1s']);
    assert.ok(x.code === 0 || x.code === 1, x.stderr);
  }
  readiness = JSON.parse(runCli(['readiness', '--db', db, '--min-window', '1s', '--format', 'json']).stdout) as ReadinessReport;
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** workload → caller → the readiness blocker kinds naming that caller. */
function blockersByCaller(): Map<string, Map<string, Set<string>>> {
  const out = new Map<string, Map<string, Set<string>>>();
  for (const ns of readiness.namespaces) for (const w of ns.workloads) for (const b of w.blockers) for (const s of b.sources) {
    const id = `${ns.namespace}/${w.name}`;
    let m = out.get(id);
    if (!m) out.set(id, (m = new Map()));
    let k = m.get(s);
    if (!k) m.set(s, (k = new Set()));
    k.add(b.kind);
  }
  return out;
}

describe('the proposed policies against the traffic they came from', () => {
  for (const format of FORMATS) {
    it(`${format}: denied only where readiness names the caller a plaintext or unmeshed blocker, and the denial says so`, () => {
      const { code, r } = report('--policies', join(dir, format));
      assert.ok(r.summary.calls > 20, 'the demo has calls');
      // shop/catalog has two replicas: their calls are separate entries, told apart by the pod address.
      assert.equal(new Set(r.calls.map((c) => JSON.stringify(c))).size, r.calls.length, 'no two entries alike');
      assert.ok(r.calls.some((c) => c.destination === 'shop/catalog' && c.destination_ip === '10.244.0.22'));
      assert.ok(r.policies.loaded.length > 0);
      assert.equal(r.summary.indeterminate, 0, JSON.stringify(r.calls.filter((c) => c.verdict === 'indeterminate').map((c) => c.findings)));
      const blockers = blockersByCaller();
      const denied = r.calls.filter((c) => c.verdict === 'denied');
      for (const c of denied) {
        const kinds = blockers.get(c.destination)?.get(c.source) ?? new Set();
        assert.ok(kinds.has('plaintext') || kinds.has('unmeshed-caller'), `${c.source} -> ${c.destination} is denied but readiness names no plaintext/unmeshed blocker for it`);
        const reason = c.findings.map((f) => f.reason).join(' ');
        assert.match(reason, c.security === 'plaintext' ? /plaintext/ : /unmeshed|without a mesh/, `${c.source} -> ${c.destination}: ${reason}`);
        assert.ok(c.findings.every((f) => f.policy !== null && f.policy.file.length > 0), 'a denial names its policy and file');
      }
      assert.equal(code, denied.length > 0 ? 1 : 0);
      if (format === 'istio') {
        // Each plaintext blocker readiness lists on a proxied port is one the mesh policies refuse.
        for (const ns of readiness.namespaces) for (const w of ns.workloads) for (const b of w.blockers.filter((x) => x.kind === 'plaintext')) {
          for (const s of b.sources) {
            assert.ok(denied.some((c) => c.source === s && c.destination === `${ns.namespace}/${w.name}`), `readiness blocker ${s} -> ${ns.namespace}/${w.name} is not denied`);
          }
        }
      }
    });
  }

  it('the same requests from workloads that never called the destination are never allowed', () => {
    const handle = openStore(db, { readonly: true });
    let calls: SimCall[];
    try {
      calls = simulationCalls(handle, {});
    } finally {
      handle.close();
    }
    const peers = new Map<string, Peer>();
    for (const c of calls) for (const p of [c.source, c.destination]) if (p.kind === 'workload' && (!peers.has(p.id) || p.ip !== null)) peers.set(p.id, p);
    const talked = new Set(calls.map((c) => `${c.source.id} ${c.destination.id}`));
    // DNS servers are allowed from every workload on purpose (docs/policies.md); the Istio agent
    // ports are outside the sidecar, so no mesh policy can refuse them.
    const isDns = (c: SimCall) => c.protocol === 'dns' || c.port === 53;
    for (const format of FORMATS) {
      const loaded = loadPolicies([join(dir, format)]);
      const protectedIds = new Set(loaded.policies.filter((p) => p.ref.kind !== 'PeerAuthentication').flatMap((p) => [...peers.values()].filter((w) => w.namespace === p.ref.namespace).map((w) => w.id)));
      let tried = 0;
      const allowed: string[] = [];
      for (const target of calls) {
        if (target.destination.kind !== 'workload' || isDns(target) || ISTIO_AGENT_PORTS.has(target.port) || !protectedIds.has(target.destination.id)) continue;
        for (const src of peers.values()) {
          if (src.id === target.destination.id || talked.has(`${src.id} ${target.destination.id}`)) continue;
          // The strongest form of the request: mutual TLS, so an identity rule would apply.
          const synthetic: SimCall = { ...target, source: src, security: 'mtls' };
          tried++;
          const v = evaluateCall(loaded.policies, synthetic, { rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
          if (v.verdict === 'allowed') allowed.push(`${src.id} -> ${target.destination.id}:${target.port} ${target.method ?? ''} ${target.path ?? ''}`);
        }
      }
      assert.ok(tried > 50, `${format}: enough never-talked pairs tried (${tried})`);
      assert.deepEqual(allowed, [], `${format}: never-talked pairs allowed`);
    }
  });
});

describe('trustmap simulate through the CLI', () => {
  it('exit 0 when nothing would be denied, 1 when something would, with the summary in every format', () => {
    const netpol = simulate('--policies', join(dir, 'netpol'));
    const ok = report('--policies', join(dir, 'netpol'));
    assert.equal(netpol.code, ok.r.summary.denied > 0 ? 1 : 0);
    const allow = join(dir, 'allow-all.yaml');
    writeFileSync(allow, 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-all, namespace: shop}\nspec:\n  rules: [{}]\n');
    const x = simulate('--policies', allow);
    assert.equal(x.code, 0, x.stderr);
    assert.match(x.stdout, /Policies: 1 AuthorizationPolicy from 1 file\n\d+ calls \(\d+ requests\): \d+ allowed, 0 denied, 0 indeterminate\n$/);
    const deny = join(dir, 'deny-shop.yaml');
    writeFileSync(deny, 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-nothing, namespace: shop}\nspec: {}\n');
    const t = simulate('--policies', deny);
    assert.equal(t.code, 1);
    assert.match(t.stdout, /^VERDICT\s+SOURCE\s+DESTINATION\s+PORT\s+REQUEST/);
    assert.match(t.stdout, /denied\s+shop\/checkout\s+shop\/orders\s+50051\/tcp\s+POST \/orders\.OrderService\/CreateOrder/);
    const md = simulate('--policies', deny, '--format', 'markdown');
    assert.equal(md.code, 1);
    for (const row of md.stdout.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Verdict'))) assert.equal(row.replace(/\\\|/g, '').split('|').length, 11, row);
    const { r } = report('--policies', deny, '--namespace', 'payments');
    assert.ok(r.calls.every((c) => c.source.startsWith('payments/') || c.destination.startsWith('payments/')));
  });

  it('exit 2 with the file and line on an invalid policy file, one line, no stack', () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'ok.yaml'), readFileSync(join(dir, 'allow-all.yaml')));
    writeFileSync(join(bad, 'broken.yaml'), 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: shop}\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: not-a-cidr}\n');
    const x = simulate('--policies', bad);
    assert.equal(x.code, 2);
    assert.match(x.stderr, /^error: [^\n]*broken\.yaml:8: NetworkPolicy shop\/x: not a CIDR \(at: spec\.ingress\.0\.from\.0\.ipBlock\.cidr\)\n$/);
    writeFileSync(join(bad, 'broken.yaml'), 'kind: [\n');
    assert.match(simulate('--policies', bad).stderr, /^error: [^\n]*broken\.yaml:\d+: not valid YAML/);
    for (const args of [[], ['--policies', join(dir, 'missing.yaml')], ['--policies', bad, '--format', 'html'], ['--policies', bad, 'extra'], ['--policies', bad, '--since', 'later']]) {
      const y = simulate(...args);
      assert.equal(y.code, 2, args.join(' '));
      assert.match(y.stderr, /^error: [^\n]+\n$/);
    }
    assert.equal(runCli(['simulate', '--db', join(dir, 'missing.db'), '--policies', join(dir, 'allow-all.yaml')]).code, 2);
    assert.equal(simulate().stderr, 'error: give at least one --policies FILE or folder\n');
    // Files with nothing the simulator evaluates (Linkerd's kinds) would allow every call: refused.
    const linkerd = join(dir, 'linkerd.yaml');
    writeFileSync(linkerd, 'apiVersion: policy.linkerd.io/v1beta3\nkind: Server\nmetadata: {name: catalog-8080, namespace: shop}\nspec: {podSelector: {matchLabels: {app: catalog}}, port: 8080}\n');
    for (const cmd of ['simulate', 'drift']) {
      const y = runCli([cmd, '--db', db, '--policies', linkerd]);
      assert.equal(y.code, 2, cmd);
      assert.match(y.stderr, /^error: no policy to evaluate in \S*linkerd\.yaml \(only 1 policy\.linkerd\.io\/v1beta3 Server\): simulate and drift read Istio AuthorizationPolicy and PeerAuthentication, NetworkPolicy and CiliumNetworkPolicy\n$/);
    }
  });
});

describe('trustmap drift', () => {
  it('names unused rules, rules broader than observed, and calls only a broad rule allows', () => {
    const file = join(dir, 'broad.yaml');
    writeFileSync(file, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: catalog, namespace: shop}
spec:
  podSelector: {matchLabels: {app: catalog}}
  ingress:
  - from:
    - namespaceSelector: {}
  - from:
    - podSelector: {matchLabels: {app: frontend}}
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: nowhere}}
`);
    const x = runCli(['drift', '--db', db, '--policies', file, '--format', 'json']);
    assert.equal(x.code, 1, x.stderr);
    const d = JSON.parse(x.stdout) as DriftReport;
    assert.deepEqual(d.unused_rules.map((r) => r.rule), ['ingress[2]']);
    assert.equal(d.broad_rules.length, 1);
    assert.equal(d.broad_rules[0].rule, 'ingress[0]');
    assert.equal(d.broad_rules[0].breadth, 'any');
    assert.ok(d.broad_rules[0].observed.includes('legacy/report-job') && d.broad_rules[0].observed.includes('shop/frontend'), JSON.stringify(d.broad_rules[0].observed));
    // frontend is also allowed by its own narrow rule; the report-job only by the broad one.
    const only = d.broad_only_calls.map((c) => c.source);
    assert.ok(only.includes('legacy/report-job'));
    assert.ok(!only.includes('shop/frontend'));
    // Prometheus scraped both catalog replicas: one entry with the calls summed (the graph's 4).
    assert.deepEqual(d.broad_only_calls.filter((c) => c.source === 'monitoring/prometheus').map((c) => [c.port, c.count]), [[15020, 4]]);
    const t = runCli(['drift', '--db', db, '--policies', file]);
    assert.equal(t.code, 1);
    assert.match(t.stdout, /Unused rules:\nRULE\s+FILE\s+ALLOWS\nNetworkPolicy shop\/catalog ingress\[2\]\s+\S*broad\.yaml:1\s/);
    assert.match(runCli(['drift', '--db', db, '--policies', file, '--format', 'markdown']).stdout, /^### Policy drift: 1 unused, 1 broad, \d+ broad-only calls/);
    // Calls limited to another namespace: the shop policy is not judged on traffic left out.
    const other = JSON.parse(runCli(['drift', '--db', db, '--policies', file, '--format', 'json', '--namespace', 'payments']).stdout) as DriftReport;
    assert.deepEqual([other.unused_rules.length, other.broad_rules.length, other.broad_only_calls.length], [0, 0, 0]);
  });

  it('exit 0 when every rule is used and narrow', () => {
    const file = join(dir, 'narrow.yaml');
    writeFileSync(file, 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: orders, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: orders}}\n  ingress:\n  - from:\n    - podSelector: {matchLabels: {app: checkout}}\n');
    const x = runCli(['drift', '--db', db, '--policies', file]);
    assert.equal(x.code, 0, x.stdout);
    assert.match(x.stdout, /0 unused rules, 0 broad rules, 0 calls allowed only by a broad rule/);
  });
});

describe('an empty window', () => {
  // The collector was down, or --namespace has a typo: "0 denied" and "every rule unused" would
  // be verdicts on nothing. Both commands say so and exit 1; drift calls no rule unused.
  it('simulate checks nothing and exits 1; drift judges no rule unused and exits 1', () => {
    for (const window of [['--until', '2020-01-01'], ['--namespace', 'nowhere']]) {
      const s = simulate('--policies', join(dir, 'netpol'), '--format', 'json', ...window);
      assert.equal(s.code, 1, window.join(' '));
      assert.equal((JSON.parse(s.stdout) as SimulationReport).summary.calls, 0);
      assert.match(s.stderr, /^no recorded call in the window( with an end in nowhere)?: nothing was checked\n$/);
      const d = runCli(['drift', '--db', db, '--policies', join(dir, 'netpol'), '--format', 'json', ...window]);
      assert.equal(d.code, 1, window.join(' '));
      assert.deepEqual((JSON.parse(d.stdout) as DriftReport).unused_rules, []);
      assert.match(d.stderr, /^no recorded call in the window( with an end in nowhere)?: no rule can be judged unused\n$/);
    }
  });
});
