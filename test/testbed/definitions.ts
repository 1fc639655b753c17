// The testbed's single source of truth: pods, Services, who calls whom and how each call is
// secured. The network setup, the service processes, the traffic driver, the Kubernetes inventory
// and the ground truth (expected-calls.json) are all generated from these tables.

export const CLUSTER_DOMAIN = 'cluster.local';
export const TRUST_DOMAIN = 'cluster.local';
export const NODE_NAME = 'tm-node-1';
/** The node's address: the bridge in the root namespace, where kubelet and kube-proxy live. */
export const NODE_IP = '10.244.0.1';
export const POD_CIDR = '10.244.0.0/24';
export const SERVICE_CIDR = '10.96.0.0/12';
/** Every pod serves /healthz (kubelet) and /metrics (Prometheus) in plaintext on this port. */
export const ADMIN_PORT = 15020;
/** Linux name prefix of everything the testbed creates: netns, links, iptables chains. */
export const PREFIX = 'tm-';
export const BRIDGE = 'tm-br0';

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'CronJob', 'External', 'Node'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** What the process in a pod's namespace does; one file per role under services/. */
export const ROLES = [
  'coredns', 'ingressgateway', 'frontend', 'catalog', 'cart', 'checkout', 'inventory', 'orders',
  'redis', 'payments', 'prometheus', 'report-job', 'bank', 'internet-user',
] as const;
export type Role = (typeof ROLES)[number];

export interface PodDef {
  namespace: string;
  /** Owning workload's name (Deployment/StatefulSet/CronJob). */
  workload: string;
  kind: WorkloadKind;
  /** Pod name as Kubernetes would generate it (ReplicaSet hash + suffix, ordinal, Job name). */
  name: string;
  ip: string;
  serviceAccount: string;
  role: Role;
  labels: Record<string, string>;
  /** Listening app port(s); the admin port comes on top for every in-cluster pod. */
  ports: Array<{ name: string; port: number; protocol: 'TCP' | 'UDP' }>;
  /** In-cluster pods get probes and scrapes; external hosts are not Kubernetes objects. */
  isInCluster: boolean;
  /** Long-running pods are probed by the kubelet and scraped by Prometheus (not the Job pod). */
  isProbed: boolean;
}

export interface ServiceDef {
  namespace: string;
  name: string;
  clusterIP: string;
  /** A LoadBalancer's external address, DNAT'ed like a ClusterIP (kube-proxy's KUBE-EXT chains). */
  loadBalancerIP?: string;
  selector: Record<string, string>;
  ports: Array<{ name: string; port: number; targetPort: number; protocol: 'TCP' | 'UDP'; appProtocol?: string }>;
}

export const SECURITY = ['plaintext', 'tls', 'mtls'] as const;
export type CallSecurity = (typeof SECURITY)[number];
export const APP_PROTOCOLS = ['http', 'grpc', 'dns', 'tcp'] as const;
export type AppProtocol = (typeof APP_PROTOCOLS)[number];

export interface TlsDef {
  version: 'TLSv1.2' | 'TLSv1.3';
  sni: string;
  /** ALPN protocols the client offers, in order. */
  alpn: string[];
}

/** One client → server edge of the call graph. */
export interface CallDef {
  id: string;
  from: string; // pod key "namespace/workload" or "node" or an external host key
  to: string;
  /** How the client addresses the server: a Service (by DNS name or LB IP) or a pod IP directly. */
  via: { kind: 'service'; service: string; useDns: boolean } | { kind: 'pod-ip' };
  port: number; // the port the server listens on (targetPort)
  protocol: AppProtocol;
  security: CallSecurity;
  tls?: TlsDef;
  /** HTTP/gRPC only: the endpoints this call uses, as method + path template. */
  endpoints?: Array<{ method: string; path: string }>;
  /** HTTP Host header / :authority; null for non-HTTP. */
  host: string | null;
}

const istioSni = (svc: string, ns: string, port: number): string =>
  `outbound_.${port}_._.${svc}.${ns}.svc.${CLUSTER_DOMAIN}`;

const svcHost = (svc: string, ns: string, port: number): string =>
  `${svc}.${ns}.svc.${CLUSTER_DOMAIN}${port === 80 ? '' : `:${port}`}`;

const pod = (
  namespace: string, workload: string, kind: WorkloadKind, name: string, ip: string,
  role: Role, ports: PodDef['ports'], extra: Partial<PodDef> = {},
): PodDef => ({
  namespace, workload, kind, name, ip, role, ports,
  serviceAccount: extra.serviceAccount ?? workload,
  labels: { app: workload, ...(kind === 'Deployment' ? { version: 'v1' } : {}), ...(extra.labels ?? {}) },
  isInCluster: kind !== 'External',
  isProbed: kind !== 'External' && kind !== 'CronJob',
});

