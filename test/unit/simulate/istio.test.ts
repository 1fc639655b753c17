// Istio AuthorizationPolicy and PeerAuthentication, one test per documented example: the
// AuthorizationPolicy reference (istio/api security/v1beta1/authorization_policy.proto @ d0fee3f0,
// istio.io/latest/docs/reference/config/security/authorization-policy/), the conditions page
// (…/security/conditions/) and the PeerAuthentication reference (…/security/peer_authentication/).
// Policies are the documented YAML, loaded from real files; calls are built by hand.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CallVerdict, SimCall } from '../../../analyzer/simulate/model.js';
import { evaluateCall } from '../../../analyzer/simulate/simulate.js';
import { call, loadText, workload } from './helpers.js';

const OPTS = { rootNamespace: 'istio-system', trustDomain: 'cluster.local' };
const sleep = workload('default', 'sleep', { serviceAccount: 'sleep', ip: '10.1.0.5' });
const tester = workload('test', 'client', { serviceAccount: 'client', ip: '10.1.0.6' });
const dev = workload('dev', 'client', { serviceAccount: 'client', ip: '10.1.0.7' });
const httpbin = workload('foo', 'httpbin', { labels: { app: 'httpbin', version: 'v1' }, ip: '10.1.1.1' });

function verdict(yaml: string, c: SimCall, opts = OPTS): CallVerdict {
  return evaluateCall(loadText(yaml).policies, c, opts);
}

const EXAMPLE_ALLOW = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: httpbin
  namespace: foo
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/sleep"]
    - source:
        namespaces: ["test"]
    to:
    - operation:
        methods: ["GET"]
        paths: ["/info*"]
    - operation:
        methods: ["POST"]
        paths: ["/data"]
    when:
    - key: request.auth.claims[iss]
      values: ["https://accounts.google.com"]
`;

describe('AuthorizationPolicy: the reference examples', () => {
  it('ALLOW httpbin: the JWT condition cannot be decided from a recording (indeterminate, never allowed)', () => {
    for (const c of [call(sleep, httpbin, { method: 'GET', path: '/info/x' }), call(tester, httpbin, { method: 'POST', path: '/data' })]) {
      const v = verdict(EXAMPLE_ALLOW, c);
      assert.equal(v.verdict, 'indeterminate');
      assert.match(v.findings[0].reason, /may match/);
    }
  });

  it('ALLOW httpbin: other sources, methods or paths are denied and the policy is named', () => {
    const other = workload('other', 'x', { serviceAccount: 'x' });
    for (const c of [call(other, httpbin, { method: 'GET', path: '/info' }), call(sleep, httpbin, { method: 'DELETE', path: '/data' }), call(sleep, httpbin, { method: 'POST', path: '/info' })]) {
      const v = verdict(EXAMPLE_ALLOW, c);
      assert.equal(v.verdict, 'denied', JSON.stringify(c.method));
      assert.equal(v.findings[0].policy?.name, 'httpbin');
      assert.match(v.findings[0].reason, new RegExp(`no ALLOW rule matches method ${c.method} on ${c.path}`));
    }
  });

  it('ALLOW httpbin: a plaintext caller in namespace test has no namespace, and the denial says so', () => {
    const v = verdict(EXAMPLE_ALLOW, call(tester, httpbin, { method: 'GET', path: '/info', security: 'plaintext' }));
    assert.equal(v.verdict, 'denied');
    assert.match(v.findings[0].reason, /plaintext: no principal, no namespace/);
  });

  const DENY_DEV = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  action: DENY
  rules:
  - from:
    - source:
        namespaces: ["dev"]
    to:
    - operation:
        methods: ["POST"]
`;
  it('DENY POST from namespace dev: denied; GET allowed (no ALLOW policy); plaintext from dev has no namespace, so not matched', () => {
    assert.equal(verdict(DENY_DEV, call(dev, httpbin, { method: 'POST', path: '/x' })).verdict, 'denied');
    assert.match(verdict(DENY_DEV, call(dev, httpbin, { method: 'POST', path: '/x' })).findings[0].reason, /DENY rules\[0\] matches method POST/);
    assert.equal(verdict(DENY_DEV, call(dev, httpbin, { method: 'GET', path: '/x' })).verdict, 'allowed');
    assert.equal(verdict(DENY_DEV, call(dev, httpbin, { method: 'POST', path: '/x', security: 'plaintext' })).verdict, 'allowed');
  });

  const DENY_8080 = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  action: DENY
  rules:
  - to:
    - operation:
        methods: ["POST"]
        ports: ["8080"]
