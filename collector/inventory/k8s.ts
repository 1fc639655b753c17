// Zod schemas for the Kubernetes objects the inventory reads: only the fields trustmap uses are
// declared, everything else passes through untouched (kubectl output carries far more). Field
// names follow the Kubernetes API (core/v1, apps/v1, batch/v1, discovery.k8s.io/v1).
import { z } from 'zod';

const labels = z.record(z.string(), z.string()).nullish().transform((l) => l ?? {});

const ownerReference = z.looseObject({
  kind: z.string().min(1),
  name: z.string().min(1),
  uid: z.string().optional(),
  controller: z.boolean().optional(),
});

const metadata = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  labels,
  creationTimestamp: z.string().nullish(),
  deletionTimestamp: z.string().nullish(),
  deletionGracePeriodSeconds: z.number().nullish(),
  ownerReferences: z.array(ownerReference).nullish().transform((o) => o ?? []),
});

const namespacedMetadata = metadata.extend({ namespace: z.string().min(1).default('default') });

const containerState = z.looseObject({
  running: z.looseObject({ startedAt: z.string().nullish() }).nullish(),
  terminated: z.looseObject({ startedAt: z.string().nullish(), finishedAt: z.string().nullish() }).nullish(),
}).nullish();

const containerStatus = z.looseObject({ name: z.string().optional(), state: containerState });

export const podSchema = z.looseObject({
  kind: z.literal('Pod'),
  metadata: namespacedMetadata,
  spec: z.looseObject({
    serviceAccountName: z.string().nullish(),
    serviceAccount: z.string().nullish(),
    nodeName: z.string().nullish(),
    hostNetwork: z.boolean().nullish(),
  }).default({}),
  status: z.looseObject({
    phase: z.string().nullish(),
    podIP: z.string().nullish(),
    podIPs: z.array(z.looseObject({ ip: z.string() })).nullish(),
    startTime: z.string().nullish(),
    conditions: z.array(z.looseObject({ type: z.string(), lastTransitionTime: z.string().nullish() })).nullish(),
    containerStatuses: z.array(containerStatus).nullish(),
    initContainerStatuses: z.array(containerStatus).nullish(),
  }).default({}),
});
export type K8sPod = z.infer<typeof podSchema>;

const podTemplate = z.looseObject({
  metadata: z.looseObject({ labels }).optional(),
  spec: z.looseObject({ serviceAccountName: z.string().nullish() }).optional(),
}).optional();

const CONTROLLER_KINDS = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'] as const;
export type ControllerKind = (typeof CONTROLLER_KINDS)[number];

export const controllerSchema = z.looseObject({
  kind: z.enum(CONTROLLER_KINDS),
  metadata: namespacedMetadata,
  spec: z.looseObject({
    template: podTemplate,
    // CronJob keeps its pod template one level down.
    jobTemplate: z.looseObject({ spec: z.looseObject({ template: podTemplate }).optional() }).optional(),
  }).default({}),
});
export type K8sController = z.infer<typeof controllerSchema>;

const servicePort = z.looseObject({
  name: z.string().nullish(),
  port: z.number().int(),
  protocol: z.string().nullish(),
  targetPort: z.union([z.number(), z.string()]).nullish(),
});

export const serviceSchema = z.looseObject({
  kind: z.literal('Service'),
  metadata: namespacedMetadata,
  spec: z.looseObject({
    type: z.string().nullish(),
    clusterIP: z.string().nullish(),
    clusterIPs: z.array(z.string()).nullish(),
    externalIPs: z.array(z.string()).nullish(),
    ports: z.array(servicePort).nullish(),
    selector: z.record(z.string(), z.string()).nullish(),
  }).default({}),
  status: z.looseObject({
    loadBalancer: z.looseObject({
      ingress: z.array(z.looseObject({ ip: z.string().nullish() })).nullish(),
    }).nullish(),
  }).nullish(),
});
export type K8sService = z.infer<typeof serviceSchema>;

