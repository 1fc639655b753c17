// A synthetic trustmap store for the analyzer benchmark (issue 6): a cluster of W workloads in N
// namespaces and exactly R aggregated call rows spread over D days, written through the store's
// own write paths (inventory JSON through loadInventoryBytes, DNS answers through
// recordDnsAnswers, calls through CallWriter inside an IngestTransaction), so the analyzer reads
// what an ingest would have left. Same shape and seed, same store (seeded mulberry32).
//
// The cluster: kube-system/coredns (the DNS Deployment, behind kube-dns 10.96.0.10:53),
// monitoring/prometheus, istio-system/istio-ingressgateway, and team namespaces of Deployments,
// StatefulSets and CronJobs (which never run in the window). Most namespaces are meshed (Istio
// sidecar label on their pods), a few workloads opt out. Every running workload serves HTTP,
// gRPC, Postgres or opaque TLS behind a Service with an EndpointSlice.
//
// The calls: app → app (mostly within the namespace, via the Service, a few by pod IP), mTLS
// between meshed pods as Envoy's inbound log sees it (method and path) and, for some edges, as the
// wire sees it (TLS with Istio's ALPN); plaintext HTTP with paths from unmeshed callers, some with
// credentials; kubelet probes from each pod's node; Prometheus scrapes; DNS from every pod; TLS to
// external hosts named by recorded DNS answers, and one unnamed public address; the ingress
// gateway taking outside clients. Every call shape gets at least one hour bucket; the remaining
// rows go to the shapes by weight (probes and DNS are periodic, so they fill most hours).
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { AggRow } from '../../collector/aggregate.js';
import { loadInventoryBytes } from '../../collector/inventory/load.js';
import type { CallKey, CallSource, Protocol, Security } from '../../collector/model.js';
import { CallWriter } from '../../collector/store/calls.js';
import { IngestTransaction } from '../../collector/store/captures.js';
import { openStore } from '../../collector/store/db.js';
import { recordDnsAnswers, type DnsAnswer } from '../../collector/store/inventory.js';
import { mulberry32 } from './synth-capture.js';

/** Bump when the generator's output changes: cached stores of older versions are remade. */
export const STORE_GENERATOR_VERSION = 2;

export interface StoreShape {
  workloads: number;
  namespaces: number;
  rows: number;
  days: number;
  seed: number;
}

/** Issue 6's benchmark store. */
export const ISSUE_6_SHAPE: StoreShape = { workloads: 5000, namespaces: 200, rows: 100_000, days: 7, seed: 1 };

/** What the generator made, counted as it wrote (the unit test checks the store against it). */
export interface StoreTruth {
  generatorVersion: number;
  shape: StoreShape;
  /** Top-level controllers (Deployments, StatefulSets, CronJobs): what readiness lists. */
  workloads: number;
  /** Workloads with running pods. */
  runningWorkloads: number;
  namespaces: number;
  pods: number;
  services: number;
  nodes: number;
  rows: number;
  /** Distinct call keys ignoring the hour bucket. */
  callShapes: number;
  rowsBySource: Record<CallSource, number>;
  rowsByProtocol: Partial<Record<Protocol, number>>;
  rowsBySecurity: Record<Security, number>;
  /** Sum of `count` over all rows. */
  totalCount: number;
  firstSeenMs: number;
  lastSeenMs: number;
  externalHosts: string[];
  /** Pod, node and Service addresses used in calls: every one is in the inventory. */
  clusterAddresses: number;
}

const HOUR_MS = 3_600_000;
/** A Monday: the window starts on a day boundary, like a week of capture would. */
const START_MS = Date.parse('2026-01-05T00:00:00Z');
const PODS_PER_NODE = 100;
const KUBE_DNS_IP = '10.96.0.10';

