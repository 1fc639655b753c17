// NetworkPolicy beyond the upstream truth tables (endPort, named ports the inventory does not
// know, policyTypes defaulting, the pod's own node) and CiliumNetworkPolicy L3/L4/L7 semantics
// (docs.cilium.io "Policy Language"): default deny on selection, namespace scoping of
// fromEndpoints, entities, CIDR rules and cluster peers, toPorts, HTTP rules, deny rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Peer, SimCall } from '../../../analyzer/simulate/model.js';
import { evaluateCall } from '../../../analyzer/simulate/simulate.js';
import { call, loadText, workload } from './helpers.js';

const OPTS = { rootNamespace: 'istio-system', trustDomain: 'cluster.local' };
const web = workload('shop', 'web', { ip: '10.1.0.2', node: 'node-1' });
const api = workload('shop', 'api', { ip: '10.1.0.3', node: 'node-2', namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }] });
const other = workload('other', 'client', { ip: '10.2.0.4' });
const node1: Peer = { ...workload('x', 'x'), id: 'node:node-2', kind: 'node', namespace: null, labels: {}, namespaceLabels: null, serviceAccount: null, node: 'node-2', ip: '192.168.0.2' };
const remoteNode: Peer = { ...node1, id: 'node:node-1', node: 'node-1', ip: '192.168.0.1' };
const world: Peer = { ...node1, id: 'external:203.0.113.9', kind: 'external', node: null, ip: '203.0.113.9' };