export const endpointSliceSchema = z.looseObject({
  kind: z.literal('EndpointSlice'),
  metadata: namespacedMetadata,
  addressType: z.string().nullish(),
  endpoints: z.array(z.looseObject({
    addresses: z.array(z.string()),
    conditions: z.looseObject({ ready: z.boolean().nullish() }).nullish(),
    targetRef: z.looseObject({ kind: z.string().nullish(), name: z.string().nullish(), namespace: z.string().nullish() }).nullish(),
  })).nullish(),
  ports: z.array(z.looseObject({ name: z.string().nullish(), port: z.number().nullish(), protocol: z.string().nullish() })).nullish(),
});
export type K8sEndpointSlice = z.infer<typeof endpointSliceSchema>;

export const nodeSchema = z.looseObject({
  kind: z.literal('Node'),
  metadata,
  spec: z.looseObject({ podCIDR: z.string().nullish(), podCIDRs: z.array(z.string()).nullish() }).default({}),
  status: z.looseObject({
    addresses: z.array(z.looseObject({ type: z.string(), address: z.string() })).nullish(),
  }).default({}),
});
export type K8sNode = z.infer<typeof nodeSchema>;

export const namespaceSchema = z.looseObject({ kind: z.literal('Namespace'), metadata });
export type K8sNamespace = z.infer<typeof namespaceSchema>;

/** The kinds the inventory reads; anything else in a List is ignored (and counted). */
export const INVENTORY_KINDS = ['Pod', 'Service', 'EndpointSlice', 'Node', 'Namespace', 'ServiceAccount', ...CONTROLLER_KINDS] as const;
export type InventoryKind = (typeof INVENTORY_KINDS)[number];

export type K8sObject =
  | { kind: 'Pod'; obj: K8sPod }
  | { kind: 'Service'; obj: K8sService }
  | { kind: 'EndpointSlice'; obj: K8sEndpointSlice }
  | { kind: 'Node'; obj: K8sNode }
  | { kind: 'Namespace'; obj: K8sNamespace }
  | { kind: 'Controller'; obj: K8sController };

/** Validates one object by its kind; returns an error message for a malformed object. */
export function parseObject(raw: unknown): { ok: true; value: K8sObject | null } | { ok: false; error: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'not an object' };
  const kind = (raw as { kind?: unknown }).kind;
  if (typeof kind !== 'string') return { ok: false, error: 'no kind' };
  const pick = <T>(schema: z.ZodType<T>, wrap: (v: T) => K8sObject) => {
    const r = schema.safeParse(raw);
    if (r.success) return { ok: true as const, value: wrap(r.data) };
    const i = r.error.issues[0];
    return { ok: false as const, error: `${i.message} (at: ${i.path.join('.')})` };
  };
  switch (kind) {
    case 'Pod': return pick(podSchema, (obj) => ({ kind: 'Pod', obj }));
    case 'Service': return pick(serviceSchema, (obj) => ({ kind: 'Service', obj }));
    case 'EndpointSlice': return pick(endpointSliceSchema, (obj) => ({ kind: 'EndpointSlice', obj }));
    case 'Node': return pick(nodeSchema, (obj) => ({ kind: 'Node', obj }));
    case 'Namespace': return pick(namespaceSchema, (obj) => ({ kind: 'Namespace', obj }));
    case 'Deployment': case 'ReplicaSet': case 'StatefulSet': case 'DaemonSet': case 'Job': case 'CronJob':
      return pick(controllerSchema, (obj) => ({ kind: 'Controller', obj }));
    default:
      // ServiceAccounts carry nothing beyond what pods name; other kinds are not ours.
      return { ok: true, value: null };
  }
}

/** RFC 3339 → epoch ms, or null for absent/unparseable timestamps. */
export function timeMs(s: string | null | undefined): number | null {
  if (!s) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}
