// Policy generators on hand-built graphs: schema validity (real schemas, test/fixtures/schemas),
// golden files, the no-allow-all property over random graphs, and hostile strings.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { EdgeCall, Graph, GraphNode } from '../../../analyzer/model.js';
import { asStream, generatePolicies, GENERATORS, GRANULARITIES, POLICY_FORMATS, type PolicyOptions } from '../../../analyzer/policy/index.js';
import { istioPath } from '../../../analyzer/policy/istio.js';
import { pathRegex, safeComment } from '../../../analyzer/policy/shared.js';
import { allowAllViolations } from './allow-all.js';
import { evaluate, type Peer as MatchPeer, type Request as MatchRequest } from './match.js';
import { call, edge, other, shopContext, shopGraph, workload } from './fixture-graph.js';
import { parseStream, validateObject } from './validate.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const GOLDEN = join(HERE, '..', '..', 'golden', 'policy');
const CORPUS = '/work/shared/corpus/policies';
const base: Omit<PolicyOptions, 'format'> = { granularity: 'path', trustDomain: 'cluster.local', istioVersion: '1.26', dryRun: false };

function objectsOf(yaml: string): unknown[] {
  return parseStream(yaml);
}

describe('the schema validator', () => {
  it('rejects the corpus objects that must fail and accepts those that must pass', { skip: !safeExists(CORPUS) && 'corpus not mounted' }, () => {
    let rejected = 0;
    let accepted = 0;
    for (const f of ['istio/authz-invalid.yaml', 'istio/peerauth-invalid.yaml', 'istio/authz-valid.yaml', 'istio/peerauth-valid.yaml', 'networkpolicy/online-boutique-networkpolicies.yaml']) {
      for (const d of parseStream(readFileSync(join(CORPUS, f), 'utf8')) as Array<Record<string, unknown>>) {
        const { _err, ...o } = d;
        const errs = validateObject(o);
        if (_err !== undefined) { assert.ok(errs.length > 0, `${f} ${JSON.stringify(o.metadata)} must be rejected (${String(_err)})`); rejected++; } else { assert.deepEqual(errs, [], `${f} must pass`); accepted++; }
      }
    }
    assert.equal(rejected, 8);
    assert.ok(accepted >= 15);
    // Hubble's 2020 L7-visibility example: today's CRD wants matchName or matchPattern in a dns rule.
    const [cnp] = parseStream(readFileSync(join(CORPUS, 'cilium/l7-visibility-80-53.cnp.yaml'), 'utf8'));
    assert.ok(validateObject(cnp).some((e) => /rules\/dns\/0/.test(e)));
  });

  it('rejects an unknown field, a bad enum and a bad name in generated objects of every format', () => {
    for (const format of POLICY_FORMATS) {
      const set = generatePolicies(shopGraph(), shopContext, { ...base, format });
      const o = objectsOf(set.files[0].yaml)[0] as { spec: Record<string, unknown>; metadata: { name: string } };
      assert.deepEqual(validateObject(o), []);
      assert.ok(validateObject({ ...o, spec: { ...o.spec, bogusField: 1 } }).length > 0, `${format}: unknown field`);
      assert.ok(validateObject({ ...o, metadata: { ...o.metadata, name: 'Not_A_Name' } }).length > 0, `${format}: bad name`);
    }
    const cnp = objectsOf(generatePolicies(shopGraph(), shopContext, { ...base, format: 'cilium' }).files[0].yaml)[0] as { spec: { ingress: Array<{ toPorts: Array<{ ports: Array<{ protocol: string }> }> }> } };
    cnp.spec.ingress[0].toPorts[0].ports[0].protocol = 'QUIC';
    assert.ok(validateObject(cnp).length > 0, 'cilium: bad protocol');
  });
});

function safeExists(p: string): boolean {
  try { readdirSync(p); return true; } catch { return false; }
}