`;
  it('DENY POST on port 8080: TCP traffic on 8080 is denied too (missing HTTP attributes match a DENY rule)', () => {
    assert.equal(verdict(DENY_8080, call(sleep, httpbin, { method: 'POST' })).verdict, 'denied');
    assert.equal(verdict(DENY_8080, call(sleep, httpbin, { method: 'GET' })).verdict, 'allowed');
    const tcp = { protocol: 'tcp' as const, method: null, path: null, security: 'plaintext' as const };
    assert.equal(verdict(DENY_8080, call(sleep, httpbin, tcp)).verdict, 'denied');
    assert.equal(verdict(DENY_8080, call(sleep, httpbin, { ...tcp, port: 9090 })).verdict, 'allowed');
    // Encrypted content: whether it is a POST is not known.
    assert.equal(verdict(DENY_8080, call(sleep, httpbin, { protocol: 'tls', method: null, path: null })).verdict, 'indeterminate');
  });

  it('AUDIT GET /user/profile/*: never changes the verdict, noted', () => {
    const yaml = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {namespace: ns1, name: anyname}
spec:
  selector: {matchLabels: {app: myapi}}
  action: AUDIT
  rules:
  - to:
    - operation:
        methods: ["GET"]
        paths: ["/user/profile/*"]
`;
    const api = workload('ns1', 'myapi', { labels: { app: 'myapi' } });
    const v = verdict(yaml, call(sleep, api, { method: 'GET', path: '/user/profile/7' }));
    assert.equal(v.verdict, 'allowed');
    assert.ok(v.notes.some((n) => /audited by AUDIT policy ns1\/anyname/.test(n)));
    assert.ok(v.notes.some((n) => /ns1\/myapi shows no sidecar/.test(n)));
  });

  const ALLOW_NOTHING = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: foo}
