// `trustmap policy` on the demo recording, through the built binary on a real SQLite store, for
// every format: each object validates against the real schemas and allows no one by emptiness;
// every call of the ground truth (expected-calls.json) is let through by a rule, checked rule by
// rule with the evaluators of test/unit/policy/match.ts, unless the proposal names it as a blocker;
// pairs of workloads that never talked get no rule; --out writes one file per namespace;
// --namespace limits the output; bad flags exit 2 with one line.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { POLICY_FORMATS, type PolicyFormat } from '../../analyzer/policy/index.js';
import { runCli } from '../helpers/cli.js';
import type { Endpoint, ExpectedCall, ExpectedCalls } from '../testbed/ground-truth.js';
import { allowAllViolations } from '../unit/policy/allow-all.js';
import { evaluate, type Peer, type Request } from '../unit/policy/match.js';
import { parseStream, validateObject } from '../unit/policy/validate.js';

const DEMO = fileURLToPath(new URL('../testbed/demo/', import.meta.url));
const truth = JSON.parse(readFileSync(join(DEMO, 'expected-calls.json'), 'utf8')) as ExpectedCalls;
interface Pod { kind: string; metadata: { namespace?: string; name: string; labels?: Record<string, string> }; spec?: { serviceAccountName?: string } }
const pods = (JSON.parse(readFileSync(join(DEMO, 'inventory.json'), 'utf8')) as { items: Pod[] }).items.filter((o) => o.kind === 'Pod');

// ---- the ground truth as requests -----------------------------------------------------------------

const idOf = (e: Endpoint): string => (e.kind === 'pod' ? `${e.namespace}/${e.workload}` : e.kind === 'node' ? `node:${e.pod}` : `external:${e.ip}`);
const mtlsClients = new Set(truth.calls.filter((c) => c.security === 'mtls').map((c) => idOf(c.source)));

function peerOf(e: Endpoint): Peer {
  if (e.kind !== 'pod') return { kind: e.kind, namespace: null, labels: {}, serviceAccount: null, ip: e.ip, isMeshed: false };
  const pod = pods.find((p) => p.metadata.name === e.pod);
  assert.ok(pod, `pod ${e.pod} is in the inventory`);
  const labels = pod.metadata.labels ?? {};
  return {
    kind: 'pod', namespace: e.namespace, labels, serviceAccount: pod.spec?.serviceAccountName ?? 'default', ip: e.ip,
    isMeshed: mtlsClients.has(idOf(e)) || labels['security.istio.io/tlsMode'] === 'istio',
  };
}

/** A concrete request for a ground-truth call: template segments get a value, as a client sends them. */
const requestOf = (c: ExpectedCall): Request => ({
  source: peerOf(c.source), destination: peerOf(c.destination), port: c.port, transport: c.transport,
  method: c.method, path: c.path === null ? null : c.path.replace(/\{id\}/g, '42'), isMtls: c.security === 'mtls',
});

/** Workloads serving DNS: every pod may resolve names, observed or not (docs/policies.md#infrastructure). */
const DNS_SERVERS = new Set(truth.calls.filter((c) => c.protocol === 'dns').map((c) => idOf(c.destination)));

// ---- the store and the CLI ------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'trustmap-policy-demo-'));
const db = join(dir, 'demo.db');
interface JsonOut { format: string; files: Array<{ namespace: string; filename: string; yaml?: string; path?: string }>; blockers: Array<{ workload: string; callers: string[]; reason: string }> }
const policy = (...args: string[]) => runCli(['policy', '--db', db, ...args]);
const proposal = new Map<PolicyFormat, { out: JsonOut; objects: unknown[]; code: number | null }>();