const http = (port = 8080): PodDef['ports'] => [{ name: 'http', port, protocol: 'TCP' }];

export const PODS: readonly PodDef[] = [
  pod('kube-system', 'coredns', 'Deployment', 'coredns-5d78c9869d-7xk2p', '10.244.0.10', 'coredns',
    [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }],
    { labels: { 'k8s-app': 'kube-dns' } }),
  pod('istio-system', 'istio-ingressgateway', 'Deployment', 'istio-ingressgateway-6b8f9d4c7-qm2lw', '10.244.0.11',
    'ingressgateway', [{ name: 'https', port: 8443, protocol: 'TCP' }],
    { serviceAccount: 'istio-ingressgateway-service-account', labels: { istio: 'ingressgateway' } }),
  pod('shop', 'frontend', 'Deployment', 'frontend-7c9d8b5f4-h7tqz', '10.244.0.20', 'frontend', http()),
  pod('shop', 'catalog', 'Deployment', 'catalog-66b7f8d9c5-2lwxg', '10.244.0.21', 'catalog', http()),
  pod('shop', 'catalog', 'Deployment', 'catalog-66b7f8d9c5-r8m4v', '10.244.0.22', 'catalog', http()),
  pod('shop', 'cart', 'Deployment', 'cart-5f4c6d7b8-9fjkd', '10.244.0.23', 'cart', http()),
  pod('shop', 'checkout', 'Deployment', 'checkout-84d5b9c6f-vn5sx', '10.244.0.24', 'checkout', http()),
  pod('shop', 'inventory', 'Deployment', 'inventory-6c8f7d9b4-kq2zt', '10.244.0.25', 'inventory', http()),
  pod('shop', 'orders', 'Deployment', 'orders-7b6d5c4f9-x4hpl', '10.244.0.26', 'orders',
    [{ name: 'grpc', port: 50051, protocol: 'TCP' }]),
  pod('shop', 'redis', 'StatefulSet', 'redis-0', '10.244.0.27', 'redis',
    [{ name: 'redis', port: 6379, protocol: 'TCP' }]),
  pod('payments', 'payments', 'Deployment', 'payments-59c8d7f6b-tz6wm', '10.244.0.30', 'payments',
    [{ name: 'https', port: 8443, protocol: 'TCP' }]),
  pod('monitoring', 'prometheus', 'Deployment', 'prometheus-8f7b6c5d4-bw9nq', '10.244.0.40', 'prometheus',
    [{ name: 'web', port: 9090, protocol: 'TCP' }]),
  pod('legacy', 'report-job', 'CronJob', 'report-job-29401440-m2x7c', '10.244.0.50', 'report-job', []),
  // Outside the cluster: namespaces too, but not Kubernetes objects.
  pod('', 'api.bank.example', 'External', 'bank', '203.0.113.10', 'bank',
    [{ name: 'https', port: 443, protocol: 'TCP' }]),
  pod('', 'internet-user', 'External', 'user', '198.51.100.23', 'internet-user', []),
];

