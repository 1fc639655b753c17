// The testbed's inventory is what `kubectl get … -o json` prints: one v1 List whose core objects
// validate against the Kubernetes 1.35 OpenAPI schemas (strict: unknown fields are errors, as with
// kubectl-validate), and whose apps/batch/discovery objects have the fields the API requires.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { NODE_IP, PODS, SERVICES } from './definitions.js';
import { buildInventory } from './inventory.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { [k: string]: Json };

const SCHEMAS = (JSON.parse(fs.readFileSync(new URL('../fixtures/schemas/k8s-1.35-core-v1-subset.json', import.meta.url), 'utf8')) as
  { components: { schemas: Record<string, Schema> } }).components.schemas;

const typeOf = (v: Json): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;

/** The subset of OpenAPI v3 the Kubernetes schemas use: $ref, allOf, oneOf, type, properties, required, items, additionalProperties, enum. */
const validate = (schema: Schema, value: Json, at: string, errors: string[]): void => {
  if (typeof schema.$ref === 'string') {
    const target = SCHEMAS[schema.$ref.split('/').pop() ?? ''];
    if (!target) { errors.push(`${at}: unknown $ref ${schema.$ref}`); return; }
    validate(target, value, at, errors);
    return;
  }
  for (const sub of (schema.allOf as Schema[] | undefined) ?? []) validate(sub, value, at, errors);
  if (Array.isArray(schema.oneOf)) {
    const ok = (schema.oneOf as Schema[]).some((sub) => { const e: string[] = []; validate(sub, value, at, e); return e.length === 0; });
    if (!ok) errors.push(`${at}: matches none of oneOf`);
  }
  if (value === null) return; // Kubernetes serializes unset optional fields as null in places (lastProbeTime)
  const t = schema.type;
  if (typeof t === 'string' && !(t === 'number' && typeOf(value) === 'integer') && typeOf(value) !== t) {
    errors.push(`${at}: expected ${t}, got ${typeOf(value)}`);
    return;
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => validate(schema.items as Schema, v, `${at}[${i}]`, errors));
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const r of (schema.required as string[] | undefined) ?? []) if (!(r in value)) errors.push(`${at}: missing required ${r}`);
    const props = schema.properties as Record<string, Schema> | undefined;
    for (const [k, v] of Object.entries(value)) {
      if (props?.[k]) validate(props[k], v, `${at}.${k}`, errors);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        validate(schema.additionalProperties as Schema, v, `${at}.${k}`, errors);
      } else if (props) errors.push(`${at}: unknown field ${k}`);
    }
  }
};

const CORE: Record<string, string> = {
  Namespace: 'io.k8s.api.core.v1.Namespace', Node: 'io.k8s.api.core.v1.Node', Pod: 'io.k8s.api.core.v1.Pod',
  Service: 'io.k8s.api.core.v1.Service', ServiceAccount: 'io.k8s.api.core.v1.ServiceAccount',
};
const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1', Node: 'v1', Pod: 'v1', Service: 'v1', ServiceAccount: 'v1', Deployment: 'apps/v1', ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1', CronJob: 'batch/v1', Job: 'batch/v1', EndpointSlice: 'discovery.k8s.io/v1',
};
/** Required by the apps/v1, batch/v1 and discovery.k8s.io/v1 OpenAPI schemas (not in the core file). */
const REQUIRED_SPEC: Record<string, string[]> = {
  Deployment: ['spec.selector', 'spec.template'], ReplicaSet: ['spec.selector'], StatefulSet: ['spec.selector', 'spec.template'],
  CronJob: ['spec.schedule', 'spec.jobTemplate'], Job: ['spec.template'], EndpointSlice: ['addressType', 'endpoints'],
};

const get = (o: Json, dotted: string): Json | undefined =>
  dotted.split('.').reduce<Json | undefined>((v, k) => (v && typeof v === 'object' && !Array.isArray(v) ? v[k] : undefined), o);

type Item = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; uid: string; ownerReferences?: Array<{ kind: string; name: string; uid: string }> } } & Record<string, Json>;

const check = (list: { apiVersion: string; kind: string; items: Item[] }): void => {
  assert.equal(list.apiVersion, 'v1');
  assert.equal(list.kind, 'List');
  const errors: string[] = [];
  for (const item of list.items) {
    const at = `${item.kind}/${item.metadata?.namespace ?? ''}/${item.metadata?.name}`;
    if (API_VERSIONS[item.kind] !== item.apiVersion) errors.push(`${at}: apiVersion ${item.apiVersion}`);
    if (!item.metadata?.name || !item.metadata.uid) errors.push(`${at}: metadata.name/uid missing`);
    const core = CORE[item.kind];
    if (core) validate({ $ref: `#/components/schemas/${core}` }, item as unknown as Json, at, errors);
    for (const f of REQUIRED_SPEC[item.kind] ?? []) if (get(item as unknown as Json, f) === undefined) errors.push(`${at}: missing ${f}`);
  }
  assert.deepEqual(errors, []);
  // Every ownerReference points at an object in the list, by uid.
  const uids = new Map(list.items.map((i) => [i.metadata.uid, i]));
  for (const i of list.items) {
    for (const o of i.metadata.ownerReferences ?? []) {
      assert.equal(uids.get(o.uid)?.metadata.name, o.name, `${i.kind}/${i.metadata.name} owner ${o.kind}/${o.name}`);
    }
  }
};

describe('testbed inventory', () => {
  const inventory = buildInventory('2026-01-01T00:00:00.000Z') as unknown as { apiVersion: string; kind: string; items: Item[] };

  it('validates against the Kubernetes 1.35 schemas', () => check(inventory));

  it('holds every in-cluster pod with its IP, service account and node, and every Service', () => {
    const pods = inventory.items.filter((i) => i.kind === 'Pod');
    assert.equal(pods.length, PODS.filter((p) => p.isInCluster).length);
    for (const p of PODS.filter((x) => x.isInCluster)) {
      const item = pods.find((i) => i.metadata.name === p.name);
      assert.ok(item, p.name);
      assert.equal(get(item as unknown as Json, 'status.podIP'), p.ip);
      assert.equal(get(item as unknown as Json, 'spec.serviceAccountName'), p.serviceAccount);
      assert.equal(get(item as unknown as Json, 'spec.nodeName'), 'tm-node-1');
    }
    const node = inventory.items.find((i) => i.kind === 'Node');
    assert.deepEqual(get(node as unknown as Json, 'status.addresses'), [{ type: 'InternalIP', address: NODE_IP }, { type: 'Hostname', address: 'tm-node-1' }]);
    for (const s of SERVICES) {
      const item = inventory.items.find((i) => i.kind === 'Service' && i.metadata.name === s.name && i.metadata.namespace === s.namespace);
      assert.equal(get(item as unknown as Json, 'spec.clusterIP'), s.clusterIP);
    }
  });

  it('the checked-in demo inventory validates too', () => {
    const file = new URL('./demo/inventory.json', import.meta.url);
    check(JSON.parse(fs.readFileSync(file, 'utf8')) as { apiVersion: string; kind: string; items: Item[] });
  });
});
