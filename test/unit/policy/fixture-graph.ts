// A hand-built workload-level graph shaped like the testbed shop (docs/testbed.md): meshed and
// unmeshed workloads, a plaintext caller, kubelet probes from the node, Prometheus scrapes, an
// external client and an external callee, DNS. Golden files are generated from it.
import type { EdgeCall, Graph, GraphEdge, GraphNode } from '../../../analyzer/model.js';
import type { GeneratorContext } from '../../../analyzer/policy/index.js';

const T0 = '2025-11-23T09:40:00.000Z';
const T1 = '2025-11-23T09:40:10.000Z';

export function workload(ns: string, name: string, labels: Record<string, string>, sa = name, addresses: string[] = []): GraphNode {
  return {
    id: `${ns}/${name}`, kind: 'workload', namespace: ns, name, workload_kind: 'Deployment', service_account: sa,
    spiffe: `spiffe://cluster.local/ns/${ns}/sa/${sa}`, labels, addresses, reason: null,
  };
}

export function other(kind: 'node' | 'external' | 'unattributed', name: string, addresses: string[]): GraphNode {
  const id = kind === 'node' ? `node:${name}` : kind === 'external' ? `external:${name}` : `unattributed:${name}`;
  return { id, kind, namespace: null, name, workload_kind: null, service_account: null, spiffe: null, labels: {}, addresses, reason: kind === 'unattributed' ? 'unknown-address' : null };
}

export function call(port: number, protocol: EdgeCall['protocol'], security: EdgeCall['security'], method: string | null = null, path: string | null = null, count = 3, transport: 'tcp' | 'udp' = 'tcp'): EdgeCall {
  return {
    port, transport, protocol, method, path, host: null, sni: null, security, security_reason: null, count,
    first_seen: T0, last_seen: T1, credentials_in_plaintext: false, via_service: true, sources: ['pcap'],
  };
}

export function edge(source: string, target: string, calls: EdgeCall[]): GraphEdge {
  const mix = { mtls: 0, tls: 0, plaintext: 0, unknown: 0 };
  for (const c of calls) mix[c.security] += c.count;
  const total = calls.reduce((n, c) => n + c.count, 0);
  return {
    source, target,
    ports: [...new Set(calls.map((c) => c.port))].sort((a, b) => a - b),
    protocols: [...new Set(calls.map((c) => c.protocol))].sort(),
    methods: [...new Set(calls.flatMap((c) => (c.method === null ? [] : [c.method])))].sort(),
    paths: [...new Set(calls.flatMap((c) => (c.path === null ? [] : [c.path])))].sort(),
    security: { mtls: mix.mtls / total, tls: mix.tls / total, plaintext: mix.plaintext / total, unknown: mix.unknown / total },
    security_counts: mix, count: total, connections: total, bytes: 100 * total, first_seen: T0, last_seen: T1,
    credentials_in_plaintext: false, services: [], calls,
  };
}

const istio = (app: string) => ({ app, version: 'v1', 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': app });

export function shopGraph(): Graph {
  const nodes: GraphNode[] = [
    workload('istio-system', 'istio-ingressgateway', { ...istio('istio-ingressgateway'), istio: 'ingressgateway' }, 'istio-ingressgateway-service-account'),
    workload('shop', 'frontend', istio('frontend')),
    workload('shop', 'catalog', istio('catalog')),
    workload('shop', 'cart', { app: 'cart', version: 'v1' }),
    workload('shop', 'checkout', istio('checkout')),
    workload('shop', 'orders', { app: 'orders', version: 'v1' }),
    workload('payments', 'payments', istio('payments')),
    workload('kube-system', 'coredns', { app: 'coredns', 'k8s-app': 'kube-dns' }, 'coredns'),
    workload('monitoring', 'prometheus', { app: 'prometheus' }),
    workload('legacy', 'report-job', { app: 'report-job' }),
    other('node', 'tm-node-1', ['10.244.0.1']),
    other('external', 'internet-user', ['198.51.100.23']),
    other('external', 'api.bank.example', ['203.0.113.10']),
  ];
  const probe = () => call(15020, 'http', 'plaintext', 'GET', '/healthz', 4);
  const scrape = () => call(15020, 'http', 'plaintext', 'GET', '/metrics', 2);
  const dns = () => call(53, 'dns', 'plaintext', null, null, 5, 'udp');
  const edges: GraphEdge[] = [
    edge('external:internet-user', 'istio-system/istio-ingressgateway', [call(8443, 'tls', 'tls', null, null, 6)]),
    edge('istio-system/istio-ingressgateway', 'shop/frontend', [call(8080, 'http', 'mtls', 'GET', '/'), call(8080, 'http', 'mtls', 'GET', '/products/{id}'), call(8080, 'http', 'mtls', 'POST', '/cart')]),
    edge('shop/frontend', 'shop/catalog', [call(8080, 'http', 'mtls', 'GET', '/api/products'), call(8080, 'http', 'mtls', 'GET', '/api/products/{id}')]),
    edge('shop/frontend', 'shop/cart', [call(8080, 'http', 'plaintext', 'POST', '/api/cart/{id}/items')]),
    edge('shop/frontend', 'shop/checkout', [call(8080, 'tls', 'mtls')]),
    edge('shop/checkout', 'shop/orders', [call(50051, 'grpc', 'plaintext', 'POST', '/orders.OrderService/CreateOrder')]),
    edge('shop/checkout', 'payments/payments', [call(8443, 'http', 'mtls', 'POST', '/v1/charges')]),
    edge('payments/payments', 'external:api.bank.example', [call(443, 'tls', 'tls')]),
    edge('legacy/report-job', 'shop/catalog', [call(8080, 'http', 'plaintext', 'GET', '/api/products', 1)]),
    edge('shop/frontend', 'kube-system/coredns', [dns()]),
    edge('shop/checkout', 'kube-system/coredns', [dns()]),
    ...['shop/frontend', 'shop/catalog', 'shop/cart'].flatMap((t) => [edge('node:tm-node-1', t, [probe()]), edge('monitoring/prometheus', t, [scrape()])]),
  ];
  edges.sort((a, b) => a.source.localeCompare(b.source) || a.target.localeCompare(b.target));
  return { level: 'workload', window: { since: null, until: null, first_seen: T0, last_seen: T1 }, nodes, edges };
}

export const shopContext: GeneratorContext = {
  dns: [{ namespace: 'kube-system', labels: { app: 'coredns', 'k8s-app': 'kube-dns' }, ports: [53] }],
  strictReadiness: () => null,
};
