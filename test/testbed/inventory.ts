// inventory.json: the testbed as `kubectl get namespaces,nodes,serviceaccounts,deployments,
// replicasets,statefulsets,cronjobs,jobs,pods,services,endpointslices -A -o json` would print it —
// one v1 List — generated from definitions.ts. Names, uids and resourceVersions are derived
// deterministically from the definitions; timestamps are the time of `up`.
import { createHash } from 'node:crypto';
import type { PodDef, ServiceDef } from './definitions.js';
import {
  ADMIN_PORT, ISTIO_INJECTED_NAMESPACES, NODE_IP, NODE_NAME, PODS, POD_CIDR, SERVICES, SIDECAR_WORKLOADS,
  endpointsOf, podKey,
} from './definitions.js';

type Obj = Record<string, unknown>;

const uid = (...parts: string[]): string => {
  const h = createHash('sha256').update(parts.join('/')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
const rv = (...parts: string[]): string => String(100000 + (parseInt(createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 6), 16) % 900000));

const meta = (kind: string, name: string, namespace: string | null, createdAt: string, extra: Obj = {}): Obj => ({
  name, ...(namespace ? { namespace } : {}), uid: uid(kind, namespace ?? '', name),
  resourceVersion: rv(kind, namespace ?? '', name), creationTimestamp: createdAt, ...extra,
});

const owner = (apiVersion: string, kind: string, name: string, namespace: string): Obj => ({
  apiVersion, kind, name, uid: uid(kind, namespace, name), controller: true, blockOwnerDeletion: true,
});

const inCluster = PODS.filter((p) => p.isInCluster);
const namespaces = [...new Set(inCluster.map((p) => p.namespace))].sort();
const workloads = (kind: PodDef['kind']): PodDef[][] => {
  const byKey = new Map<string, PodDef[]>();
  for (const p of inCluster.filter((x) => x.kind === kind)) byKey.set(podKey(p), [...(byKey.get(podKey(p)) ?? []), p]);
  return [...byKey.values()];
};
const rsName = (p: PodDef): string => p.name.slice(0, p.name.lastIndexOf('-'));
const jobName = (p: PodDef): string => p.name.slice(0, p.name.lastIndexOf('-'));
const hasSidecar = (p: PodDef): boolean => SIDECAR_WORKLOADS.includes(podKey(p));
const image = (p: PodDef): string => `registry.example/trustmap-testbed/${p.workload}:1.0.0`;

const podLabels = (p: PodDef): Record<string, string> => ({
  ...p.labels,
  ...(p.kind === 'Deployment' ? { 'pod-template-hash': rsName(p).split('-').pop() ?? '' } : {}),
  ...(p.kind === 'StatefulSet' ? { 'statefulset.kubernetes.io/pod-name': p.name, 'apps.kubernetes.io/pod-index': p.name.split('-').pop() ?? '0' } : {}),
  ...(p.kind === 'CronJob' ? { 'batch.kubernetes.io/job-name': jobName(p), 'job-name': jobName(p) } : {}),
  ...(hasSidecar(p) ? { 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': p.workload,
    'service.istio.io/canonical-revision': 'v1' } : {}),
});

const container = (p: PodDef): Obj => ({
  name: p.workload.replace(/^istio-/, ''), image: image(p), imagePullPolicy: 'IfNotPresent',
  ports: [...p.ports.map((x) => ({ name: x.name, containerPort: x.port, protocol: x.protocol })),
    ...(p.isProbed ? [{ name: 'admin', containerPort: ADMIN_PORT, protocol: 'TCP' }] : [])],
  ...(p.isProbed ? {
    readinessProbe: { httpGet: { path: '/healthz', port: ADMIN_PORT, scheme: 'HTTP' }, periodSeconds: 3, timeoutSeconds: 1,
      successThreshold: 1, failureThreshold: 3 },
  } : {}),
  resources: {}, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
});

const sidecar = (): Obj => ({
  name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.28.0', args: ['proxy', 'sidecar'],
  ports: [{ name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' }], resources: {},
  terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
});

const podSpec = (p: PodDef): Obj => ({
  containers: [container(p), ...(hasSidecar(p) && p.role !== 'ingressgateway' ? [sidecar()] : [])],
  serviceAccountName: p.serviceAccount, serviceAccount: p.serviceAccount, nodeName: NODE_NAME,
  restartPolicy: p.kind === 'CronJob' ? 'OnFailure' : 'Always', dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler',
  terminationGracePeriodSeconds: 30, securityContext: {}, enableServiceLinks: true, preemptionPolicy: 'PreemptLowerPriority',
  priority: 0,
});

const template = (p: PodDef): Obj => ({ metadata: { labels: p.labels }, spec: podSpec(p) });

const pod = (p: PodDef, createdAt: string): Obj => {
  const ownerRef = p.kind === 'Deployment' ? owner('apps/v1', 'ReplicaSet', rsName(p), p.namespace)
    : p.kind === 'StatefulSet' ? owner('apps/v1', 'StatefulSet', p.workload, p.namespace)
      : owner('batch/v1', 'Job', jobName(p), p.namespace);
  const ready = [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' },
    { type: 'ContainersReady', status: 'True' }, { type: 'PodScheduled', status: 'True' }]
    .map((c) => ({ ...c, lastProbeTime: null, lastTransitionTime: createdAt }));
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: meta('Pod', p.name, p.namespace, createdAt, {
      ...(p.kind === 'Deployment' ? { generateName: `${rsName(p)}-` } : {}),
      labels: podLabels(p),
      ...(hasSidecar(p) ? { annotations: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}', 'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(ADMIN_PORT), 'prometheus.io/path': '/metrics' } }
        : p.isProbed ? { annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(ADMIN_PORT) } } : {}),
      ownerReferences: [ownerRef],
    }),
    spec: podSpec(p),
    status: {
      phase: 'Running', conditions: ready, hostIP: NODE_IP, hostIPs: [{ ip: NODE_IP }], podIP: p.ip, podIPs: [{ ip: p.ip }],
      startTime: createdAt, qosClass: 'BestEffort',
      containerStatuses: (podSpec(p).containers as Obj[]).map((c) => ({
        name: c.name, image: c.image, imageID: '', ready: true, restartCount: 0, started: true,
        state: { running: { startedAt: createdAt } },
      })),
    },
  };
};