before(() => {
  assert.equal(runCli(['collect', 'pcap', '--db', db, join(DEMO, 'capture.pcap')]).code, 0);
  assert.equal(runCli(['inventory', 'load', '--db', db, join(DEMO, 'inventory.json')]).code, 0);
  for (const format of POLICY_FORMATS) {
    const r = policy('--format', format, '--json');
    assert.ok(r.code === 0 || r.code === 1, `${format}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as JsonOut;
    proposal.set(format, { out, code: r.code, objects: out.files.flatMap((f) => parseStream(f.yaml!)) });
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('trustmap policy on the demo recording', { timeout: 120_000 }, () => {
  for (const format of POLICY_FORMATS) {
    it(`${format}: every object validates against the schemas and allows no one by emptiness`, () => {
      const { objects } = proposal.get(format)!;
      assert.ok(objects.length > 5, `${format}: ${objects.length} objects`);
      for (const o of objects) {
        assert.deepEqual(validateObject(o), [], JSON.stringify(o).slice(0, 300));
        assert.deepEqual(allowAllViolations(o), [], JSON.stringify(o).slice(0, 300));
      }
    });

    it(`${format}: every ground-truth call is allowed by a rule, or its caller is a listed blocker`, () => {
      const { objects, out, code } = proposal.get(format)!;
      const isBlocker = (workload: string, other: string) => out.blockers.some((b) => b.workload === workload && b.callers.includes(other));
      let byRule = 0;
      let blocked = 0;
      for (const c of truth.calls) {
        const r = requestOf(c);
        const src = idOf(c.source), dst = idOf(c.destination);
        const ev = evaluate(format, objects, r);
        const what = `${format}: ${src} → ${dst}:${c.port}/${c.transport} ${c.method ?? ''} ${c.path ?? ''}`;
        if (c.destination.kind === 'pod') {
          if (ev.ingress === 'rule') byRule++;
          else if (ev.ingress !== 'not-intercepted') { assert.ok(isBlocker(dst, src), `${what}: ingress ${ev.ingress} and no blocker`); blocked++; }
        }
        if (c.source.kind === 'pod' && ev.egress !== 'rule' && ev.egress !== 'no-policy') {
          assert.ok(isBlocker(src, dst), `${what}: egress ${ev.egress} and no blocker`);
          blocked++;
        }
      }
      // Istio allows by principal, so exactly the mTLS calls; the L3/L4 formats every call to a pod
      // but those of the unattributed or unmeshed callers they name.
      if (format === 'istio') assert.equal(byRule, truth.calls.filter((c) => c.security === 'mtls').length);
      else assert.ok(byRule > truth.calls.length / 2, `${format}: ${byRule} of ${truth.calls.length} calls allowed by rules`);
      // The testbed's unmeshed legacy caller can never be allowed by an identity: Istio and Linkerd name it.
      if (format === 'istio' || format === 'linkerd') assert.ok(isBlocker('shop/catalog', 'legacy/report-job'), JSON.stringify(out.blockers));
      // Blockers mean calls the proposal would cut off: exit 1, as the CLI contract says for findings.
      assert.equal(code, out.blockers.length > 0 ? 1 : 0);
      assert.ok(blocked <= truth.calls.length);
    });

    it(`${format}: pairs that never talked get no rule, on any port the callee serves`, () => {
      const { objects } = proposal.get(format)!;
      const talked = new Set([...truth.calls, ...truth.application_calls].map((c) => `${idOf(c.source)}>${idOf(c.destination)}`));
      const endpoints = new Map<string, Endpoint>();
      for (const c of truth.calls) for (const e of [c.source, c.destination]) if (!endpoints.has(idOf(e))) endpoints.set(idOf(e), e);
      let checked = 0;
      for (const [s, se] of endpoints) for (const [d, de] of endpoints) {
        if (s === d || talked.has(`${s}>${d}`) || DNS_SERVERS.has(d)) continue;
        const ports = [...new Set(truth.calls.filter((c) => idOf(c.destination) === d).map((c) => c.port)), 9999];
        for (const port of ports) for (const [method, path] of [['GET', '/'], [null, null]] as const) {
          const source = peerOf(se);
          const r: Request = { source, destination: peerOf(de), port, transport: 'tcp', method, path, isMtls: source.isMeshed };
          const ev = evaluate(format, objects, r);
          assert.notEqual(ev.ingress, 'rule', `${format}: ${s} → ${d}:${port} never happened but an ingress rule allows it`);
          assert.notEqual(ev.egress, 'rule', `${format}: ${s} → ${d}:${port} never happened but an egress rule allows it`);
          checked++;
        }
      }
      assert.ok(checked > 100, `${checked} requests checked`);
    });
  }

  it('--out writes one file per namespace, each the same YAML as the stream, no temporary files left', () => {
    const out = join(dir, 'out');
    for (let round = 0; round < 2; round++) {
      const r = policy('--format', 'netpol', '--out', out);
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      const { files } = proposal.get('netpol')!.out;
      assert.deepEqual(readdirSync(out).sort(), files.map((f) => f.filename).sort());
      for (const f of files) {
        assert.equal(readFileSync(join(out, f.filename), 'utf8'), f.yaml);
        assert.match(r.stdout, new RegExp(`^wrote ${join(out, f.filename).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(\\d+ objects?\\)$`, 'm'));
      }
      assert.equal(new Set(files.map((f) => f.namespace)).size, files.length, 'one file per namespace');
    }
    const bad = policy('--format', 'netpol', '--out', join(DEMO, 'capture.pcap'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: --out .*not a directory/);
  });

  it('--out names files an earlier run wrote that are no longer proposed; --prune deletes only those', () => {
    const out = join(dir, 'stale');
    const first = policy('--format', 'netpol', '--out', out).code;
    assert.ok(first === 0 || first === 1);
    const payments = readFileSync(join(out, 'payments.yaml'), 'utf8');
    // A namespace proposed by an earlier run and not now, a file of another format, one of the user's own.
    writeFileSync(join(out, 'gone.yaml'), payments.replace(/: namespace payments\n/, ': namespace gone\n'));
    writeFileSync(join(out, 'other-format.yaml'), payments.replace('--format netpol', '--format istio').replace(/: namespace payments\n/, ': namespace gone\n'));
    writeFileSync(join(out, 'mine.yaml'), 'apiVersion: v1\nkind: ConfigMap\n');
    const warned = policy('--format', 'netpol', '--out', out);
    assert.match(warned.stderr, new RegExp(`^warning: ${join(out, 'gone.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is from an earlier run and no longer proposed; kubectl apply -f .* would still apply it \\(delete it, or rerun with --prune\\)$`, 'm'));
    assert.equal(warned.stderr.match(/^warning: /gm)?.length, 1, warned.stderr);
    assert.ok(existsSync(join(out, 'gone.yaml')), 'only named, not deleted');
    // With --namespace, other namespaces' files are not this run's business.
    assert.doesNotMatch(policy('--format', 'netpol', '--namespace', 'payments', '--out', out).stderr, /warning:/);
    const pruned = policy('--format', 'netpol', '--out', out, '--prune', '--json');
    assert.deepEqual((JSON.parse(pruned.stdout) as { removed: string[] }).removed, [join(out, 'gone.yaml')]);
    assert.deepEqual(readdirSync(out).filter((f) => !proposal.get('netpol')!.out.files.some((p) => p.filename === f)).sort(), ['mine.yaml', 'other-format.yaml']);
    const usage = policy('--format', 'netpol', '--prune');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^error: --prune goes with --out\n$/);
  });

  it('without --out: one multi-document YAML stream on stdout, blockers summarised on stderr', () => {
    const r = policy('--format', 'istio');
    assert.equal(r.code, 1, 'the demo has blockers');
    const { objects, out } = proposal.get('istio')!;
    assert.deepEqual(parseStream(r.stdout), objects);
    assert.match(r.stderr, new RegExp(`^${out.blockers.length} blockers: `));
    assert.match(r.stderr, /shop\/catalog ← legacy\/report-job: /);
  });

  it('--namespace limits the output to policies protecting that namespace', () => {
    for (const format of POLICY_FORMATS) {
      const r = policy('--format', format, '--namespace', 'payments', '--json');
      const out = JSON.parse(r.stdout) as JsonOut;
      assert.deepEqual(out.files.map((f) => f.namespace), ['payments'], format);
      for (const o of out.files.flatMap((f) => parseStream(f.yaml!)) as Array<{ metadata: { namespace: string } }>) assert.equal(o.metadata.namespace, 'payments');
      assert.ok(out.blockers.every((b) => b.workload.startsWith('payments/')), JSON.stringify(out.blockers));
    }
    const none = policy('--format', 'istio', '--namespace', 'nowhere');
    assert.equal(none.code, 1);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /^no policy proposed: no workload in nowhere was called in the window\n$/);
  });

  it('--dry-run: shadow mode where the format has one', () => {
    const objs = (format: string) => parseStream(JSON.parse(policy('--format', format, '--dry-run', '--json').stdout).files.map((f: { yaml: string }) => f.yaml).join('')) as Array<{ kind: string; metadata: { annotations?: Record<string, string> }; spec: Record<string, unknown> }>;
    const istio = objs('istio');
    assert.ok(istio.filter((o) => o.kind === 'AuthorizationPolicy').every((o) => o.metadata.annotations?.['istio.io/dry-run'] === 'true'));
    assert.ok(istio.filter((o) => o.kind === 'PeerAuthentication').every((o) => (o.spec.mtls as { mode: string }).mode === 'PERMISSIVE'));
    assert.ok(objs('linkerd').filter((o) => o.kind === 'Server').every((o) => o.spec.accessPolicy === 'audit'));
    assert.ok(objs('cilium').every((o) => JSON.stringify(o.spec.enableDefaultDeny) === '{"ingress":false,"egress":false}'));
  });

  it('istio PeerAuthentication is STRICT exactly where trustmap readiness says ready (same --min-window)', () => {
    for (const minWindow of ['1s', '7d']) {
      const rep = JSON.parse(runCli(['readiness', '--db', db, '--format', 'json', '--min-window', minWindow]).stdout) as { namespaces: Array<{ namespace: string; verdict: string; workloads: Array<{ name: string; verdict: string }> }> };
      const ready = new Set(rep.namespaces.flatMap((n) => n.workloads.filter((w) => w.verdict === 'ready').map((w) => `${n.namespace}/${w.name}`)));
      const out = JSON.parse(policy('--format', 'istio', '--min-window', minWindow, '--json').stdout) as JsonOut;
      const pas = (out.files.flatMap((f) => parseStream(f.yaml!)) as Array<{ kind: string; metadata: { name: string; namespace: string }; spec: { selector?: { matchLabels: Record<string, string> }; mtls: { mode: string } } }>)
        .filter((o) => o.kind === 'PeerAuthentication');
      assert.ok(pas.length > 3, minWindow);
      for (const pa of pas) {
        if (pa.spec.selector === undefined) {
          assert.equal(rep.namespaces.find((n) => n.namespace === pa.metadata.namespace)?.verdict, 'ready', `${minWindow}: namespace-wide STRICT only for a ready namespace`);
          continue;
        }
        const id = `${pa.metadata.namespace}/${pa.metadata.name}`;
        assert.equal(pa.spec.mtls.mode, ready.has(id) ? 'STRICT' : 'PERMISSIVE', `${minWindow}: ${id}`);
      }
      // The demo's ten seconds are not a week: nothing is STRICT then.
      if (minWindow === '7d') assert.ok(pas.every((p) => p.spec.mtls.mode === 'PERMISSIVE'));
      else assert.ok(pas.some((p) => p.spec.mtls.mode === 'STRICT'));
    }
  });

  it('istio: nothing in the root namespace (mesh-wide there); elsewhere --allow-by-address lets the outside client in by its /32 only', () => {
    const user = truth.calls.find((c) => c.source.kind === 'external')!;
    const gateway = idOf(user.destination);
    assert.equal(user.destination.namespace, 'istio-system');
    const plain = proposal.get('istio')!;
    assert.ok(!(plain.objects as Array<{ metadata: { namespace: string } }>).some((o) => o.metadata.namespace === 'istio-system'));
    assert.ok(plain.out.blockers.some((b) => b.workload === gateway && b.callers.includes(idOf(user.source)) && /root namespace istio-system/.test(b.reason)));
    // The same mesh installed with another root namespace: the gateway gets its policy.
    const out = JSON.parse(policy('--format', 'istio', '--istio-root-namespace', 'mesh-root', '--allow-by-address', '--json').stdout) as JsonOut;
    const objects = out.files.flatMap((f) => parseStream(f.yaml!));
    assert.equal(evaluate('istio', plain.objects, requestOf(user)).ingress, 'no-policy');
    assert.equal(evaluate('istio', objects, requestOf(user)).ingress, 'rule');
    assert.ok(!out.blockers.some((b) => b.callers.includes(idOf(user.source))), JSON.stringify(out.blockers));
    for (const o of objects) assert.deepEqual(allowAllViolations(o), []);
    // Only that address: a neighbour of it is refused.
    const neighbour = { ...requestOf(user), source: { ...peerOf(user.source), ip: '198.51.100.24' } };
    assert.equal(evaluate('istio', objects, neighbour).ingress, 'denied');
  });

  it('--istio-version before 1.22: v1beta1 objects, template paths as prefixes, still valid', () => {
    const out = JSON.parse(policy('--format', 'istio', '--istio-version', '1.21', '--json').stdout) as JsonOut;
    const objects = out.files.flatMap((f) => parseStream(f.yaml!)) as Array<{ apiVersion: string }>;
    assert.ok(objects.length > 0);
    for (const o of objects) {
      assert.equal(o.apiVersion, 'security.istio.io/v1beta1');
      assert.deepEqual(validateObject(o), []);
    }
    assert.match(JSON.stringify(objects), /"\/api\/cart\/\*"/);
  });

  it('bad flags and unreadable input: exit 2 with one line, no stack trace', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--format', 'kyverno'], /--format is one of istio, netpol, cilium, linkerd/],
      [[], /--format is one of/],
      [['--format', 'istio', '--granularity', 'everything'], /^error: --granularity: /],
      [['--format', 'istio', '--since', 'yesterday'], /^error: --since: /],
      [['--format', 'istio', '--namespace', 'Bad_NS'], /^error: --namespace: /],
      [['--format', 'istio', '--istio-version', 'latest'], /^error: --istio-version: /],
      [['--format', 'netpol', '--istio-version', '1.20'], /--istio-version applies to --format istio only/],
      [['--format', 'istio', '--istio-root-namespace', 'Istio System'], /^error: --istio-root-namespace: /],
      [['--format', 'istio', '--since', '2026-01-02T00:00:00Z', '--until', '2026-01-01T00:00:00Z'], /--since must be before --until/],
      [['--format', 'istio', 'extra'], /takes no arguments/],
      [['--format', 'istio', '--bogus'], /bogus/],
    ];
    for (const [args, msg] of cases) {
      const r = policy(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: [^\n]+\n$/, args.join(' '));
      assert.match(r.stderr, msg, args.join(' '));
      assert.equal(r.stdout, '');
    }
    const missing = runCli(['policy', '--format', 'istio', '--db', join(dir, 'no-such.db')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: [^\n]+\n$/);
    const notDb = runCli(['policy', '--format', 'istio', '--db', join(DEMO, 'inventory.json')]);
    assert.equal(notDb.code, 2, notDb.stderr);
    assert.match(notDb.stderr, /^error: [^\n]+\n$/);
  });
});