spec: {}
`;
  it('allow-nothing (spec: {}) denies every request to the namespace and nothing elsewhere', () => {
    const v = verdict(ALLOW_NOTHING, call(sleep, httpbin));
    assert.equal(v.verdict, 'denied');
    assert.equal(v.findings[0].policy?.name, 'allow-nothing');
    assert.equal(verdict(ALLOW_NOTHING, call(sleep, workload('bar', 'x'))).verdict, 'allowed');
  });

  it('allow-all (rules: [{}]) allows every request, also next to allow-nothing', () => {
    const all = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: foo}
spec:
  rules:
  - {}
`;
    assert.equal(verdict(all, call(sleep, httpbin, { security: 'plaintext' })).verdict, 'allowed');
    const v = verdict(`${ALLOW_NOTHING}---\n${all}`, call(sleep, httpbin));
    assert.equal(v.verdict, 'allowed');
    assert.deepEqual(v.matched.map((m) => `${m.policy.name} ${m.rule}`), ['allow-all rules[0]']);
  });

  it('allow-nothing with a selector (app: httpbin in bar) denies only the selected workload', () => {
    const yaml = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: bar}
spec:
  selector:
    matchLabels:
      app: httpbin
`;
    assert.equal(verdict(yaml, call(sleep, workload('bar', 'httpbin', { labels: { app: 'httpbin' } }))).verdict, 'denied');
    assert.equal(verdict(yaml, call(sleep, workload('bar', 'other'))).verdict, 'allowed');
  });

  it('root namespace: allow-nothing for version: v1 in istio-system applies in every namespace; the root namespace is configurable', () => {
    const yaml = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: istio-system}
spec:
  selector:
    matchLabels:
      version: v1
`;
    assert.equal(verdict(yaml, call(sleep, httpbin)).verdict, 'denied');
    assert.equal(verdict(yaml, call(sleep, workload('foo', 'v2', { labels: { version: 'v2' } }))).verdict, 'allowed');
    assert.equal(verdict(yaml, call(sleep, httpbin), { ...OPTS, rootNamespace: 'mesh-root' }).verdict, 'allowed');
  });

  it('dry-run (istio.io/dry-run: "true") DENY /headers is not enforced, but noted', () => {
    const yaml = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: dry-run-example
  namespace: foo
  annotations:
    "istio.io/dry-run": "true"
spec:
  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/headers"]
`;
    const v = verdict(yaml, call(sleep, httpbin, { path: '/headers' }));
    assert.equal(v.verdict, 'allowed');
    assert.ok(v.notes.some((n) => /dry-run DENY foo\/dry-run-example rules\[0\] would deny/.test(n)));
  });

  it('CUSTOM: an external authorizer decides; noted as not evaluated (indeterminate when its rules match)', () => {
    const yaml = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: foo}
spec:
  action: CUSTOM
  provider: {name: my-custom-authz}
  rules:
  - to:
    - operation:
        paths: ["/admin/*"]
`;
    const v = verdict(yaml, call(sleep, httpbin, { path: '/admin/x' }));
    assert.equal(v.verdict, 'indeterminate');
    assert.match(v.findings[0].reason, /CUSTOM policy \(provider my-custom-authz\).*not evaluated/);
    assert.equal(verdict(yaml, call(sleep, httpbin, { path: '/public' })).verdict, 'allowed');
  });
});