const service = (s: ServiceDef, createdAt: string): Obj => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: meta('Service', s.name, s.namespace, createdAt, { labels: { app: s.name } }),
  spec: {
    type: s.loadBalancerIP ? 'LoadBalancer' : 'ClusterIP', clusterIP: s.clusterIP, clusterIPs: [s.clusterIP],
    ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', internalTrafficPolicy: 'Cluster', sessionAffinity: 'None',
    selector: s.selector,
    ports: s.ports.map((p, i) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol,
      ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}), ...(s.loadBalancerIP ? { nodePort: 30443 + i } : {}) })),
    ...(s.loadBalancerIP ? { externalTrafficPolicy: 'Local', allocateLoadBalancerNodePorts: true } : {}),
  },
  status: { loadBalancer: s.loadBalancerIP ? { ingress: [{ ip: s.loadBalancerIP, ipMode: 'VIP' }] } : {} },
});

const endpointSlice = (s: ServiceDef, createdAt: string): Obj => {
  const name = `${s.name}-${createHash('sha256').update(s.name).digest('hex').slice(0, 5)}`;
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: meta('EndpointSlice', name, s.namespace, createdAt, {
      generateName: `${s.name}-`,
      labels: { 'kubernetes.io/service-name': s.name, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      ownerReferences: [owner('v1', 'Service', s.name, s.namespace)],
    }),
    addressType: 'IPv4',
    endpoints: endpointsOf(s).map((p) => ({
      addresses: [p.ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: NODE_NAME,
      targetRef: { kind: 'Pod', namespace: p.namespace, name: p.name, uid: uid('Pod', p.namespace, p.name) },
    })),
    ports: s.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) })),
  };
};