const EXTERNALS: Array<[string, string[]]> = [
  ['api.stripe.com', ['54.187.174.169', '54.187.205.235']],
  ['hooks.slack.com', ['34.226.36.50']],
  ['api.github.com', ['140.82.112.6', '140.82.113.6']],
  ['storage.googleapis.com', ['142.250.74.59']],
  ['sqs.eu-west-1.amazonaws.com', ['52.94.18.82']],
  ['login.microsoftonline.com', ['20.190.160.20', '40.126.32.68']],
];
/** A public address nobody resolved (a hard-coded IP): an external node named by its address. */
const UNNAMED_EXTERNAL = '93.184.215.14';
const OUTSIDE_CLIENTS = ['81.2.69.142', '89.160.20.112', '175.16.199.7', '2.125.160.216'];

const RESOURCES = ['orders', 'users', 'carts', 'items', 'payments', 'invoices', 'sessions', 'products', 'reviews', 'shipments', 'accounts', 'events'];
const VERBS = ['Get', 'List', 'Create', 'Update', 'Delete', 'Watch'];

type Serves = 'http' | 'grpc' | 'postgres' | 'tls' | 'dns';

interface Pod { name: string; ip: string; node: number }

interface Workload {
  namespace: string;
  name: string;
  kind: 'Deployment' | 'StatefulSet' | 'CronJob';
  serviceAccount: string;
  isMeshed: boolean;
  serves: Serves;
  port: number;
  pods: Pod[];
  /** Its Service's ClusterIP ('' when it has none). */
  clusterIp: string;
  servicePort: number;
  /** HTTP or gRPC operations it answers: [method, path]. */
  ops: Array<[string, string]>;
  labels: Record<string, string>;
}

