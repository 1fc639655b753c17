// Turns validated Kubernetes objects into one snapshot's rows: each pod resolved to the workload
// that owns it (Pod → ReplicaSet → Deployment, Pod → Job → CronJob, StatefulSet, DaemonSet, static
// and bare pods), with the interval over which it held each of its addresses.
import type { K8sController, K8sObject, K8sPod } from './k8s.js';
import { timeMs } from './k8s.js';
import type { EndpointRow, Labels, NodeRow, OwnerResolution, PodRow, ServiceRow, SnapshotData, SnapshotTimeSource, WorkloadRow } from '../store/inventory.js';

/** Labels a controller stamps on each pod; they differ per pod and would split a workload's selector. */
const PER_POD_LABELS = new Set([
  'pod-template-hash', 'controller-revision-hash', 'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index', 'controller-uid', 'batch.kubernetes.io/controller-uid',
  'job-name', 'batch.kubernetes.io/job-name', 'batch.kubernetes.io/job-completion-index', 'pod-template-generation',
]);

export function workloadLabels(labels: Labels): Labels {
  const out: Labels = {};
  for (const k of Object.keys(labels).sort()) if (!PER_POD_LABELS.has(k)) out[k] = labels[k];
  return out;
}

export interface Resolved {
  data: SnapshotData;
  /** When the listing was taken: --at, else the newest timestamp in it (a lower bound), else now. */
  takenAtMs: number;
  timeSource: SnapshotTimeSource;
  /** Pods whose Deployment or CronJob was inferred from names because the middle object was missing. */
  byConvention: number;
}

interface Owner { kind: string; name: string }

function controllerOf(refs: Array<{ kind: string; name: string; controller?: boolean }>): Owner | null {
  const c = refs.find((r) => r.controller === true) ?? refs[0];
  return c ? { kind: c.kind, name: c.name } : null;
}

const TERMINAL_PHASES = new Set(['Succeeded', 'Failed']);