describe('generated objects', () => {
  for (const format of POLICY_FORMATS) {
    for (const granularity of GRANULARITIES) {
      for (const dryRun of [false, true]) {
        it(`${format} --granularity ${granularity}${dryRun ? ' --dry-run' : ''}: valid against the schemas, no allow-all`, () => {
          const set = generatePolicies(shopGraph(), shopContext, { ...base, format, granularity, dryRun, istioVersion: granularity === 'method' ? '1.20' : '1.26' });
          assert.ok(set.files.length > 0);
          for (const f of set.files) {
            for (const o of objectsOf(f.yaml)) {
              assert.deepEqual(validateObject(o), [], `${f.filename}: ${JSON.stringify(o).slice(0, 200)}`);
              assert.deepEqual(allowAllViolations(o), [], `${f.filename}: ${JSON.stringify(o).slice(0, 200)}`);
            }
          }
          // The per-workload YAML is the same objects, grouped differently.
          const perWorkload = Object.values(set.workloads).flatMap(objectsOf).length;
          const workloadObjects = set.files.flatMap((f) => objectsOf(f.yaml)).filter((o) => !['allow-nothing', 'default-deny', 'default'].includes((o as { metadata: { name: string } }).metadata.name)).length;
          assert.equal(perWorkload, workloadObjects);
        });
      }
    }
  }

  it('golden files (UPDATE_GOLDEN=1 rewrites them)', () => {
    mkdirSync(GOLDEN, { recursive: true });
    for (const format of POLICY_FORMATS) {
      const set = generatePolicies(shopGraph(), shopContext, { ...base, format });
      const text = `${asStream(set)}# blockers\n${set.blockers.map((b) => `# ${safeComment(`${b.workload} <- ${b.callers.join(', ')}: ${b.reason}`)}`).join('\n')}\n`;
      const file = join(GOLDEN, `${format}.yaml`);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
      assert.equal(text, readFileSync(file, 'utf8'), `${format}: output differs from ${file}; review and rerun with UPDATE_GOLDEN=1`);
      // Stable: the same graph with its edges in another order gives the same bytes.
      const g = shopGraph();
      g.edges.reverse();
      g.nodes.reverse();
      assert.equal(asStream(generatePolicies(g, shopContext, { ...base, format })), asStream(set));
    }
  });

  it('Istio: principals without spiffe://, blockers for unmeshed callers, agent-port probes as infrastructure, STRICT only where every call was mTLS', () => {
    const set = generatePolicies(shopGraph(), shopContext, { ...base, format: 'istio' });
    const docs = set.files.flatMap((f) => objectsOf(f.yaml)) as Array<{ kind: string; metadata: { name: string; namespace: string }; spec: Record<string, unknown> }>;
    const catalog = docs.find((d) => d.kind === 'AuthorizationPolicy' && d.metadata.name === 'catalog')!;
    assert.deepEqual(catalog.spec.rules, [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/frontend'] } }], to: [{ operation: { ports: ['8080'], methods: ['GET'], paths: ['/api/products', '/api/products/{*}'] } }] }]);
    const blocked = new Set(set.blockers.map((b) => b.callers.join()));
    for (const c of ['legacy/report-job', 'external:internet-user']) assert.ok(blocked.has(c), c);
    assert.ok(docs.some((d) => d.kind === 'PeerAuthentication' && d.metadata.namespace === 'payments' && (d.spec.mtls as { mode: string }).mode === 'STRICT'));
    // Probes and scrapes on the agent port 15020 are outside the sidecar: no blocker, no effect on mTLS.
    const fe = docs.find((d) => d.kind === 'PeerAuthentication' && d.metadata.name === 'frontend')!;
    assert.deepEqual(fe.spec, { selector: { matchLabels: { app: 'frontend', version: 'v1' } }, mtls: { mode: 'STRICT' } });
    assert.ok(!set.blockers.some((b) => b.callers.includes('node:tm-node-1') || b.callers.includes('monitoring/prometheus')), JSON.stringify(set.blockers));
    assert.match(set.workloads['shop/frontend'], /# infrastructure: kubelet probes from node:tm-node-1 on port 15020/);
    // A plaintext port next to an mTLS one: PERMISSIVE, with the mTLS port STRICT.
    const g = shopGraph();
    g.edges.push(edge('legacy/report-job', 'shop/frontend', [call(9090, 'http', 'plaintext', 'GET', '/debug')]));
    const mixed = (objectsOf(generatePolicies(g, shopContext, { ...base, format: 'istio' }).workloads['shop/frontend']) as typeof docs).find((d) => d.kind === 'PeerAuthentication')!;
    assert.deepEqual(mixed.spec.mtls, { mode: 'PERMISSIVE' });
    assert.deepEqual(mixed.spec.portLevelMtls, { 8080: { mode: 'STRICT' } });
    assert.ok(!docs.some((d) => d.metadata.namespace === 'istio-system' && d.metadata.name === 'allow-nothing'), 'no allow-nothing where no workload has allow rules');
    const dry = generatePolicies(shopGraph(), shopContext, { ...base, format: 'istio', dryRun: true }).files.flatMap((f) => objectsOf(f.yaml)) as Array<{ kind: string; metadata: { annotations?: Record<string, string> } }>;
    for (const d of dry.filter((x) => x.kind === 'AuthorizationPolicy')) assert.equal(d.metadata.annotations?.['istio.io/dry-run'], 'true');
  });

  it('Linkerd: a caller with many routes gets HTTPRoutes within the CRD\'s limits (8 matches a rule, 16 rules), every route still allowed', () => {
    // The collector keeps up to 50 path templates per edge by default, times the methods seen.
    const g = shopGraph();
    const paths = Array.from({ length: 150 }, (_, i) => `/api/v${i}`);
    const fe = g.edges.find((e) => e.source === 'shop/frontend' && e.target === 'shop/catalog')!;
    fe.calls.push(...paths.map((p) => call(8080, 'http', 'mtls', 'GET', p, 1)));
    const objects = objectsOf(generatePolicies(g, shopContext, { ...base, format: 'linkerd' }).workloads['shop/catalog']) as Array<{ kind: string; metadata: { name: string }; spec: { rules?: Array<{ matches: unknown[] }> } }>;
    for (const o of objects) assert.deepEqual(validateObject(o), [], `${o.kind} ${o.metadata.name}`);
    const routes = objects.filter((o) => o.kind === 'HTTPRoute' && o.metadata.name.startsWith('catalog-8080-'));
    assert.equal(routes.reduce((n, r) => n + r.spec.rules!.reduce((m, x) => m + x.matches.length, 0), 0), 152, 'every observed route once');
    assert.equal(routes.length, 2);
    const frontend = g.nodes.find((n) => n.id === 'shop/frontend')!, catalog = g.nodes.find((n) => n.id === 'shop/catalog')!;
    const peer = (n: typeof frontend): MatchPeer => ({ kind: 'pod', namespace: n.namespace, labels: n.labels, serviceAccount: n.service_account, ip: '10.244.0.9', isMeshed: true });
    for (const path of [...paths, '/api/products']) {
      const r: MatchRequest = { source: peer(frontend), destination: peer(catalog), port: 8080, transport: 'tcp', method: 'GET', path, isMtls: true };
      assert.equal(evaluate('linkerd', objects, r).ingress, 'rule', path);
    }
    assert.equal(evaluate('linkerd', objects, { source: peer(frontend), destination: peer(catalog), port: 8080, transport: 'tcp', method: 'GET', path: '/api/other', isMtls: true }).ingress, 'denied');
  });

  it('a call left out for its method or path on a port allowed whole is no blocker: nothing is cut off', () => {
    // shop/frontend -> shop/checkout: TLS on 8080 (allowed on the whole port); a request with a
    // method that is not an HTTP token on the same port is covered by that, one on 9090 is not.
    const g = shopGraph();
    const fe = g.edges.find((e) => e.source === 'shop/frontend' && e.target === 'shop/checkout')!;
    fe.calls.push(call(8080, 'http', 'mtls', 'G E T', '/x', 2), call(9090, 'http', 'mtls', 'G E T', '/x', 3));
    for (const format of POLICY_FORMATS) {
      const set = generatePolicies(g, shopContext, { ...base, format });
      const left = set.blockers.filter((b) => b.workload === 'shop/checkout' && /left out/.test(b.reason)).map((b) => b.reason);
      // NetworkPolicy allows ports only: methods are never looked at.
      assert.deepEqual(left, format === 'netpol' ? [] : ['3 calls left out: method is not an HTTP token'], format);
    }
  });

  it('calls to an address the inventory does not know are blockers in every format, never dropped', () => {
    // Probably a pod the inventory does not list: no rule names it, and its namespace's default
    // deny (whichever namespace that is) would cut the calls off.
    const g = shopGraph();
    g.nodes.push(other('unattributed', '10.244.9.9', ['10.244.9.9']));
    g.edges.push(edge('shop/frontend', 'unattributed:10.244.9.9', [call(8080, 'http', 'mtls', 'GET', '/x')]));
    for (const format of POLICY_FORMATS) {
      const set = generatePolicies(g, shopContext, { ...base, format });
      const b = set.blockers.find((x) => x.workload === 'unattributed:10.244.9.9');
      assert.deepEqual(b?.callers, ['shop/frontend'], format);
      assert.match(b!.reason, /^unattributed:10\.244\.9\.9 is not in the inventory \(unknown-address\): which workload answered on port 8080 is unknown/, format);
      // Its namespace is unknown: a proposal for named namespaces leaves it to the caller's egress.
      assert.ok(!generatePolicies(g, shopContext, { ...base, format, namespaces: ['shop'] }).blockers.some((x) => x.workload === 'unattributed:10.244.9.9'), format);
    }
  });

  it('a workload named like a per-namespace object gets its own name: no two objects of a kind share one', () => {
    // kubectl apply would let the later of two same-named objects replace the other: the
    // namespace's allow-nothing or default-deny would take the workload's allow rules away, and a
    // workload PeerAuthentication "default" would replace the cluster's namespace-wide one.
    const g = shopGraph();
    for (const name of ['allow-nothing', 'default-deny', 'default']) {
      g.nodes.push(workload('shop', name, { app: name, 'security.istio.io/tlsMode': 'istio' }));
      g.edges.push(edge('shop/frontend', `shop/${name}`, [call(8080, 'http', 'mtls', 'GET', '/x')]));
    }
    for (const format of POLICY_FORMATS) {
      const set = generatePolicies(g, shopContext, { ...base, format });
      const names = set.files.flatMap((f) => objectsOf(f.yaml) as Array<{ kind: string; metadata: { name: string; namespace: string } }>)
        .map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`);
      assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), [], format);
    }
    const istioObjects = objectsOf(generatePolicies(g, shopContext, { ...base, format: 'istio' }).workloads['shop/default']) as Array<{ kind: string; metadata: { name: string } }>;
    for (const o of istioObjects) assert.match(o.metadata.name, /^default-[0-9a-f]{8}$/, o.kind);
  });

  it('Istio: plain TLS from a meshed caller is a blocker, like plaintext: it presents no principal', () => {
    // shop/frontend is meshed (it sends mTLS to catalog); here it also reached payments in TLS
    // without a client certificate, which a principal rule does not match (docs/simulate.md).
    const g = shopGraph();
    g.edges.push(edge('shop/frontend', 'payments/payments', [call(8443, 'tls', 'tls', null, null, 7)]));
    const set = generatePolicies(g, shopContext, { ...base, format: 'istio' });
    const b = set.blockers.find((x) => x.workload === 'payments/payments' && x.callers.includes('shop/frontend'));
    assert.equal(b?.reason, '7 calls were TLS without a mesh client certificate: a principal rule matches only mTLS, so make the client use mTLS before applying');
    assert.match(set.workloads['payments/payments'], /# BLOCKER shop\/frontend: 7 calls were TLS without a mesh client certificate/);
  });

  it('Istio PeerAuthentication follows the readiness verdicts; API version v1beta1 before 1.22', () => {
    const verdicts: Record<string, { isReady: boolean; reason: string }> = {
      'shop/frontend': { isReady: false, reason: 'the readiness check says insufficient-data (short-window)' },
      'shop/cart': { isReady: true, reason: 'the readiness check passes' },
      shop: { isReady: false, reason: 'the readiness check says blocked (shop/orders)' },
      payments: { isReady: false, reason: 'the readiness check says insufficient-data (payments/payments)' },
    };
    const set = generatePolicies(shopGraph(), { ...shopContext, strictReadiness: (id) => verdicts[id] ?? null }, { ...base, format: 'istio' });
    const pa = (id: string) => (objectsOf(set.workloads[id]) as Array<{ kind: string; spec: { mtls: { mode: string } } }>).find((d) => d.kind === 'PeerAuthentication')!;
    assert.equal(pa('shop/frontend').spec.mtls.mode, 'PERMISSIVE', 'every call mTLS, but the readiness check has not passed');
    assert.equal(pa('shop/cart').spec.mtls.mode, 'STRICT');
    assert.match(set.workloads['shop/frontend'], /# PERMISSIVE: the readiness check says insufficient-data/);
    const nsWide = set.files.flatMap((f) => objectsOf(f.yaml)) as Array<{ kind: string; metadata: { name: string; namespace: string } }>;
    assert.ok(!nsWide.some((d) => d.kind === 'PeerAuthentication' && d.metadata.name === 'default'), 'no namespace-wide STRICT without the readiness check passing');
    // mTLS hides methods and paths: the rule is port-only and its comment says why.
    assert.match(generatePolicies(shopGraph(), shopContext, { ...base, format: 'istio' }).workloads['shop/checkout'], /# shop\/frontend: 3 calls on port 8080 showed no method or path/);
    const old = generatePolicies(shopGraph(), shopContext, { ...base, format: 'istio', istioVersion: '1.21.3' });
    const apis = new Set(old.files.flatMap((f) => objectsOf(f.yaml)).map((d) => (d as { apiVersion: string }).apiVersion));
    assert.deepEqual([...apis], ['security.istio.io/v1beta1']);
    for (const f of old.files) for (const d of objectsOf(f.yaml)) assert.deepEqual(validateObject(d), []);
  });

  it('calls to a Service whose answering backend is unknown are blockers in every format, never dropped', () => {
    const g = shopGraph();
    g.nodes.push({ id: 'shop/search', kind: 'service', namespace: 'shop', name: 'search', workload_kind: null, service_account: null, spiffe: null, labels: {}, addresses: [], reason: null });
    g.edges.push(edge('shop/frontend', 'shop/search', [call(9200, 'http', 'plaintext', 'GET', '/q')]));
    for (const format of POLICY_FORMATS) {
      const set = generatePolicies(g, shopContext, { ...base, format });
      assert.ok(set.blockers.some((b) => b.workload === 'shop/search' && b.callers.includes('shop/frontend') && /Service shop\/search/.test(b.reason)), format);
      const egress = set.blockers.some((b) => b.workload === 'shop/frontend' && b.callers.includes('shop/search') && /^egress: /.test(b.reason));
      assert.equal(egress, format === 'netpol' || format === 'cilium', format);
      assert.ok(!JSON.stringify(set.files.flatMap((f) => objectsOf(f.yaml))).includes('9200'), `${format}: no rule for the unresolved calls`);
    }
  });

  it('Istio: nothing proposed in the root namespace, where a policy would apply to every namespace', () => {
    const set = generatePolicies(shopGraph(), shopContext, { ...base, format: 'istio' });
    assert.ok(!set.files.some((f) => f.namespace === 'istio-system'));
    assert.ok(set.blockers.some((b) => b.workload === 'istio-system/istio-ingressgateway' && /root namespace istio-system/.test(b.reason)));
    const other = generatePolicies(shopGraph(), shopContext, { ...base, format: 'istio', istioRootNamespace: 'mesh-root' });
    assert.ok(other.files.some((f) => f.namespace === 'istio-system'), 'with another root namespace, istio-system is a namespace like any other');
  });

  it('Istio path templates: {*} from 1.22, a prefix match before', () => {
    assert.equal(istioPath('/api/products/{id}', true), '/api/products/{*}');
    assert.equal(istioPath('/api/{id}/items/*', true), '/api/{*}/items/{**}');
    assert.equal(istioPath('/api/products/{id}', false), '/api/products/*');
    assert.equal(istioPath('/api/*', false), '/api/*');
    assert.equal(istioPath('/a*b/{id}', true), null);
    const old = generatePolicies(shopGraph(), shopContext, { ...base, format: 'istio', istioVersion: '1.21' });
    assert.match(old.files.find((f) => f.namespace === 'shop')!.yaml, /- \/api\/products\/\*\n/);
  });

  it('Cilium paths are anchored regexes with metacharacters escaped', () => {
    assert.equal(pathRegex('/a.b/{id}/c+d'), '^/a\\.b/[^/]+/c\\+d$');
    assert.equal(pathRegex('/api/*'), '^/api/.*$');
    assert.ok(new RegExp(pathRegex('/a.b/{id}')).test('/a.b/42'));
    assert.ok(!new RegExp(pathRegex('/a.b/{id}')).test('/aXb/42'));
  });

  it('NetworkPolicy: DNS egress to the inventory\'s DNS pods, node probes by /32', () => {
    const set = generatePolicies(shopGraph(), shopContext, { ...base, format: 'netpol' });
    const cart = (objectsOf(set.workloads['shop/cart']) as Array<{ spec: { ingress: Array<{ from: Array<{ ipBlock?: { cidr: string } }> }>; egress: Array<{ to: Array<{ podSelector?: { matchLabels: Record<string, string> } }> }> } }>)[0];
    assert.ok(cart.spec.ingress.some((r) => r.from.some((p) => p.ipBlock?.cidr === '10.244.0.1/32')));
    assert.ok(cart.spec.egress.some((r) => r.to.some((p) => p.podSelector?.matchLabels['k8s-app'] === 'kube-dns')));
    // A call to the DNS pods on another port (a scrape) needs its own egress rule: the DNS rule covers port 53 only.
    const g = shopGraph();
    g.edges.push(edge('monitoring/prometheus', 'kube-system/coredns', [call(9153, 'http', 'plaintext', 'GET', '/metrics')]));
    for (const format of ['netpol', 'cilium'] as const) {
      const prom = objectsOf(generatePolicies(g, shopContext, { ...base, format }).workloads['monitoring/prometheus']) as Array<{ spec: { egress: unknown[] } }>;
      assert.match(JSON.stringify(prom[0].spec.egress), /"port":"?9153"?/, format);
    }
    // The DNS servers themselves keep open egress (upstream resolvers, API server watches), also under their namespace's default deny.
    const dnsNs = generatePolicies(shopGraph(), shopContext, { ...base, format: 'netpol', namespaces: ['kube-system'] });
    const kube = objectsOf(dnsNs.files[0].yaml) as Array<{ metadata: { name: string }; spec: { policyTypes: string[]; egress?: unknown } }>;
    for (const o of kube) assert.deepEqual(o.spec.policyTypes, ['Ingress'], o.metadata.name);
    // Asked for kube-system only, the DNS servers still answer every workload, also those not seen resolving (shop/catalog).
    assert.match(JSON.stringify(kube), /"app":"catalog"/);
    assert.ok(kube.some((o) => o.metadata.name === 'default-deny'));
    const noDns = generatePolicies(shopGraph(), { ...shopContext, dns: [] }, { ...base, format: 'netpol' });
    assert.ok(noDns.blockers.some((b) => /DNS pods are unknown/.test(b.reason)));
    // A blocker naming no caller reads "BLOCKER: …" (was "BLOCKER : …").
    assert.match(noDns.workloads['shop/cart'], /\n# BLOCKER: the DNS pods are unknown/);
    assert.doesNotMatch(asStream(noDns), /BLOCKER :/);
  });

  it('NetworkPolicy and Cilium: a DNS server\'s caller on another port stays allowed at every granularity', () => {
    // Every workload gets the DNS ports on the DNS servers; at `workload` granularity an observed
    // caller's "any port" must not be narrowed to them when the two are merged.
    const g = shopGraph();
    g.edges.push(edge('monitoring/prometheus', 'kube-system/coredns', [call(9153, 'http', 'plaintext', 'GET', '/metrics')]));
    const pod = (id: string): MatchPeer => {
      const n = g.nodes.find((x) => x.id === id)!;
      return { kind: 'pod', namespace: n.namespace, labels: n.labels, serviceAccount: n.service_account, ip: '10.244.0.9', isMeshed: false };
    };
    const scrape: MatchRequest = { source: pod('monitoring/prometheus'), destination: pod('kube-system/coredns'), port: 9153, transport: 'tcp', method: 'GET', path: '/metrics', isMtls: false };
    for (const format of ['netpol', 'cilium'] as const) {
      for (const granularity of GRANULARITIES) {
        const set = generatePolicies(g, shopContext, { ...base, format, granularity });
        const ev = evaluate(format, set.files.flatMap((f) => objectsOf(f.yaml)), scrape);
        assert.deepEqual(ev, { ingress: 'rule', egress: 'rule' }, `${format} --granularity ${granularity}`);
      }
    }
  });
});

// ---- the no-allow-all property --------------------------------------------------------------------

const hostile = fc.oneof(fc.string(), fc.constantFrom('', '*', ': x', '#c', '\n- a: b', '<script>x</script>', '\u202e', 'a\u0000b', '{id}', '/{id}', '..', 'x'.repeat(70)));
const label = fc.oneof(fc.constantFrom('app', 'k8s-app', 'security.istio.io/tlsMode', 'a/b/c', ''), fc.string({ maxLength: 8 }));
const nodeArb: fc.Arbitrary<GraphNode> = fc.oneof(
  fc.record({ ns: fc.constantFrom('shop', 'pay', 'kube-system', 'Bad NS'), name: fc.oneof(fc.constantFrom('a', 'b', 'c', 'allow-nothing'), hostile), labels: fc.dictionary(label, fc.oneof(fc.constantFrom('x', 'y', ''), hostile), { maxKeys: 3 }), sa: fc.oneof(fc.constantFrom('default', 'sa1'), hostile) })
    .map(({ ns, name, labels, sa }) => workload(ns, name, labels, sa)),
  fc.record({ kind: fc.constantFrom('node' as const, 'external' as const, 'unattributed' as const), name: fc.string({ maxLength: 10 }), ip: fc.oneof(fc.ipV4(), fc.ipV6(), hostile) })
    .map(({ kind, name, ip }) => other(kind, name, [ip])),
);
const callArb: fc.Arbitrary<EdgeCall> = fc.record({
  port: fc.oneof(fc.constantFrom(53, 80, 8080, 15020), fc.integer({ min: -1, max: 70000 })),
  protocol: fc.constantFrom('http', 'http2', 'grpc', 'tls', 'tcp', 'dns', 'udp') as fc.Arbitrary<EdgeCall['protocol']>,
  security: fc.constantFrom('mtls', 'tls', 'plaintext', 'unknown') as fc.Arbitrary<EdgeCall['security']>,
  method: fc.option(fc.oneof(fc.constantFrom('GET', 'POST', 'BREW'), hostile)),
  path: fc.option(fc.oneof(fc.constantFrom('/', '/a/{id}', '/a/*', '*', '/a b'), hostile.map((s) => `/${s}`), hostile)),
  transport: fc.constantFrom('tcp' as const, 'udp' as const),
}).map((c) => call(c.port, c.protocol, c.security, c.method, c.path, 1, c.transport));
const graphArb: fc.Arbitrary<Graph> = fc.array(nodeArb, { minLength: 1, maxLength: 6 }).chain((nodes) => {
  const uniq = [...new Map(nodes.map((n) => [n.id, n])).values()];
  const ids = uniq.map((n) => n.id);
  return fc.array(fc.record({ s: fc.constantFrom(...ids), t: fc.constantFrom(...ids), calls: fc.array(callArb, { minLength: 1, maxLength: 4 }) }), { maxLength: 8 })
    .map((es) => ({ level: 'workload' as const, window: { since: null, until: null, first_seen: null, last_seen: null }, nodes: uniq, edges: es.map((e) => edge(e.s, e.t, e.calls)) }));
});

describe('no output allows everyone', () => {
  it('the structural check catches the shapes it exists for', () => {
    const bad: unknown[] = [
      { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'a' }, spec: { selector: { matchLabels: { app: 'a' } }, action: 'ALLOW', rules: [{}] } },
      { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'a' }, spec: { action: 'ALLOW', rules: [{ from: [{ source: { principals: ['x'] } }] }] } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'a' }, spec: { podSelector: { matchLabels: { a: 'b' } }, ingress: [{}] } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'a' }, spec: { podSelector: { matchLabels: { a: 'b' } }, ingress: [{ from: [] }] } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'a' }, spec: { podSelector: { matchLabels: { a: 'b' } }, ingress: [{ from: [{ namespaceSelector: {} }] }] } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'a' }, spec: { podSelector: { matchLabels: { a: 'b' } }, egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }] } },
      { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'a' }, spec: { endpointSelector: { matchLabels: { a: 'b' } }, ingress: [{ fromEndpoints: [{}] }] } },
      { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'a' }, spec: { endpointSelector: { matchLabels: { a: 'b' } }, ingress: [{ fromEntities: ['all'] }] } },
      { apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'MeshTLSAuthentication', metadata: { name: 'a' }, spec: { identities: ['*'] } },
      { apiVersion: 'policy.linkerd.io/v1beta3', kind: 'Server', metadata: { name: 'a' }, spec: { podSelector: { matchLabels: { a: 'b' } }, port: 80, accessPolicy: 'all-unauthenticated' } },
    ];
    for (const b of bad) assert.ok(allowAllViolations(b).length > 0, JSON.stringify(b));
  });

  it('holds for random graphs with hostile strings, every format and granularity; the YAML parses back to exactly the objects', () => {
    fc.assert(fc.property(graphArb, fc.constantFrom(...POLICY_FORMATS), fc.constantFrom(...GRANULARITIES), fc.boolean(), fc.boolean(), (graph, format, granularity, dryRun, allowByAddress) => {
      const opts: PolicyOptions = { ...base, format, granularity, dryRun, allowByAddress, istioVersion: dryRun ? '1.21' : '1.26' };
      const generated = GENERATORS[format].generate(graph, shopContext, opts).objects.map((o) => o.object);
      const set = generatePolicies(graph, shopContext, opts);
      const parsed = set.files.flatMap((f) => objectsOf(f.yaml));
      // Nothing a comment or a value carried got out of its place: parsing gives exactly the objects.
      assert.deepEqual(parsed, JSON.parse(JSON.stringify(generated)));
      for (const f of set.files) for (const line of f.yaml.split('\n')) {
        assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f\u2028\u2029\u202e]/.test(line), `raw control character in ${JSON.stringify(line)}`);
      }
      for (const o of parsed) {
        assert.deepEqual(allowAllViolations(o), [], JSON.stringify(o));
        assert.deepEqual(validateObject(o), [], JSON.stringify(o));
      }
    }), { numRuns: 300, seed: 20251123 });
  });
});

describe('hostile strings', () => {
  it('paths with YAML, HTML and control characters: printable ones round-trip, the others are skipped and counted', () => {
    // Round-trip: printable request paths. Skipped: what no request-target can hold (RFC 9112 §3.2:
    // no spaces; '#' starts a fragment) and control or bidi characters.
    const kept = ['/<b>x</b>', "/it's", '/a"b', '/a:b&c=%7B', '/-x/&anchor/!tag'];
    const paths = [...kept, '/a: b', '/#x', '/x\n- evil: true', '/y\u0000z', '/\u202egnp'];
    const g: Graph = {
      level: 'workload', window: { since: null, until: null, first_seen: null, last_seen: null },
      nodes: [workload('shop', 'a', { app: 'a', 'security.istio.io/tlsMode': 'istio' }), workload('shop', 'b', { app: 'b' }, 'b\n# injected')],
      edges: [edge('shop/a', 'shop/b', paths.map((p) => ({ ...call(8080, 'http', 'mtls', 'GET', p), host: 'h: #x\n- y' })))],
    };
    for (const format of ['istio', 'cilium', 'linkerd'] as const) {
      const set = generatePolicies(g, shopContext, { ...base, format });
      const yaml = set.files.map((f) => f.yaml).join('');
      const docs = objectsOf(yaml);
      for (const o of docs) assert.deepEqual(validateObject(o), [], JSON.stringify(o));
      const text = JSON.stringify(docs);
      if (format === 'istio') for (const p of kept) assert.ok(text.includes(JSON.stringify(p)), `${p} round-trips`);
      assert.ok(!text.includes('evil'), 'a path with a line break is not emitted');
      const skipped = set.blockers.filter((b) => /left out/.test(b.reason));
      assert.ok(skipped.some((b) => /^15 calls left out: path/.test(b.reason)), JSON.stringify(set.blockers));
      // Every line of the output is a comment, a document marker or YAML of the objects.
      for (const line of yaml.split('\n')) if (line.startsWith('#')) assert.ok(!/[\u0000-\u001f\u202e]/.test(line));
    }
  });
});