/** A call key without its hour bucket, and how much of the row budget it should get. */
interface Shape {
  key: Omit<CallKey, 'bucketMs'>;
  keyString: string;
  weight: number;
  /** Typical requests per hour. */
  perHour: number;
  credentials: boolean;
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) { this.next = mulberry32(seed); }
  float(): number { return this.next(); }
  int(n: number): number { return Math.floor(this.next() * n); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  /** Log-uniform in [lo, hi]: call volumes span orders of magnitude. */
  logUniform(lo: number, hi: number): number { return Math.round(Math.exp(Math.log(lo) + this.next() * (Math.log(hi) - Math.log(lo)))); }
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** The cluster: namespaces, workloads and their pods on nodes. Deterministic for the seed. */
function planCluster(shape: StoreShape, r: Rng): { workloads: Workload[]; meshedNs: Set<string>; namespaces: string[] } {
  if (shape.namespaces < 4) throw new Error('a synthetic store needs at least 4 namespaces (3 are infrastructure)');
  if (shape.workloads < shape.namespaces) throw new Error('a synthetic store needs at least one workload per namespace');
  const namespaces = ['kube-system', 'monitoring', 'istio-system'];
  for (let i = 0; namespaces.length < shape.namespaces; i++) namespaces.push(`team-${pad(i, 3)}`);
  const meshedNs = new Set(namespaces.filter((ns, i) => ns === 'istio-system' || (i >= 3 && r.chance(0.85))));
  const workloads: Workload[] = [];
  const infra = (namespace: string, name: string, serves: Serves, port: number, replicas: number, labels: Record<string, string>) =>
    workloads.push({ namespace, name, kind: 'Deployment', serviceAccount: name, isMeshed: meshedNs.has(namespace), serves, port, pods: new Array(replicas), clusterIp: '', servicePort: port, ops: [], labels });
  infra('kube-system', 'coredns', 'dns', 53, 2, { 'k8s-app': 'kube-dns' });
  infra('monitoring', 'prometheus', 'http', 9090, 1, { app: 'prometheus', 'app.kubernetes.io/name': 'prometheus' });
  infra('istio-system', 'istio-ingressgateway', 'http', 8080, 2, { app: 'istio-ingressgateway', istio: 'ingressgateway' });
  const teamNs = namespaces.slice(3);
  const apps = shape.workloads - workloads.length;
  for (let i = 0; i < apps; i++) {
    // Round robin: namespaces get the same number of workloads give or take one.
    const namespace = teamNs[i % teamNs.length];
    const idx = Math.floor(i / teamNs.length);
    const roll = r.float();
    const kind = roll < 0.85 ? 'Deployment' : roll < 0.95 ? 'StatefulSet' : 'CronJob';
    const sroll = r.float();
    const serves: Serves = kind === 'StatefulSet' ? 'postgres' : sroll < 0.6 ? 'http' : sroll < 0.85 ? 'grpc' : 'tls';
    const port = serves === 'http' ? 8080 : serves === 'grpc' ? 50051 : serves === 'postgres' ? 5432 : 8443;
    const name = `${kind === 'StatefulSet' ? 'db' : kind === 'CronJob' ? 'job' : 'svc'}-${pad(idx, 3)}`;
    const replicas = kind === 'CronJob' ? 0 : r.chance(0.7) ? 1 : r.chance(0.67) ? 2 : 3;
    const ops: Array<[string, string]> = [];
    if (serves === 'http') {
      for (let k = 0, n = 2 + r.int(5); k < n; k++) {
        const res = r.pick(RESOURCES);
        const form = r.int(3);
        const method = form === 0 ? r.pick(['GET', 'POST']) : r.pick(['GET', 'GET', 'PUT', 'DELETE']);
        ops.push([method, form === 0 ? `/api/v1/${res}` : form === 1 ? `/api/v1/${res}/{id}` : `/api/v1/${res}/{id}/${r.pick(RESOURCES)}`]);
      }
    } else if (serves === 'grpc') {
      const svc = `${namespace.replace(/-/g, '')}.${r.pick(RESOURCES)}.v1.${name.replace(/-/g, '')}`;
      for (let k = 0, n = 2 + r.int(4); k < n; k++) ops.push(['POST', `/${svc}/${r.pick(VERBS)}${r.pick(RESOURCES)}`]);
    }
    const isMeshed = meshedNs.has(namespace) && !r.chance(0.05);
    const labels: Record<string, string> = { app: name, 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': namespace, version: 'v1' };
    workloads.push({
      namespace, name, kind, serviceAccount: r.chance(0.1) ? 'default' : name, isMeshed, serves, port, pods: new Array(replicas),
      clusterIp: '', servicePort: port === 8080 ? 80 : port === 8443 ? 443 : port, ops: dedupe(ops), labels,
    });
  }
  // Pods onto nodes round robin, each node a /24 of 10.244.0.0/16 (Kubernetes' default pod CIDR split).
  const podCount = workloads.reduce((n, w) => n + w.pods.length, 0);
  const nodes = Math.ceil(podCount / PODS_PER_NODE);
  if (nodes > 250) throw new Error(`too many pods for the address plan (${podCount}, at most ${250 * PODS_PER_NODE})`);
  let j = 0, svcIndex = 0;
  for (const w of workloads) {
    for (let k = 0; k < w.pods.length; k++, j++) {
      const node = j % nodes;
      const name = w.kind === 'StatefulSet' ? `${w.name}-${k}` : `${w.name}-${hashOf(w)}-${podSuffix(r)}`;
      w.pods[k] = { name, ip: `10.244.${node}.${2 + Math.floor(j / nodes)}`, node };
    }
    if (w.pods.length === 0) continue;
    w.clusterIp = w.name === 'coredns' ? KUBE_DNS_IP : `10.96.${1 + Math.floor(svcIndex / 250)}.${(svcIndex % 250) + 1}`;
    svcIndex++;
  }
  return { workloads, meshedNs, namespaces };
}

const dedupe = (ops: Array<[string, string]>) => [...new Map(ops.map((o) => [o.join(' '), o])).values()];
/** The pod-template-hash of a Deployment's ReplicaSet: derived from its name, as stable as Kubernetes'. */
const hashOf = (w: Workload): string =>
  [...`${w.namespace}/${w.name}`].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7).toString(36).padStart(9, 'x');
const podSuffix = (r: Rng) => Array.from({ length: 5 }, () => 'bcdfghjklmnpqrstvwxz2456789'[r.int(27)]).join('');
const nodeName = (i: number) => `node-${pad(i, 3)}`;
const nodeIp = (i: number) => `192.168.${Math.floor(i / 200)}.${10 + (i % 200)}`;

/** The inventory as `kubectl get ns,nodes,deploy,rs,sts,cronjobs,pods,svc,endpointslices -o json` prints it. */
function inventoryJson(workloads: Workload[], namespaces: string[], meshedNs: Set<string>): unknown {
  const created = new Date(START_MS - 30 * 864e5).toISOString();
  const nodeCount = 1 + Math.max(...workloads.flatMap((w) => w.pods.map((p) => p.node)));
  const items: unknown[] = [];
  for (const ns of namespaces) {
    items.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, uid: `ns-${ns}`, creationTimestamp: created,
      labels: { 'kubernetes.io/metadata.name': ns, ...(meshedNs.has(ns) ? { 'istio-injection': 'enabled' } : {}) } } });
  }
  for (let i = 0; i < nodeCount; i++) {
    items.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName(i), uid: `node-${i}`, creationTimestamp: created, labels: { 'kubernetes.io/hostname': nodeName(i) } },
      spec: { podCIDR: `10.244.${i}.0/24`, podCIDRs: [`10.244.${i}.0/24`] },
      status: { addresses: [{ type: 'InternalIP', address: nodeIp(i) }, { type: 'Hostname', address: nodeName(i) }] } });
  }
  for (const w of workloads) {
    const meta = (name: string, extra: object = {}) => ({ name, namespace: w.namespace, uid: `${w.namespace}-${name}`, creationTimestamp: created, ...extra });
    const podLabels = { ...w.labels, ...(w.isMeshed ? { 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': w.name } : {}) };
    const template = { metadata: { labels: podLabels }, spec: { serviceAccountName: w.serviceAccount, containers: [{ name: 'app', image: `registry.example/${w.name}:1` }] } };
    let owner: { kind: string; name: string } | null = null;
    if (w.kind === 'Deployment') {
      const rs = `${w.name}-${hashOf(w)}`;
      items.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(w.name, { labels: w.labels }), spec: { replicas: w.pods.length, template } });
      items.push({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: meta(rs, { labels: { ...w.labels, 'pod-template-hash': hashOf(w) },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: w.name, uid: `${w.namespace}-${w.name}`, controller: true }] }), spec: { template } });
      owner = { kind: 'ReplicaSet', name: rs };
    } else if (w.kind === 'StatefulSet') {
      items.push({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: meta(w.name, { labels: w.labels }), spec: { replicas: w.pods.length, template } });
      owner = { kind: 'StatefulSet', name: w.name };
    } else {
      items.push({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: meta(w.name, { labels: w.labels }), spec: { schedule: '17 3 1 * *', jobTemplate: { spec: { template } } } });
    }
    for (const p of w.pods) {
      items.push({
        apiVersion: 'v1', kind: 'Pod',
        metadata: meta(p.name, { labels: { ...podLabels, ...(w.kind === 'Deployment' ? { 'pod-template-hash': hashOf(w) } : {}) },
          ownerReferences: owner === null ? [] : [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: `${w.namespace}-${owner.name}`, controller: true }] }),
        spec: { nodeName: nodeName(p.node), serviceAccountName: w.serviceAccount, containers: template.spec.containers },
        status: { phase: 'Running', podIP: p.ip, podIPs: [{ ip: p.ip }], startTime: created },
      });
    }
    if (w.clusterIp === '') continue;
    const isDns = w.name === 'coredns';
    const ports = isDns
      ? [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 }]
      : [{ name: w.serves === 'grpc' ? 'grpc' : w.serves === 'postgres' ? 'tcp-postgres' : w.serves === 'tls' ? 'https' : 'http', port: w.servicePort, protocol: 'TCP', targetPort: w.port }];
    const svcName = isDns ? 'kube-dns' : w.name;
    items.push({ apiVersion: 'v1', kind: 'Service', metadata: meta(svcName, { labels: w.labels }),
      spec: { type: w.name === 'istio-ingressgateway' ? 'LoadBalancer' : 'ClusterIP', clusterIP: w.clusterIp, clusterIPs: [w.clusterIp], ports, selector: isDns ? { 'k8s-app': 'kube-dns' } : { app: w.name } },
      ...(w.name === 'istio-ingressgateway' ? { status: { loadBalancer: { ingress: [{ ip: '34.90.10.20' }] } } } : {}) });
    items.push({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
      metadata: meta(`${svcName}-abcde`, { labels: { 'kubernetes.io/service-name': svcName } }),
      endpoints: w.pods.map((p) => ({ addresses: [p.ip], conditions: { ready: true }, targetRef: { kind: 'Pod', name: p.name, namespace: w.namespace } })),
      ports: ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol })) });
  }
  return { apiVersion: 'v1', kind: 'List', items };
}