export function resolveSnapshot(objects: K8sObject[], at: { atMs: number | null; nowMs: number }): Resolved {
  let newest: number | null = null;
  const seen = (s: string | null | undefined) => {
    const t = timeMs(s);
    if (t !== null && (newest === null || t > newest)) newest = t;
    return t;
  };
  const controllers = new Map<string, K8sController>();
  const cronJobsByNs = new Map<string, string[]>();
  for (const o of objects) {
    if (o.kind !== 'Controller') continue;
    const m = o.obj.metadata;
    controllers.set(`${m.namespace}/${o.obj.kind}/${m.name}`, o.obj);
    if (o.obj.kind === 'CronJob') {
      const l = cronJobsByNs.get(m.namespace) ?? [];
      l.push(m.name);
      cronJobsByNs.set(m.namespace, l);
    }
  }

  let byConvention = 0;
  const resolveOwner = (pod: K8sPod): { kind: string; name: string; resolution: OwnerResolution } => {
    const ns = pod.metadata.namespace;
    const owner = controllerOf(pod.metadata.ownerReferences);
    if (owner === null) return { kind: 'Pod', name: pod.metadata.name, resolution: 'bare-pod' };
    if (owner.kind === 'Node') {
      // Static pods are mirrored by the kubelet as NAME-NODE; the workload is NAME.
      const node = pod.spec.nodeName ?? owner.name;
      const n = pod.metadata.name;
      return { kind: 'Pod', name: n.endsWith(`-${node}`) ? n.slice(0, -node.length - 1) : n, resolution: 'static-pod' };
    }
    if (owner.kind === 'ReplicaSet') {
      const rs = controllers.get(`${ns}/ReplicaSet/${owner.name}`);
      if (rs) {
        const up = controllerOf(rs.metadata.ownerReferences);
        return up ? { kind: up.kind, name: up.name, resolution: 'owner-references' } : { kind: 'ReplicaSet', name: owner.name, resolution: 'owner-references' };
      }
      // The Deployment controller names its ReplicaSets DEPLOYMENT-HASH with HASH the pod's
      // pod-template-hash label (k8s.io/kubernetes pkg/controller/deployment/sync.go).
      const hash = pod.metadata.labels['pod-template-hash'];
      if (hash && owner.name.endsWith(`-${hash}`) && owner.name.length > hash.length + 1) {
        byConvention++;
        return { kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1), resolution: 'pod-template-hash' };
      }
      return { kind: 'ReplicaSet', name: owner.name, resolution: 'owner-references' };
    }
    if (owner.kind === 'Job') {
      const job = controllers.get(`${ns}/Job/${owner.name}`);
      if (job) {
        const up = controllerOf(job.metadata.ownerReferences);
        return up ? { kind: up.kind, name: up.name, resolution: 'owner-references' } : { kind: 'Job', name: owner.name, resolution: 'owner-references' };
      }
      // The CronJob controller names its Jobs CRONJOB-<scheduled time in minutes>.
      const cron = (cronJobsByNs.get(ns) ?? []).find((c) => new RegExp(`^${c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+$`).test(owner.name));
      if (cron) {
        byConvention++;
        return { kind: 'CronJob', name: cron, resolution: 'name-convention' };
      }
      return { kind: 'Job', name: owner.name, resolution: 'owner-references' };
    }
    return { kind: owner.kind, name: owner.name, resolution: 'owner-references' };
  };

  const data: SnapshotData = { namespaces: [], workloads: [], pods: [], services: [], endpoints: [], nodes: [] };
  for (const o of objects) {
    seen(o.obj.metadata.creationTimestamp);
    switch (o.kind) {
      case 'Namespace':
        data.namespaces.push({ name: o.obj.metadata.name, labels: o.obj.metadata.labels });
        break;
      case 'Controller': {
        const c = o.obj;
        const tpl = c.kind === 'CronJob' ? c.spec.jobTemplate?.spec?.template : c.spec.template;
        const owner = controllerOf(c.metadata.ownerReferences);
        const w: WorkloadRow = {
          namespace: c.metadata.namespace, kind: c.kind, name: c.metadata.name, uid: c.metadata.uid ?? '',
          ownerKind: owner?.kind ?? '', ownerName: owner?.name ?? '',
          serviceAccount: tpl?.spec?.serviceAccountName ?? '', labels: workloadLabels(tpl?.metadata?.labels ?? {}),
          createdMs: timeMs(c.metadata.creationTimestamp),
        };
        data.workloads.push(w);
        break;
      }
      case 'Pod': {
        const p = o.obj;
        const st = p.status;
        let finished: number | null = null;
        for (const cs of [...(st.containerStatuses ?? []), ...(st.initContainerStatuses ?? [])]) {
          seen(cs.state?.running?.startedAt);
          seen(cs.state?.terminated?.startedAt);
          const f = seen(cs.state?.terminated?.finishedAt);
          // Init containers finish before the pod does; only app containers end its life.
          if (f !== null && (st.containerStatuses ?? []).includes(cs) && (finished === null || f > finished)) finished = f;
        }
        for (const c of st.conditions ?? []) seen(c.lastTransitionTime);
        seen(st.startTime);
        const phase = st.phase ?? '';
        const created = timeMs(p.metadata.creationTimestamp);
        const deleted = timeMs(p.metadata.deletionTimestamp);
        const isTerminal = TERMINAL_PHASES.has(phase);
        // A finished pod keeps status.podIP, but the CNI has released the address: it is no longer
        // the pod's after its containers ended. Without finishedAt, the snapshot time bounds it.
        const until = isTerminal ? (finished ?? null) : deleted;
        const owner = resolveOwner(p);
        const ips = new Set<string>();
        if (st.podIP) ips.add(st.podIP);
        for (const x of st.podIPs ?? []) ips.add(x.ip);
        const row: PodRow = {
          namespace: p.metadata.namespace, name: p.metadata.name, uid: p.metadata.uid ?? '',
          workloadKind: owner.kind, workloadName: owner.name, resolution: owner.resolution,
          serviceAccount: p.spec.serviceAccountName || p.spec.serviceAccount || 'default',
          node: p.spec.nodeName ?? '', labels: p.metadata.labels, phase, hostNetwork: p.spec.hostNetwork === true,
          createdMs: created, deletedMs: deleted, finishedMs: isTerminal ? finished : null,
          addresses: [...ips].sort().map((ip) => ({ ip, validFromMs: created, validUntilMs: isTerminal && until === null ? -1 : until })),
        };
        data.pods.push(row);
        break;
      }
      case 'Service': {
        const s = o.obj;
        const addrs: ServiceRow['addresses'] = [];
        const add = (ip: string | null | undefined, kind: ServiceRow['addresses'][number]['kind']) => {
          if (ip && ip !== 'None' && !addrs.some((a) => a.ip === ip)) addrs.push({ ip, kind });
        };
        add(s.spec.clusterIP, 'cluster-ip');
        for (const ip of s.spec.clusterIPs ?? []) add(ip, 'cluster-ip');
        for (const ip of s.spec.externalIPs ?? []) add(ip, 'external-ip');
        for (const ing of s.status?.loadBalancer?.ingress ?? []) add(ing.ip, 'load-balancer');
        const sel = s.spec.selector;
        data.services.push({
          namespace: s.metadata.namespace, name: s.metadata.name, type: s.spec.type ?? 'ClusterIP',
          ports: (s.spec.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP', targetPort: p.targetPort ?? null })),
          selector: sel && Object.keys(sel).length > 0 ? sel : null, createdMs: timeMs(s.metadata.creationTimestamp), addresses: addrs,
        });
        break;
      }
      case 'EndpointSlice': {
        const e = o.obj;
        const service = e.metadata.labels['kubernetes.io/service-name'] ?? '';
        const ports = (e.ports ?? []).filter((p) => typeof p.port === 'number').map((p) => ({ name: p.name ?? '', port: p.port as number, protocol: p.protocol ?? 'TCP' }));
        for (const ep of e.endpoints ?? []) {
          for (const ip of ep.addresses) {
            const row: EndpointRow = {
              namespace: e.metadata.namespace, slice: e.metadata.name, service, ip,
              targetKind: ep.targetRef?.kind ?? '', targetName: ep.targetRef?.name ?? '',
              ready: ep.conditions?.ready !== false, ports,
            };
            data.endpoints.push(row);
          }
        }
        break;
      }
      case 'Node': {
        const n = o.obj;
        const cidrs = new Set<string>();
        if (n.spec.podCIDR) cidrs.add(n.spec.podCIDR);
        for (const c of n.spec.podCIDRs ?? []) cidrs.add(c);
        const row: NodeRow = {
          name: n.metadata.name, podCidrs: [...cidrs], labels: n.metadata.labels, createdMs: timeMs(n.metadata.creationTimestamp),
          // Hostname and InternalDNS entries are names, not addresses.
          addresses: (n.status.addresses ?? []).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => ({ ip: a.address, type: a.type })),
        };
        data.nodes.push(row);
        break;
      }
    }
  }
  // Terminal pods without finishedAt: bounded by the snapshot time (marked -1 above).
  const newestMs = newest as number | null;
  const [takenAtMs, timeSource]: [number, SnapshotTimeSource] = at.atMs !== null ? [at.atMs, 'flag']
    : newestMs !== null ? [newestMs, 'newest-timestamp'] : [at.nowMs, 'now'];
  for (const p of data.pods) for (const a of p.addresses) if (a.validUntilMs === -1) a.validUntilMs = Math.round(takenAtMs);
  return { data, takenAtMs, timeSource, byConvention };
}