const run = (yaml: string, c: SimCall) => evaluateCall(loadText(yaml).policies, c, OPTS);
const np = (spec: string) => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n  ${spec.trim().split('\n').join('\n  ')}\n`;
const cnp = (spec: string) => `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: c, namespace: shop}\nspec:\n  ${spec.trim().split('\n').join('\n  ')}\n`;

describe('NetworkPolicy details', () => {
  it('endPort makes a port range', () => {
    const yaml = np('podSelector: {matchLabels: {app: api}}\ningress: [{ports: [{port: 8000, endPort: 8100}]}]');
    assert.equal(run(yaml, call(web, api)).verdict, 'allowed');
    assert.equal(run(yaml, call(web, api, { port: 8101 })).verdict, 'denied');
  });

  it('named ports: resolved on the destination pod; a name the inventory does not list is indeterminate', () => {
    const yaml = np('podSelector: {}\ningress: [{ports: [{port: http}]}]');
    assert.equal(run(yaml, call(web, api)).verdict, 'allowed');
    assert.equal(run(yaml, call(web, api, { port: 9090 })).verdict, 'denied');
    const unknown = run(yaml, call(api, { ...web, namedPorts: [], isNamedPortsComplete: false }));
    assert.equal(unknown.verdict, 'indeterminate');
    assert.match(unknown.findings[0].reason, /named ports/);
  });

  it('policyTypes default: Ingress always, Egress only with egress rules', () => {
    assert.equal(run(np('podSelector: {}\negress: [{ports: [{port: 53, protocol: UDP}]}]'), call(web, other)).verdict, 'denied');
    assert.equal(run(np('podSelector: {}\ningress: [{}]'), call(web, other)).verdict, 'allowed');
  });

  it('the pod\'s own node is always allowed in; another node needs a rule', () => {
    const yaml = np('podSelector: {}\npolicyTypes: [Ingress]');
    const own = run(yaml, call(node1, api, { security: 'plaintext' }));
    assert.equal(own.verdict, 'allowed');
    assert.ok(own.notes.some((n) => /own node node-2/.test(n)));
    // A rule naming the node is still reported as used (drift must not call it unused).
    const named = run(np('podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 192.168.0.2/32}}]}]'), call(node1, api));
    assert.deepEqual(named.matched.map((m) => m.rule), ['ingress[0]']);
    const remote = run(yaml, call(remoteNode, api));
    assert.equal(remote.verdict, 'denied');
    assert.match(remote.findings[0].reason, /no ingress rule allows from node:node-1 \(192\.168\.0\.1\) on TCP port 8080; NetworkPolicies isolating shop\/api for ingress: shop\/p/);
  });

  it('an address not in the inventory may be a pod: selectors are indeterminate, ipBlocks decide', () => {
    const unknown: Peer = { ...world, id: 'unattributed:10.9.9.9', kind: 'unattributed', ip: '10.9.9.9' };
    assert.equal(run(np('podSelector: {}\ningress: [{from: [{podSelector: {}}]}]'), call(unknown, api)).verdict, 'indeterminate');
    assert.equal(run(np('podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 10.9.0.0/16}}]}]'), call(unknown, api)).verdict, 'allowed');
  });

  it('an end not in the inventory may be a pod a policy selects: indeterminate, never allowed', () => {
    // docs/identity.md: unattributed addresses are probably pods the inventory does not list.
    const unknown: Peer = { ...world, id: 'unattributed:10.9.9.9', kind: 'unattributed', ip: '10.9.9.9' };
    const ingressOnly = np('podSelector: {matchLabels: {app: api}}\ningress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]');
    const v = run(ingressOnly, call(web, unknown));
    assert.equal(v.verdict, 'indeterminate', 'the unknown destination may be shop/api');
    assert.deepEqual(v.findings.map((f) => [f.layer, f.policy]), [['unknown-address', null]]);
    assert.match(v.findings[0].reason, /^unattributed:10\.9\.9\.9 is not in the inventory \(probably an unlisted pod\)/);
    // Its egress: only policies that isolate egress can refuse it at an unknown source.
    assert.equal(run(ingressOnly, call(unknown, web)).verdict, 'allowed');
    assert.equal(run(np('podSelector: {}\npolicyTypes: [Egress]'), call(unknown, web)).verdict, 'indeterminate');
    assert.equal(run(cnp('endpointSelector: {}\negress: [{toEntities: [world]}]'), call(unknown, web)).verdict, 'indeterminate');
    // Istio's policies act on the destination's sidecar: an allow-nothing may cover the unknown pod.
    const allowNothing = 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-nothing, namespace: shop}\nspec: {}\n';
    assert.equal(run(allowNothing, call(web, unknown)).verdict, 'indeterminate');
    assert.equal(run(allowNothing, call(unknown, web)).verdict, 'denied');
  });
});

describe('CiliumNetworkPolicy', () => {
  it('an endpoint becomes default-deny once a policy with an ingress section selects it; fromEndpoints stay in the policy\'s namespace', () => {
    const yaml = cnp('endpointSelector: {matchLabels: {app: api}}\ningress: [{fromEndpoints: [{matchLabels: {app: client}}]}]');
    const v = run(yaml, call(other, api));
    assert.equal(v.verdict, 'denied', 'other/client has app=client but is in another namespace');
    assert.match(v.findings[0].reason, /CiliumNetworkPolicies selecting shop\/api: shop\/c/);
    assert.equal(run(yaml, call(workload('shop', 'client'), api)).verdict, 'allowed');
    assert.equal(run(yaml, call(web, workload('shop', 'unselected'))).verdict, 'allowed');
  });

  it('k8s:io.kubernetes.pod.namespace selects another namespace; k8s: prefixes are stripped', () => {
    const yaml = cnp('endpointSelector: {matchLabels: {"k8s:app": api}}\ningress: [{fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": other, app: client}}]}]');
    assert.equal(run(yaml, call(other, api)).verdict, 'allowed');
    assert.equal(run(yaml, call(web, api)).verdict, 'denied');
  });

  it('entities: world, host (own node), remote-node, cluster', () => {
    const ents = (e: string) => cnp(`endpointSelector: {matchLabels: {app: api}}\ningress: [{fromEntities: [${e}]}]`);
    assert.equal(run(ents('world'), call(world, api)).verdict, 'allowed');
    assert.equal(run(ents('world'), call(web, api)).verdict, 'denied');
    assert.equal(run(ents('remote-node'), call(remoteNode, api)).verdict, 'allowed');
    assert.equal(run(ents('host'), call(remoteNode, api)).verdict, 'denied');
    assert.equal(run(ents('cluster'), call(other, api)).verdict, 'allowed');
    assert.equal(run(ents('cluster'), call(world, api)).verdict, 'denied');
    assert.equal(run(ents('kube-apiserver'), call(world, api)).verdict, 'indeterminate');
  });

  it('CIDR rules select the outside only, never pods', () => {
    const yaml = cnp('endpointSelector: {matchLabels: {app: api}}\ningress: [{fromCIDR: [0.0.0.0/0]}]');
    assert.equal(run(yaml, call(world, api)).verdict, 'allowed');
    assert.equal(run(yaml, call(web, api)).verdict, 'denied');
    const set = cnp('endpointSelector: {matchLabels: {app: api}}\ningress: [{fromCIDRSet: [{cidr: 203.0.113.0/24, except: [203.0.113.9/32]}]}]');
    assert.equal(run(set, call(world, api)).verdict, 'denied');
  });

  it('toPorts and L7 HTTP rules: method and path are anchored regular expressions', () => {
    const yaml = cnp(`endpointSelector: {matchLabels: {app: api}}