/** Every call shape the cluster makes over the window, with its weight in the row budget. */
function planShapes(workloads: Workload[], r: Rng): { shapes: Shape[]; dns: DnsAnswer[] } {
  const shapes: Shape[] = [];
  const running = workloads.filter((w) => w.pods.length > 0);
  const byNs = new Map<string, Workload[]>();
  for (const w of running) if (w.namespace.startsWith('team-')) byNs.set(w.namespace, [...(byNs.get(w.namespace) ?? []), w]);
  const teamApps = [...byNs.values()].flat();
  const coredns = running.find((w) => w.name === 'coredns')!;
  const prometheus = running.find((w) => w.name === 'prometheus')!;
  const gateway = running.find((w) => w.name === 'istio-ingressgateway')!;
  const base = (source: CallSource, node: number, srcIp: string, dstIp: string, dstPort: number): Omit<CallKey, 'bucketMs'> => ({
    source, node: nodeName(node), srcIp, dstIp, serviceIp: '', dstPort, transport: 'tcp', protocol: 'tcp', method: '', path: '', host: '', sni: '',
    alpn: '', security: 'plaintext', securityReason: '', direction: 'observed',
  });
  // One shape per key: a caller that picks the same callee twice adds to the shape it has.
  const byKey = new Map<string, Shape>();
  const add = (key: Omit<CallKey, 'bucketMs'>, weight: number, perHour: number, credentials = false) => {
    const k = JSON.stringify(key);
    const seen = byKey.get(k);
    if (seen !== undefined) { seen.weight += weight; seen.perHour += perHour; return; }
    const s: Shape = { key, keyString: k, weight, perHour, credentials };
    byKey.set(k, s);
    shapes.push(s);
  };

  // An app call from pod `from` of `caller` to pod `to` of `callee`.
  const appCall = (caller: Workload, from: Pod, callee: Workload, to: Pod, isByPodIp: boolean, weight: number) => {
    const svcHost = `${callee.name}.${callee.namespace}.svc.cluster.local`;
    const offered: Array<[string, string]> = callee.ops.length === 0 ? [['', '']] : callee.ops;
    const ops = offered.filter(() => r.chance(0.5));
    if (ops.length === 0) ops.push(offered[0]);
    const perHour = r.logUniform(2, 5000);
    const isMtls = caller.isMeshed && callee.isMeshed;
    const protocol: Protocol = callee.serves === 'http' ? 'http' : callee.serves === 'grpc' ? 'grpc' : callee.serves === 'tls' ? 'tls' : 'tcp';
    if (isMtls) {
      // Envoy's inbound log: method and path of every request, the caller's certificate.
      for (const [method, path] of ops) {
        add({ ...base('envoy', to.node, from.ip, to.ip, callee.port), protocol: callee.serves === 'http' ? 'http' : callee.serves === 'grpc' ? 'grpc' : 'tcp',
          method, path, host: method === '' ? '' : svcHost, security: 'mtls', securityReason: `inbound: client certificate spiffe://cluster.local/ns/${caller.namespace}/sa/${caller.serviceAccount}` },
        weight, perHour);
      }
      // The same connections on the wire, where the node is captured too: TLS with Istio's ALPN.
      if (r.chance(0.3)) {
        add({ ...base('pcap', from.node, from.ip, to.ip, callee.port), serviceIp: isByPodIp ? '' : callee.clusterIp, protocol: 'tls',
          sni: `outbound_.${callee.servicePort}_._.${svcHost}`, alpn: 'istio-peer-exchange,istio', security: 'mtls', securityReason: 'istio mtls alpn' },
        weight, Math.max(1, Math.round(perHour / 50)));
      }
      return;
    }
    const k = { ...base('pcap', from.node, from.ip, to.ip, callee.port), serviceIp: isByPodIp ? '' : callee.clusterIp };
    if (protocol === 'tls') {
      add({ ...k, protocol, sni: svcHost, alpn: 'h2,http/1.1', security: 'tls', securityReason: 'tls1.3, no client cert visible' }, weight, perHour);
      return;
    }
    if (protocol === 'tcp') {
      add({ ...k, protocol, security: 'plaintext', securityReason: 'no payload classified' }, weight, perHour);
      return;
    }
    const hasCredentials = r.chance(0.03);
    for (const [method, path] of ops) {
      add({ ...k, protocol, method, path, host: `${callee.name}.${callee.namespace}`, security: 'plaintext' }, weight, perHour, hasCredentials);
    }
  };

  for (const caller of teamApps) {
    const peers = byNs.get(caller.namespace)!;
    for (let k = 0, n = 1 + r.int(4); k < n; k++) {
      const callee = r.chance(0.75) && peers.length > 1 ? r.pick(peers) : r.pick(teamApps);
      if (callee === caller) continue;
      const isByPodIp = r.chance(0.05);
      const weight = r.logUniform(1, 40);
      const pairs = r.chance(0.3) ? 2 : 1;
      for (let p = 0; p < pairs; p++) appCall(caller, r.pick(caller.pods), callee, r.pick(callee.pods), isByPodIp, weight);
    }
  }
  // The ingress gateway: clients outside the cluster in, frontends of some namespaces out.
  for (const gw of gateway.pods) {
    for (const client of OUTSIDE_CLIENTS) {
      add({ ...base('pcap', gw.node, client, gw.ip, gateway.port), serviceIp: '34.90.10.20', protocol: 'tls', sni: 'shop.example.com', alpn: 'h2,http/1.1',
        security: 'tls', securityReason: 'tls1.3, no client cert visible' }, 60, 800);
    }
  }
  for (const [, apps] of [...byNs].filter((_, i) => i % 10 === 0)) {
    const front = apps.find((w) => w.serves === 'http');
    if (front !== undefined) appCall(gateway, r.pick(gateway.pods), front, r.pick(front.pods), false, 80);
  }
  // External hosts: the DNS answers that name them, then TLS with their SNI.
  const dns: DnsAnswer[] = [];
  for (const [name, ips] of EXTERNALS) for (const ip of ips) dns.push({ ip, name, tsMs: START_MS + 3600e3 }, { ip, name, tsMs: START_MS + 160 * 3600e3 });
  for (const caller of teamApps) {
    if (!r.chance(0.08)) continue;
    const [host, ips] = r.pick(EXTERNALS);
    add({ ...base('pcap', caller.pods[0].node, caller.pods[0].ip, r.pick(ips), 443), protocol: 'tls', sni: host, alpn: 'h2,http/1.1', security: 'tls',
      securityReason: 'tls1.3, no client cert visible' }, r.logUniform(1, 20), r.logUniform(1, 300));
  }
  const legacy = teamApps[r.int(teamApps.length)];
  add({ ...base('pcap', legacy.pods[0].node, legacy.pods[0].ip, UNNAMED_EXTERNAL, 80), protocol: 'http', method: 'POST', path: '/v2/report', host: UNNAMED_EXTERNAL }, 5, 4);

  // Infrastructure, per pod: DNS through kube-dns, kubelet probes from the pod's node, scrapes.
  for (const w of running) {
    const scraped = w !== prometheus && r.chance(0.6);
    for (const p of w.pods) {
      if (w !== coredns) {
        const server = r.pick(coredns.pods);
        add({ ...base('pcap', p.node, p.ip, server.ip, 53), serviceIp: KUBE_DNS_IP, transport: 'udp', protocol: 'dns', host: `${w.name}.${w.namespace}.svc.cluster.local`,
          security: 'plaintext' }, 30, r.logUniform(20, 2000));
      }
      const probePort = w.isMeshed ? 15020 : w.serves === 'tls' || w.serves === 'dns' ? 8080 : w.port;
      const probe = (path: string) => (w.isMeshed ? `/app-health/app/${path}` : `/${path}`);
      if (w.serves === 'postgres' && !w.isMeshed) {
        add({ ...base('pcap', p.node, nodeIp(p.node), p.ip, w.port), securityReason: 'no payload classified' }, 40, 360);
      } else {
        for (const path of ['livez', 'readyz']) add({ ...base('pcap', p.node, nodeIp(p.node), p.ip, probePort), protocol: 'http', method: 'GET', path: probe(path), host: `${p.ip}:${probePort}` }, 40, 360);
      }
      if (scraped) {
        const port = w.isMeshed ? 15020 : 9102;
        const path = w.isMeshed ? '/stats/prometheus' : '/metrics';
        add({ ...base('pcap', p.node, prometheus.pods[0].ip, p.ip, port), protocol: 'http', method: 'GET', path, host: `${p.ip}:${port}` }, 30, 120);
      }
    }
  }
  return { shapes, dns };
}