export const buildInventory = (createdAt: string): Obj => {
  const items: Obj[] = [];
  for (const ns of namespaces) {
    items.push({ apiVersion: 'v1', kind: 'Namespace', metadata: meta('Namespace', ns, null, createdAt, {
      labels: { 'kubernetes.io/metadata.name': ns, ...(ISTIO_INJECTED_NAMESPACES.includes(ns) ? { 'istio-injection': 'enabled' } : {}) } }),
    spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
  }
  items.push({
    apiVersion: 'v1', kind: 'Node',
    metadata: meta('Node', NODE_NAME, null, createdAt, { labels: { 'kubernetes.io/hostname': NODE_NAME, 'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64', 'node-role.kubernetes.io/control-plane': '' } }),
    spec: { podCIDR: POD_CIDR, podCIDRs: [POD_CIDR] },
    status: {
      addresses: [{ type: 'InternalIP', address: NODE_IP }, { type: 'Hostname', address: NODE_NAME }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: createdAt, lastTransitionTime: createdAt }],
      nodeInfo: { machineID: uid('machine', NODE_NAME).replace(/-/g, ''), systemUUID: uid('system', NODE_NAME), bootID: uid('boot', NODE_NAME),
        kernelVersion: '6.12.0', osImage: 'Debian GNU/Linux 12 (bookworm)', containerRuntimeVersion: 'containerd://2.1.0',
        kubeletVersion: 'v1.35.0', kubeProxyVersion: 'v1.35.0', operatingSystem: 'linux', architecture: 'amd64' },
    },
  });
  const sas = new Map(inCluster.map((p) => [`${p.namespace}/${p.serviceAccount}`, p]));
  for (const p of sas.values()) {
    items.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('ServiceAccount', p.serviceAccount, p.namespace, createdAt) });
  }
  for (const pods of workloads('Deployment')) {
    const p = pods[0] as PodDef;
    const selector = { matchLabels: p.labels };
    const counts = { replicas: pods.length, readyReplicas: pods.length, availableReplicas: pods.length };
    items.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta('Deployment', p.workload, p.namespace, createdAt, {
      labels: p.labels, generation: 1, annotations: { 'deployment.kubernetes.io/revision': '1' } }),
    spec: { replicas: pods.length, selector, template: template(p), strategy: { type: 'RollingUpdate' } },
    status: { ...counts, updatedReplicas: pods.length, observedGeneration: 1 } });
    items.push({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: meta('ReplicaSet', rsName(p), p.namespace, createdAt, {
      labels: { ...p.labels, 'pod-template-hash': rsName(p).split('-').pop() ?? '' }, generation: 1,
      ownerReferences: [owner('apps/v1', 'Deployment', p.workload, p.namespace)] }),
    spec: { replicas: pods.length, selector, template: template(p) },
    status: { ...counts, fullyLabeledReplicas: pods.length, observedGeneration: 1 } });
  }
  for (const pods of workloads('StatefulSet')) {
    const p = pods[0] as PodDef;
    items.push({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: meta('StatefulSet', p.workload, p.namespace, createdAt, {
      labels: p.labels, generation: 1 }),
    spec: { replicas: pods.length, serviceName: p.workload, selector: { matchLabels: p.labels }, template: template(p),
      podManagementPolicy: 'OrderedReady' },
    status: { replicas: pods.length, readyReplicas: pods.length, currentReplicas: pods.length, observedGeneration: 1 } });
  }
  for (const pods of workloads('CronJob')) {
    const p = pods[0] as PodDef;
    const job = jobName(p);
    items.push({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: meta('CronJob', p.workload, p.namespace, createdAt, {
      labels: p.labels, generation: 1 }),
    spec: { schedule: '*/30 * * * *', concurrencyPolicy: 'Forbid', suspend: false,
      jobTemplate: { spec: { template: template(p) } }, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 },
    status: { active: [{ kind: 'Job', namespace: p.namespace, name: job, apiVersion: 'batch/v1', uid: uid('Job', p.namespace, job) }],
      lastScheduleTime: createdAt } });
    items.push({ apiVersion: 'batch/v1', kind: 'Job', metadata: meta('Job', job, p.namespace, createdAt, {
      labels: { 'batch.kubernetes.io/job-name': job, 'job-name': job },
      ownerReferences: [owner('batch/v1', 'CronJob', p.workload, p.namespace)] }),
    spec: { parallelism: 1, completions: 1, backoffLimit: 6, template: template(p) },
    status: { active: 1, startTime: createdAt } });
  }
  for (const p of inCluster) items.push(pod(p, createdAt));
  for (const s of SERVICES) items.push(service(s, createdAt));
  for (const s of SERVICES) items.push(endpointSlice(s, createdAt));
  return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
};