export const SERVICES: readonly ServiceDef[] = [
  { namespace: 'kube-system', name: 'kube-dns', clusterIP: '10.96.0.10', selector: { 'k8s-app': 'kube-dns' },
    ports: [{ name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' }] },
  { namespace: 'istio-system', name: 'istio-ingressgateway', clusterIP: '10.96.120.15', loadBalancerIP: '192.0.2.80',
    selector: { istio: 'ingressgateway' }, ports: [{ name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }] },
  { namespace: 'shop', name: 'frontend', clusterIP: '10.96.14.20', selector: { app: 'frontend' },
    ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  { namespace: 'shop', name: 'catalog', clusterIP: '10.96.33.41', selector: { app: 'catalog' },
    ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  { namespace: 'shop', name: 'cart', clusterIP: '10.96.52.7', selector: { app: 'cart' },
    ports: [{ name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' }] },
  { namespace: 'shop', name: 'checkout', clusterIP: '10.96.61.118', selector: { app: 'checkout' },
    ports: [{ name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' }] },
  { namespace: 'shop', name: 'inventory', clusterIP: '10.96.75.3', selector: { app: 'inventory' },
    ports: [{ name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' }] },
  { namespace: 'shop', name: 'orders', clusterIP: '10.96.88.200', selector: { app: 'orders' },
    ports: [{ name: 'grpc', port: 50051, targetPort: 50051, protocol: 'TCP', appProtocol: 'grpc' }] },
  { namespace: 'shop', name: 'redis', clusterIP: '10.96.100.9', selector: { app: 'redis' },
    ports: [{ name: 'tcp-redis', port: 6379, targetPort: 6379, protocol: 'TCP' }] },
  { namespace: 'payments', name: 'payments', clusterIP: '10.96.140.66', selector: { app: 'payments' },
    ports: [{ name: 'https', port: 8443, targetPort: 8443, protocol: 'TCP' }] },
  { namespace: 'monitoring', name: 'prometheus', clusterIP: '10.96.160.2', selector: { app: 'prometheus' },
    ports: [{ name: 'web', port: 9090, targetPort: 9090, protocol: 'TCP' }] },
];

const ISTIO_HTTP = ['istio-http/1.1', 'istio'];

/** The application call graph. Probes and scrapes are generated per pod below. */
export const APP_CALLS: readonly CallDef[] = [
  { id: 'user-ingress', from: '/internet-user', to: 'istio-system/istio-ingressgateway',
    via: { kind: 'service', service: 'istio-system/istio-ingressgateway', useDns: false }, port: 8443,
    protocol: 'http', security: 'tls', tls: { version: 'TLSv1.3', sni: 'shop.example.com', alpn: ['http/1.1'] },
    endpoints: [{ method: 'GET', path: '/' }, { method: 'GET', path: '/products/{id}' },
      { method: 'POST', path: '/cart' }, { method: 'POST', path: '/checkout' }], host: 'shop.example.com' },
  { id: 'ingress-frontend', from: 'istio-system/istio-ingressgateway', to: 'shop/frontend',
    via: { kind: 'service', service: 'shop/frontend', useDns: true }, port: 8080,
    protocol: 'http', security: 'mtls',
    tls: { version: 'TLSv1.3', sni: istioSni('frontend', 'shop', 80), alpn: ['istio-peer-exchange', ...ISTIO_HTTP] },
    endpoints: [{ method: 'GET', path: '/' }, { method: 'GET', path: '/products/{id}' },
      { method: 'POST', path: '/cart' }, { method: 'POST', path: '/checkout' }], host: 'shop.example.com' },
  { id: 'frontend-catalog', from: 'shop/frontend', to: 'shop/catalog',
    via: { kind: 'service', service: 'shop/catalog', useDns: true }, port: 8080,
    protocol: 'http', security: 'mtls',
    tls: { version: 'TLSv1.2', sni: istioSni('catalog', 'shop', 80), alpn: ISTIO_HTTP },
    endpoints: [{ method: 'GET', path: '/api/products' }, { method: 'GET', path: '/api/products/{id}' }],
    host: svcHost('catalog', 'shop', 80) },
  { id: 'frontend-cart', from: 'shop/frontend', to: 'shop/cart',
    via: { kind: 'service', service: 'shop/cart', useDns: true }, port: 8080, protocol: 'http', security: 'plaintext',
    endpoints: [{ method: 'POST', path: '/api/cart/{id}/items' }], host: svcHost('cart', 'shop', 8080) },
  { id: 'frontend-checkout', from: 'shop/frontend', to: 'shop/checkout',
    via: { kind: 'service', service: 'shop/checkout', useDns: true }, port: 8080, protocol: 'http', security: 'mtls',
    tls: { version: 'TLSv1.3', sni: istioSni('checkout', 'shop', 8080), alpn: ['istio-h2', ...ISTIO_HTTP] },
    endpoints: [{ method: 'POST', path: '/api/checkout' }], host: svcHost('checkout', 'shop', 8080) },
  { id: 'checkout-inventory', from: 'shop/checkout', to: 'shop/inventory',
    via: { kind: 'service', service: 'shop/inventory', useDns: true }, port: 8080, protocol: 'http',
    security: 'plaintext', endpoints: [{ method: 'POST', path: '/api/inventory/reserve' }],
    host: svcHost('inventory', 'shop', 8080) },
  { id: 'checkout-payments', from: 'shop/checkout', to: 'payments/payments',
    via: { kind: 'service', service: 'payments/payments', useDns: true }, port: 8443, protocol: 'http',
    security: 'mtls', tls: { version: 'TLSv1.2', sni: istioSni('payments', 'payments', 8443), alpn: ISTIO_HTTP },
    endpoints: [{ method: 'POST', path: '/v1/charges' }], host: svcHost('payments', 'payments', 8443) },
  { id: 'checkout-orders', from: 'shop/checkout', to: 'shop/orders',
    via: { kind: 'service', service: 'shop/orders', useDns: true }, port: 50051, protocol: 'grpc',
    security: 'plaintext', endpoints: [{ method: 'POST', path: '/orders.OrderService/CreateOrder' }],
    host: svcHost('orders', 'shop', 50051) },
  { id: 'cart-redis', from: 'shop/cart', to: 'shop/redis',
    via: { kind: 'service', service: 'shop/redis', useDns: true }, port: 6379, protocol: 'tcp',
    security: 'plaintext', host: null },
  { id: 'payments-bank', from: 'payments/payments', to: '/api.bank.example',
    via: { kind: 'pod-ip' }, port: 443, protocol: 'http', security: 'tls',
    tls: { version: 'TLSv1.3', sni: 'api.bank.example', alpn: ['http/1.1'] },
    endpoints: [{ method: 'POST', path: '/v2/payment_intents' }], host: 'api.bank.example' },
  { id: 'report-job-catalog', from: 'legacy/report-job', to: 'shop/catalog',
    via: { kind: 'pod-ip' }, port: 8080, protocol: 'http', security: 'plaintext',
    endpoints: [{ method: 'GET', path: '/api/products' }], host: '10.244.0.21:8080' },
];

/** Workloads with an Istio sidecar (they serve and dial mutual TLS); the rest were never injected. */
export const SIDECAR_WORKLOADS: readonly string[] = [
  'istio-system/istio-ingressgateway', 'shop/frontend', 'shop/catalog', 'shop/checkout', 'payments/payments',
];
export const ISTIO_INJECTED_NAMESPACES: readonly string[] = ['shop', 'payments'];

/** Pods that resolve names through kube-dns (everyone with a DNS-addressed call). */
export const DNS_CALL_ID = 'dns';
export const PROBE_CALL_ID = 'kubelet-probe';
export const SCRAPE_CALL_ID = 'prometheus-scrape';

/** The pod the report-job dials by hard-coded IP (a stale copy of an old pod list). */
export const REPORT_JOB_TARGET_IP = '10.244.0.21';
export const REPORT_JOB_TOKEN = 'Bearer tm-demo-0f1e2d3c4b5a69788796a5b4c3d2e1f0';

export const podKey = (p: { namespace: string; workload: string }): string => `${p.namespace}/${p.workload}`;
export const spiffeId = (p: PodDef): string => `spiffe://${TRUST_DOMAIN}/ns/${p.namespace}/sa/${p.serviceAccount}`;
export const serviceFqdn = (s: ServiceDef): string => `${s.name}.${s.namespace}.svc.${CLUSTER_DOMAIN}`;

/** The certificate file name of a pod's workload identity (one per service account). */
export const workloadCertName = (p: PodDef): string => `${p.namespace || 'ext'}.${p.serviceAccount}`;

export const podsOf = (key: string): PodDef[] => PODS.filter((p) => podKey(p) === key);
export const onePod = (key: string): PodDef => {
  const found = podsOf(key)[0];
  if (!found) throw new Error(`no pod for ${key}`);
  return found;
};
export const serviceByKey = (key: string): ServiceDef => {
  const found = SERVICES.find((s) => `${s.namespace}/${s.name}` === key);
  if (!found) throw new Error(`no service ${key}`);
  return found;
};

/** Index of a pod in PODS; names its netns and veth (Linux caps interface names at 15 bytes). */
export const netnsName = (p: PodDef): string => `${PREFIX}${p.namespace || 'ext'}-${p.name}`.slice(0, 60);
export const vethName = (p: PodDef): string => `${PREFIX}v${PODS.indexOf(p)}`;

/** A service's endpoints: the pods its selector matches. */
export const endpointsOf = (s: ServiceDef): PodDef[] =>
  PODS.filter((p) => p.isInCluster && p.namespace === s.namespace &&
    Object.entries(s.selector).every(([k, v]) => p.labels[k] === v));

/** DNS names a client may use for a Service, per the pod's search path (ndots 5). */
export const dnsAnswerFor = (qname: string, clientNamespace: string): string | null => {
  const name = qname.toLowerCase().replace(/\.$/, '');
  if (name === 'api.bank.example') return onePod('/api.bank.example').ip;
  for (const s of SERVICES) {
    const forms = [serviceFqdn(s), `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`];
    if (s.namespace === clientNamespace) forms.push(s.name);
    if (forms.includes(name)) return s.clusterIP;
  }
  return null;
};