/** An ALLOW policy for httpbin with one rule, to test one field at a time. */
const allowWith = (rule: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: field, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  rules:
  - ${rule.trim().split('\n').join('\n    ')}
`;

describe('AuthorizationPolicy: one field at a time', () => {
  const v = (rule: string, c: SimCall) => verdict(allowWith(rule), c).verdict;

  it('principals: exact, prefix, suffix, and presence "*" (plaintext has no principal at all)', () => {
    assert.equal(v('from: [{source: {principals: ["cluster.local/ns/default/sa/*"]}}]', call(sleep, httpbin)), 'allowed');
    assert.equal(v('from: [{source: {principals: ["*/sa/sleep"]}}]', call(sleep, httpbin)), 'allowed');
    assert.equal(v('from: [{source: {principals: ["*/sa/other"]}}]', call(sleep, httpbin)), 'denied');
    assert.equal(v('from: [{source: {principals: ["*"]}}]', call(sleep, httpbin)), 'allowed');
    assert.equal(v('from: [{source: {principals: ["*"]}}]', call(sleep, httpbin, { security: 'plaintext' })), 'denied');
    assert.equal(v('from: [{source: {principals: ["*"]}}]', call(sleep, httpbin, { security: 'unknown' })), 'indeterminate');
  });

  it('notPrincipals and notNamespaces match callers without an identity (plaintext)', () => {
    assert.equal(v('from: [{source: {notPrincipals: ["cluster.local/ns/default/sa/sleep"]}}]', call(sleep, httpbin)), 'denied');
    assert.equal(v('from: [{source: {notPrincipals: ["cluster.local/ns/default/sa/sleep"]}}]', call(sleep, httpbin, { security: 'plaintext' })), 'allowed');
    assert.equal(v('from: [{source: {notNamespaces: ["default"]}}]', call(tester, httpbin)), 'allowed');
    assert.equal(v('from: [{source: {notNamespaces: ["default"]}}]', call(sleep, httpbin)), 'denied');
  });

  it('namespaces', () => {
    assert.equal(v('from: [{source: {namespaces: ["test"]}}]', call(tester, httpbin)), 'allowed');
    assert.equal(v('from: [{source: {namespaces: ["test"]}}]', call(sleep, httpbin)), 'denied');
    assert.equal(v('from: [{source: {namespaces: ["te*"]}}]', call(tester, httpbin)), 'allowed');
  });

  it('ipBlocks and notIpBlocks: single IPs and CIDRs, the direct peer address', () => {
    assert.equal(v('from: [{source: {ipBlocks: ["10.1.0.5"]}}]', call(sleep, httpbin, { security: 'plaintext' })), 'allowed');
    assert.equal(v('from: [{source: {ipBlocks: ["10.1.0.0/24"]}}]', call(sleep, httpbin)), 'allowed');
    assert.equal(v('from: [{source: {ipBlocks: ["192.0.2.0/24"]}}]', call(sleep, httpbin)), 'denied');
    assert.equal(v('from: [{source: {notIpBlocks: ["10.1.0.5"]}}]', call(sleep, httpbin)), 'denied');
  });

  it('remoteIpBlocks and requestPrincipals are not in a recording: indeterminate (requestPrincipals on TCP: no match)', () => {
    assert.equal(v('from: [{source: {remoteIpBlocks: ["203.0.113.4"]}}]', call(sleep, httpbin)), 'indeterminate');
    assert.equal(v('from: [{source: {requestPrincipals: ["*"]}}]', call(sleep, httpbin)), 'indeterminate');
    assert.equal(v('from: [{source: {requestPrincipals: ["*"]}}]', call(sleep, httpbin, { protocol: 'tcp', method: null, path: null, security: 'plaintext' })), 'denied');
  });

  it('hosts and notHosts: case-insensitive, prefix and suffix wildcards', () => {
    assert.equal(v('to: [{operation: {hosts: ["*.Example.com"]}}]', call(sleep, httpbin, { host: 'api.example.COM' })), 'allowed');
    assert.equal(v('to: [{operation: {hosts: ["api.example.com"]}}]', call(sleep, httpbin, { host: 'web.example.com' })), 'denied');
    assert.equal(v('to: [{operation: {notHosts: ["web.*"]}}]', call(sleep, httpbin, { host: 'web.example.com' })), 'denied');
    assert.equal(v('to: [{operation: {hosts: ["x"]}}]', call(sleep, httpbin, { host: null })), 'indeterminate');
  });

  it('ports and notPorts', () => {
    assert.equal(v('to: [{operation: {ports: ["8080"]}}]', call(sleep, httpbin)), 'allowed');
    assert.equal(v('to: [{operation: {ports: ["9000"]}}]', call(sleep, httpbin)), 'denied');
    assert.equal(v('to: [{operation: {notPorts: ["8080"]}}]', call(sleep, httpbin)), 'denied');
  });

  it('methods and notMethods; HTTP-only fields never match TCP traffic in ALLOW', () => {
    assert.equal(v('to: [{operation: {methods: ["GET", "HEAD"]}}]', call(sleep, httpbin)), 'allowed');
    assert.equal(v('to: [{operation: {notMethods: ["GET"]}}]', call(sleep, httpbin)), 'denied');
    assert.equal(v('to: [{operation: {methods: ["GET"]}}]', call(sleep, httpbin, { protocol: 'tcp', method: null, path: null, security: 'plaintext' })), 'denied');
    assert.equal(v('to: [{operation: {methods: ["GET"]}}]', call(sleep, httpbin, { protocol: 'tls', method: null, path: null })), 'indeterminate');
  });

  it('paths: exact, prefix, suffix, presence; recorded templates decide when they can', () => {
    const get = (path: string) => call(sleep, httpbin, { path });
    assert.equal(v('to: [{operation: {paths: ["/api/products"]}}]', get('/api/products')), 'allowed');
    assert.equal(v('to: [{operation: {paths: ["/api/products"]}}]', get('/api/products/1')), 'denied');
    assert.equal(v('to: [{operation: {paths: ["/api/*"]}}]', get('/api/cart/{id}/items')), 'allowed');
    assert.equal(v('to: [{operation: {paths: ["*/items"]}}]', get('/api/cart/{id}/items')), 'allowed');
    assert.equal(v('to: [{operation: {paths: ["*"]}}]', get('/anything')), 'allowed');
    // A concrete path against a template: the value behind {id} was not kept.
    assert.equal(v('to: [{operation: {paths: ["/api/cart/42/items"]}}]', get('/api/cart/{id}/items')), 'indeterminate');
    assert.equal(v('to: [{operation: {paths: ["/api/products"]}}]', get('/api/cart/{id}/items')), 'denied');
    assert.equal(v('to: [{operation: {notPaths: ["/admin*"]}}]', get('/admin/x')), 'denied');
  });

  it('path templates (Istio 1.22+): {*} is one segment, {**} any rest', () => {
    const get = (path: string) => call(sleep, httpbin, { path });
    assert.equal(v('to: [{operation: {paths: ["/foo/{*}/bar"]}}]', get('/foo/x/bar')), 'allowed');
    assert.equal(v('to: [{operation: {paths: ["/foo/{*}/bar"]}}]', get('/foo/x/y/bar')), 'denied');
    assert.equal(v('to: [{operation: {paths: ["/foo/{**}"]}}]', get('/foo/x/y/bar')), 'allowed');
    assert.equal(v('to: [{operation: {paths: ["/api/cart/{*}/items"]}}]', get('/api/cart/{id}/items')), 'allowed');
    assert.equal(v('to: [{operation: {paths: ["/other/{*}"]}}]', get('/api/cart/{id}/items')), 'denied');
  });

  it('when: source.ip, source.namespace, source.principal, destination.port, notValues; other keys indeterminate', () => {
    assert.equal(v('when: [{key: source.ip, values: ["10.1.0.0/16"]}]', call(sleep, httpbin)), 'allowed');
    assert.equal(v('when: [{key: source.namespace, values: ["default"]}]', call(sleep, httpbin)), 'allowed');
    assert.equal(v('when: [{key: source.namespace, values: ["default"]}]', call(sleep, httpbin, { security: 'plaintext' })), 'denied');
    assert.equal(v('when: [{key: source.principal, values: ["cluster.local/ns/default/sa/sleep"]}]', call(sleep, httpbin)), 'allowed');
    assert.equal(v('when: [{key: destination.port, values: ["8080"]}]', call(sleep, httpbin)), 'allowed');
    assert.equal(v('when: [{key: destination.port, notValues: ["8080"]}]', call(sleep, httpbin)), 'denied');
    assert.equal(v('when: [{key: "request.headers[User-Agent]", values: ["Mozilla/*"]}]', call(sleep, httpbin)), 'indeterminate');
    assert.equal(v('when: [{key: remote.ip, values: ["10.0.0.1"]}]', call(sleep, httpbin)), 'indeterminate');
  });

  it('UDP and the Istio agent ports are outside the sidecar: the policy does not apply', () => {
    assert.equal(verdict(ALLOW_NOTHING_FOO, call(sleep, httpbin, { transport: 'udp', protocol: 'dns', method: null, path: null })).verdict, 'allowed');
    assert.equal(verdict(ALLOW_NOTHING_FOO, call(sleep, httpbin, { port: 15020, security: 'plaintext' })).verdict, 'allowed');
  });
});

const ALLOW_NOTHING_FOO = 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-nothing, namespace: foo}\nspec: {}\n';

describe('PeerAuthentication: scope, inheritance, port-level', () => {
  const pa = (ns: string, name: string, spec: string) => `---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  ${spec.trim().split('\n').join('\n  ')}\n`;
  const MESH_STRICT = pa('istio-system', 'default', 'mtls: {mode: STRICT}');
  const plain = (over: Partial<SimCall> = {}) => call(sleep, httpbin, { security: 'plaintext', ...over });

  it('mesh-wide STRICT (root namespace, no selector): a plaintext call is denied, naming the port', () => {
    const v = verdict(MESH_STRICT, plain());
    assert.equal(v.verdict, 'denied');
    assert.equal(v.findings[0].reason, 'plaintext to STRICT port 8080 (STRICT (mesh))');
    assert.equal(v.findings[0].policy?.namespace, 'istio-system');
    assert.equal(verdict(MESH_STRICT, call(sleep, httpbin)).verdict, 'allowed');
  });

  it('namespace PERMISSIVE overrides mesh STRICT; workload STRICT overrides namespace PERMISSIVE', () => {
    const nsPermissive = MESH_STRICT + pa('foo', 'default', 'mtls: {mode: PERMISSIVE}');
    assert.equal(verdict(nsPermissive, plain()).verdict, 'allowed');
    const wl = nsPermissive + pa('foo', 'httpbin', 'selector: {matchLabels: {app: httpbin}}\nmtls: {mode: STRICT}');
    assert.equal(verdict(wl, plain()).verdict, 'denied');
  });

  it('UNSET inherits from the parent; with nothing set the default is PERMISSIVE', () => {
    assert.equal(verdict(pa('foo', 'default', 'mtls: {mode: STRICT}') + pa('foo', 'httpbin', 'selector: {matchLabels: {app: httpbin}}\nmtls: {mode: UNSET}'), plain()).verdict, 'denied');
    assert.equal(verdict(pa('foo', 'httpbin', 'selector: {matchLabels: {app: httpbin}}\nmtls: {mode: UNSET}'), plain()).verdict, 'allowed');
  });

  it('portLevelMtls: the documented example (STRICT workload, port 8080 DISABLE)', () => {
    const yaml = pa('foo', 'default', 'selector: {matchLabels: {app: httpbin}}\nmtls: {mode: STRICT}\nportLevelMtls:\n  "8080": {mode: DISABLE}');
    assert.equal(verdict(yaml, plain()).verdict, 'allowed');
    const v = verdict(yaml, plain({ port: 9090 }));
    assert.equal(v.verdict, 'denied');
    assert.match(v.findings[0].reason, /plaintext to STRICT port 9090/);
    const portStrict = pa('foo', 'p', 'selector: {matchLabels: {app: httpbin}}\nmtls: {mode: PERMISSIVE}\nportLevelMtls:\n  "8080": {mode: STRICT}');
    assert.equal(verdict(portStrict, plain()).findings[0].reason, 'plaintext to STRICT port 8080 (port-level STRICT)');
    assert.equal(verdict(portStrict, plain({ port: 9090 })).verdict, 'allowed');
  });

  it('STRICT refuses TLS without a mesh certificate; unknown security is indeterminate; agent ports and UDP are outside', () => {
    assert.match(verdict(MESH_STRICT, call(sleep, httpbin, { security: 'tls' })).findings[0].reason, /TLS without a mesh client certificate \(unmeshed caller\)/);
    assert.equal(verdict(MESH_STRICT, call(sleep, httpbin, { security: 'unknown' })).verdict, 'indeterminate');
    assert.equal(verdict(MESH_STRICT, plain({ port: 15020 })).verdict, 'allowed');
    assert.equal(verdict(MESH_STRICT, plain({ transport: 'udp', protocol: 'dns', port: 53 })).verdict, 'allowed');
  });

  it('PeerAuthentication decides before authorization: both findings are reported', () => {
    const v = verdict(MESH_STRICT + '---\n' + ALLOW_NOTHING_FOO, plain());
    assert.deepEqual(v.findings.map((f) => f.layer), ['istio-peer-authentication', 'istio-authorization']);
  });
});

describe('PeerAuthentication and gateways', () => {
  it('a gateway\'s listeners are not governed by PeerAuthentication', () => {
    const gw = workload('istio-system', 'istio-ingressgateway', { labels: { istio: 'ingressgateway' } });
    const yaml = 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n';
    const v = evaluateCall(loadText(yaml).policies, call(sleep, gw, { security: 'tls', port: 8443 }), OPTS);
    assert.equal(v.verdict, 'allowed');
    assert.ok(v.notes.some((n) => /is a gateway/.test(n)));
  });
});

// The security tasks: https://istio.io/latest/docs/tasks/security/authorization/authz-tcp/,
// …/authorization/authz-deny/ and …/authentication/mtls-migration/.
describe('Istio security tasks', () => {
  const sleepFoo = workload('foo', 'sleep', { serviceAccount: 'sleep' });
  const sleepBar = workload('bar', 'sleep', { serviceAccount: 'sleep' });
  const sleepLegacy = workload('legacy', 'sleep', { serviceAccount: 'sleep', labels: { app: 'sleep' } });
  const tcpEcho = workload('foo', 'tcp-echo', { labels: { app: 'tcp-echo' } });
  const tcp = (port: number, src = sleepFoo) => call(src, tcpEcho, { port, protocol: 'tcp', method: null, path: null, security: 'mtls' });
  const tcpPolicy = (action: string, op: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: tcp-policy, namespace: foo}
spec:
  selector: {matchLabels: {app: tcp-echo}}
  action: ${action}
  rules:
  - to:
    - operation: ${op}
`;

  it('authz-tcp: ALLOW ports 9000 and 9001; 9002 is denied', () => {
    const yaml = tcpPolicy('ALLOW', '{ports: ["9000", "9001"]}');
    assert.equal(verdict(yaml, tcp(9000)).verdict, 'allowed');
    assert.equal(verdict(yaml, tcp(9001)).verdict, 'allowed');
    assert.equal(verdict(yaml, tcp(9002)).verdict, 'denied');
  });

  it('authz-tcp: an HTTP-only field (methods) in ALLOW makes the rule match no TCP request', () => {
    const plainTcp = (port: number) => ({ ...tcp(port), security: 'plaintext' as const });
    assert.equal(verdict(tcpPolicy('ALLOW', '{methods: ["GET"], ports: ["9000"]}'), plainTcp(9000)).verdict, 'denied');
  });

  it('authz-tcp: the same rule as DENY denies all TCP traffic to 9000 and nothing on 9001', () => {
    const yaml = tcpPolicy('DENY', '{methods: ["GET"], ports: ["9000"]}');
    const plainTcp = (port: number) => ({ ...tcp(port), security: 'plaintext' as const });
    assert.equal(verdict(yaml, plainTcp(9000)).verdict, 'denied');
    assert.equal(verdict(yaml, plainTcp(9001)).verdict, 'allowed');
  });

  it('authz-deny: DENY from notNamespaces foo denies bar and lets foo through; a header condition is indeterminate', () => {
    const yaml = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-method-get, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules:
  - from:
    - source:
        notNamespaces: ["foo"]
`;
    assert.equal(verdict(yaml, call(sleepBar, httpbin)).verdict, 'denied');
    assert.equal(verdict(yaml, call(sleepFoo, httpbin)).verdict, 'allowed');
    const header = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-method-get, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules:
  - to:
    - operation:
        methods: ["GET"]
    when:
    - key: request.headers[x-token]
      notValues: ["admin"]
`;
    assert.equal(verdict(header, call(sleepFoo, httpbin, { method: 'GET' })).verdict, 'indeterminate');
    assert.equal(verdict(header, call(sleepFoo, httpbin, { method: 'POST' })).verdict, 'allowed');
  });

  it('mtls-migration: namespace foo STRICT refuses the legacy client without a sidecar; mesh-wide STRICT everywhere', () => {
    const ns = 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: foo}\nspec: {mtls: {mode: STRICT}}\n';
    const v = verdict(ns, call(sleepLegacy, httpbin, { security: 'plaintext' }));
    assert.equal(v.verdict, 'denied');
    assert.equal(v.findings[0].reason, 'plaintext to STRICT port 8080 (STRICT (namespace))');
    assert.equal(verdict(ns, call(sleepFoo, httpbin)).verdict, 'allowed');
    assert.equal(verdict(ns, call(sleepLegacy, workload('bar', 'httpbin'), { security: 'plaintext' })).verdict, 'allowed');
    const mesh = ns.replace('namespace: foo', 'namespace: istio-system');
    assert.equal(verdict(mesh, call(sleepLegacy, workload('bar', 'httpbin'), { security: 'plaintext' })).verdict, 'denied');
  });
});