ingress:
- fromEndpoints: [{matchLabels: {app: web}}]
  toPorts:
  - ports: [{port: "8080", protocol: TCP}]
    rules:
      http:
      - {method: GET, path: "/api/v1/.*"}
      - {method: "POST|PUT", path: "/api/cart/[^/]+/items"}`);
    const get = (method: string, path: string, over: Partial<SimCall> = {}) => run(yaml, call(web, api, { method, path, ...over })).verdict;
    assert.equal(get('GET', '/api/v1/x'), 'allowed');
    assert.equal(get('GET', '/api/v1'), 'denied', 'anchored: the prefix alone does not match');
    assert.equal(get('POST', '/api/cart/{id}/items'), 'allowed');
    assert.equal(get('DELETE', '/api/cart/{id}/items'), 'denied');
    assert.equal(get('GET', '/api/v1/x', { port: 9090 }), 'denied');
    assert.equal(run(yaml, call(web, api, { protocol: 'tls', method: null, path: null })).verdict, 'indeterminate');
  });

  it('ingressDeny wins over an allow; enableDefaultDeny false leaves unmatched traffic open', () => {
    const yaml = cnp('endpointSelector: {matchLabels: {app: api}}\ningress: [{fromEntities: [cluster]}]\ningressDeny: [{fromEndpoints: [{matchLabels: {app: web}}]}]');
    const v = run(yaml, call(web, api));
    assert.equal(v.verdict, 'denied');
    assert.match(v.findings[0].reason, /ingressDeny\[0\] denies shop\/web/);
    const open = cnp('endpointSelector: {matchLabels: {app: api}}\nenableDefaultDeny: {ingress: false}\ningress: [{fromEndpoints: [{matchLabels: {app: nobody}}]}]');
    assert.equal(run(open, call(web, api)).verdict, 'allowed');
  });

  it('egress: both ends must allow; specs[] rules are each evaluated', () => {
    const yaml = `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: two, namespace: shop}\nspecs:\n- endpointSelector: {matchLabels: {app: web}}\n  egress: [{toEndpoints: [{matchLabels: {app: api}}], toPorts: [{ports: [{port: "8080"}]}]}]\n- endpointSelector: {matchLabels: {app: api}}\n  ingress: [{fromEndpoints: [{matchLabels: {app: web}}]}]\n`;
    assert.equal(run(yaml, call(web, api)).verdict, 'allowed');
    const v = run(yaml, call(web, api, { port: 9090 }));
    assert.equal(v.verdict, 'denied');
    assert.equal(v.findings[0].layer, 'cilium-egress');
    assert.equal(run(yaml, call(web, other)).verdict, 'denied');
  });
});