/**
 * How many hour buckets each shape gets: every hour for `anchor`, one for the others, then the rest of the budget by weight (at
 * most every hour of the window), the remainder handed out one by one in a seeded order.
 */
function allocate(shapes: Shape[], rows: number, hours: number, anchor: number, r: Rng): number[] {
  if (shapes.length - 1 + hours > rows) throw new Error(`${shapes.length} call shapes do not fit in ${rows} rows: ask for more rows or fewer workloads`);
  if (shapes.length * hours < rows) throw new Error(`${rows} rows do not fit in ${shapes.length} shapes × ${hours} hours: ask for fewer rows or more workloads`);
  const n = shapes.map((_, i) => (i === anchor ? hours : 1));
  let left = rows - shapes.length - (hours - 1);
  const total = shapes.reduce((s, x, i) => (i === anchor ? s : s + x.weight), 0);
  const extra = left;
  for (let i = 0; i < shapes.length; i++) {
    if (i === anchor) continue;
    const give = Math.min(hours - 1, Math.floor((extra * shapes[i].weight) / total));
    n[i] += give;
    left -= give;
  }
  const order = shapes.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) { const j = r.int(i + 1); [order[i], order[j]] = [order[j], order[i]]; }
  while (left > 0) {
    for (const i of order) {
      if (left === 0) break;
      if (n[i] < hours) { n[i]++; left--; }
    }
  }
  return n;
}

