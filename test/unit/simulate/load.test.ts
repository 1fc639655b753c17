// Loading policy files: what is read, what is counted and skipped, and what stops the load with
// the file and line (bad YAML, invalid shapes, unreadable paths).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadPolicies, PolicyLoadError } from '../../../analyzer/simulate/load.js';
import { loadText } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'trustmap-load-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NP = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: shop}\nspec: {podSelector: {}}\n';

function loadError(text: string, name = 'bad.yaml'): PolicyLoadError {
  try {
    loadText(text, name);
  } catch (err) {
    assert.ok(err instanceof PolicyLoadError, String(err));
    return err;
  }
  assert.fail('expected a PolicyLoadError');
}

describe('loadPolicies', () => {
  it('reads multi-document YAML, Lists and JSON; counts unknown kinds without failing', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'security.istio.io/v1beta1', kind: 'AuthorizationPolicy', metadata: { name: 'a', namespace: 'shop' }, spec: {} },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } },
    ] };
    const r = loadText(`${NP}---\n${JSON.stringify(list)}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n`);
    assert.deepEqual(r.policies.map((p) => `${p.ref.kind} ${p.ref.namespace}/${p.ref.name}`), ['NetworkPolicy shop/np', 'AuthorizationPolicy shop/a']);
    assert.deepEqual(r.unknown, [{ kind: 'v1 ConfigMap', count: 1 }, { kind: 'v1 Service', count: 1 }]);
    const json = loadText(JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'j' }, spec: { podSelector: {} } }), 'p.json');
    assert.equal(json.policies[0].ref.namespace, 'default', 'no namespace: kubectl apply uses default');
  });

  it('records the line of each object, Lists included', () => {
    const r = loadText(`# comment\n${NP}---\napiVersion: v1\nkind: List\nitems:\n- ${NP.trim().split('\n').join('\n  ')}\n`);
    assert.deepEqual(r.policies.map((p) => p.ref.line), [2, 10]);
  });

  it('walks folders recursively, only policy files, in a stable order', () => {
    mkdirSync(join(dir, 'tree/sub'), { recursive: true });
    writeFileSync(join(dir, 'tree/b.yaml'), NP.replace('name: np', 'name: b'));
    writeFileSync(join(dir, 'tree/sub/a.yml'), NP.replace('name: np', 'name: a'));
    writeFileSync(join(dir, 'tree/README.md'), '# not a policy');
    const r = loadPolicies([join(dir, 'tree')]);
    assert.deepEqual(r.policies.map((p) => p.ref.name), ['b', 'a']);
    assert.equal(r.files.length, 2);
  });

  it('reads each file once: symlinked folders, loops and the same file named twice', () => {
    // A GitOps checkout may link a shared base into each overlay; a link back up must not recurse.
    mkdirSync(join(dir, 'linked/base'), { recursive: true });
    writeFileSync(join(dir, 'linked/base/np.yaml'), NP);
    symlinkSync('base', join(dir, 'linked/overlay'));
    symlinkSync('..', join(dir, 'linked/base/up'));
    const r = loadPolicies([join(dir, 'linked'), join(dir, 'linked/base/np.yaml'), `${join(dir, 'linked')}//base/./np.yaml`]);
    assert.deepEqual(r.policies.map((p) => p.ref.name), ['np']);
    assert.equal(r.files.length, 1);
  });

  it('invalid YAML: the file and the line of the error', () => {
    const e = loadError(`${NP}---\napiVersion: v1\nkind: NetworkPolicy\nmetadata: {name: x\n  bad: [\n`);
    assert.match(e.message, /bad\.yaml:\d+: not valid YAML/);
    assert.ok(e.line !== null && e.line >= 7, String(e.line));
  });

  it('an invalid field of a supported kind: the line of that field and its path', () => {
    const e = loadError(`${NP}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: shop}\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - {protocol: ICMP, port: 80}\n`);
    assert.equal(e.line, 13);
    assert.match(e.message, /NetworkPolicy shop\/x: .*\(at: spec\.ingress\.0\.ports\.0\.protocol\)/);
  });

  it('hostile and malformed objects are clear errors, never crashes', () => {
    assert.match(loadError('- just\n- a list\n').message, /not a Kubernetes object/);
    assert.match(loadError('apiVersion: v1\n').message, /no apiVersion or kind/);
    assert.match(loadError('apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x}\nspec: {action: MAYBE}\n').message, /action/);
    assert.match(loadError('apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: x, namespace: foo}\nspec:\n  portLevelMtls: {"8080": {mode: STRICT}}\n').message, /portLevelMtls needs a workload selector/);
    assert.match(loadError('apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\nspec:\n  endpointSelector: {}\n  ingress: [{toPorts: [{rules: {http: [{path: "("}]}}]}]\n').message, /not a regular expression/);
    assert.match(loadError('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: "x", namespace: "../etc"}\nspec: {}\n').message, /namespace/);
    // A billion-laughs alias bomb is refused, not expanded.
    const bomb = 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n';
    assert.ok(loadError(bomb) instanceof PolicyLoadError);
  });

  it('missing paths and empty folders are errors naming the path', () => {
    assert.throws(() => loadPolicies([join(dir, 'missing.yaml')]), /missing\.yaml: cannot read: ENOENT/);
    mkdirSync(join(dir, 'empty'));
    assert.throws(() => loadPolicies([join(dir, 'empty')]), /no policy files/);
  });
});

describe('loadPolicies: names', () => {
  it('refuses object names the API server would refuse (they end up in reports and errors)', () => {
    assert.throws(() => loadText('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: "a\\u001b[31m"}\nspec: {}\n'), /not a Kubernetes object name \(at: metadata\.name\)/);
  });
});