/** Writes the store to `file` (which must not exist) and returns what it holds. */
export function synthStore(file: string, shape: StoreShape): StoreTruth {
  const r = new Rng(shape.seed);
  const hours = Math.round(shape.days * 24);
  const { workloads, meshedNs, namespaces } = planCluster(shape, r);
  const { shapes, dns } = planShapes(workloads, r);
  // The first probe is in every hour: the window spans all `days`, as a week-long capture would.
  const anchor = shapes.findIndex((s) => s.key.path.endsWith('livez'));
  const buckets = allocate(shapes, shape.rows, hours, anchor, r);

  const truth: StoreTruth = {
    generatorVersion: STORE_GENERATOR_VERSION, shape, workloads: workloads.length, runningWorkloads: workloads.filter((w) => w.pods.length > 0).length,
    namespaces: namespaces.length, pods: 0, services: 0, nodes: 0, rows: 0, callShapes: shapes.length,
    rowsBySource: { pcap: 0, envoy: 0, hubble: 0 }, rowsByProtocol: {}, rowsBySecurity: { plaintext: 0, tls: 0, mtls: 0, unknown: 0 },
    totalCount: 0, firstSeenMs: Infinity, lastSeenMs: -Infinity, externalHosts: EXTERNALS.map(([h]) => h).sort(), clusterAddresses: 0,
  };
  const db = openStore(file);
  try {
    const inv = loadInventoryBytes(db, 'synthetic-inventory.json', Buffer.from(JSON.stringify(inventoryJson(workloads, namespaces, meshedNs))),
      { atMs: START_MS - 1800e3, force: true });
    if (inv.status !== 'loaded') throw new Error(`synthetic inventory not loaded: ${inv.status === 'error' ? inv.message : inv.status}`);
    truth.pods = inv.pods;
    truth.services = inv.services;
    truth.nodes = 1 + Math.max(...workloads.flatMap((w) => w.pods.map((p) => p.node)));
    recordDnsAnswers(db, dns);

    const cluster = new Set<string>();
    for (const w of workloads) { for (const p of w.pods) cluster.add(p.ip); if (w.clusterIp !== '') cluster.add(w.clusterIp); }
    for (let i = 0; i < truth.nodes; i++) cluster.add(nodeIp(i));
    const used = new Set<string>();
    const writer = new CallWriter(db);
    const tx = new IngestTransaction(db);
    tx.begin();
    try {
      let batch: AggRow[] = [];
      for (let i = 0; i < shapes.length; i++) {
        const s = shapes[i];
        const b = buckets[i];
        const offset = r.float() * (hours / b);
        for (let k = 0; k < b; k++) {
          // Evenly spread over the window from a seeded offset: distinct hours since the step is >= 1.
          const hour = Math.floor(offset + (k * hours) / b) % hours;
          const bucketMs = START_MS + hour * HOUR_MS;
          const key: CallKey = { ...s.key, bucketMs };
          const row = new AggRow(key, `${s.keyString}|${bucketMs}`);
          row.count = Math.max(1, Math.round(s.perHour * (0.5 + r.float())));
          row.connections = s.key.protocol === 'http' || s.key.protocol === 'grpc' ? Math.max(1, Math.round(row.count / 20)) : row.count;
          row.bytes = row.count * (200 + r.int(3000));
          row.credentialsInPlaintext = s.credentials ? 1 : 0;
          if (s.key.protocol === 'http' || s.key.protocol === 'grpc') row.status2xx = row.count;
          // The anchor probe fills its hours, so first to last seen is the whole window (readiness
          // compares that span with --min-window 7d); other rows start and end inside their hour.
          if (i === anchor) row.seen(bucketMs, bucketMs + HOUR_MS);
          else row.seen(bucketMs + r.float() * 600e3, bucketMs + 3000e3 + r.float() * 599e3);
          batch.push(row);
          truth.rows++;
          truth.rowsBySource[key.source]++;
          truth.rowsByProtocol[key.protocol] = (truth.rowsByProtocol[key.protocol] ?? 0) + 1;
          truth.rowsBySecurity[key.security]++;
          truth.totalCount += row.count;
          truth.firstSeenMs = Math.min(truth.firstSeenMs, row.firstSeenMs);
          truth.lastSeenMs = Math.max(truth.lastSeenMs, row.lastSeenMs);
          for (const ip of [key.srcIp, key.dstIp, key.serviceIp]) if (cluster.has(ip)) used.add(ip);
        }
        if (batch.length >= 10_000) { writer.write(batch); batch = []; }
      }
      writer.write(batch);
      tx.commit();
    } catch (err) {
      tx.rollback();
      throw err;
    }
    truth.clusterAddresses = used.size;
  } finally {
    db.close();
  }
  return truth;
}

export const storeTruthPath = (file: string): string => `${file}.truth.json`;

/**
 * The store for `shape` in `dir`, generated once and reused while the generator is unchanged
 * (the file name carries the parameters and the generator version; the truth file is written last,
 * so an interrupted generation is never reused).
 */
export function cachedStore(dir: string, shape: StoreShape): { file: string; truth: StoreTruth; isReused: boolean } {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `analyzer-v${STORE_GENERATOR_VERSION}-w${shape.workloads}-ns${shape.namespaces}-r${shape.rows}-d${shape.days}-seed${shape.seed}.db`);
  const truthFile = storeTruthPath(file);
  if (existsSync(file) && existsSync(truthFile) && statSync(file).size > 0) {
    const truth = JSON.parse(readFileSync(truthFile, 'utf8')) as StoreTruth;
    if (truth.generatorVersion === STORE_GENERATOR_VERSION) return { file, truth, isReused: true };
  }
  const tmp = `${file}.tmp`;
  for (const f of [file, truthFile, tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  const truth = synthStore(tmp, shape);
  renameSync(tmp, file);
  writeFileSync(truthFile, JSON.stringify(truth, null, 2) + '\n');
  return { file, truth, isReused: false };
}
